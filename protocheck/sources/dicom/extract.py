"""The one per-file record extractor: a read header (or a scanned file's plain texts) -> FileRecord.

Dataset -> values only, through pydicom's public API (and ``fastscan.elements`` by int tag, via the helpers);
reading files is reader.py's (which re-exports these names).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from protocheck.model import SkippedFile
from protocheck.sources.dicom import enhanced, framescan, vendors
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor
from protocheck.sources.dicom.rawio import Stamp
from protocheck.sources.dicom.sopclass import MR_IMAGE, MR_SPECTROSCOPY, SIEMENS_CSA_NON_IMAGE, STORAGE_PREFIX

_SKIP_PREFIXES: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.3.10", "DICOMDIR (media directory), not an image"),
    ("1.2.840.10008.5.1.4.1.1.88.", "structured report (SR), not an image"),
    ("1.2.840.10008.5.1.4.1.1.66", "raw data object, not an image"),
    ("1.2.840.10008.5.1.4.1.1.7", "secondary capture (screenshot), not an acquired image"),
    ("1.2.840.10008.5.1.4.1.1.11.", "presentation state, not an image"),
    ("1.2.840.10008.5.1.4.1.1.104.", "encapsulated document (PDF/CDA), not an image"),
    ("1.3.46.670589.11.0.0.12.", "Philips private exam card / protocol data, not an image"),
)


@dataclass
class FileRecord:
    """The per-file values of one DICOM file (small, picklable): identity, position, echo, diffusion."""

    name: str
    sop_class: str = ""
    sop_uid: str = ""
    series_uid: str = ""
    study_uid: str = ""
    manufacturer: str = ""
    instance_number: int | None = None
    position: tuple[float, float, float] | None = None
    acq_time: str = ""
    echo_time: float | None = None
    echo_number: int | None = None
    image_type: tuple[str, ...] = ()
    n_frames: int = 1
    mrs: bool = False
    diffusion: list[tuple[DiffusionSample, int]] = field(default_factory=list)  # (sample, n images)
    positions: list[tuple[float, float, float]] = field(default_factory=list)   # enhanced frames
    echo_times: list[float] = field(default_factory=list)                       # enhanced frames
    skip: SkippedFile | None = None
    # what this record (and its series seed, if one was made with it) was read from: a touched file that still
    # gives it reads as stored (``rawio.Stamp``, ``touched``); None when not known
    stamp: Stamp | None = field(default=None, compare=False, repr=False)


def classify_sop(sop_class: str, ds: Dataset | None = None) -> str | None:
    """None for an image to use, "mrs" for spectroscopy, else the reason the object is skipped."""
    if sop_class == MR_IMAGE:   # the common case (no skip prefix is one of its prefixes: the answer below too)
        return None
    if sop_class == MR_SPECTROSCOPY:
        return "mrs"
    if sop_class == SIEMENS_CSA_NON_IMAGE:
        if ds is not None and _is_csa_spectroscopy(ds):
            return "mrs"
        return "Siemens CSA non-image object (not spectroscopy), not an image"
    for prefix, reason in _SKIP_PREFIXES:
        if sop_class.startswith(prefix):
            return reason
    return not_mr_reason(sop_class, ds)


def not_mr_reason(sop_class: str, ds: Dataset | None = None) -> str | None:
    """"not MR (...): ignored" for a standard non-MR storage class (CT, US, CR, RT, waveforms such as ECG...),
    or for an object whose (0008,0060) Modality names another modality; None for MR (or undecidable)."""
    if sop_class == MR_IMAGE or sop_class.startswith(MR_IMAGE + "."):
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper() if ds is not None else ""
    if not sop_class.startswith(STORAGE_PREFIX) and modality in ("", "MR"):
        return None
    from pydicom.uid import UID
    name = UID(sop_class).name if sop_class else ""
    what = [name if name and name != sop_class else f"SOP class {sop_class or 'absent'}"]
    if modality:
        what.append(f"Modality {modality}")
    return f"not MR ({', '.join(what)}): ignored"


def _is_csa_spectroscopy(ds: Dataset) -> bool:
    for tag in (0x00291008, 0x00291108, 0x00291018):
        el = ds.get(tag)
        if el is not None and str(el.value).upper().startswith("SPEC"):
            return True
    return "SPECTROSCOPY" in [str(v).upper() for v in _multi(ds.get("ImageType"))]


def _multi(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return list(v)
    return [v]


def sop_class_of(ds: Dataset) -> str:
    """SOPClassUID, else the file meta MediaStorageSOPClassUID, else ""."""
    v = ds.get("SOPClassUID")
    if not v:
        meta = getattr(ds, "file_meta", None)
        v = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(v or "").strip()


def text_value(v: Any) -> str:
    """A value as stripped text ("" when absent): shared with the DICOM JSON reader (dicomweb_records)."""
    return "" if v is None else str(v).strip()


def int_value(v: Any) -> int | None:
    """An IS/DS/number value as an int (None when absent or not a finite number)."""
    try:
        return None if v is None or v == "" else int(float(v))
    except (TypeError, ValueError, OverflowError):
        return None


def float_value(v: Any) -> float | None:
    """A DS/number value as a float (None when absent or not a number)."""
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def _position(v: Any) -> tuple[float, float, float] | None:
    try:
        t = tuple(round(float(x), 2) for x in v)
    except (TypeError, ValueError):
        return None
    return t if len(t) == 3 else None


def extract_record(ds: Dataset, name: str, frames: framescan.Frames | None = None,
                   texts: dict[str, str] | None = None) -> FileRecord:
    """The per-file values of an already read header (pure: same input, same record); the one extractor.

    ``frames`` (a framescan.Frames) gives the per-frame values of an enhanced object read by the scanner,
    whose dataset keeps only its first and last per-frame items; ``texts`` (fastscan.Scanned.texts) the plain
    values of a scanned classic file, used as they are when every one is plain (else the dataset is read).
    """
    if texts is not None:
        rec = _from_texts(ds, name, texts)
        if rec is not None:
            return rec
    sop_class = sop_class_of(ds)
    rec = FileRecord(name=name, sop_class=sop_class)
    verdict = classify_sop(sop_class, ds)
    if verdict not in (None, "mrs"):
        rec.skip = SkippedFile(name, verdict, "non-image")
        return rec
    rec.mrs = verdict == "mrs"
    rec.sop_uid = text_value(ds.get("SOPInstanceUID"))
    rec.series_uid = text_value(ds.get("SeriesInstanceUID"))   # top level only: never a nested reference
    rec.study_uid = text_value(ds.get("StudyInstanceUID"))
    rec.manufacturer = text_value(ds.get("Manufacturer"))
    rec.instance_number = int_value(ds.get("InstanceNumber"))
    rec.position = _position(ds.get("ImagePositionPatient"))
    rec.acq_time = text_value(ds.get("AcquisitionTime"))
    rec.echo_time = float_value(ds.get("EchoTime"))
    rec.echo_number = int_value(_first(ds.get("EchoNumbers")))
    rec.image_type = tuple(text_value(x).upper() for x in _multi(ds.get("ImageType")))
    if enhanced.is_multiframe(ds) and not rec.mrs:
        if frames is not None:
            rec.n_frames, rec.positions = max(1, frames.n), list(frames.positions)
            rec.echo_times, rec.diffusion = list(frames.echo_times), list(frames.diffusion)
        else:
            _fill_frames(ds, rec)
    else:
        rec.n_frames = max(1, int_value(ds.get("NumberOfFrames")) or 1)
        sample = vendors.file_diffusion_sample(ds, rec.manufacturer)
        if sample is not None:
            rec.diffusion.append((sample, 1))
    return rec


def _first(v: Any) -> Any:
    m = _multi(v)
    return m[0] if m else None


def _fill_frames(ds: Dataset, rec: FileRecord) -> None:
    """Per-frame positions, echo times and diffusion samples of an enhanced object."""
    n = 0
    merged: dict[DiffusionSample, int] = {}
    for _i, frame in enhanced.iter_frames(ds):
        n += 1
        pos = enhanced.frame_position(ds, frame)
        if pos is not None:
            rec.positions.append(pos)
        te = enhanced.frame_echo_time(ds, frame)
        if te is not None and te not in rec.echo_times:
            rec.echo_times.append(te)
        sample = enhanced.frame_diffusion(ds, frame)
        if needs_vendor(sample):
            sample = vendors.file_diffusion(frame if frame is not None else ds, rec.manufacturer) or sample
        if sample is not None:
            merged[sample] = merged.get(sample, 0) + 1
    rec.n_frames = max(1, n)
    rec.diffusion = list(merged.items())
    rec.positions = sorted(set(rec.positions))


def _from_texts(ds: Dataset, name: str, vals: dict[str, str]) -> FileRecord | None:
    """The record of a scanned classic MR image from its plain per-file texts; None when the general path must
    read it (an object that is not a plain image, a multi-valued instance, echo time or frame count)."""
    if not vals["sop_class"] or "\\" in vals["inst"] or "\\" in vals["te"] or "\\" in vals["frames"]:
        return None
    rec = FileRecord(name=name, sop_class=vals["sop_class"])
    if classify_sop(rec.sop_class, ds) is not None or enhanced.is_multiframe(ds):
        return None
    rec.sop_uid, rec.series_uid, rec.study_uid = vals["sop_uid"], vals["series_uid"], vals["study_uid"]
    rec.manufacturer, rec.acq_time = vals["manufacturer"], vals["acq_time"]
    rec.instance_number = _int_text(vals["inst"])
    rec.echo_time = _float_text(vals["te"])
    rec.echo_number = _int_text(vals["echo"].split("\\")[0]) if vals["echo"] else None
    pos = vals["pos"].split("\\") if vals["pos"] else []
    try:
        rec.position = tuple(round(float(x), 2) for x in pos) if len(pos) == 3 else None  # type: ignore[assignment]
    except ValueError:
        rec.position = None
    rec.image_type = tuple(x.strip().upper() for x in vals["itype"].split("\\")) if vals["itype"] else ()
    rec.n_frames = max(1, _int_text(vals["frames"]) or 1)
    sample = vendors.file_diffusion_sample(ds, rec.manufacturer)
    if sample is not None:
        rec.diffusion.append((sample, 1))
    return rec


def _int_text(text: str) -> int | None:
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _float_text(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
