"""Enhanced multi-frame MR: shared and per-frame functional groups (both are always consulted)."""
from __future__ import annotations

import struct
from typing import Any, Iterator, Literal

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from protocheck.sources.dicom._privtags import getv
from protocheck.sources.dicom.fastscan import elements
from protocheck.sources.dicom.diffusion import DiffusionSample


def is_multiframe(ds: Dataset) -> bool:
    """True when the object carries functional group sequences (enhanced / legacy-converted / MRS)."""
    d = elements(ds)   # (5200,9230) / (5200,9229): tag lookups, not keyword ones
    return 0x52009230 in d or 0x52009229 in d


def _item0(ds: Dataset | None, keyword: str) -> Dataset | None:
    if ds is None:
        return None
    seq = getv(ds, keyword)
    if not seq:
        return None
    try:
        return seq[0]
    except (IndexError, TypeError):
        return None


def shared(ds: Dataset) -> Dataset | None:
    """The single item of SharedFunctionalGroupsSequence, if any."""
    return _item0(ds, "SharedFunctionalGroupsSequence")


def frames(ds: Dataset) -> list[Dataset]:
    """The items of PerFrameFunctionalGroupsSequence (empty list if absent)."""
    seq = getv(ds, "PerFrameFunctionalGroupsSequence")
    try:
        return list(seq) if seq else []
    except TypeError:
        return []


def group_item(ds: Dataset, macro: str, frame: Dataset | None = None) -> Dataset | None:
    """A functional group macro item (e.g. "MRTimingAndRelatedParametersSequence"): per-frame first, then shared."""
    item = _item0(frame, macro) if frame is not None else None
    return item if item is not None else _item0(shared(ds), macro)


def fg_value(ds: Dataset, macro: str, keyword: str, frame: Dataset | None = None) -> Any:
    """An attribute inside a functional group macro of the first frame (or ``frame``), shared groups included."""
    if frame is None and not is_multiframe(ds):
        return None   # a classic header: no functional groups (skips four keyword lookups)
    if frame is None:
        fl = frames(ds)
        frame = fl[0] if fl else None
    item = group_item(ds, macro, frame)
    if item is None:
        return None
    v = getv(item, keyword)
    return None if v is None or v == "" else v


def float_tuple(v: Any, n: int) -> tuple[float, ...] | None:
    """``n`` floats from a multi-valued element value, else None (wrong count, not numbers, single value)."""
    try:
        t = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        return None
    return t if len(t) == n else None


def frame_diffusion(ds: Dataset, frame: Dataset | None) -> DiffusionSample | None:
    """Public MRDiffusionSequence sample of one frame (per-frame, else shared), or None."""
    item = group_item(ds, "MRDiffusionSequence", frame)
    if item is None:
        return None
    return public_diffusion(item)


def top_level_diffusion(ds: Dataset) -> DiffusionSample | None:
    """public_diffusion of a file's top level; without a b-value or directionality it is None, so the
    four keyword lookups are skipped (they are dear on every file of an archive). Elements still raw in
    explicit VR little endian are read from their bytes (pydicom would parse the gradient sequence)."""
    d = elements(ds)
    if 0x00189087 not in d and 0x00189075 not in d:
        return None
    fast = raw_public_diffusion(d)
    return public_diffusion(ds) if fast is False else fast


_FD = struct.Struct("<d")
_FD3 = struct.Struct("<3d")
_LONG_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"))


def raw_public_diffusion(d: dict) -> DiffusionSample | None | Literal[False]:
    """``public_diffusion`` of raw explicit-VR little-endian top-level elements, decoded as pydicom decodes
    them; False when any of them is otherwise (decoded already, implicit VR, odd): pydicom then reads them."""
    els = [d.get(t) for t in (0x00189087, 0x00189075, 0x00189076, 0x00189089)]
    if any(el is not None and (el.__class__ is not RawDataElement or el.is_implicit_VR or not el.is_little_endian)
           for el in els):
        return False
    b_el, dir_el, seq_el, vec_el = els
    b = direc = vec = None
    if b_el is not None and b_el.value:
        if b_el.VR != "FD" or len(b_el.value) != 8:
            return False
        b = _FD.unpack(b_el.value)[0]
    if dir_el is not None and dir_el.value:
        raw = dir_el.value
        if dir_el.VR != "CS" or b"\\" in raw or b"\0" in raw or not raw.isascii():
            return False
        direc = raw.decode("ascii").strip()
    if seq_el is not None:
        if seq_el.VR != "SQ":
            return False
        vec = _first_item_fd3(seq_el.value or b"", 0x00189089)
        if vec is False:
            return False
    if vec is None and vec_el is not None and vec_el.value:
        if vec_el.VR != "FD" or len(vec_el.value) % 8:
            return False
        vec = _FD3.unpack(vec_el.value) if len(vec_el.value) == 24 else None
    return diffusion_sample(b, direc, vec)   # type: ignore[arg-type]


def _first_item_fd3(raw: bytes, tag: int) -> tuple[float, ...] | None | bool:
    """Three FD values of ``tag`` in the first item of a raw explicit-VR little-endian sequence; None when the
    sequence, its first item or the element is absent (or not 3 values); False for anything odd."""
    if not raw:
        return None
    if len(raw) < 8 or raw[:4] != b"\xfe\xff\x00\xe0":
        return False
    length = int.from_bytes(raw[4:8], "little")
    end, pos = len(raw) if length == 0xFFFFFFFF else min(8 + length, len(raw)), 8
    while pos + 8 <= end:
        group, elem = int.from_bytes(raw[pos:pos + 2], "little"), int.from_bytes(raw[pos + 2:pos + 4], "little")
        if group == 0xFFFE:
            return None
        vr = raw[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > end:
                return False
            n, head = int.from_bytes(raw[pos + 8:pos + 12], "little"), 12
            if n == 0xFFFFFFFF:
                return False
        else:
            n, head = int.from_bytes(raw[pos + 6:pos + 8], "little"), 8
        if (group << 16 | elem) == tag:
            if vr != b"FD" or n % 8 or pos + head + n > end:
                return False
            return _FD3.unpack_from(raw, pos + head) if n == 24 else None
        pos += head + n
    return None


def public_diffusion(item: Dataset) -> DiffusionSample | None:
    """(0018,9087) b-value, (0018,9089) orientation, (0018,9075) directionality from one dataset level."""
    vec = None
    gseq = getv(item, "DiffusionGradientDirectionSequence")
    if gseq:
        try:
            vec = float_tuple(getv(gseq[0], "DiffusionGradientOrientation"), 3)
        except (IndexError, TypeError):
            vec = None
    if vec is None:
        vec = float_tuple(getv(item, "DiffusionGradientOrientation"), 3)
    return diffusion_sample(getv(item, "DiffusionBValue"), getv(item, "DiffusionDirectionality"), vec)


def diffusion_sample(b: Any, direc: Any, vec: tuple[float, ...] | None) -> DiffusionSample | None:
    """The sample of decoded (0018,9087) b-value, (0018,9075) directionality and gradient (shared rule)."""
    if b is None and direc is None:
        return None
    try:
        bval = None if b is None or b == "" else float(b)
    except (TypeError, ValueError):
        bval = None
    d = str(direc).strip().upper() if direc else None
    if d == "NONE" and bval is None:
        bval = 0.0
    return DiffusionSample(bval, vec, d)  # type: ignore[arg-type]


def iter_frames(ds: Dataset) -> Iterator[tuple[int, Dataset | None]]:
    """(index, per-frame item or None) for every frame of the object."""
    fl = frames(ds)
    if fl:
        yield from enumerate(fl)
        return
    try:
        n = int(getv(ds, "NumberOfFrames") or 1)
    except (TypeError, ValueError):
        n = 1
    for i in range(n):
        yield i, None


def frame_position(ds: Dataset, frame: Dataset | None) -> tuple[float, float, float] | None:
    """ImagePositionPatient of one frame (PlanePositionSequence), rounded to 0.01 mm."""
    item = group_item(ds, "PlanePositionSequence", frame)
    pos = float_tuple(getv(item, "ImagePositionPatient"), 3) if item is not None else None
    return None if pos is None else tuple(round(c, 2) for c in pos)  # type: ignore[return-value]


def frame_echo_time(ds: Dataset, frame: Dataset | None) -> float | None:
    """EffectiveEchoTime (ms) of one frame from MREchoSequence, or None."""
    item = group_item(ds, "MREchoSequence", frame)
    v = getv(item, "EffectiveEchoTime") if item is not None else None
    try:
        return None if v is None or v == "" else float(v)
    except (TypeError, ValueError):
        return None


def stack_count(ds: Dataset) -> int | None:
    """Number of distinct in-stack positions (slices) from FrameContentSequence, or None."""
    seen: set = set()
    for _i, fr in iter_frames(ds):
        item = group_item(ds, "FrameContentSequence", fr)
        v = getv(item, "InStackPositionNumber") if item is not None else None
        if v is not None:
            seen.add(int(v))
    return len(seen) or None


def temporal_count(ds: Dataset) -> int | None:
    """Number of distinct temporal position indices from FrameContentSequence, or None."""
    seen: set = set()
    for _i, fr in iter_frames(ds):
        item = group_item(ds, "FrameContentSequence", fr)
        v = getv(item, "TemporalPositionIndex") if item is not None else None
        if v is not None:
            seen.add(int(v))
    return len(seen) or None
