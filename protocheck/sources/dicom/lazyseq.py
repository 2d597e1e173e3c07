"""Functional group sequences decoded one level at a time (a new series' enhanced header).

pydicom decodes a sequence value in full: every item, and inside each item every nested undefined-length
sequence, down to the last level. The shared and per-frame functional groups of an enhanced object nest
dozens of macros and vendor sequences (Siemens XA keeps ~4 KB of private sequences per frame), while the
series extraction reads a handful of them. ``lazy_groups`` cuts these two sequences into items whose
elements stay raw, nested sequences included, so pydicom decodes only what is read, and decodes it from the
same bytes. Only explicit VR little endian is cut; anything unusual is left to pydicom as it was.
"""
from __future__ import annotations

from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag

from protocheck.sources.dicom import rawio
from protocheck.sources.dicom.fastscan import dataset_over, elements

FUNCTIONAL_GROUPS = (0x52009229, 0x52009230)   # shared, per-frame
_ITEM, _ITEM_END, _SEQUENCE_END = 0xE000, 0xE00D, 0xE0DD


def lazy_groups(ds: Dataset) -> None:
    """Replace the raw functional group sequences of ``ds`` by sequences of items with raw elements."""
    for tag in FUNCTIONAL_GROUPS:
        convert(ds, tag)


def convert(ds: Dataset, tag: int) -> None:
    """Decode the raw sequence element ``tag`` of ``ds`` one level deep (items of raw elements), in place;
    anything else (absent, decoded, not explicit VR little endian, unusual) is left to pydicom."""
    raw = elements(ds).get(tag)
    if raw.__class__ is not RawDataElement or raw.VR != "SQ" or raw.is_implicit_VR or not raw.is_little_endian:
        return
    try:
        seq = _sequence(raw.value or b"", ds._character_set)
    except (rawio.FastPathUnavailable, ValueError, TypeError, KeyError, IndexError):
        return   # pydicom decodes it, as before
    elements(ds)[tag] = DataElement(raw.tag, "SQ", seq, raw.value_tell, False, already_converted=True)


def _sequence(value: bytes, encoding: Any) -> Sequence:
    """The items of a (defined-length) sequence value; nothing after a sequence delimiter is read."""
    r = rawio.BytesReader(value)
    items, pos, end = [], 0, len(value)
    while pos < end:
        if not r.need(pos, 8):
            raise rawio.FastPathUnavailable("truncated item")
        group, elem, length = rawio.ITEM.unpack_from(value, pos)
        if group == 0xFFFE and elem == _SEQUENCE_END:
            break
        if group != 0xFFFE or elem != _ITEM:
            raise rawio.FastPathUnavailable("sequence without item tag")
        raw, pos = _item(r, pos + 8, None if length == rawio.UNDEFINED else pos + 8 + length)
        if 0x00080005 in raw:
            raise rawio.FastPathUnavailable("a character set inside an item")   # pydicom switches encodings there
        items.append(_dataset(raw, encoding, length == rawio.UNDEFINED))
    seq = Sequence(items)
    seq.is_undefined_length = False
    return seq


def _item(r: rawio.Reader, pos: int, end: int | None) -> tuple[dict, int]:
    """The raw elements of one item (``end`` None: undefined length, up to its delimiter) and the next offset."""
    raw: dict = {}
    buf = r.buf
    while end is None or pos < end:
        if not r.need(pos, 8):
            raise rawio.FastPathUnavailable("truncated item")
        if rawio.ITEM.unpack_from(buf, pos)[0] == 0xFFFE:
            group, elem, length = rawio.ITEM.unpack_from(buf, pos)
            if end is not None or elem != _ITEM_END or length != 0:
                raise rawio.FastPathUnavailable("unexpected delimiter in an item")
            return raw, pos + 8
        group, elem, vr, length, vpos = rawio.header(r, pos)   # type: ignore[misc]
        if length == rawio.UNDEFINED:
            if vr != b"SQ":
                raise rawio.FastPathUnavailable("undefined length outside a sequence")
            after = rawio.skip_undefined_sq(r, vpos)
            value, pos = buf[vpos:after - 8], after
        else:
            if not r.need(vpos, length):
                raise rawio.FastPathUnavailable("value runs past the sequence")
            value, pos = buf[vpos:vpos + length], vpos + length
        key = (group << 16) | elem   # int keys: the readers look up ints (BaseTag keys compare in Python)
        raw[key] = RawDataElement(BaseTag(key), vr.decode("ascii"), len(value), value, vpos, False, True)
    if pos != end:
        raise rawio.FastPathUnavailable("item runs past its length")
    return raw, pos


_PROTOTYPES: dict[tuple, Dataset] = {}


def _dataset(raw: dict, encoding: Any, undefined: bool) -> Dataset:
    """An item dataset over ``raw``: a copy of a prototype per encoding (pydicom's constructor sets a score of
    attributes through its own __setattr__, dearer than the item's elements)."""
    key = (tuple(encoding) if isinstance(encoding, list) else encoding, undefined)
    proto = _PROTOTYPES.get(key)
    if proto is None:
        proto = Dataset(parent_encoding=encoding)
        proto.set_original_encoding(False, True, encoding)
        proto.is_undefined_length_sequence_item = undefined
        if len(_PROTOTYPES) < 64:
            _PROTOTYPES[key] = proto
    return dataset_over(proto, raw)
