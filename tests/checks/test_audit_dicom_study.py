"""The audit on a small multi-site, multi-visit DICOM study built from real Siemens XA headers.

Planted problems: every session of site B (the largest site) uses TR 2.0 s instead of 1.8 s; site A upgrades
its software between the two visits; subject c1 of site C misses the DWI at follow-up. The audit must find each
of them at the right site and session, and nothing else; per-site summaries must give the same audit.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

pydicom = pytest.importorskip("pydicom")

from protocheck.checks.audit import build_audit  # noqa: E402

from protocheck.reports.audit_json import audit_to_json
from protocheck.sources.options import ScanOptions  # noqa: E402

PROTOCOL = """
name: tiny-study
version: "1.0"
title: two required sequences for the planted-problem study
sequences:
  - id: t1w
    requirement: required
    identify:
      all: [{parameter: MRAcquisitionType, equals: "3D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)t1"}]
    constraints:
      - {id: tr, parameter: RepetitionTime, nominal: 1.8, tolerance: {absolute: 0.05}, severity: error, must_match: true}
  - id: dwi
    requirement: required
    identify:
      all: [{parameter: MRAcquisitionType, equals: "2D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)dwi"}]
    constraints:
      - {id: voxel, parameter: VoxelSize, each: {max: 3.5}, severity: warning, must_match: true}
"""

SUBJECTS = {"Site A": ["a1", "a2"], "Site B": ["b1", "b2", "b3"], "Site C": ["c1"]}
VISITS = ("20230314", "20230919")


def _uid(*parts: str) -> str:
    return pydicom.uid.generate_uid(entropy_srcs=list(parts))


def _session(src: list, out: Path, site: str, subj: str, visit: int) -> None:
    date = VISITS[visit][:6] + f"{10 + 3 * int(subj[1]) + 2 * ord(site[-1]) % 7:02d}"
    study = _uid(site, subj, str(visit))
    for series_name, datasets in src:
        if series_name == "dwi" and subj == "c1" and visit == 1:
            continue                                               # planted: DWI missing at follow-up
        series = _uid(site, subj, str(visit), series_name)
        for i, ds0 in enumerate(datasets):
            ds = copy.deepcopy(ds0)
            ds.PatientID, ds.PatientName = f"PAT-{subj}", f"DOE^{subj.upper()}"
            ds.InstitutionName = site
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SOPInstanceUID = _uid(series, str(i))
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            for kw in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
                if kw in ds:
                    setattr(ds, kw, date)
            if site == "Site A" and visit == 1:
                ds.SoftwareVersions = "syngo MR XA60"              # planted: upgrade between visits
            if site == "Site B" and series_name == "t1w":          # planted: TR 2.0 s at every session
                for elem in ds.iterall():
                    if elem.keyword == "RepetitionTime":
                        elem.value = 2000.0
            folder = out / site.replace(" ", "_") / subj / f"visit{visit + 1}" / series_name
            folder.mkdir(parents=True, exist_ok=True)
            ds.save_as(folder / f"{i:04d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="module")
def study(dicom_root: Path, tmp_path_factory):
    pytest.importorskip("protocheck.checks.compliance")
    from protocheck.sources.dicom import scan_dicom
    from protocheck.sources.sites import assign_sites
    xa = dicom_root / "dcm_qa_xa30"
    src = [("t1w", [pydicom.dcmread(p) for p in sorted((xa / "5_anat-T1w_acq-tfl").iterdir())]),
           ("dwi", [pydicom.dcmread(p) for p in sorted((xa / "10_DWI_dir80_PA").iterdir())[:3]])]
    root = tmp_path_factory.mktemp("study")
    for site, subjects in SUBJECTS.items():
        for subj in subjects:
            for visit in (0, 1):
                _session(src, root, site, subj, visit)
    options = ScanOptions(include_identifiers=True, site_from="InstitutionName")
    scan = scan_dicom(root, options)
    assign_sites(scan, root, options)
    return root, scan, options


@pytest.fixture(scope="module")
def protocol():
    from protocheck.protocol.loader import load_protocol_text
    return load_protocol_text(PROTOCOL, "tiny-study.yaml")


@pytest.fixture(scope="module")
def results(study, protocol):
    from protocheck.checks.compliance import check_scan
    return check_scan(study[1], protocol)


@pytest.fixture(scope="module")
def audit(results, protocol):
    return build_audit(results, protocol)


def _subject(results, pat: str) -> str:
    return next(r.exam.subject for r in results if r.exam.identifiers.get("PatientID") == pat)


def test_study_shape(study, audit):
    assert len(study[1].exams) == 12
    assert audit.sites == ["Site A", "Site B", "Site C"]
    assert sorted((s.site, s.visit) for s in audit.sessions).count(("Site B", "v2")) == 3


def test_site_b_tr_flagged_at_every_session(audit, results):
    harm = [f for f in audit.findings if f.kind == "harmonization"]
    assert [(f.site, f.sequence, f.parameter, f.severity) for f in harm] == [
        ("Site B", "t1w", "RepetitionTime", "error")]
    assert len(harm[0].sessions) == 6
    comp = [f for f in audit.findings if f.kind == "compliance"]
    assert len(comp) == 6 and {(f.site, f.sequence) for f in comp} == {("Site B", "t1w")}
    cells = {(c.site, c.sequence): c for c in audit.matrix}
    assert cells[("Site B", "t1w")].deviating == 6 and cells[("Site A", "t1w")].compliant == 4


def test_software_upgrade_drift(audit, results):
    drift = [f for f in audit.findings if f.kind == "drift"]
    assert len(drift) == 1 and drift[0].site == "Site A"
    ev = audit.drift[0]
    assert (ev.attribute, ev.before, ev.after, ev.month, ev.visit) == (
        "SoftwareVersions", "syngo MR XA30", "syngo MR XA60", "2023-09", "v2")
    assert ev.straddling == sorted([_subject(results, "PAT-a1"), _subject(results, "PAT-a2")])


def test_missing_dwi_at_follow_up_and_nothing_else(audit, results):
    missing = [f for f in audit.findings if f.kind == "missing"]
    assert [(f.site, f.subject, f.visit, f.sequence) for f in missing] == [
        ("Site C", _subject(results, "PAT-c1"), "v2", "dwi")]
    assert len(audit.findings) == 6 + 1 + 1 + 1


def test_summaries_give_the_same_audit(results, protocol, study, tmp_path):
    from protocheck.reports.summary import write_summary
    from protocheck.sources.summary import load_summary
    paths = []
    for site in SUBJECTS:
        path = tmp_path / f"{site.replace(' ', '_')}.json"
        write_summary([r for r in results if r.exam.site == site], study[1], path, study[2], protocol)
        paths.append(path)
        assert "PAT-" not in path.read_text() and "DOE^" not in path.read_text()
        assert "20230314" not in path.read_text()
    loaded = [r for p in paths for r in load_summary(p).results]
    assert audit_to_json(build_audit(loaded, protocol)) == audit_to_json(build_audit(results, protocol))
