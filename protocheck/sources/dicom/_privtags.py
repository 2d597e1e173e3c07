"""Small, defensive readers for private (and nested public) DICOM elements used by the vendor modules.

Private elements are looked up through their private creator block when the creator is present, else at the
conventional fixed element (block 0x10), since anonymisers sometimes drop creators. Values stored as raw bytes
(VR UN, implicit VR files) are decoded as text or as little-endian floats. Nothing here raises on bad input.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from protocheck.sources.dicom.fastscan import elements


_KEYWORD_TAGS: dict[str, int | None] = {}


def keyword_tag(keyword: str) -> int | None:
    """The tag of a DICOM keyword (None for an unknown one), looked up once."""
    tag = _KEYWORD_TAGS.get(keyword, -1)
    if tag == -1:
        from pydicom.datadict import tag_for_keyword
        tag = _KEYWORD_TAGS[keyword] = tag_for_keyword(keyword)
    return tag


def getv(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """``ds.get(keyword, default)`` with one dict lookup: pydicom's keyword access raises and catches an
    AttributeError for every absent attribute, which made series extraction slow."""
    tag = keyword_tag(keyword)
    if tag is None:
        return ds.get(keyword, default)
    el = elements(ds).get(tag)
    if el is None:
        return default
    if el.__class__ is RawDataElement and el.VR == "SQ":
        from protocheck.sources.dicom.lazyseq import convert
        convert(ds, tag)   # one level deep, from the same bytes: nested macros stay raw until read
    return ds[tag].value


def element_value(ds: Dataset, group: int, elem: int, creator: str | None = None) -> Any:
    """The value of (group, elem) (elem is the 0x10xx form), via the private creator block when possible."""
    try:
        d = elements(ds)   # one dict lookup per element (Dataset.__contains__ + __getitem__ convert the tag twice)
        if creator is not None:
            base = _creator_base(ds, group, creator)
            if base is not None:
                el = d.get((group << 16) | base | (elem & 0xFF))
                if el is not None:
                    return _value(ds, el)
            else:
                try:
                    block = ds.private_block(group, creator)
                    tag = block.get_tag(elem & 0xFF)
                    if tag in ds:
                        return _value(ds, d[tag])
                except (KeyError, ValueError):
                    pass
        el = d.get((group << 16) | elem)
        if el is not None:
            return _value(ds, el)
    except Exception:  # noqa: BLE001 - malformed element: treated as absent
        return None
    return None


PLAIN_NUMBER = {  # a DS / IS value part pydicom decodes as that very number
   "DS": re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"), "IS": re.compile(rb"[+-]?\d+")}


def _value(ds: Dataset, el: Any) -> Any:
    """The element's value as ds[tag].value gives it; a still-raw DS/IS of plain numbers is given as its text
    ("1000\\8\\0"), which every reader here (floats, first_float, text) reads exactly as pydicom's decoded
    value, at a tenth of the cost."""
    if isinstance(el, RawDataElement):
        if el.VR in PLAIN_NUMBER and el.value and not el.is_implicit_VR:
            parts = el.value.rstrip(b"\x00 ").split(b"\\")
            rx = PLAIN_NUMBER[el.VR]
            if all(rx.fullmatch(p.strip(b" ")) for p in parts):
                return "\\".join(p.strip(b" ").decode("ascii") for p in parts)
        return ds[el.tag].value
    return el.value


def private_tag(ds: Dataset, group: int, creator: str, offset: int, default: int) -> int:
    """The tag of element ``offset`` (0x00-0xFF) of ``creator``'s private block in ``ds``, whatever block number
    the creator reserved (compared case-insensitively, as dcm2niix remaps private creators); ``default`` (the
    conventional tag) when the creator is absent, since anonymisers sometimes drop creators."""
    want = creator.strip().upper()
    d = elements(ds)
    for blk in range(0x10, 0x100):
        el = d.get((group << 16) | blk)
        if el is None:
            continue
        v = el.value
        name = v.decode("latin-1", "replace") if isinstance(v, (bytes, bytearray)) else str(v)
        if name.rstrip("\x00 ").strip().upper() == want:
            return (group << 16) | (blk << 8) | (offset & 0xFF)
    return default


def _creator_base(ds: Dataset, group: int, creator: str) -> int | None:
    """Speed path of ``ds.private_block``: the block (0xXX00) of ``creator`` among blocks 0x10-0x1F, else None.

    Compares the raw creator bytes (trailing NUL/space stripped, as pydicom decodes LO) without slicing the
    dataset; any other case (creator elsewhere or absent, odd values) is left to pydicom.
    """
    d = elements(ds)
    want = creator.encode("latin-1", "replace")
    for blk in range(0x10, 0x20):
        el = d.get((group << 16) | blk)
        if el is None:
            continue
        v = el.value
        if isinstance(v, bytes):
            if v.rstrip(b"\x00 ") == want:
                return blk << 8
        elif isinstance(v, str) and v == creator:
            return blk << 8
    return None


def _text_items(value: Any) -> list[str]:
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("ascii").strip("\x00 ")
        except UnicodeDecodeError:
            return []
    if isinstance(value, str):
        return [v.strip() for v in value.split("\\")]
    if isinstance(value, (list, tuple)) or hasattr(value, "__iter__"):
        return [str(v).strip() for v in value]
    return [str(value).strip()]


def floats(value: Any, binary: str | None = None) -> list[float | None]:
    """All numbers of a value (DS/IS/FL/FD, multi-valued or raw bytes); unparseable items become None.

    ``binary`` ("f" float32, "d" float64, "h" int16) decodes raw bytes that are not text.
    """
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)) and binary:
        raw = bytes(value)
        size = struct.calcsize("<" + binary)
        if raw and len(raw) % size == 0 and not raw.replace(b"\\", b"").strip(b"0123456789.-+eE \x00"):
            pass  # looks like text: fall through to text parsing
        elif raw and len(raw) % size == 0:
            return [float(x) for x in struct.unpack("<%d%s" % (len(raw) // size, binary), raw)]
    if isinstance(value, (int, float)):
        return [float(value)] if math.isfinite(float(value)) else [None]
    out: list[float | None] = []
    for item in _text_items(value):
        try:
            f = float(item)
            out.append(f if math.isfinite(f) else None)
        except ValueError:
            out.append(None)
    return out


def first_float(value: Any, binary: str | None = None) -> float | None:
    """The first number of a value, or None."""
    vals = floats(value, binary)
    return vals[0] if vals else None


def text(value: Any) -> str | None:
    """A value as one stripped string (multi-values joined with a backslash), or None when empty."""
    if value is None:
        return None
    items = _text_items(value)
    s = "\\".join(items).strip()
    return s or None


def first_item(ds: Dataset, tag: int) -> Dataset | None:
    """The first item of sequence ``tag`` in ``ds``, or None."""
    try:
        if tag in ds:
            seq = ds[tag].value
            if seq and isinstance(seq[0], Dataset):
                return seq[0]
    except Exception:  # noqa: BLE001
        return None
    return None


def find_public(ds: Dataset, tag: int, containers: tuple[int, ...] = ()) -> Any:
    """The value of public ``tag`` at top level, else in the first item of any of the ``containers`` sequences."""
    try:
        if tag in ds:
            return ds[tag].value
    except Exception:  # noqa: BLE001
        return None
    for c in containers:
        item = first_item(ds, c)
        if item is not None and tag in item:
            try:
                return item[tag].value
            except Exception:  # noqa: BLE001
                return None
    return None


def unit_vector(v: list[float | None]) -> tuple[float, float, float] | None:
    """A 3-vector as a tuple when all three components are numbers, else None."""
    if len(v) < 3 or any(x is None for x in v[:3]):
        return None
    return (float(v[0]), float(v[1]), float(v[2]))  # type: ignore[arg-type]


def is_zero_vector(v: tuple[float, float, float] | None) -> bool:
    """True when the vector is absent or (numerically) zero."""
    return v is None or all(abs(x) < 1e-6 for x in v)


MANUFACTURER_NAMES: tuple[tuple[str, str], ...] = (
    ("SIEMENS", "Siemens"), ("GE", "GE"), ("PHILIPS", "Philips"), ("CANON", "Canon"),
    ("TOSHIBA", "Toshiba"), ("UIH", "UIH"), ("UNITED IMAGING", "UIH"),
)


def set_manufacturer(ds: Dataset, acq: Any) -> None:
    """Set Manufacturer as dcm2niix normalises it (e.g. 'GE MEDICAL SYSTEMS' -> 'GE', 'CANON_MEC' -> 'Canon')."""
    raw = text(ds.get("Manufacturer"))
    if not raw:
        return
    up = raw.upper()
    for prefix, name in MANUFACTURER_NAMES:
        if up.startswith(prefix):
            acq.set("Manufacturer", name, "DICOM (0008,0070) Manufacturer, normalised as dcm2niix")
            return
