"""The built-in protocols (1.1): every cited source defined, every tolerance with its rationale, a changelog
entry for the current version, longitudinal rules, and the must-match rules the trial needs."""

from __future__ import annotations

import pytest

from protocheck.protocol import load_protocol
from protocheck.protocol.loader import list_builtin_protocols
from protocheck.protocol.model import cited_source_ids

BUILTINS = list_builtin_protocols()


def _rules(p):
    for s in p.sequences:
        yield from ((s.id, c) for c in s.constraints)
        yield from ((s.id, c) for v in s.variants for c in v.constraints)
        yield from ((s.id, c) for v in s.versions for c in v.constraints)


@pytest.mark.parametrize("name", BUILTINS)
def test_every_cited_source_id_is_defined(name):
    p = load_protocol(name)
    defined = {s.id for s in p.sources}
    texts = [c.source for _, c in _rules(p)] + [r.source for s in p.sequences for r in s.consistency]
    texts += [v.source for s in p.sequences for v in s.versions]
    if p.longitudinal:
        texts += [p.longitudinal.source] + [r.source for r in p.longitudinal.rules]
    undefined = sorted({i for t in texts for i in cited_source_ids(t)} - defined)
    assert not undefined


def test_cited_source_ids_reads_the_citation_forms():
    assert cited_source_ids("0.9 s R16 [MEM]; 1.0 s sg:Prisma [SRC]") == ["R16", "sg:Prisma"]
    assert cited_source_ids("R22-R23 [MEM]; threshold facts-6 [SUG]") == ["R22", "R23", "facts-6"]
    assert cited_source_ids("R19 [MEM]") == ["R19"]          # undefined in 1.0 of the brain protocol


@pytest.mark.parametrize("name", BUILTINS)
def test_every_tolerance_has_its_rationale(name):
    p = load_protocol(name)
    bare = [(s, c.id) for s, c in _rules(p) if c.kind in ("nominal", "range", "each", "min_count") and not c.rationale]
    bare += [(s.id, r.id) for s in p.sequences for r in s.consistency if not r.rationale]
    assert not bare


@pytest.mark.parametrize("name", BUILTINS)
def test_version_changelog_and_longitudinal(name):
    p = load_protocol(name)
    assert p.version == "1.1.0" and p.document["changelog"][0]["version"] == p.version
    rules = {r.parameter: r.severity for r in p.longitudinal.rules}
    assert rules == {"DeviceSerialNumber": "error", "Manufacturer": "error", "MagneticFieldStrength": "error",
                     "SoftwareVersions": "warning", "ReceiveCoilName": "warning"}
    assert p.longitudinal.must_match


def test_brain_must_match_across_sites_and_within_vendor():
    p = load_protocol("als-brain-3t")
    marked = {(s.id, c.id): c.match_scope for s in p.sequences for c in s.constraints if c.must_match}
    for key in [("dti", "b-value"), ("dti", "directions"), ("dti", "voxel-size"), ("t1w", "voxel-size"),
                ("t1w", "field-strength")]:
        assert marked.get(key) == "all", key
    assert marked[("t1w", "inversion-time")] == "vendor" and marked[("t1w", "flip-angle")] == "vendor"
    dti = {c.id: c for c in p.sequence("dti").constraints}
    assert dti["b-value"].tolerance == {"relative": 0.03} and dti["b-value-limit"].severity == "error"
    flair_tr = next(c for c in p.sequence("flair").constraints if c.id == "repetition-time")
    assert "max" not in flair_tr.value                          # a Philips 3D FLAIR runs TR 9 s
    t1 = p.sequence("t1w")
    ge = next(v for v in t1.variants if v.name == "GE")
    assert next(c for c in ge.constraints if c.id == "repetition-time").value["min"] <= 0.003
    philips = next(v for v in t1.variants if v.name == "Philips")
    assert next(c for c in philips.constraints if c.id == "inversion-time").severity == "info"


def test_cord_tiers_versions_and_mt_pair_identity():
    p = load_protocol("als-spinal-cord")
    seq = {s.id: s for s in p.sequences}
    for sid, cid in [("gre-mt1", "repetition-time-limit"), ("gre-mt0", "repetition-time-limit"),
                     ("t2w", "repetition-time-limit"), ("t2w", "flip-angle-limit"), ("dwi", "b-value-limit"),
                     ("gre-t1w", "repetition-time-limit")]:
        assert next(c for c in seq[sid].constraints if c.id == cid).severity == "error", (sid, cid)
    setup = next(r for r in seq["gre-mt1"].consistency if r.id == "mt-pair-setup")
    assert setup.severity == "error" and {"ReceiveCoilName", "ImageOrientationPatientDICOM"} <= set(setup.parameters)
    assert {v.name for v in seq["gre-me"].versions} == {"Philips card v5, before 2019-11-11 (first TE 2.1 ms)"}
    assert any("Trio" in v.name for v in seq["dwi"].versions)
    ge_dwi = next(v for v in seq["dwi"].variants if v.name == "GE")
    assert next(c for c in ge_dwi.constraints if c.id == "cardiac-gating").severity == "warning"


@pytest.mark.parametrize("name", BUILTINS)
def test_no_error_rests_on_recalled_evidence_only(name):
    """An error needs a value read from a document [SRC] or a stated design choice [SUG], never [MEM] alone."""
    import re
    p = load_protocol(name)

    def tags(source):
        found = set(re.findall(r"\[(SRC|MEM|SUG)\]", source or ""))
        return found or {s.evidence for s in (p.source(i) for i in cited_source_ids(source)) if s and s.evidence}

    errors = [(s, c.id, c.source) for s, c in _rules(p) if c.severity == "error"]
    errors += [(s.id, r.id, r.source) for s in p.sequences for r in s.consistency if r.severity == "error"]
    assert all(tags(src) - {"MEM"} for _, _, src in errors), [e for e in errors if not tags(e[2]) - {"MEM"}]
