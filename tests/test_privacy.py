"""privacy: PHI list, keyed pseudonyms, date reduction."""
from __future__ import annotations

import datetime as dt

from protocheck.privacy import PHI_ATTRIBUTES, parse_dicom_date, pseudonym, reduce_date


def test_phi_list():
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "InstitutionAddress",
               "OperatorsName", "StudyDate", "PatientSex"):
        assert kw in PHI_ATTRIBUTES
    assert "DeviceSerialNumber" not in PHI_ATTRIBUTES


def test_pseudonym_keyed_and_stable():
    a = pseudonym("123|DOE^JOHN", "k1")
    assert a.startswith("s-") and len(a) == 14
    assert a == pseudonym("123|DOE^JOHN", "k1")
    assert a != pseudonym("123|DOE^JOHN", "k2")
    assert "DOE" not in a


def test_dates():
    assert reduce_date("20240917") == "2024-09"
    assert reduce_date(dt.date(2021, 1, 5)) == "2021-01"
    for bad in ("", "***", "garbage", "20241399", None, "0000000"):
        assert parse_dicom_date(bad) is None
        assert reduce_date(bad) is None


def test_folder_names_are_scrubbed_everywhere_and_untouched_notes_kept():
    from protocheck.model import Acquisition, Exam, Note, ScanResult, SkippedFile
    from protocheck.privacy import folder_alias, scrub_folder_names
    acq = Acquisition(key="1", folder="DOE^JOHN/20240917/t1")
    kept = Note("derived", "a derived series", "info")
    acq.notes = [kept, Note("odd", "read from DOE^JOHN/20240917", "warning")]
    other = Acquisition(key="2", folder="DOE^JOHN/20240917/t2")
    exam = Exam(key="e", folder="DOE^JOHN/20240917", subject="DOE^JOHN", acquisitions=[acq, other])
    scan = ScanResult(roots=["/x"], exams=[exam],
                      skipped=[SkippedFile(path="/x/DOE^JOHN/20240917/f.dcm", reason="in DOE^JOHN", kind="bad")])
    assert scrub_folder_names(scan, "key") == 2
    john, day = folder_alias("DOE^JOHN", "key"), folder_alias("20240917", "key")
    assert exam.folder == f"{john}/{day}" and exam.subject == john and other.folder == f"{john}/{day}/t2"
    assert acq.notes[0] is kept and acq.notes[1] == Note("odd", f"read from {john}/{day}", "warning")
    assert scan.skipped[0].path == f"/x/{john}/{day}/f.dcm" and scan.skipped[0].reason == f"in {john}"
