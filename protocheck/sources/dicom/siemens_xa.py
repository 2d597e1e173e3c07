"""Siemens XA (syngo MR XA10+): no CSA header; parameters from SDS/SDI private groups and the Phoenix text.

As dcm2niix reads them (nii_dicom.cpp): ScanningSequence/SequenceVariant/ScanOptions (0021,105A/105B/105C),
the MrPhoenixProtocol in (0021,1019), PhaseEncodingDirectionPositive (0021,111C), BandwidthPerPixelPhaseEncode
(0021,1153) and AcquisitionMatrixText (0021,1158). Classic XA exports carry them at top level; enhanced
objects inside the shared (0021,10FE) "SIEMENS MR SDS 01" and per-frame (0021,11FE) "SIEMENS MR SDI 02" items.
"""
from __future__ import annotations

import re
from typing import Any

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import enhanced
from protocheck.sources.dicom.fastscan import elements

SDS = r"SIEMENS MR SDS 01"
SDI = r"SIEMENS MR SDI 02"


def creator_tags(ds: Dataset, group: int) -> list[int]:
    """The private creator tags (group, 0010-00FF) present in ``ds``, in block order.

    Shifts and masks only: pydicom's BaseTag compares in Python, which made a scan of the keys slow.
    """
    g8 = group << 8
    return sorted(t & 0xFFFFFFFF for t in elements(ds) if t >> 8 == g8 and t & 0xFF >= 0x10)


def private(ds: Dataset | None, creator_rx: str, elem: int, group: int = 0x0021) -> Any:
    """A private value by creator (regex) and element offset, whatever block the creator reserved."""
    if ds is None:
        return None
    try:
        for tag in creator_tags(ds, group):
            block = tag & 0xFF
            cr = ds.get(tag)
            if cr is None or not re.search(creator_rx, str(cr.value), re.I):
                continue
            el = ds.get((group, (block << 8) | elem))
            if el is not None and el.value not in (None, ""):
                return el.value
    except Exception:  # malformed private block: treated as absent
        return None
    return None


def _nested(item: Dataset | None, creator_rx: str, seq_elem: int) -> Dataset | None:
    """The first item of the private sequence (0021,xxFE)-style ``seq_elem`` of ``creator_rx`` in ``item``."""
    seq = private(item, creator_rx, seq_elem)
    try:
        return seq[0] if seq else None
    except (IndexError, TypeError, KeyError):
        return None


def levels(ds: Dataset) -> list[tuple[Dataset, str]]:
    """Where XA private values live: top level, shared SDS item, first frame's SDI item (with a label)."""
    out: list[tuple[Dataset, str]] = [(ds, "")]
    sh = enhanced.shared(ds)
    sds = _nested(sh, SDS, 0xFE)
    if sds is not None:
        out.append((sds, "shared (0021,10FE) "))
    fl = enhanced.frames(ds)
    sdi = _nested(fl[0], SDI, 0xFE) if fl else None
    if sdi is not None:
        out.append((sdi, "per-frame (0021,11FE) "))
    return out


Levels = list[tuple[Dataset, str]]


def xa_value(ds: Dataset, creator_rx: str, elem: int, at: Levels | None = None) -> tuple[Any, str]:
    """(value, where) of an XA private element at any level, or (None, ""); ``at``: ``levels(ds)`` if known."""
    for item, where in levels(ds) if at is None else at:
        v = private(item, creator_rx, elem)
        if v is not None:
            return v, where
    return None, ""


def phoenix_text(ds: Dataset, at: Levels | None = None) -> tuple[str, str]:
    """(MrPhoenixProtocol text, where) from (0021,1019) "SIEMENS MR SDS 01", or ("", "")."""
    raw, where = xa_value(ds, SDS, 0x19, at)
    if raw is None:
        return "", ""
    try:
        text = bytes(raw).decode("latin-1") if isinstance(raw, (bytes, bytearray)) else str(raw)
    except Exception:
        return "", ""
    return (text, where) if "ASCCONV" in text else ("", "")


def _joined(v: Any) -> str | None:
    if v is None:
        return None
    items = list(v) if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else [v]
    vals = [str(x).strip() for x in items if str(x).strip()]
    return "\\".join(vals) or None


def classic_attributes(ds: Dataset, acq: Acquisition, at: Levels | None = None) -> None:
    """ScanningSequence / SequenceVariant / ScanOptions from (0021,105A/105B/105C) when no public copy."""
    for name, elem in (("ScanningSequence", 0x5A), ("SequenceVariant", 0x5B), ("ScanOptions", 0x5C)):
        if acq.get(name) is not None:
            continue
        v, where = xa_value(ds, SDS, elem, at)
        acq.set(name, _joined(v), f"Siemens XA {where}(0021,10{elem:02X}) SIEMENS MR SDS 01 {name}, as dcm2niix")


def image_values(ds: Dataset, at: Levels | None = None) -> dict[str, tuple[Any, str]]:
    """Per-image XA values (PE polarity, bandwidth per pixel phase, acquisition matrix text) with their place."""
    out: dict[str, tuple[Any, str]] = {}
    for key, elem in (("PhaseEncodingDirectionPositive", 0x1C), ("BandwidthPerPixelPhaseEncode", 0x53),
                      ("AcquisitionMatrixText", 0x58)):
        v, where = xa_value(ds, SDI, elem, at)
        if v is not None:
            out[key] = (v, f"Siemens XA {where}(0021,11{elem:02X}) {key}")
    return out
