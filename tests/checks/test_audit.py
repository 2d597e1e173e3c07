"""Audit engine on synthetic exams: matrix, inventory, harmonization, drift, completeness."""

from __future__ import annotations

import datetime as dt

import pytest

from protocheck.checks.audit import build_audit, group_sessions
from protocheck.model import Acquisition, Exam

PROTOCOL = """
name: tiny-audit
version: "0.1"
title: tiny protocol for audit tests
sequences:
  - id: t1w
    requirement: required
    identify:
      all: [{parameter: MRAcquisitionType, equals: "3D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)t1"}]
    constraints:
      - {id: tr, parameter: RepetitionTime, nominal: 2.3, tolerance: {absolute: 0.05}, severity: error, must_match: true}
    variants:
      - name: GE
        when: {Manufacturer: "(?i)^ge"}
        constraints:
          - {id: tr, parameter: RepetitionTime, range: {min: 0.004, max: 0.012}, severity: info, must_match: true}
  - id: dwi
    requirement: required
    identify:
      all: [{parameter: MRAcquisitionType, equals: "2D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)dwi"}]
    constraints:
      - {id: voxel, parameter: VoxelSize, each: {max: 2.5}, severity: warning, must_match: true}
"""


@pytest.fixture(scope="module")
def protocol():
    loader = pytest.importorskip("protocheck.protocol.loader")
    return loader.load_protocol_text(PROTOCOL, "tiny.yaml")


def _acq(key: str, desc: str, n: int, vendor: str = "Siemens", sw: str = "syngo MR XA30", **params) -> Acquisition:
    a = Acquisition(key=key, description=desc, series_number=n)
    base = {"Manufacturer": vendor, "ManufacturersModelName": "Prisma", "SoftwareVersions": sw,
            "MagneticFieldStrength": 3.0, "DeviceSerialNumber": f"{vendor}-1", "ReceiveCoilName": "HeadNeck_64",
            "SeriesDescription": desc}
    base.update(params)
    for k, v in base.items():
        a.set(k, v, "test")
    return a


def _exam(site: str, subject: str, date: dt.date, tr: float = 2.3, sw: str = "syngo MR XA30",
          dwi: bool = True, vendor: str = "Siemens") -> Exam:
    key = f"{site}-{subject}-{date.isoformat()}"
    acqs = [_acq(f"{key}-t1", "T1w_MPRAGE", 2, vendor, sw, MRAcquisitionType="3D", RepetitionTime=tr)]
    if dwi:
        acqs.append(_acq(f"{key}-dwi", "DWI_dir64", 3, vendor, sw, MRAcquisitionType="2D", VoxelSize=[2.0, 2.0, 2.0]))
    return Exam(key=key, subject=subject, site=site, date=date, acquisitions=acqs)


def _study() -> list[Exam]:
    d1, d2 = dt.date(2023, 3, 14), dt.date(2023, 9, 20)
    exams = []
    for subj in ("a1", "a2"):                                   # site A: software upgrade between visits
        exams.append(_exam("A", subj, d1))
        exams.append(_exam("A", subj, d2, sw="syngo MR XA60"))
    for subj in ("b1", "b2", "b3", "b4"):                       # site B (largest): TR 2.0 in every session
        exams.append(_exam("B", subj, d1, tr=2.0))
        exams.append(_exam("B", subj, d2, tr=2.0))
    exams.append(_exam("C", "c1", d1))                          # site C: DWI missing at follow-up
    exams.append(_exam("C", "c1", d2, dwi=False))
    exams.append(_exam("D", "d1", d1, tr=0.008, vendor="GE"))    # site D: GE per-shot TR, vendor-expected
    exams.append(_exam("D", "d1", d2, tr=0.008, vendor="GE"))
    return exams


@pytest.fixture(scope="module")
def audit(protocol):
    from protocheck.checks.compliance import check_exam
    return build_audit([check_exam(e, protocol) for e in _study()], protocol)


def test_sessions_grouped_by_site_subject_visit(audit):
    assert audit.sites == ["A", "B", "C", "D"]
    assert len(audit.sessions) == 16
    a1 = [s for s in audit.sessions if s.subject == "a1"]
    assert [(s.visit, s.month) for s in a1] == [("v1", "2023-03"), ("v2", "2023-09")]


def test_matrix_counts(audit):
    cells = {(c.site, c.sequence): c for c in audit.matrix}
    assert cells[("B", "t1w")].deviating == 8 and cells[("B", "t1w")].compliant == 0
    assert cells[("A", "t1w")].compliant == 4
    assert cells[("C", "dwi")].missing == 1 and cells[("C", "dwi")].compliant == 1
    assert cells[("D", "t1w")].compliant == 2


def test_largest_site_deviation_flagged(audit):
    harm = [f for f in audit.findings if f.kind == "harmonization"]
    assert [(f.site, f.sequence, f.parameter) for f in harm] == [("B", "t1w", "RepetitionTime")]
    assert harm[0].severity == "error" and len(harm[0].sessions) == 8
    item = next(i for i in audit.harmonization if i.parameter == "RepetitionTime")
    rows = {r.site: r for r in item.sites}
    assert rows["D"].status == "vendor-expected" and rows["D"].variant == "GE"
    assert rows["A"].status == "ok" and rows["C"].status == "ok"
    assert set(item.by_vendor) == {"Siemens", "GE"}


def test_drift_software_upgrade(audit):
    drift = [f for f in audit.findings if f.kind == "drift"]
    assert len(drift) == 1
    ev = audit.drift[0]
    assert (ev.site, ev.attribute, ev.before, ev.after) == ("A", "SoftwareVersions", "syngo MR XA30", "syngo MR XA60")
    assert ev.month == "2023-09" and ev.severity == "warning" and ev.straddling == ["a1", "a2"]


def test_completeness_and_nothing_else(audit):
    missing = [f for f in audit.findings if f.kind == "missing"]
    assert [(f.site, f.subject, f.visit, f.sequence, f.severity) for f in missing] == [("C", "c1", "v2", "dwi", "error")]
    row = next(r for r in audit.completeness if r.subject == "c1" and r.visit == "v2")
    assert row.missing_required == ["dwi"] and not row.complete
    kinds = {(f.kind, f.site) for f in audit.findings}
    assert kinds == {("compliance", "B"), ("harmonization", "B"), ("drift", "A"), ("missing", "C")}


def test_inventory(audit):
    inv = [e for e in audit.inventory if e.site == "A"]
    assert [(e.software, e.first_seen, e.last_seen, e.sessions) for e in inv] == [
        ("syngo MR XA30", "2023-03", "2023-03", 2), ("syngo MR XA60", "2023-09", "2023-09", 2)]
    assert inv[0].field_strength == 3.0 and inv[0].coil == "HeadNeck_64" and inv[0].serial == "Siemens-1"


def test_field_strength_change_is_error(protocol):
    from protocheck.checks.compliance import check_exam
    e1 = _exam("A", "x", dt.date(2022, 1, 5))
    e2 = _exam("A", "x", dt.date(2022, 6, 5))
    for a in e2.acquisitions:
        a.set("MagneticFieldStrength", 1.5, "test")
    audit = build_audit([check_exam(e, protocol) for e in (e1, e2)], protocol)
    ev = [e for e in audit.drift if e.attribute == "MagneticFieldStrength"]
    assert len(ev) == 1 and ev[0].severity == "error" and ev[0].straddling == ["x"]


def test_bids_sessions_use_labels_and_empty_input(protocol):
    e = _exam("A", "s1", dt.date(2020, 1, 1))
    e.session = "M06"
    from protocheck.checks.compliance import check_exam
    sessions = group_sessions([check_exam(e, protocol)])
    assert sessions[0].visit == "M06"
    empty = build_audit([], protocol)
    assert empty.sessions == [] and empty.findings == [] and empty.sequences == ["t1w", "dwi"]
