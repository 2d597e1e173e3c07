"""Patient-identifier handling: the PHI attribute list, keyed pseudonyms and date reduction."""
from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import os
import re
import stat
from pathlib import Path
from typing import Any

from protocheck.errors import InputError

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


def config_dir() -> Path:
    """The user's protocheck config folder: $XDG_CONFIG_HOME/protocheck, else ~/.config/protocheck."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "protocheck"


def installation_secret(name: str) -> str:
    """A per-installation secret kept in the user's config folder (created 0600 on first use, in a 0700
    folder); refused when others may read or write it (a known key makes pseudonyms reversible)."""
    folder = config_dir()
    path = folder / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.path.lexists(path):
            _create_secret(path)
        return _read_secret(path, "the installation secret")
    except OSError as exc:
        raise InputError(f"cannot create or read the installation secret ({exc.strerror or exc})",
                         path=str(path), fix="make the folder writable by you only, or give "
                                             "--pseudonym-key-file FILE") from None


def _create_secret(path: Path) -> None:
    """Write a new secret to a file of its own, then link it to ``path``: processes starting at once (a check's
    workers) see no secret or the whole of one, never an empty file; the first link wins, the others read it."""
    import secrets   # only to create it (secrets imports random: ~1.5 ms of every start-up otherwise)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:   # another process linked its secret first: that one is the installation's
            pass
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _read_secret(path: Path, what: str) -> str:
    """The secret in ``path``: a regular file of the user, not readable or writable by others."""
    st = os.stat(path, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} is not a regular file", path=str(path), fix="remove it or give a regular file")
    if st.st_mode & 0o077:
        raise InputError(f"{what} may be read or changed by other users (mode {stat.S_IMODE(st.st_mode):o})",
                         path=str(path), fix=f"chmod 600 {path}")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise InputError(f"{what} belongs to another user", path=str(path), fix="use a key file you own")
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if len(text) < 16:
        raise InputError(f"{what} is empty or too short (at least 16 characters)", path=str(path),
                         fix="put a long random secret in it, e.g. the output of `openssl rand -hex 32`")
    return text


def pseudonym_key(key: str | None = None, key_file: str | os.PathLike | None = None) -> str:
    """The key of subject pseudonyms: ``--pseudonym-key-file``, else ``--pseudonym-key``, else the
    installation's own secret (never a public constant: pseudonyms are not reversible by dictionary)."""
    if key_file is not None:
        try:
            return _read_secret(Path(key_file), "the pseudonym key file")
        except OSError as exc:
            raise InputError(f"cannot read the pseudonym key file ({exc.strerror or exc})", path=str(key_file),
                             fix="give a readable file holding the key (chmod 600)") from None
    if key:
        return key
    path = str(config_dir() / "pseudonym.key")
    if path not in _SECRETS:
        _SECRETS[path] = installation_secret("pseudonym.key")
    return _SECRETS[path]


_SECRETS: dict[str, str] = {}


def pseudonym(value: str, key: str | None) -> str:
    """A short keyed HMAC-SHA256 pseudonym ("s-" + 12 hex) so subjects can be grouped without identifiers;
    without a key, the installation's secret is the key."""
    secret = (key or pseudonym_key()).encode("utf-8")
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


# PACS exports name folders by patient ("DOE^JOHN", "Doe, John") and by date ("20240917", "17.09.2024").
_FOLDER_DATE = re.compile(r"(?<!\d)(19|20)\d\d[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
                          r"|(?<!\d)(0[1-9]|[12]\d|3[01])[-_.](0[1-9]|1[0-2])[-_.](19|20)\d\d(?!\d)")
_FOLDER_NAME = re.compile(r"\^|^[^\W\d_][\w'’-]*, ?[^\W\d_]")
_SEPARATORS = re.compile(r"[/\\:]")


def identifying_folder(name: str) -> bool:
    """True for a folder name that looks like a patient name (PN "^", "Last, First") or holds a date."""
    return bool(_FOLDER_NAME.search(name) or _FOLDER_DATE.search(name))


def folder_alias(name: str, key: str | None) -> str:
    """A stable stand-in for an identifying folder name: "folder-" + a keyed hash."""
    return "folder-" + pseudonym(name, key)[2:10]


def scrub_folder_names(scan: Any, key: str | None) -> int:
    """Replace folder names that look like patient names or dates in everything a report shows of ``scan``
    (exam and series folders, subjects taken from folders, skipped paths, notes); returns how many names."""
    texts: set[str] = set()   # each text, then each name in them, looked at once (series share their folders)
    for exam in scan.exams:
        texts.update((exam.folder or "", exam.subject or ""))
        texts.update(a.folder or "" for a in exam.acquisitions)
    parts: set[str] = set()
    for text in texts:
        parts.update(_SEPARATORS.split(text))
    for s in scan.skipped:
        parts.update(_SEPARATORS.split(s.path)[:-1])
    names = {p for p in parts if p and identifying_folder(p)}
    if not names:
        return 0
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)))
    aliases = {n: folder_alias(n, key) for n in names}   # one keyed hash per name, not per place it is in

    def alias(match: re.Match[str]) -> str:
        return aliases[match.group(0)]

    def sub(text: Any) -> Any:
        return pattern.sub(alias, text) if isinstance(text, str) else text

    for exam in scan.exams:
        exam.folder, exam.subject = sub(exam.folder), sub(exam.subject)
        for acq in exam.acquisitions:
            acq.folder = sub(acq.folder)
            if acq.notes:   # a note is replaced only where its message names one
                acq.notes = [n if (m := sub(n.message)) == n.message else type(n)(n.code, m, n.severity)
                             for n in acq.notes]
    for s in scan.skipped:
        s.path, s.reason = sub(s.path), sub(s.reason)
    return len(names)


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
