"""Header-only DICOM reading: cheap sniff, per-file (partial) or full reads; the records come from extract.py."""
from __future__ import annotations

import os
from typing import IO, Any, BinaryIO, Callable, Union, cast

from protocheck.sources.dicom import _pydicom  # noqa: F401  (first: pydicom without requests)
from pydicom.dataset import Dataset
from pydicom.filereader import read_partial

from protocheck.model import SkippedFile
from protocheck.sources.dicom import damage, fastscan, framescan, inflate, vendors
from protocheck.sources.dicom.extract import FileRecord, classify_sop, extract_record, sop_class_of
from protocheck.sources.dicom.rawio import RawFile
from protocheck.sources.dicom.readplan import ReadPlan
from protocheck.sources.dicom.sopclass import MR_IMAGE, MULTIFRAME_SOPS, SIEMENS_CSA_NON_IMAGE

Opener = Callable[[], IO[bytes]]
Source = Union[str, os.PathLike, Opener, Dataset]
__all__ = ["MR_IMAGE", "MULTIFRAME_SOPS", "FileRecord", "ReadSkip", "classify_sop", "extract_record", "fast_read",
           "read_header", "read_record", "sop_class_of"]
# Tags every per-file read needs are all in groups <= 0x0020 (plus the vendor's per-file group).
BASE_LAST_GROUP = 0x0020
DEFER_SIZE = 8192


class ReadSkip(Exception):
    """Internal: this file is not used; carries the SkippedFile kind and reason (never escapes the reader)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


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
                ds = read_partial(cast(BinaryIO, fh), stop_when=stop, defer_size=None if full else DEFER_SIZE,
                                  force=force)
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
    plan's) is where a per-file read stops. The record's ``stamp`` (None if not known) covers what was read. The
    header is returned only when it can describe the series (an enhanced object's, which keeps every top-level
    element); a classic file's scan holds only its per-file elements (header None).
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
                rec.stamp = frames.stamp
            elif scanned is None:
                return None
            else:
                rec, header = extract_record(scanned.dataset, name, texts=scanned.texts), None
                rec.stamp = scanned.stamp
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


