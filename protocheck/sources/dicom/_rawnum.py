"""Private numbers decoded straight from their raw bytes (the vendors' per-file diffusion path), pydicom otherwise.

``first_float_at(ds, group, elem, creator, binary)`` gives exactly ``first_float(element_value(ds, group, elem,
creator), binary)``: for a still-raw explicit-VR little-endian element in its creator's block (found as
``element_value`` finds it) whose VR is DS/IS with plain-number text, or FL/FD/US/SS/UL/SL with a whole number
of values, it decodes the first value itself (no pydicom DataElement conversion, no text join); anything else
(converted or implicit-VR elements, another VR, odd lengths or text, a creator outside blocks 0x10-0x1F) is read
through ``element_value`` (pydicom), so the result never differs (tests/sources/dicom/test_rawnum.py compares
both on every shared file). ``is_plain_raw`` and ``plain_numbers`` serve the same purpose for siemens.py's
(0019,xx0C/xx0E) values.
"""
from __future__ import annotations

import math
import re
from struct import Struct
from typing import TypeGuard

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from protocheck.sources.dicom._privtags import PLAIN_NUMBER, _creator_base, element_value, first_float
from protocheck.sources.dicom.fastscan import elements

_BINARY = {"FL": Struct("<f"), "FD": Struct("<d"), "US": Struct("<H"), "SS": Struct("<h"), "UL": Struct("<I"),
           "SL": Struct("<i")}
# a whole DS/IS value whose every part (between backslashes, blanks around it) is a plain number, as _privtags'
# _value checks them part by part; group 1 is the first part
_PLAIN_VALUE = {vr: re.compile(rb"( *(?:%s) *)(?:\\ *(?:%s) *)*" % (rx.pattern, rx.pattern))
                for vr, rx in PLAIN_NUMBER.items()}
_UNKNOWN = object()   # not decoded here: pydicom decides
UNKNOWN = _UNKNOWN


def is_plain_raw(el: object) -> TypeGuard[RawDataElement]:
    """Whether ``el`` is a still-raw explicit-VR little-endian element with a non-empty bytes value."""
    return (el.__class__ is RawDataElement and not el.is_implicit_VR and el.is_little_endian
            and isinstance(el.value, bytes) and bool(el.value))


def plain_numbers(el: RawDataElement) -> list[float] | None:
    """The numbers of a raw DS/IS value when every part is a plain number (as pydicom decodes it), else None."""
    rx = PLAIN_NUMBER.get(el.VR or "")
    if rx is None:
        return None
    parts = [p.strip(b" ") for p in (el.value or b"").rstrip(b"\x00 ").split(b"\\")]
    if not all(rx.fullmatch(p) for p in parts):
        return None
    return [float(int(p)) for p in parts] if el.VR == "IS" else [float(p) for p in parts]   # IS: as float(IS)


def first_float_at(ds: Dataset, group: int, elem: int, creator: str, binary: str | None = None) -> float | None:
    """``first_float(element_value(ds, group, elem, creator), binary)``, from the raw bytes when plain."""
    got = _raw_first(ds, group, elem, creator)
    if got is _UNKNOWN:
        return first_float(element_value(ds, group, elem, creator), binary)
    return got   # type: ignore[return-value]  # float | None


def _raw_first(ds: Dataset, group: int, elem: int, creator: str) -> object:
    """The first number of the element ``element_value`` would read, None when absent, else _UNKNOWN."""
    try:
        d = elements(ds)
        base = _creator_base(ds, group, creator)
        if base is None:
            return _UNKNOWN   # creator elsewhere or absent: element_value's pydicom private_block path
        el = d.get((group << 16) | base | (elem & 0xFF))
        if el is None:
            el = d.get((group << 16) | elem)
            if el is None:
                return None
        return _first_number(el)
    except Exception:  # noqa: BLE001 - anything odd: element_value decides (and treats it as absent)
        return _UNKNOWN


def _first_number(el: RawDataElement) -> object:
    """The first number of a still-raw explicit-VR little-endian DS/IS/binary element, else _UNKNOWN."""
    if el.__class__ is not RawDataElement or el.is_implicit_VR or not el.is_little_endian:
        return _UNKNOWN
    vr, raw = el.VR or "", el.value
    if not raw or not isinstance(raw, bytes):
        return _UNKNOWN
    rx = _PLAIN_VALUE.get(vr)
    if rx is not None:
        m = rx.fullmatch(raw.rstrip(b"\x00 "))
        if m is None:
            return _UNKNOWN
        f = float(m.group(1))   # the first part, blanks around it (float ignores them)
    else:
        st = _BINARY.get(vr)
        if st is None or len(raw) % st.size:
            return _UNKNOWN
        f = float(st.unpack_from(raw)[0])
    return f if math.isfinite(f) else None
