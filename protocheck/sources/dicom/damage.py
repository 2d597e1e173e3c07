"""Structural diagnosis of a DICOM header: where a file is truncated or damaged, for an exact skip reason.

pydicom accepts a value cut short by the end of the file (and jumps past the end on an absurd length), so a
damaged file would otherwise surface as a bogus series or as a misleading "missing SeriesInstanceUID". This
walk follows the element stream by lengths (explicit or implicit VR little endian, nested sequences by
their delimiters) and names the first problem: "file ends inside element (gggg,eeee) at byte N: truncated"
or "header damaged at byte N: ...". It returns None for a sound stream or one it cannot judge.
"""
from __future__ import annotations

from typing import IO

from protocheck.sources.dicom.rawio import (
    HDR, ITEM, LONG_VRS, U32, UNDEFINED, VRS, FastPathUnavailable, Reader, read_meta, uid_text,
)


class _Damage(Exception):
    """Internal: the structural problem found by ``diagnose`` (its message is the skip reason)."""


_IMPLICIT = "1.2.840.10008.1.2"


def diagnose(fh: IO[bytes]) -> str | None:
    """Why a header is truncated or structurally broken ("file ends inside element ..." / "header damaged at
    byte N: ..."), or None when the element stream is sound or cannot be judged (big endian, deflate)."""
    try:
        size = fh.seek(0, 2)
        fh.seek(0)
        r = Reader(fh)
        pos, implicit = 0, False
        if r.need(0, 132) and r.buf[128:132] == b"DICM":
            try:
                meta, pos = read_meta(r)
            except FastPathUnavailable as exc:
                if str(exc) != "no dataset after the file meta":
                    return None   # e.g. an implicit-VR file meta: pydicom decides
                raise _Damage(f"file meta group (0002) damaged or cut at byte {size} ({exc}): truncated or "
                              "not a complete DICOM file") from None
            ts = uid_text(meta.get(0x0010))
            if ts in ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"):
                return None
            implicit = ts == _IMPLICIT
        elif r.need(0, 8):
            implicit = r.buf[4:6] not in VRS
        _elements(r, pos, size, implicit, None, 0)
        return None
    except _Damage as exc:
        return str(exc)
    except (FastPathUnavailable, ValueError, OSError):
        return None


def _elements(r: Reader, pos: int, size: int, implicit: bool, end: int | None, depth: int) -> int:
    """Walk elements from ``pos`` to ``end`` (None: the top level, or -1: an item ended by its delimiter)."""
    if depth > 16:
        raise _Damage(f"header damaged at byte {pos}: sequences nested more than 16 deep")
    while True:
        if end is not None and end >= 0 and pos >= end:
            if pos > end:
                raise _Damage(f"header damaged at byte {end}: an element runs past the end of its item")
            return pos
        if end is None and pos >= size:
            return pos
        if not r.need(pos, 8):
            raise _Damage(f"file ends inside an element header at byte {size}: truncated")
        group, elem = ITEM.unpack_from(r.buf, pos - r.base)[:2]
        tag = f"({group:04X},{elem:04X})"
        if group == 0xFFFE:
            if end == -1 and elem == 0xE00D:
                return pos + 8
            raise _Damage(f"header damaged at byte {pos}: unexpected item tag {tag} (corrupt or misaligned)")
        if end is None and group == 0x7FE0:
            return pos
        vr, length, vpos = _elem_header(r, pos, size, implicit, tag)
        if length == UNDEFINED:
            if not (implicit or vr in (b"SQ", b"UN") or group == 0x7FE0):
                raise _Damage(f"header damaged at byte {pos}: element {tag} VR {vr.decode()} has an undefined "
                              "length, allowed only for sequences")
            pos = _sequence(r, vpos, size, implicit or vr == b"UN", depth)
            continue
        if length > size:
            raise _Damage(f"header damaged at byte {pos}: element {tag} declares {length} bytes, more than the "
                          f"whole file ({size} bytes)")
        if vpos + length > size:
            raise _Damage(f"file ends inside element {tag} at byte {size}: truncated")
        pos = vpos + length


def _elem_header(r: Reader, pos: int, size: int, implicit: bool, tag: str) -> tuple[bytes, int, int]:
    if implicit:
        return b"", U32.unpack_from(r.buf, pos + 4 - r.base)[0], pos + 8
    vr, length = HDR.unpack_from(r.buf, pos - r.base)[2:]
    if vr not in VRS:
        raise _Damage(f"header damaged at byte {pos}: element {tag} has an invalid VR {vr!r} "
                      "(corrupt or misaligned element)")
    if vr in LONG_VRS:
        if not r.need(pos, 12):
            raise _Damage(f"file ends inside element {tag} at byte {size}: truncated")
        return vr, U32.unpack_from(r.buf, pos + 8 - r.base)[0], pos + 12
    return vr, length, pos + 8


def _sequence(r: Reader, pos: int, size: int, implicit: bool, depth: int) -> int:
    """Offset after the delimiter of an undefined-length sequence whose items start at ``pos``."""
    while True:
        if not r.need(pos, 8):
            raise _Damage(f"file ends inside a sequence at byte {size}: truncated")
        g, e, length = ITEM.unpack_from(r.buf, pos - r.base)
        if g != 0xFFFE or e not in (0xE000, 0xE0DD):
            raise _Damage(f"header damaged at byte {pos}: ({g:04X},{e:04X}) inside a sequence, where an item "
                          "tag belongs")
        pos += 8
        if e == 0xE0DD:
            return pos
        if length == UNDEFINED:
            pos = _elements(r, pos, size, implicit, -1, depth + 1)
        elif pos + length > size:
            raise _Damage(f"file ends inside a sequence item at byte {size}: truncated")
        else:
            pos += length
