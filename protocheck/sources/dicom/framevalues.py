"""Decode the three per-frame macros (plane position, MR echo, MR diffusion) straight from their bytes.

framescan cuts these macros out of every frame; decoding each distinct one through pydicom costs a dataset
per item (~40 µs). This decoder reads the plain, standard encodings (DS position, FD echo time, b-value and
gradient, CS directionality) and raises FastPathUnavailable for anything else (another VR, an empty or
non-numeric value, odd structure): the caller then decodes that macro with pydicom, so the values always equal
a full read's.
"""
from __future__ import annotations

import re
import struct
from typing import Any

from protocheck.sources.dicom import enhanced
from protocheck.sources.dicom._privtags import PLAIN_NUMBER
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.dicom.rawio import HDR, ITEM, U32, VR_KIND, FastPathUnavailable

IMAGE_POSITION = 0x00200032
EFFECTIVE_ECHO_TIME = 0x00189082
B_VALUE, DIRECTIONALITY = 0x00189087, 0x00189075
GRADIENT_SEQUENCE, GRADIENT_ORIENTATION = 0x00189076, 0x00189089
_UNDEFINED = 0xFFFFFFFF
_CODE = re.compile(rb"[A-Z0-9_ ]*")
Leaves = dict  # tag -> (VR, bytes) or, for a sequence, (b"SQ", leaves of its first item or None)


def first_item(data: bytes) -> Leaves | None:
    """The elements of the first item of a sequence value (None for an empty sequence); raises FastPathUnavailable."""
    if not data:
        return None
    return _sequence(data, 0, len(data), 0)[0]


def _sequence(data: bytes, off: int, length: int, depth: int) -> tuple[Leaves | None, int]:
    if depth > 8:
        raise FastPathUnavailable("nested too deep")
    end = None if length == _UNDEFINED else off + length
    first = None
    while end is None or off < end:
        if off + 8 > len(data):
            raise FastPathUnavailable("truncated")
        group, elem, ilen = ITEM.unpack_from(data, off)
        off += 8
        if group != 0xFFFE:
            raise FastPathUnavailable("no item tag")
        if elem == 0xE0DD and end is None:
            return first, off
        if elem != 0xE000:
            raise FastPathUnavailable("delimiter")
        item, off = _elements(data, off, ilen, depth)
        if first is None:
            first = item
    if off != end:
        raise FastPathUnavailable("item past its sequence")
    return first, off


def _elements(data: bytes, off: int, length: int, depth: int) -> tuple[Leaves, int]:
    end = None if length == _UNDEFINED else off + length
    out: Leaves = {}
    while end is None or off < end:
        if off + 8 > len(data):
            raise FastPathUnavailable("truncated")
        group, elem, vr, short = HDR.unpack_from(data, off)
        if group == 0xFFFE:
            if elem != 0xE00D or end is not None:
                raise FastPathUnavailable("delimiter")
            return out, off + 8
        kind = VR_KIND.get(vr)
        if kind is None or (kind and off + 12 > len(data)):
            raise FastPathUnavailable("header")
        vlen, vpos = (U32.unpack_from(data, off + 8)[0], off + 12) if kind else (short, off + 8)
        tag = (group << 16) | elem
        if vr == b"SQ":
            value, off = _sequence(data, vpos, vlen, depth + 1)
            out[tag] = (vr, value)
            continue
        if vlen == _UNDEFINED or vpos + vlen > len(data):
            raise FastPathUnavailable("value")
        out[tag] = (vr, data[vpos:vpos + vlen])
        off = vpos + vlen
    if off != end:
        raise FastPathUnavailable("element past its item")
    return out, off


def _fd(leaf: tuple[bytes, Any] | None) -> Any:
    """pydicom's value of an FD element: None if absent, a float (VM 1) or a list."""
    if leaf is None:
        return None
    vr, raw = leaf
    if vr != b"FD" or not raw or len(raw) % 8:
        raise FastPathUnavailable("not a plain FD")
    values = struct.unpack(f"<{len(raw) // 8}d", raw)
    return values[0] if len(values) == 1 else list(values)


def _ds(leaf: tuple[bytes, Any] | None) -> list[float] | float | None:
    """pydicom's value of a DS element with plain decimal numbers only."""
    if leaf is None:
        return None
    vr, raw = leaf
    if vr != b"DS" or not raw.isascii():
        raise FastPathUnavailable("not a plain DS")
    parts = raw.rstrip(b"\x00 ").split(b"\\")
    if not all(PLAIN_NUMBER["DS"].fullmatch(p.strip(b" ")) for p in parts):
        raise FastPathUnavailable("not plain numbers")
    values = [float(p) for p in parts]
    return values[0] if len(values) == 1 else values


def macro(data: bytes) -> Leaves:
    """The first item of a frame's macro sequence value; raises FastPathUnavailable when empty (the shared group
    decides)."""
    item = first_item(data)
    if item is None:
        raise FastPathUnavailable("empty macro: the shared group decides")
    return item


def shared_macro(shared: bytes | None, tag: int) -> Leaves | None:
    """The first item of macro ``tag`` in the shared functional groups value (None when it has none)."""
    return macro_in(first_item(shared) if shared else None, tag)


def macro_in(item: Leaves | None, tag: int) -> Leaves | None:
    """The first item of macro ``tag`` in ``item`` (the shared groups' first item, None: none)."""
    entry = item.get(tag) if item is not None else None
    if entry is None:
        return None
    if entry[0] != b"SQ":
        raise FastPathUnavailable("macro not a sequence")
    return entry[1]


# the usual PlanePositionSequence value: one item holding only (0020,0032) DS, defined or undefined length
_PLAIN_POSITION = re.compile(rb"\xfe\xff\x00\xe0(....)\x20\x00\x32\x00DS(..)", re.DOTALL)


def plain_position(data: bytes) -> tuple[float, float, float] | None | bool:
    """frame_position of the common one-element macro straight from its bytes; False when not that layout."""
    m = _PLAIN_POSITION.match(data)
    if m is None:
        return False
    n = int.from_bytes(m.group(2), "little")
    end = 16 + n
    ilen = int.from_bytes(m.group(1), "little")
    tail = data[end:]
    if not ((ilen == 8 + n and not tail) or (ilen == 0xFFFFFFFF and tail == b"\xfe\xff\x0d\xe0\x00\x00\x00\x00")):
        return False
    raw = data[16:end]   # position()'s reading of this one DS value, inlined (once per frame state)
    if not raw.isascii():
        return False
    raw = raw.rstrip(b"\x00 ")
    if _PLAIN_DS.fullmatch(raw) is None:   # every part a plain number, as _ds requires: else _ds raises
        return False
    parts = raw.split(b"\\")
    if len(parts) != 3:   # float_tuple: not three values
        return None
    return round(float(parts[0]), 2), round(float(parts[1]), 2), round(float(parts[2]), 2)


# a DS value (padding removed) whose every part, blanks around it, is a plain number (what _ds accepts)
_PLAIN_DS = re.compile(rb"( *(?:%s) *)(?:\\ *(?:%s) *)*" % ((PLAIN_NUMBER["DS"].pattern,) * 2))


def position(item: Leaves) -> tuple[float, float, float] | None:
    """enhanced.frame_position of a frame whose PlanePositionSequence first item is ``item``."""
    pos = enhanced.float_tuple(_ds(item.get(IMAGE_POSITION)), 3)
    return None if pos is None else tuple(round(c, 2) for c in pos)  # type: ignore[return-value]


def echo_time(item: Leaves) -> float | None:
    """enhanced.frame_echo_time of a frame whose MREchoSequence first item is ``item``."""
    v = _fd(item.get(EFFECTIVE_ECHO_TIME))
    try:
        return None if v is None else float(v)
    except TypeError:
        return None


def diffusion(item: Leaves) -> DiffusionSample | None:
    """enhanced.frame_diffusion of a frame whose MRDiffusionSequence first item is ``item``."""
    vec = None
    gseq = item.get(GRADIENT_SEQUENCE)
    if gseq is not None and gseq[0] != b"SQ":
        raise FastPathUnavailable("gradient direction not a sequence")
    if gseq is not None and gseq[1] is not None:
        vec = enhanced.float_tuple(_fd(gseq[1].get(GRADIENT_ORIENTATION)), 3)
    if vec is None:
        vec = enhanced.float_tuple(_fd(item.get(GRADIENT_ORIENTATION)), 3)
    direc = item.get(DIRECTIONALITY)
    if direc is not None:
        if direc[0] != b"CS" or not _CODE.fullmatch(direc[1]):
            raise FastPathUnavailable("not a plain CS")
        direc = direc[1].decode("ascii").strip()
    return enhanced.diffusion_sample(_fd(item.get(B_VALUE)), direc, vec)
