"""Cross-site harmonization: vendor-expected differences (per-vendor variants) versus genuine differences."""

from __future__ import annotations

import datetime as dt

import pytest

from protocheck.checks.audit import build_audit
from protocheck.checks.compliance import check_exam
from protocheck.checks.audit.agreement import fits_nominal
from protocheck.checks.audit.harmonization import tracked_parameters, variant_changes
from protocheck.model import Acquisition, Exam

PROTOCOL = """
name: tiny-dwi
version: "0.1"
title: tiny DWI protocol with per-vendor variants
sequences:
  - id: dwi
    requirement: required
    identify:
      any: [{parameter: SeriesDescription, matches: "(?i)dwi"}]
    constraints:
      - {id: b-value, parameter: DiffusionShells, must_match: true, each: {nominal: 800, tolerance: {absolute: 25}}, severity: warning}
      - {id: directions, parameter: DiffusionDirectionsPerShell, must_match: true, min_count: 30, shell: 800, severity: warning}
      - {id: b0, parameter: NumberOfB0Volumes, must_match: true, range: {min: 1}, severity: error}
    variants:
      - name: GE
        when: {Manufacturer: "(?i)^ge"}
        constraints:
          - {id: directions, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 800, severity: warning,
             note: "restated with another citation: changes nothing"}
      - name: Philips
        when: {Manufacturer: "(?i)philips"}
        constraints:
          - {id: directions, parameter: DiffusionDirectionsPerShell, must_match: true, min_count: 32, shell: 800, severity: warning}
      - name: Canon
        when: {Manufacturer: "(?i)canon"}
        constraints:
          - {id: directions, parameter: DiffusionDirectionsPerShell, must_match: true, min_count: 40, shell: 800, severity: warning}
"""


@pytest.fixture(scope="module")
def protocol():
    from protocheck.protocol.loader import load_protocol_text
    return load_protocol_text(PROTOCOL, "tiny-dwi.yaml")


def _exam(site: str, subject: str, vendor: str, dirs: int, shell: int = 800, b0: int = 5) -> Exam:
    a = Acquisition(key=f"{site}-{subject}-dwi", description="DWI", series_number=5)
    for k, v in {"Manufacturer": vendor, "MagneticFieldStrength": 3.0, "SeriesDescription": "DWI",
                 "DiffusionShells": [shell], "DiffusionDirectionsPerShell": {shell: dirs},
                 "NumberOfB0Volumes": b0}.items():
        a.set(k, v, "test")
    return Exam(key=f"{site}-{subject}", subject=subject, site=site, date=dt.date(2023, 3, 1), acquisitions=[a])


def _audit(protocol, sites: dict[str, tuple[str, int] | tuple[str, int, int]]):
    exams = []
    for site, spec in sites.items():
        vendor, dirs, shell = (spec + (800,))[:3]
        exams += [_exam(site, f"{site}{i}", vendor, dirs, shell) for i in (1, 2)]
    return build_audit([check_exam(e, protocol) for e in exams], protocol)


def _rows(audit, parameter: str = "DiffusionDirectionsPerShell") -> dict:
    item = next(h for h in audit.harmonization if h.sequence == "dwi" and h.parameter == parameter)
    return {r.site: r for r in item.sites}


STUDY = {"S1": ("Siemens", 30), "S2": ("Siemens", 30), "S3": ("Siemens", 30), "G1": ("GE", 30),
         "T64": ("Siemens", 64), "B750": ("GE", 30, 750),
         "P1": ("Philips", 32), "P2": ("Philips", 32), "P3": ("Philips", 32), "P30": ("Philips", 30)}


def test_philips_32_is_vendor_expected_not_differs(protocol):
    rows = _rows(_audit(protocol, STUDY))
    for site in ("P1", "P2", "P3"):
        assert rows[site].status == "vendor-expected", rows[site].reasons
        assert rows[site].severity == "info" and rows[site].variant == "Philips"
        assert "Philips variant" in rows[site].reasons[0] and "800: 30" in rows[site].reasons[0]
    assert rows["S1"].status == "ok" and rows["G1"].status == "ok"


def test_genuine_differences_stay_flagged(protocol):
    audit = _audit(protocol, STUDY)
    rows = _rows(audit)
    # 64 directions pass "≥ 30" but differ from the consensus and from the nominal 30
    assert rows["T64"].status == "differs" and rows["T64"].severity == "warning"
    assert any("nominal 30 directions" in r for r in rows["T64"].reasons)
    # 30 directions at b=750 are 30 directions within the shell tolerance: the shell is the deviation, reported once
    assert rows["B750"].status == "ok" and rows["B750"].variant is None      # GE restatement changes nothing
    assert _rows(audit, "DiffusionShells")["B750"].status == "differs"
    # a Philips site with 30 directions fails its own variant (≥ 32), although 30 is the other vendors' value
    assert rows["P30"].status == "differs" and rows["P30"].variant == "Philips"
    assert any("Philips variant" in r for r in rows["P30"].reasons)
    flagged = {(f.site, f.parameter) for f in audit.findings if f.kind == "harmonization"}
    assert flagged == {("T64", "DiffusionDirectionsPerShell"), ("B750", "DiffusionShells"),
                       ("P30", "DiffusionDirectionsPerShell")}


def test_few_variant_peers_compare_with_variant_nominal(protocol):
    # one other Philips site only: the Philips sites are compared with the variant's nominal 32
    study = {"S1": ("Siemens", 30), "S2": ("Siemens", 30), "P1": ("Philips", 32), "P34": ("Philips", 34),
             "C1": ("Canon", 40)}
    rows = _rows(_audit(protocol, study))
    assert rows["P1"].status == "vendor-expected"
    assert rows["P34"].status == "differs"                    # passes ≥ 32 but is not the variant's 32
    assert any("nominal 32 directions" in r and "fewer than 2 other Philips" in r for r in rows["P34"].reasons)
    assert rows["C1"].status == "vendor-expected" and rows["C1"].variant == "Canon"


def test_peer_consensus_under_variant_beats_nominal(protocol):
    # three Philips sites agree on 33 (≥ 32 passes): each agrees with its peers, so vendor-expected
    study = {"S1": ("Siemens", 30), "S2": ("Siemens", 30),
             "P1": ("Philips", 33), "P2": ("Philips", 33), "P3": ("Philips", 33)}
    rows = _rows(_audit(protocol, study))
    assert {rows[p].status for p in ("P1", "P2", "P3")} == {"vendor-expected"}


def test_b0_compared_as_presence(protocol):
    audit = _audit(protocol, {"S1": ("Siemens", 30), "S2": ("Siemens", 30), "P1": ("Philips", 32)})
    names = {t.parameter for t in tracked_parameters(protocol, audit.sessions)}
    assert names == {"DiffusionShells", "DiffusionDirectionsPerShell", "B0Present"}
    rows = _rows(audit, "B0Present")
    assert all(r.status == "ok" for r in rows.values())


def test_variant_changes_and_fits_nominal(protocol):
    dwi = protocol.sequences[0]
    assert variant_changes(dwi, "Philips", "DiffusionDirectionsPerShell")
    assert not variant_changes(dwi, "GE", "DiffusionDirectionsPerShell")      # same rule, other note
    assert not variant_changes(dwi, "Philips", "DiffusionShells")
    assert not variant_changes(dwi, None, "DiffusionDirectionsPerShell")
    directions = next(c for c in dwi.constraints if c.id == "directions")
    assert fits_nominal({800.0: 30}, directions) is True
    assert fits_nominal({800: 64}, directions) is False
    assert fits_nominal({1000: 30}, directions) is False                      # no shell near 800
    shells = next(c for c in dwi.constraints if c.id == "b-value")
    assert fits_nominal([810], shells) is True and fits_nominal([750], shells) is False
    b0 = next(c for c in dwi.constraints if c.id == "b0")
    assert fits_nominal(5, b0) is None                                         # a range has no nominal
