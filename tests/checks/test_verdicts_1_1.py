"""Protocol 1.1 semantics on small built exams: drift only along dates, accepted exam-card versions as
information, must-match within a vendor, and the unusable tier of the cord protocol."""

from __future__ import annotations

import datetime as dt

import pytest

from protocheck.checks.audit import build_audit
from protocheck.checks.compliance import check_exam
from protocheck.checks.results import Severity, Status
from protocheck.errors import ProtocolError
from protocheck.model import Acquisition, Exam
from protocheck.protocol import load_protocol
from protocheck.protocol.loader import load_protocol_text

PROTOCOL = """
name: tiny-verdicts
version: "1.1"
longitudinal:
  rules:
    - {id: software, parameter: SoftwareVersions, severity: warning}
sequences:
  - id: t1w
    requirement: required
    identify:
      any: [{parameter: SeriesDescription, matches: "(?i)t1"}]
    constraints:
      - {id: flip, parameter: FlipAngle, nominal: 9, tolerance: {absolute: 0.5}, severity: warning, must_match: vendor}
      - {id: te, parameter: EchoTime, nominal: 0.007, tolerance: {relative: 0.1}, severity: warning}
    versions:
      - name: "old card v5"
        when: {Manufacturer: "(?i)philips"}
        until: "2019-11-11"
        constraints:
          - {id: te, parameter: EchoTime, nominal: 0.0021, tolerance: {relative: 0.1}, severity: warning}
"""


@pytest.fixture(scope="module")
def protocol():
    return load_protocol_text(PROTOCOL, "tiny.yaml")


def _exam(site: str, subject: str, date: dt.date | None, vendor: str = "Siemens", sw: str = "XA30",
          flip: float = 9, te: float = 0.007, coil: str = "HeadNeck_64") -> Exam:
    a = Acquisition(key=f"{site}-{subject}-{date}", description="T1w", series_number=1)
    for k, v in {"Manufacturer": vendor, "SoftwareVersions": sw, "DeviceSerialNumber": f"{site}-1",
                 "MagneticFieldStrength": 3.0, "ReceiveCoilName": coil, "SeriesDescription": "T1w",
                 "FlipAngle": flip, "EchoTime": te}.items():
        a.set(k, v, "test")
    return Exam(key=a.key, subject=subject, site=site, date=date, acquisitions=[a])


def _audit(protocol, exams):
    return build_audit([check_exam(e, protocol) for e in exams], protocol)


def test_undated_sessions_differ_without_direction(protocol):
    exams = [_exam("A", f"s{i}", None, sw="XA20") for i in range(5)] + [_exam("A", "s9", None, sw="XA11")]
    audit = _audit(protocol, exams)
    assert [(e.kind, e.attribute, e.sessions) for e in audit.drift] == [("differs", "SoftwareVersions", ["s9 v1"])]
    msg = next(f.message for f in audit.findings if f.kind == "drift")
    assert "sessions differ" in msg and "→" not in msg and "changed" not in msg


def test_one_odd_dated_session_is_an_excursion_not_a_change(protocol):
    days = [dt.date(2020, m, 1) for m in range(1, 7)]
    coils = ["HN64", "HN64", "Spine32", "HN64", "HN64", "HN64"]
    audit = _audit(protocol, [_exam("A", f"s{i}", d, coil=c) for i, (d, c) in enumerate(zip(days, coils))])
    coil = [e for e in audit.drift if e.attribute == "ReceiveCoilName"]
    assert [(e.kind, e.after, e.sessions) for e in coil] == [("excursion", "Spine32", ["s2 v1 (2020-03)"])]
    site = next(f for f in audit.site_findings if f.kind == "drift")
    assert site.sessions == 1 and site.labels == ["s2 v1 (2020-03)"]      # not "from then on"


def test_dated_lasting_change_has_a_direction(protocol):
    days = [dt.date(2020, m, 1) for m in range(1, 5)]
    sws = ["XA20", "XA20", "XA30", "XA30"]
    audit = _audit(protocol, [_exam("A", f"s{i}", d, sw=s) for i, (d, s) in enumerate(zip(days, sws))])
    assert [(e.kind, e.before, e.after, e.subject) for e in audit.drift] == [("change", "XA20", "XA30", "s2")]


def test_accepted_card_version_is_info_before_its_end_date(protocol):
    old = check_exam(_exam("P", "p1", dt.date(2019, 3, 1), vendor="Philips", te=0.0021), protocol)
    f = next(f for f in old.all_findings() if f.check_id == "t1w/te")
    assert f.status is Status.FAIL and f.severity is Severity.INFO and "old card v5" in f.message
    assert old.verdict == "compliant"
    late = check_exam(_exam("P", "p1", dt.date(2020, 3, 1), vendor="Philips", te=0.0021), protocol)
    assert next(f for f in late.all_findings() if f.check_id == "t1w/te").severity is Severity.WARNING
    other = check_exam(_exam("S", "s1", dt.date(2019, 3, 1), te=0.0021), protocol)       # not a Philips card
    assert next(f for f in other.all_findings() if f.check_id == "t1w/te").severity is Severity.WARNING


def test_must_match_within_vendor_only(protocol):
    d = dt.date(2020, 1, 1)
    exams = [_exam(s, "x", d, flip=9) for s in ("A", "B", "C")] + [_exam(s, "y", d, vendor="GE", flip=11)
                                                                   for s in ("G1", "G2", "G3")]
    exams.append(_exam("G4", "z", d, vendor="GE", flip=12))
    audit = _audit(protocol, exams)
    differs = {r.site for h in audit.harmonization if h.parameter == "FlipAngle" for r in h.sites
               if r.status == "differs"}
    # GE sites differ from the protocol's 9°, but only G4 differs from the other GE sites (11°)
    ge_items = [h for h in audit.harmonization if h.parameter == "FlipAngle" and "(GE)" in h.origin]
    assert ge_items and ge_items[0].consensus == "11 °"
    assert {"A", "B", "C"}.isdisjoint(differs) and "G4" in differs


def test_longitudinal_change_at_subject_and_visit(protocol):
    exams = [_exam("A", "s1", dt.date(2020, 1, 1)), _exam("A", "s1", dt.date(2020, 6, 1), sw="XA60"),
             _exam("A", "s2", dt.date(2020, 1, 1)), _exam("A", "s2", dt.date(2020, 6, 1))]
    found = [(f.subject, f.visit, f.check_ids) for f in _audit(protocol, exams).findings if f.kind == "longitudinal"]
    assert found == [("s1", "v2", ["longitudinal/software"])]


def test_version_of_an_unknown_constraint_is_refused():
    bad = PROTOCOL.replace("- {id: te, parameter: EchoTime, nominal: 0.0021", "- {id: tee, parameter: EchoTime, nominal: 0.0021")
    with pytest.raises(ProtocolError, match="unknown constraint id 'tee'"):
        load_protocol_text(bad, "bad.yaml")


def _mt(key: str, desc: str, tr: float, mt: bool) -> Acquisition:
    a = Acquisition(key=key, description=desc, series_number=1)
    for k, v in {"Manufacturer": "Siemens", "ManufacturersModelName": "Prisma", "MagneticFieldStrength": 3.0,
                 "SeriesDescription": desc, "MTState": mt, "RepetitionTime": tr, "EchoTime": 0.00313,
                 "FlipAngle": 9, "SliceThickness": 5.0}.items():
        a.set(k, v, "test")
    return a


def test_cord_mt_tr_tiers():
    p = load_protocol("als-spinal-cord")
    for tr, severity in ((0.035, None), (0.047, Severity.WARNING), (0.108, Severity.ERROR)):
        res = check_exam(Exam(key="e", acquisitions=[_mt("on", "GRE-MT1", tr, True), _mt("off", "GRE-MT0", tr, False)]), p)
        fails = [f for f in res.all_findings() if f.parameter == "RepetitionTime" and f.status is Status.FAIL
                 and f.sequence == "gre-mt1" and "mt-pair" not in f.check_id]
        assert [f.severity for f in fails] == ([] if severity is None else [severity]), tr
