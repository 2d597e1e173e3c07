"""Fast read of an enhanced (multi-frame) MR header: per-frame values without a dataset per frame.

pydicom builds every item of an undefined-length PerFrameFunctionalGroupsSequence before anything can be
read (a Siemens XA frame carries ~4 KB of nested private sequences), which makes an enhanced file 20-100×
dearer than a classic one. This scanner walks the element stream by length instead: every top-level element
is kept raw (pydicom decodes it lazily, on access), the per-frame sequence keeps only its first and last
items (what the series extraction reads: first-frame values, Philips' last-frame copies), and from every
frame only the three macros the per-file record needs are cut out (plane position, MR echo, MR diffusion).
Each is decoded once per distinct byte string (the slices of a volume share a diffusion macro, the volumes
share positions): plain encodings by ``framevalues``, anything else by the full-read code. Frame children
and top-level sequences whose bytes recur from the previous frame or file are jumped over. ``scan_header``
gives the same raw dataset for a classic file (a new series' description). Anything unusual returns None
and the caller reads the file with pydicom.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Callable

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from protocheck.sources.dicom import enhanced, fastscan, framevalues, native, rawio
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor
from protocheck.sources.dicom.readplan import ReadPlan
from protocheck.sources.dicom.sopclass import MULTIFRAME_IMAGES, MULTIFRAME_SOPS, NOT_PLAIN

PER_FRAME = 0x52009230
SHARED = 0x52009229
PLANE_POSITION, MR_ECHO, MR_DIFFUSION = 0x00209113, 0x00189114, 0x00189117
_MACROS = frozenset({PLANE_POSITION, MR_ECHO, MR_DIFFUSION})
_MACRO_ORDER = (PLANE_POSITION, MR_ECHO, MR_DIFFUSION)
# Image SOP classes read here (enhanced MR image, MR color, legacy-converted); spectroscopy goes to pydicom.
IMAGE_SOPS = MULTIFRAME_IMAGES
_UNDEFINED = 0xFFFFFFFF


@dataclass
class Frames:
    """What the per-file record takes from the frames: count, positions, echo times, diffusion samples."""

    n: int = 0
    positions: list[tuple[float, float, float]] = field(default_factory=list)
    echo_times: list[float] = field(default_factory=list)
    diffusion: list[tuple[DiffusionSample, int]] = field(default_factory=list)
    stamp: rawio.Stamp | None = None   # the file's content stamp (``_stamp``)


class _Grow(rawio.Reader):
    """A reader that only grows its buffer (base stays 0): any earlier span can still be sliced."""

    __slots__ = ()

    def need(self, pos: int, n: int) -> bool:
        end = pos + n
        if end <= len(self.buf):
            return True
        if self.eof:
            return False
        want = max(end - len(self.buf), len(self.buf), rawio.CHUNK)
        more = self.fh.read(want)
        self.eof = len(more) < want
        self.buf += more
        return end <= len(self.buf)


def scan(fh: IO[bytes] | rawio.RawFile, plan: ReadPlan) -> tuple[Dataset, Frames] | None:
    """(lazy top-level dataset with the first and last frames, per-frame values), or None for pydicom.

    A frame's private groups named by ``plan`` (the vendors' per-file elements) are kept for
    ``plan.frame_diffusion`` when its public diffusion values fall short."""
    try:
        return _scan(fh, plan)
    except (rawio.FastPathUnavailable, ValueError, OSError, TypeError, KeyError, IndexError, AttributeError):
        return None


def scan_header(path: str, plan: ReadPlan, stamps: list | None = None, cover: rawio.Stamp | None = None
                ) -> Dataset | None:
    """The whole header of a classic (single-frame) file, every element raw (pydicom decodes on access).

    What a full pydicom read gives a series description, without pydicom's per-element parse: a file the
    walk finds odd in any way (implicit VR, truncation, a broken sequence) gives None and pydicom reads it.
    ``stamps`` (if given) receives the file's content stamp, covering ``cover`` too (``_stamp``), or None.
    """
    try:
        with rawio.RawFile(path) as fh:
            r = _Grow(fh)
            meta, pos = rawio.read_meta(r)
            ts = rawio.uid_text(meta.get(0x0010))
            if not ts or ts in NOT_PLAIN or rawio.uid_text(meta.get(0x0002)) in MULTIFRAME_SOPS:
                return None
            raw, _, end = _top_level(r, pos, rawio.file_size(fh), plan, frames=False)
            if stamps is not None:
                stamps.append(_stamp(r, end, cover))
            return fastscan.dataset_of(raw, meta, ts)
    except (rawio.FastPathUnavailable, ValueError, OSError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _raw(tag: int, vr: bytes, value: bytes, vpos: int) -> RawDataElement:
    return RawDataElement(BaseTag(tag), vr.decode("ascii"), len(value), value, vpos, False, True)


def _scan(fh: IO[bytes] | rawio.RawFile, plan: ReadPlan) -> tuple[Dataset, Frames] | None:
    r = _Grow(fh)
    meta, pos = rawio.read_meta(r)
    ts = rawio.uid_text(meta.get(0x0010))
    if not ts or ts in NOT_PLAIN or rawio.uid_text(meta.get(0x0002)) not in IMAGE_SOPS:
        return None
    raw, walk, end = _top_level(r, pos, rawio.file_size(fh), plan, frames=True)
    if walk is None or not walk.n:
        return None      # no per-frame items: frames come from NumberOfFrames and shared groups (pydicom)
    ds = fastscan.dataset_of(raw, meta, ts)
    frames = walk.values(ds)
    frames.stamp = _stamp(r, end, rawio.NO_STAMP)
    return ds, frames


def _stamp(r: _Grow, stop: int, cover: rawio.Stamp | None = None) -> rawio.Stamp | None:
    """The content stamp of a header ``_top_level`` read up to its pixel data (``stop``: where pydicom's stop
    before the pixels stops) or to the end of the file (-1): its bytes up to that element's header included,
    or the whole file; and those of ``cover`` (another read of the file, None: unknown). None when the buffer
    does not hold them all."""
    if cover is None:
        return None
    n, ends = max(len(r.buf) if stop < 0 else stop + 12, cover[0]), stop < 0 or bool(cover[2])
    if n > len(r.buf):
        r.need(0, n)   # the other read's read-ahead went further (a series' first file only: a seed)
    if n > len(r.buf) or (ends and not (r.eof and n == len(r.buf))):
        return None
    return rawio.stamp_of(r.buf, n, ends)


def _top_level(r: _Grow, pos: int, size: int, plan: ReadPlan, frames: bool
               ) -> tuple[dict, "_FrameWalk | None", int]:
    """Every top-level element up to the pixel data, raw; the per-frame sequence walked when ``frames``; the
    offset of the pixel data element (-1: the header ran to the end of the file)."""
    template = plan.enhanced_template   # the previous header's undefined-length sequences
    raw: dict = {}
    chunks: dict[int, bytes] = {}
    walk, c, stop = None, native.CWALK, -1
    while True:
        if c is not None:   # compiled, the same reading up to anything this loop must read itself
            pos = c.top_level(r.buf, pos, PER_FRAME if frames else -1, raw, template, chunks)
        h = rawio.header(r, pos)
        if h is None:
            if pos != size:
                raise rawio.FastPathUnavailable("truncated")
            break
        group, elem, vr, length, vpos = h
        if group >= 0x7FE0:
            stop = pos
            break
        tag = (group << 16) | elem
        if tag == PER_FRAME and frames:
            if vr != b"SQ":
                raise rawio.FastPathUnavailable("per-frame functional groups not a sequence")
            walk = _FrameWalk(r, plan)
            end = walk.run(vpos, length)
            raw[tag] = _raw(tag, vr, walk.kept(), vpos)
        elif length == _UNDEFINED:
            if vr != b"SQ":
                raise rawio.FastPathUnavailable("undefined length outside a sequence")
            seen = template.get(tag)   # the previous file's sequence: jumped over if its bytes recur
            if seen is not None and r.need(pos, len(seen)) and r.buf.startswith(seen, pos):
                end = pos + len(seen)
            else:
                end = rawio.skip_undefined_sq(r, vpos)
            chunks[tag] = r.buf[pos:end]
            raw[tag] = _raw(tag, vr, r.buf[vpos:end - 8], vpos)
        else:
            end = vpos + length
            if not r.need(vpos, length):
                raise rawio.FastPathUnavailable("value runs past the end of the file")
            raw[tag] = _raw(tag, vr, r.buf[vpos:end], vpos)
        pos = end
    plan.enhanced_template = chunks
    return raw, walk, stop


class _FrameWalk:
    """Walks the items of PerFrameFunctionalGroupsSequence, keeping the macro bytes of each frame."""

    def __init__(self, r: _Grow, plan: ReadPlan) -> None:
        self.r, self.plan = r, plan
        self.vendor_groups = plan.private_low   # a vendor's private values at frame level: kept for it
        self.n = 0
        self.first: tuple[int, int] = (0, 0)
        self.last: tuple[int, int] = (0, 0)
        self.keys: dict[tuple[bytes, bytes, bytes], int] = {}   # distinct (position, echo, diffusion) macros
        self.order: list[tuple[int, tuple[int, int] | None]] = []   # per frame: key index, vendor item span
        self.template: dict[int, tuple[bytes, bytes | None, bool]] = {}   # previous frame's children by tag
        self.shared_first: tuple[bytes | None, object] | None = None   # (shared groups' value, its first item)
        self.shapes: dict[int, rawio.Shape | None] = {}   # a child's header layout; None: walk it (no shape
        #                                                    or one that changed in this file)

    def run(self, pos: int, length: int) -> int:
        """Walk the sequence value at ``pos``; returns the offset after it."""
        r, end = self.r, None if length == _UNDEFINED else pos + length
        while end is None or pos < end:
            if not r.need(pos, 8):
                raise rawio.FastPathUnavailable("truncated per-frame sequence")
            group, elem, ilen = rawio.ITEM.unpack_from(r.buf, pos)
            if group != 0xFFFE:
                raise rawio.FastPathUnavailable("per-frame sequence without item tag")
            if elem == 0xE0DD and end is None:
                return pos + 8
            if elem != 0xE000:
                raise rawio.FastPathUnavailable("unexpected delimiter in the per-frame sequence")
            after = self._item(pos + 8, ilen)
            self.n += 1
            if self.n == 1:
                self.first = (pos, after)
            self.last = (pos, after)
            pos = after
        if pos != end:
            raise rawio.FastPathUnavailable("per-frame item runs past its sequence")
        return pos

    def _item(self, pos: int, ilen: int) -> int:
        """Read one frame item's direct children; returns the offset after the item."""
        r, end = self.r, None if ilen == _UNDEFINED else pos + ilen
        start, macros, vendor = pos, {PLANE_POSITION: b"", MR_ECHO: b"", MR_DIFFUSION: b""}, False
        c = native.CWALK
        while True:
            if c is not None:   # compiled, the same reading; this loop goes on where it stops (see frame_children)
                pos, vendor = c.frame_children(r.buf, pos, -1 if end is None else end, self.template, macros, vendor,
                                               self.vendor_groups)
            if end is not None and pos >= end:
                if pos != end:
                    raise rawio.FastPathUnavailable("frame item runs past its length")
                break
            if not r.need(pos, 8):
                raise rawio.FastPathUnavailable("truncated frame item")
            group, elem = rawio.ITEM.unpack_from(r.buf, pos)[:2]
            if group == 0xFFFE:
                if elem != 0xE00D or end is not None:
                    raise rawio.FastPathUnavailable("unexpected delimiter in a frame item")
                pos += 8
                break
            tag = (group << 16) | elem
            seen = self.template.get(tag)   # the same child in the previous frame: jump if its bytes recur
            if seen is not None:
                if r.need(pos, len(seen[0])) and r.buf.startswith(seen[0], pos):
                    pos += len(seen[0])
                    if seen[1] is not None:
                        macros[tag] = seen[1]
                    vendor = vendor or seen[2]
                    continue
                shape = self._shape(tag, seen[0])
            child = pos
            if seen is not None and shape is not None and r.need(pos, shape.size) and shape.same(r.buf, pos):
                vr, vpos, pos = b"SQ", pos + 12, pos + shape.size   # only values changed: the same walk's end
                vend = pos - 8
            else:
                group, elem, vr, length, vpos = rawio.header(r, pos)  # type: ignore[misc]
                if length == _UNDEFINED:
                    if vr != b"SQ":
                        raise rawio.FastPathUnavailable("undefined length outside a sequence")
                    pos = rawio.skip_undefined_sq(r, vpos)
                    vend = pos - 8
                else:
                    pos = vend = vpos + length
                if seen is not None:   # its shape changed (or it has none): walked from now on in this file
                    self.shapes[tag] = None
            value, plain = None, False
            if tag in _MACROS:
                if vr != b"SQ" or not r.need(vpos, vend - vpos):
                    raise rawio.FastPathUnavailable("odd functional group macro")
                value = macros[tag] = r.buf[vpos:vend]
            elif (group in self.vendor_groups if group & 1 else vr != b"SQ"):
                plain = vendor = True   # a vendor's private values, or a plain attribute at frame level
            if r.need(child, pos - child):
                self.template[tag] = (r.buf[child:pos], value, plain)
        key = (macros[PLANE_POSITION], macros[MR_ECHO], macros[MR_DIFFUSION])
        index = self.keys.setdefault(key, len(self.keys))
        self.order.append((index, (start, pos) if vendor else None))
        return pos

    def _shape(self, tag: int, data: bytes) -> rawio.Shape | None:
        """The Shape of the template child ``data`` (None: not an undefined-length sequence)."""
        if tag not in self.shapes:
            try:
                self.shapes[tag] = rawio.Shape(data)
            except rawio.FastPathUnavailable:
                self.shapes[tag] = None
        return self.shapes[tag]

    def kept(self) -> bytes:
        """The sequence value with only the first and last items (what the series extraction reads)."""
        buf = self.r.buf
        first = buf[self.first[0]:self.first[1]]
        return first if self.n == 1 else first + buf[self.last[0]:self.last[1]]

    def values(self, ds: Dataset) -> Frames:
        """Decode every distinct frame state once with the full-read code, then fold the frames in order."""
        out = Frames(n=self.n)
        manufacturer = str(ds.get("Manufacturer", "") or "").strip()
        memo: tuple[dict, dict, dict] = ({}, {}, {})   # each macro decoded once per distinct byte string
        decoded = [self._decode(ds, key, memo) for key in self.keys]
        keys = list(self.keys)
        merged: dict[DiffusionSample, int] = {}
        positions: set = set()
        fallback: dict[bytes, DiffusionSample | None] = {}   # frames without vendor values
        for index, span in self.order:
            pos, te, sample = decoded[index]
            if pos is not None:
                positions.add(pos)
            if te is not None and te not in out.echo_times:
                out.echo_times.append(te)
            if needs_vendor(sample):
                if span is None:   # vendors read only the diffusion macro here: once per distinct macro
                    diff = keys[index][2]
                    if diff not in fallback:
                        frame = self._dataset(ds, [(MR_DIFFUSION, diff)] if diff else [])
                        fallback[diff] = self.plan.frame_diffusion(frame, manufacturer)
                    sample = fallback[diff] or sample
                else:
                    item = self._dataset(ds, [(PER_FRAME, self.r.buf[span[0]:span[1]])])[PER_FRAME].value[0]
                    sample = self.plan.frame_diffusion(item, manufacturer) or sample
            if sample is not None:
                merged[sample] = merged.get(sample, 0) + 1
        out.positions = sorted(positions)
        out.diffusion = list(merged.items())
        return out

    def _decode(self, ds: Dataset, key: tuple[bytes, bytes, bytes], memo: tuple[dict, dict, dict]) -> tuple:
        """(position, echo time, diffusion sample) of one distinct macro state.

        Plain encodings are decoded from the bytes (framevalues); anything else, and a macro the frame
        lacks (the shared group decides), goes through the full-read code on a small raw dataset.
        """
        out = []
        for i, seen, value in zip(range(3), memo, key):
            got = seen.get(value, _NOT_YET)
            if got is _NOT_YET:
                got = seen[value] = self._one(ds, i, value, *_DECODERS[i])
            out.append(got)
        return out[0], out[1], out[2]

    def _one(self, ds: Dataset, i: int, value: bytes, fast: Callable, full: Callable) -> object:
        """One macro's value: the shared group's when the frame lacks it, else from its bytes or pydicom."""
        if not value:
            return self._shared(ds, _MACRO_ORDER[i], fast, full)
        if i == 0:
            plain = framevalues.plain_position(value)
            if plain is not False:
                return plain
        try:
            return fast(framevalues.macro(value))
        except rawio.FastPathUnavailable:
            return full(ds, self._dataset(ds, [(_MACRO_ORDER[i], value)]))

    def _shared(self, ds: Dataset, tag: int, fast: Callable, full: Callable) -> object:
        """A macro's value from the shared functional groups: from its bytes, else through pydicom."""
        shared = fastscan.elements(ds).get(SHARED)
        try:
            if shared is not None and not isinstance(shared, RawDataElement):
                raise rawio.FastPathUnavailable("already decoded")
            item = framevalues.macro_in(self._shared_first(shared.value if shared is not None else None), tag)
            return None if item is None else fast(item)
        except rawio.FastPathUnavailable:
            return full(ds, None)

    def _shared_first(self, data: bytes | None) -> framevalues.Leaves | None:
        """``framevalues.first_item`` of the shared groups' value, parsed once per file (each macro the frames
        lack reads it)."""
        if self.shared_first is None or self.shared_first[0] is not data:
            try:
                got: object = framevalues.first_item(data) if data else None
            except rawio.FastPathUnavailable as exc:
                got = exc
            self.shared_first = (data, got)
        got = self.shared_first[1]
        if isinstance(got, rawio.FastPathUnavailable):
            raise rawio.FastPathUnavailable(str(got))
        return got   # type: ignore[return-value]

    @staticmethod
    def _dataset(ds: Dataset, elements: list[tuple[int, bytes]]) -> Dataset:
        """A dataset of raw sequence elements, decoded lazily with the file's character set (as nested items)."""
        out = Dataset({BaseTag(tag): _raw(tag, b"SQ", value, 0) for tag, value in elements})
        out.set_original_encoding(False, True, ds.original_character_set)
        return out


_NOT_YET = object()
_DECODERS = ((framevalues.position, enhanced.frame_position), (framevalues.echo_time, enhanced.frame_echo_time),
             (framevalues.diffusion, enhanced.frame_diffusion))   # (from the bytes, full read) per macro
