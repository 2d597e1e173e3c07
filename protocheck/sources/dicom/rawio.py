"""Explicit VR little endian element streams read by hand: the shared reader of fastscan and framescan.

A forward-only window over a file, element headers, and a flat skip of undefined-length sequences. Anything
that is not the simple case (implicit VR, odd structure, a truncated stream) raises FastPathUnavailable; the scanners
then hand the file to pydicom.
"""
from __future__ import annotations

import operator
import os
import zlib
from struct import Struct
from typing import IO

from protocheck.sources.dicom import native

HDR = Struct("<HH2sH")       # group, element, VR, 16-bit length
HDR12 = Struct("<HH2sHI")    # the same and the next 4 bytes: the 32-bit length of a long-VR element
U32 = Struct("<I")
ITEM = Struct("<HHI")        # item tag group, element, 32-bit length
LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
VRS = LONG_VRS | frozenset(v.encode() for v in (
    "AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US").split())
SHORT_VRS = VRS - LONG_VRS
UNDEFINED = 0xFFFFFFFF
VR_KIND = {vr: vr in LONG_VRS for vr in VRS}   # VR -> has a 32-bit length
CHUNK = 64 * 1024
# a file's content stamp: (n, crc32 of its first n bytes but the spans left out, 1 if it must end there else 0,
# the spans left out as (start, end, ...)): what was read from the file depends on those bytes alone
Stamp = tuple[int, int, int, tuple[int, ...]]
NO_STAMP: Stamp = (0, 0, 0, ())   # the stamp of a read that read nothing


class FastPathUnavailable(Exception):
    """Internal, the one "fast path unavailable" signal of the package: the bytes are not the simple case this
    reader decodes exactly (the caller falls back to pydicom, or nibabel for a CSA header); never escapes a scan."""


class RawFile:
    """A read-only file opened with os.open: the few calls the scanners make, without the io layers
    (a buffered file object costs about 6 µs more per file, which shows at archive scale)."""

    __slots__ = ("fd",)

    def __init__(self, path: str | os.PathLike) -> None:
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left when n < 0)."""
        if n < 0:
            n = max(0, os.fstat(self.fd).st_size - os.lseek(self.fd, 0, os.SEEK_CUR))
        out = os.read(self.fd, n)
        while len(out) < n:   # a regular file reads short only at its end; be safe anyway
            more = os.read(self.fd, n - len(out))
            if not more:
                break
            out += more
        return out

    def seek(self, pos: int, whence: int = 0) -> int:
        return os.lseek(self.fd, pos, whence)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "RawFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Reader:
    """A forward-only window over a file: ``need(pos, n)`` makes bytes [pos, pos+n) available; ``crc`` is the
    crc32 of the bytes before ``base`` it read, ``gaps`` the (start, end, ...) of those it jumped over unread."""

    __slots__ = ("fh", "buf", "base", "eof", "crc", "gaps")

    def __init__(self, fh: IO[bytes] | RawFile, first: int | None = None) -> None:
        """``first``: the bytes read at once, default CHUNK (a scanner that knows its header size reads less)."""
        self.fh = fh
        if first is None:
            first = CHUNK
        self.buf = fh.read(first)
        self.base = 0
        self.eof = len(self.buf) < first
        self.crc, self.gaps = 0, ()   # type: tuple[int, tuple[int, ...]]

    def need(self, pos: int, n: int) -> bool:
        """True when [pos, pos+n) is in the buffer after reading more; False at end of file."""
        end = pos + n
        have = self.base + len(self.buf)
        if pos >= self.base and end <= have:
            return True
        if pos < self.base:
            raise FastPathUnavailable("backward read")
        if pos >= have:
            if self.eof:
                return False
            want = max(n, CHUNK)
            self.crc = zlib.crc32(self.buf, self.crc)
            if pos > have:
                self.gaps += (have, pos)
            self.fh.seek(pos)
            self.buf = self.fh.read(want)
            self.base = pos
        else:
            if self.eof:
                return False
            want = max(end - have, CHUNK)
            more = self.fh.read(want)
            self.crc = zlib.crc32(memoryview(self.buf)[:pos - self.base], self.crc)
            self.buf = self.buf[pos - self.base:] + more
            self.base = pos
            self.eof = len(more) < want
            return end <= self.base + len(self.buf)
        self.eof = len(self.buf) < want
        return end <= self.base + len(self.buf)

    def get(self, pos: int, n: int) -> bytes:
        """Bytes [pos, pos+n) (the caller checked ``need``)."""
        off = pos - self.base
        return self.buf[off:off + n]


def header(r: Reader, pos: int) -> tuple[int, int, bytes, int, int] | None:
    """(group, element, VR, value length, value offset) of the explicit-VR element at ``pos``; None at EOF."""
    if not r.need(pos, 8):
        return None
    off = pos - r.base
    group, elem, vr, length = HDR.unpack_from(r.buf, off)
    if group == 0xFFFE:
        raise FastPathUnavailable("item tag at dataset level")
    if vr in LONG_VRS:
        if not r.need(pos, 12):
            raise FastPathUnavailable("truncated header")
        return group, elem, vr, U32.unpack_from(r.buf, pos - r.base + 8)[0], pos + 12
    if vr not in VRS:
        raise FastPathUnavailable("not explicit VR")
    return group, elem, vr, length, pos + 8


def skip_undefined_sq(r: Reader, pos: int, spans: list[slice] | None = None) -> int:
    """Offset just after the delimiter of the undefined-length sequence whose items start at ``pos``.

    One flat loop, no call per element: a stack of open undefined-length sequences (expecting items) and
    items (expecting elements) checks the structure; defined-length values and items are jumped over.
    ``spans`` (when given) receives the span of every header byte the walk reads (see Shape). The compiled
    walk (native.CWALK) does the same over the buffer in hand; it leaves a sequence that runs past it to this one.
    """
    c = native.CWALK
    if c is not None and spans is None:
        end: int = c.skip_sq(r.buf, r.base, pos)
        if end >= 0:
            return end
    stack = [True]                  # True: inside a sequence (items expected); False: inside an item
    unpack, u32, vrkind = HDR.unpack_from, U32.unpack_from, VR_KIND
    buf, base = r.buf, r.base
    while True:
        off = pos - base
        if off < 0 or off + 12 > len(buf):
            if not r.need(pos, 8):
                raise FastPathUnavailable("truncated sequence")
            r.need(pos, 12)
            buf, base = r.buf, r.base
            off = pos - base
        group, elem, vr, short = unpack(buf, off)
        if spans is not None:
            spans.append(slice(pos, pos + (12 if group != 0xFFFE and vrkind.get(vr) else 8)))
        if group == 0xFFFE:
            length = u32(buf, off + 4)[0]
            if stack[-1]:
                if elem == 0xE000:
                    if length == UNDEFINED:
                        stack.append(False)
                        pos += 8
                    else:
                        pos += 8 + length
                    continue
                if elem != 0xE0DD:
                    raise FastPathUnavailable("unexpected delimiter in sequence")
            elif elem != 0xE00D:
                raise FastPathUnavailable("unexpected delimiter in item")
            stack.pop()
            pos += 8
            if not stack:
                return pos
            continue
        if stack[-1]:
            raise FastPathUnavailable("sequence without item tag")
        kind = vrkind.get(vr)
        if kind is None:
            raise FastPathUnavailable("not explicit VR")
        if not kind:
            pos += 8 + short
            continue
        if off + 12 > len(buf):
            raise FastPathUnavailable("truncated item")
        length = u32(buf, off + 8)[0]
        if length != UNDEFINED:
            pos += 12 + length
        elif vr != b"SQ":
            raise FastPathUnavailable("undefined length outside a sequence")
        elif len(stack) > 64:
            raise FastPathUnavailable("sequences nested too deep")
        else:
            stack.append(True)
            pos += 12


class Shape:
    """The header bytes of one undefined-length sequence element (its own header, every item tag, element
    header and delimiter the walk reads, at their offsets). Another element whose bytes hold the same headers
    at the same offsets walks the same path, so it ends at the same offset: ``same`` tells it without a walk.
    """

    __slots__ = ("size", "_headers", "_expected")

    def __init__(self, data: bytes) -> None:
        """``data``: the whole element, header to sequence delimiter; raises FastPathUnavailable if it is not one."""
        group, elem, vr, _, length = HDR12.unpack_from(data, 0) if len(data) >= 12 else (0, 0, b"", 0, 0)
        if vr != b"SQ" or length != UNDEFINED or group == 0xFFFE:
            raise FastPathUnavailable("not an undefined-length sequence")
        spans = [slice(0, 12)]
        if skip_undefined_sq(BytesReader(data), 12, spans) != len(data):
            raise FastPathUnavailable("sequence does not end with its bytes")
        self.size = len(data)
        self._headers = operator.itemgetter(*spans)   # at least two: the element's header and its delimiter
        self._expected = self._headers(data)

    def same(self, buf: bytes, pos: int) -> bool:
        """True when the element at ``pos`` of ``buf`` has these very headers (so it is ``size`` bytes long)."""
        end = pos + self.size
        return end <= len(buf) and self._headers(buf[pos:end]) == self._expected


class BytesReader(Reader):
    """A Reader over bytes already in memory (a sequence value, a template)."""

    __slots__ = ()

    def __init__(self, data: bytes) -> None:
        self.fh, self.buf, self.base, self.eof = None, data, 0, True  # type: ignore[assignment]  # never read
        self.crc, self.gaps = 0, ()


def read_meta(r: Reader) -> tuple[dict[int, bytes], int]:
    """File meta group 0002 values and the offset of the dataset; raises FastPathUnavailable without "DICM"."""
    c = native.CWALK
    if c is not None and r.base == 0:   # compiled, when the meta group is in the first bytes read and plain
        got: tuple[dict[int, bytes], int] | None = c.read_meta(r.buf)
        if got is not None:
            return got
    if not r.need(0, 132) or r.buf[128:132] != b"DICM":
        raise FastPathUnavailable("no Part 10 preamble")
    pos, meta = 132, {}  # type: tuple[int, dict[int, bytes]]
    while True:
        h = header(r, pos)
        if h is None:
            raise FastPathUnavailable("no dataset after the file meta")
        group, elem, _vr, length, vpos = h
        if group != 0x0002:
            return meta, pos
        if length == UNDEFINED or not r.need(vpos, length):
            raise FastPathUnavailable("bad file meta")
        meta[elem] = r.get(vpos, length)
        pos = vpos + length


def uid_text(raw: bytes | None) -> str:
    return (raw or b"").rstrip(b"\x00 ").decode("ascii", "replace")


def file_size(fh: IO[bytes] | RawFile) -> int:
    try:
        return os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return fh.seek(0, 2)


def stamp_of(buf: bytes, n: int, ends: bool) -> Stamp:
    """The content stamp of a file whose first ``n`` bytes are ``buf[:n]``: (n, their crc32, 1 when what was
    read depends on the file ending there too else 0, the spans left out: none)."""
    return n, zlib.crc32(memoryview(buf)[:n]), int(ends), ()


def window_stamp(r: Reader, stop: int | None = None) -> Stamp:
    """The content stamp of the bytes a Reader read, up to the header of the element at ``stop`` where a walk
    found its end (None: every byte read, and the file's end when it read to it): what the walk found depends
    on them alone, not on the bytes it jumped over unread (their spans: ``gaps``)."""
    n = r.base + len(r.buf) if stop is None else min(stop + 12, r.base + len(r.buf))
    return n, zlib.crc32(memoryview(r.buf)[:n - r.base], r.crc), int(r.eof and stop is None), r.gaps


def stamp_holds(path: str | os.PathLike, stamp: Stamp) -> bool:
    """Whether the file still gives ``stamp`` (``stamp_of``, ``window_stamp``); False when it cannot be read."""
    n, crc, ends, gaps = stamp
    try:
        with RawFile(path) as fh:
            data = fh.read(n + ends)   # one byte more: there must be none
    except OSError:
        return False
    if len(data) != n:
        return False
    if not gaps:
        return zlib.crc32(data) == crc
    view, got, at = memoryview(data), 0, 0
    for i in range(0, len(gaps), 2):
        got, at = zlib.crc32(view[at:gaps[i]], got), gaps[i + 1]
    return zlib.crc32(view[at:], got) == crc
