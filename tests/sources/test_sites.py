"""Site assignment from participants.tsv, header fields and site-map files."""
from __future__ import annotations

from pathlib import Path

import pytest

from protocheck.errors import InputError
from protocheck.model import Acquisition, Exam, ScanResult
from protocheck.sources.bids import scan_bids
from protocheck.sources.options import ScanOptions
from protocheck.sources.sites import assign_sites


def test_spine_generic_43_sites(spine_generic: Path):
    scan = scan_bids(spine_generic, ScanOptions())
    counts = assign_sites(scan, spine_generic, ScanOptions())
    assert len(counts) == 43 and "unknown" not in counts
    assert sum(counts.values()) == 267
    assert next(e for e in scan.exams if e.key == "sub-amu01").site == "amu"


def test_named_column(spine_generic: Path):
    scan = scan_bids(spine_generic, ScanOptions())
    counts = assign_sites(scan, spine_generic, ScanOptions(site_column="manufacturer"))
    assert set(counts) == {"Siemens", "GE", "Philips"}


def _scan() -> ScanResult:
    exams = []
    for folder, inst in (("siteA/p1", "Hospital A"), ("siteB/p2", None), ("other/p3", None)):
        acq = Acquisition(key=folder + "/1", folder=folder)
        acq.set("InstitutionName", inst, "DICOM (0008,0080)")
        exams.append(Exam(key=folder, folder=folder, acquisitions=[acq]))
    return ScanResult(roots=["/nonexistent"], exams=exams)


def test_site_map_and_field(tmp_path: Path):
    m = tmp_path / "sites.tsv"
    m.write_text("# folder\tsite\nsiteA/*\tA\nre:^siteB/\tB\n")
    scan = _scan()
    counts = assign_sites(scan, None, ScanOptions(site_map=m))
    assert [e.site for e in scan.exams] == ["A", "B", "unknown"]
    assert counts == {"A": 1, "B": 1, "unknown": 1}
    note = scan.exams[2].acquisitions[0].notes[0]
    assert note.code == "site-unknown" and "sites.tsv" in note.message
    scan = _scan()
    assign_sites(scan, None, ScanOptions(site_from="InstitutionName"))
    assert [e.site for e in scan.exams] == ["Hospital A", "unknown", "unknown"]


def test_bad_site_map(tmp_path: Path):
    m = tmp_path / "sites.tsv"
    m.write_text("siteA only-spaces\n")
    with pytest.raises(InputError, match="line 1"):
        assign_sites(_scan(), None, ScanOptions(site_map=m))
    with pytest.raises(InputError, match="cannot be read"):
        assign_sites(_scan(), None, ScanOptions(site_map=tmp_path / "absent.tsv"))


def test_site_column_that_is_not_a_column_lists_the_columns(spine_generic: Path):
    scan = scan_bids(spine_generic, ScanOptions())
    with pytest.raises(InputError, match=r"--site-column scanner is not a column .*columns: participant_id, "):
        assign_sites(scan, spine_generic, ScanOptions(site_column="scanner"))


def test_numeric_serials_print_as_integers():
    exams = []
    for i, serial in enumerate((40146.0, "66021.0", 7)):
        acq = Acquisition(key=f"s{i}")
        acq.set("DeviceSerialNumber", serial, "sidecar")
        exams.append(Exam(key=f"e{i}", acquisitions=[acq]))
    scan = ScanResult(roots=["/nonexistent"], exams=exams)
    assign_sites(scan, None, ScanOptions(site_from="DeviceSerialNumber"))
    assert [e.site for e in scan.exams] == ["40146", "66021", "7"]


def test_site_from_session_pattern():
    exams = [Exam(key=f"sub-1/ses-{s}", subject="1", session=s, acquisitions=[Acquisition(key=s)])
             for s in ("siemens1", "ge2", "baseline")]
    scan = ScanResult(roots=["/nonexistent"], exams=exams)
    counts = assign_sites(scan, None, ScanOptions(site_from=r"session:^(siemens|ge|philips)\d*$"))
    assert [e.site for e in scan.exams] == ["siemens", "ge", "unknown"]
    assert counts == {"siemens": 1, "ge": 1, "unknown": 1}
    assert "does not match" in scan.exams[2].acquisitions[0].notes[0].message
    with pytest.raises(InputError, match="invalid regular expression"):
        assign_sites(scan, None, ScanOptions(site_from="session:(unclosed"))


def test_without_any_site_source_the_audit_says_how_to_give_one():
    from protocheck.sources.sites import unknown_site_hint
    scan = _scan()
    assign_sites(scan, None, ScanOptions())
    note = scan.exams[0].acquisitions[0].notes[0].message
    assert "--site-map" in note and "--site-from session:REGEX" in note
    hint = unknown_site_hint(scan)
    assert hint and hint.startswith("3 of 3 exam(s) have no site") and "--site-column" in hint


def test_each_exam_takes_the_participants_table_of_its_own_root(tmp_path: Path):
    """Roots are compared as paths (a trailing separator or a doubled one is the same root); no table, no site."""
    roots = [tmp_path / "one", tmp_path / "two", tmp_path / "three"]
    for root, site in zip(roots[:2], ("A", "B")):
        root.mkdir()
        (root / "participants.tsv").write_text(f"participant_id\tsite\nsub-01\t{site}\n", encoding="utf-8")
    roots[2].mkdir()
    spellings = [str(roots[0]) + "/", str(roots[1]).replace("/two", "//two"), str(roots[2]), str(roots[0])]
    exams = [Exam(key=f"e{i}", subject="sub-01", root=root, acquisitions=[Acquisition(key=f"a{i}")])
             for i, root in enumerate(spellings)]
    scan = ScanResult(roots=[str(r) for r in roots], exams=exams)
    counts = assign_sites(scan, None, ScanOptions())
    assert [e.site for e in scan.exams] == ["A", "B", "unknown", "A"]
    assert counts == {"A": 2, "B": 1, "unknown": 1}
