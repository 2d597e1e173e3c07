"""Patient-identifier handling: the PHI attribute list, keyed pseudonyms and date reduction."""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac

# DICOM PS3.15 Annex E basic profile keywords that may identify a patient, a person or a visit.
# DeviceSerialNumber and StationName are deliberately NOT listed: drift checks need them.
PHI_ATTRIBUTES: frozenset[str] = frozenset({
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientSex", "PatientAge",
    "PatientSize", "PatientWeight", "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames",
    "PatientBirthName", "PatientMotherBirthName", "PatientAddress", "PatientTelephoneNumbers",
    "MilitaryRank", "EthnicGroup", "Occupation", "AdditionalPatientHistory", "PatientComments",
    "MedicalRecordLocator", "IssuerOfPatientID", "PregnancyStatus",
    "AccessionNumber", "InstitutionAddress", "InstitutionalDepartmentName",
    "ReferringPhysicianName", "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers",
    "PerformingPhysicianName", "OperatorsName", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy",
    "RequestingPhysician", "RequestingService", "ScheduledPerformingPhysicianName",
    "StudyID", "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "AcquisitionDate",
    "AcquisitionTime", "ContentDate", "ContentTime", "AcquisitionDateTime", "InstanceCreationDate",
    "InstanceCreationTime", "PerformedProcedureStepStartDate", "PerformedProcedureStepStartTime",
    "PerformedProcedureStepID", "RequestAttributesSequence", "ImageComments", "StudyComments",
    "FrameComments", "PersonName", "ContentCreatorName", "OrderEnteredBy", "OrderCallbackPhoneNumber",
})


def pseudonym(value: str, key: str | None) -> str:
    """A short keyed HMAC-SHA256 pseudonym ("s-" + 12 hex) so subjects can be grouped without identifiers."""
    secret = (key or "protocheck").encode("utf-8")
    digest = hmac.new(secret, (value or "").encode("utf-8"), hashlib.sha256).hexdigest()
    return "s-" + digest[:12]


IDENTITY_READ = ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber", "StudyDate", "SeriesDate",
                 "StudyID")


def damaged_identity(ds: object) -> str | None:
    """Why a header's identifying elements cannot be decoded (a wrong VR, a bad length), quoting no value;
    None when they decode. Such a file is skipped: its subject could not be keyed without the value."""
    for kw in IDENTITY_READ:
        try:
            str(ds.get(kw, "") or "")   # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types, with the value in the text
            return (f"damaged identifying element {kw}: its value cannot be decoded ({type(exc).__name__}); "
                    "the file is not used (fix: correct the element's VR/length, or anonymize the export)")
    return None


def exam_label(exam: object) -> str:
    """How messages name an exam: its BIDS label, else "exam " + a short hash of its key (a DICOM
    StudyInstanceUID is itself an identifier); the same short id as the JSON report's exam_id."""
    key = str(getattr(exam, "key", ""))
    if getattr(exam, "source_kind", "") == "bids" and key.startswith("sub-"):
        return key
    return "exam " + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]


def reduce_date(date: _dt.date | _dt.datetime | str | None) -> str | None:
    """Reduce a date (date object or DICOM/ISO string) to "YYYY-MM" for reports; None if unreadable."""
    if date is None:
        return None
    if isinstance(date, (_dt.date, _dt.datetime)):
        return f"{date.year:04d}-{date.month:02d}"
    d = parse_dicom_date(str(date))
    return None if d is None else f"{d.year:04d}-{d.month:02d}"


def parse_dicom_date(text: object) -> _dt.date | None:
    """Parse a DICOM DA ("YYYYMMDD", also "YYYY.MM.DD"/ISO) robustly; empty, masked or garbage gives None."""
    if text is None:
        return None
    s = str(text).strip().replace(".", "").replace("-", "").replace("/", "")
    if len(s) < 8 or not s[:8].isdigit():
        return None
    try:
        d = _dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
    except ValueError:
        return None
    return d if d.year >= 1900 else None
