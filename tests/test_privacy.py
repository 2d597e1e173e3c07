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
