"""Siemens CSA headers ((0029,xx10) image, (0029,xx20) series): nibabel's reader, without importing nibabel.

nibabel.nicom.csareader is the reference reader, but importing it imports all of nibabel (about 0.3 s, paid
before the workers of an archive scan can start) and it unpacks every item through a generic unpacker. This
is a port of its ``get_csa_header``/``read`` for the common layout (CSA2, "SV10"), giving the same items for
every tag (tests compare the two on every shared Siemens file and on damaged headers). Anything else (CSA1,
a negative or overlong item, a value that does not convert, a header cut short) is handed to nibabel itself,
so its results and its errors are kept exactly. The walk is compiled when ``_cwalk`` is built (_csa.c: the same
items, converted by the same converters; tests compare both), and the CSA block is found from the raw creators
when they are plain (``_plain_section``: else through pydicom, as nibabel finds it).
"""
from __future__ import annotations

import warnings
from struct import Struct
from typing import Any

from pydicom.dataelem import RawDataElement

from protocheck.sources.dicom import native
from protocheck.sources.dicom.fastscan import elements
from protocheck.sources.dicom.rawio import FastPathUnavailable

CREATOR = "SIEMENS CSA HEADER"
_OFFSETS = {"image": 0x10, "series": 0x20}
_COUNTS = Struct("<2I")           # after "SV10" and 4 unused bytes: number of tags, check value
_TAG = Struct("<64si4s3i")        # name, VM, VR, SyngoDT, number of items, unused
_ITEM = Struct("<4i")             # item header: the second int is the item's length
_CONVERTERS = {"FL": float, "FD": float, "DS": float, "SS": int, "US": int, "SL": int, "UL": int, "IS": int}
MAX_ITEMS = 1000                  # as nibabel: more tags or items than this is not a CSA header


def header(ds: Any, kind: str) -> dict | None:
    """The CSA header of ``kind`` ("image" or "series") as nibabel's get_csa_header gives it, or None.

    Only ``{"tags": {name: {"items": [...]}}}`` is filled (what protocheck reads). Raises what nibabel raises.
    """
    if (0x29, 0x10) not in ds:   # cannot be Siemens CSA
        return None
    start = _plain_section(ds)
    if start is False:
        start = _private_section(ds)
    if start is None:
        return None
    tag = 0x00290000 | (start + _OFFSETS[kind])
    el = elements(ds).get(tag)
    if el.__class__ is RawDataElement and el.VR == "OB" and isinstance(el.value, bytes):
        return parse(el.value)   # what pydicom's conversion of OB gives: the bytes as they are
    try:
        value = ds[tag].value
    except KeyError:   # removed by anonymisation
        return None
    return parse(value)


def parse(raw: Any) -> dict:
    """A CSA header's bytes parsed as nibabel's csareader.read parses them (by nibabel when not CSA2)."""
    try:
        return read(raw)
    except FastPathUnavailable:
        with warnings.catch_warnings():   # nibabel warns on import that its DICOM readers are experimental
            warnings.simplefilter("ignore")
            from nibabel.nicom import csareader
        return csareader.read(raw)


_CREATOR_BYTES = CREATOR.encode("ascii")


def _plain_section(ds: Any) -> int | None | bool:
    """``_private_section`` from the raw creators when each one up to the CSA creator is plain (raw LO or OB,
    ASCII, no escape or backslash: its value is its bytes, whatever the character set); False otherwise."""
    d = elements(ds)
    for tag in sorted(t for t in d if t >> 8 == 0x2900):   # (0029,0000-00FF), in tag order
        el = d[tag]
        value = el.value if el.__class__ is RawDataElement else None
        if not isinstance(value, bytes) or el.VR not in ("LO", "OB"):
            return False
        if el.VR == "LO":
            if not value.isascii() or b"\x1b" in value or b"\\" in value:
                return False
            value = value.rstrip(b"\0 ")
        if value == _CREATOR_BYTES:
            return (tag & 0xFF) * 0x100
    return None


def _private_section(ds: Any) -> int | None:
    """nibabel's find_private_section(ds, 0x29, CREATOR): the block (as element offset) of the CSA creator."""
    for element in ds.group_dataset(0x29):
        number = element.tag.elem
        if number > 0xFF:
            break
        if element.VR not in ("LO", "OB"):
            continue
        value = element.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if CREATOR == value:
            return number * 0x100
    return None


def read(raw: Any) -> dict:
    """nibabel's csareader.read for a CSA2 header; raises FastPathUnavailable for anything it should decide."""
    if not isinstance(raw, bytes) or raw[:4] != b"SV10":
        raise FastPathUnavailable
    try:
        return {"tags": _tags(raw)}
    except FastPathUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - cut short, a value that does not convert: nibabel's own outcome
        raise FastPathUnavailable from exc


def _tags(raw: bytes) -> dict:
    c = getattr(native.CWALK, "csa_tags", None)   # compiled: the same walk and items (None: raise as below)
    if c is not None:
        got = c(raw, _CONVERTERS, MAX_ITEMS)
        if got is None:
            raise FastPathUnavailable
        return got
    size = len(raw)
    n_tags = _COUNTS.unpack_from(raw, 8)[0]
    if not 0 < n_tags <= MAX_ITEMS:
        raise FastPathUnavailable
    tag_at, item_at, convert_of = _TAG.unpack_from, _ITEM.unpack_from, _CONVERTERS.get
    ptr, tags = 16, {}
    for _ in range(n_tags):
        name, vm, vr, _syngodt, n_items, _unused = tag_at(raw, ptr)
        ptr += 84
        n_values = vm or n_items
        convert = convert_of(_nt(vr))   # type: ignore[arg-type]  # bytes (not UTF-8): no converter
        if n_items > MAX_ITEMS:
            raise FastPathUnavailable
        items: list = []
        for item_no in range(n_items):
            length = item_at(raw, ptr)[1]
            ptr += 16
            if length < 0 or ptr + length > size:
                raise FastPathUnavailable
            if item_no >= n_values:
                if length:
                    raise FastPathUnavailable   # nibabel asserts a zero length here
                continue
            item = _nt(raw[ptr:ptr + length])
            ptr += length
            if convert:
                if not length:   # the real items ended: the rest must be empty
                    n_values = item_no
                    continue
                item = convert(item)
            items.append(item)
            ptr += -length % 4   # items are padded to 4 bytes
        tags[_nt(name)] = {"items": items}
    return tags


def _nt(s: bytes) -> str | bytes:
    """nibabel's nt_str: the text before the first NUL (latin-1), or the bytes unchanged when there is none."""
    zero = s.find(b"\x00")
    return s if zero == -1 else s[:zero].decode("latin-1")
