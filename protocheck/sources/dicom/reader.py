"""Header-only DICOM reading: cheap sniff, per-file (partial) or full reads, small picklable records."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Callable, Union, cast

from protocheck.sources.dicom import _pydicom  # noqa: F401  (first: pydicom without requests)
from pydicom.dataset import Dataset
from pydicom.filereader import read_partial

from protocheck.model import SkippedFile
from protocheck.sources.dicom import damage, enhanced, fastscan, framescan, inflate, vendors
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor
from protocheck.sources.dicom.rawio import RawFile
from protocheck.sources.dicom.readplan import ReadPlan
from protocheck.sources.dicom.sopclass import (
    MR_IMAGE, MR_SPECTROSCOPY, MULTIFRAME_SOPS, SIEMENS_CSA_NON_IMAGE, STORAGE_PREFIX,
)

Opener = Callable[[], IO[bytes]]
Source = Union[str, os.PathLike, Opener, Dataset]
__all__ = ["MR_IMAGE", "MULTIFRAME_SOPS", "FileRecord", "ReadSkip", "extract_record", "fast_read", "read_header",
           "read_record"]
# Tags every per-file read needs are all in groups <= 0x0020 (plus the vendor's per-file group).
BASE_LAST_GROUP = 0x0020
DEFER_SIZE = 8192

_SKIP_PREFIXES: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.3.10", "DICOMDIR (media directory), not an image"),
    ("1.2.840.10008.5.1.4.1.1.88.", "structured report (SR), not an image"),
    ("1.2.840.10008.5.1.4.1.1.66", "raw data object, not an image"),
    ("1.2.840.10008.5.1.4.1.1.7", "secondary capture (screenshot), not an acquired image"),
    ("1.2.840.10008.5.1.4.1.1.11.", "presentation state, not an image"),
    ("1.2.840.10008.5.1.4.1.1.104.", "encapsulated document (PDF/CDA), not an image"),
    ("1.3.46.670589.11.0.0.12.", "Philips private exam card / protocol data, not an image"),
)


class ReadSkip(Exception):
    """Internal: this file is not used; carries the SkippedFile kind and reason (never escapes the reader)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


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


def sniff(head: bytes) -> tuple[bool, bool]:
    """(is DICOM, needs force): "DICM" at 128, or a plausible little-endian group 0002/0008 start."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True, False
    if len(head) >= 8:
        group = int.from_bytes(head[0:2], "little")
        elem = int.from_bytes(head[2:4], "little")
        if group in (0x0002, 0x0008) and elem < 0x0100:
            vr = head[4:6]
            if vr.isalpha() and vr.isupper():
                return True, True
            length = int.from_bytes(head[4:8], "little")
            if length < 1024:
                return True, True
    return False, False


def classify_sop(sop_class: str, ds: Dataset | None = None) -> str | None:
    """None for an image to use, "mrs" for spectroscopy, else the reason the object is skipped."""
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


def _stop_after(last_group: int) -> Callable[[Any, Any, int], bool]:
    def stop(tag: Any, vr: Any, length: int) -> bool:
        return tag.group > last_group or tag in (0x7FE00010, 0x7FE00008, 0x7FE00009)
    return stop


def _open(source: Source) -> IO[bytes]:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb")
    return source()  # type: ignore[operator]


def _cut_reason(fh: IO[bytes]) -> str | None:
    """After a read that reached the end of the file: why the file is truncated or damaged, or None.

    pydicom accepts a value cut short by the end of the file (and a deferred value past it), so a file cut
    inside a UID would silently become a bogus series. Only reads that ran to the end of the file can be
    cut (a read stopped early, e.g. at the pixel data, is not): their element stream is walked by length.
    """
    try:
        end = fh.tell()
        size = fh.seek(0, 2)
    except (OSError, ValueError):
        return None
    if end < size:
        return None
    return damage.diagnose(fh)


def read_header(source: Source, full: bool, last_group: int = BASE_LAST_GROUP,
                process: Callable[[Dataset], Any] | None = None) -> Any:
    """Read one header without pixel data: the whole header (``full``) or up to ``last_group``.

    ``process`` (if given) is applied while the file is still open (deferred values stay readable) and its
    result is returned instead of the dataset. Raises ReadSkip (kind not-dicom / unreadable / invalid)
    instead of any pydicom or OS error.
    """
    if isinstance(source, Dataset):
        try:
            return source if process is None else process(source)
        except ReadSkip:
            raise
        except Exception as exc:
            raise ReadSkip("invalid", f"broken DICOM value: {type(exc).__name__}: {exc}"[:300]) from None
    try:
        fh = _open(source)
    except OSError as exc:
        raise ReadSkip("unreadable", f"cannot open: {exc.strerror or exc}") from None
    try:
        with fh:
            head = fh.read(132)
            ok, force = sniff(head)
            if not ok:
                raise ReadSkip("not-dicom", "not a DICOM file (no DICM marker, no DICOM group 0002/0008 start)")
            fh.seek(0)
            stop = _stop_after(0xFFFF if full else max(last_group, BASE_LAST_GROUP))
            ds = _read_deflated(fh, stop, force)
            if ds is None:
                ds = read_partial(cast(BinaryIO, fh), stop_when=stop, defer_size=None if full else DEFER_SIZE, force=force)
                cut = _cut_reason(fh)
                if cut is not None:
                    raise ReadSkip("invalid", cut)
            return ds if process is None else process(ds)
    except ReadSkip:
        raise
    except inflate.InflateLimit as exc:
        raise ReadSkip("limit", str(exc)) from None
    except Exception as exc:  # pydicom raises many types on broken files; none may escape
        raise ReadSkip("invalid", f"unreadable DICOM header: {type(exc).__name__}: {exc}"[:300]) from None


def _read_deflated(fh: IO[bytes], stop: Callable[[Any, Any, int], bool], force: bool) -> Dataset | None:
    """A deflated file's header read with the inflated size capped (pydicom would inflate it whole); None
    for any other transfer syntax (the file is rewound)."""
    if not inflate.is_deflated(fh):
        return None
    ds = inflate.read_deflated(fh, stop, force)
    if ds is None:
        fh.seek(0)
    return ds


def damage_reason(source: Source) -> str | None:
    """The structural damage of a file's header ("header damaged at byte N: ..."), or None if none is found."""
    if isinstance(source, Dataset):
        return None
    try:
        with _open(source) as fh:
            return damage.diagnose(fh)
    except Exception:  # noqa: BLE001 - a diagnosis never raises
        return None


def sop_class_of(ds: Dataset) -> str:
    """SOPClassUID, else the file meta MediaStorageSOPClassUID, else ""."""
    v = ds.get("SOPClassUID")
    if not v:
        meta = getattr(ds, "file_meta", None)
        v = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(v or "").strip()


def _str(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _int(v: Any) -> int | None:
    try:
        return None if v is None or v == "" else int(float(v))
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
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
    rec.sop_uid = _str(ds.get("SOPInstanceUID"))
    rec.series_uid = _str(ds.get("SeriesInstanceUID"))   # top level only: never a nested reference
    rec.study_uid = _str(ds.get("StudyInstanceUID"))
    rec.manufacturer = _str(ds.get("Manufacturer"))
    rec.instance_number = _int(ds.get("InstanceNumber"))
    rec.position = _position(ds.get("ImagePositionPatient"))
    rec.acq_time = _str(ds.get("AcquisitionTime"))
    rec.echo_time = _float(ds.get("EchoTime"))
    rec.echo_number = _int(_first(ds.get("EchoNumbers")))
    rec.image_type = tuple(_str(x).upper() for x in _multi(ds.get("ImageType")))
    if enhanced.is_multiframe(ds) and not rec.mrs:
        if frames is not None:
            rec.n_frames, rec.positions = max(1, frames.n), list(frames.positions)
            rec.echo_times, rec.diffusion = list(frames.echo_times), list(frames.diffusion)
        else:
            _fill_frames(ds, rec)
    else:
        rec.n_frames = max(1, _int(ds.get("NumberOfFrames")) or 1)
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


def read_record(name: str, source: Source, full: bool = False, last_group: int | None = None) -> FileRecord:
    """Pure per-file read (path/opener/Dataset -> FileRecord); every failure becomes ``record.skip``.

    ``last_group`` is where a partial read stops (the vendor's PER_FILE_LAST_GROUP); None reads it from
    the file's Manufacturer (a cheap second pass is avoided by reading up to a safe default).
    """
    group = vendors.DEFAULT_LAST_GROUP if last_group is None else last_group
    if not full and isinstance(source, (str, os.PathLike)):
        rec = _fast_record(name, source, vendors.READ_PLAN, group)
        if rec is not None:
            return rec
    try:
        rec = read_header(source, full, group, lambda ds: extract_record(ds, name))
        if not full and rec.skip is None and (rec.sop_class in MULTIFRAME_SOPS or rec.mrs):
            rec = read_header(source, True, group, lambda ds: extract_record(ds, name))
        if rec.skip is None and not rec.series_uid:
            why = damage_reason(source)
            if why:
                rec.skip = SkippedFile(name, why, "invalid")
        return rec
    except ReadSkip as exc:
        return FileRecord(name=name, skip=SkippedFile(name, exc.reason, exc.kind))


def _fast_record(name: str, path: str | os.PathLike, plan: ReadPlan, last_group: int | None = None
                 ) -> FileRecord | None:
    """Per-file record through the hand-rolled scanners; None whenever pydicom must decide."""
    got = fast_read(name, path, plan, last_group)
    return None if got is None else got[0]


def fast_read(name: str, path: str | os.PathLike, plan: ReadPlan, last_group: int | None = None
              ) -> tuple[FileRecord, Dataset | None] | None:
    """(record, header) through the hand-rolled scanners (fastscan, framescan); None when pydicom must read.

    ``plan`` (vendors.READ_PLAN) holds the tables built from the vendor specs; ``last_group`` (default the
    plan's) is where a per-file read stops. The header is returned only when it can describe the series (an
    enhanced object's, which keeps every top-level element); a classic file's scan holds only its per-file
    elements (header None).
    """
    try:
        with RawFile(path) as fh:
            scanned = fastscan.scan(fh, plan, last_group)
            if scanned is fastscan.MULTI_FRAME:
                fh.seek(0)
                got = framescan.scan(fh, plan)
                if got is None:
                    return None
                header, frames = got
                rec = extract_record(header, name, frames)
            elif scanned is None:
                return None
            else:
                rec, header = extract_record(scanned.dataset, name, texts=scanned.texts), None
    except Exception:  # noqa: BLE001 - anything odd: the pydicom path reads the file and reports it
        return None
    if rec.skip is not None:   # a non-image object is known by its SOP class alone (not a CSA one: its content)
        ok = rec.skip.kind == "non-image" and rec.sop_class != SIEMENS_CSA_NON_IMAGE
        return (rec, None) if ok else None
    if rec.mrs or not rec.series_uid:
        return None
    if rec.sop_class in MULTIFRAME_SOPS and header is None:
        return None
    return rec, header


def _from_texts(ds: Dataset, name: str, vals: dict[str, str]) -> FileRecord | None:
    """The record of a scanned classic MR image from its plain per-file texts; None when the general path must
    read it (an object that is not a plain image, a multi-valued instance, echo time or frame count)."""
    if not vals["sop_class"] or any("\\" in vals[k] for k in ("inst", "te", "frames")):
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
