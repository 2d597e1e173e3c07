"""Fast per-file header scan: walk the element stream by hand, keep only the groups per-file values need.

A per-file read (a file of a series already described by a full header) needs only a few top-level elements (UIDs,
instance, position, echo, image type, diffusion). pydicom parses every element up to the stop point and eagerly
builds every undefined-length sequence (Philips files carry hundreds); this scanner skips whole groups, sequences
and large values by their lengths, and hands the kept elements to pydicom as raw (lazily converted) elements, so
the vendor extraction code runs unchanged on a much smaller dataset. It handles only the common case (Part 10,
explicit VR little endian or an encapsulated transfer syntax, which encodes the dataset the same way) and returns
None whenever anything is unusual (implicit VR, big endian, deflate, undefined length outside a sequence, truncated
or odd structure): the caller then falls back to pydicom.
"""
from __future__ import annotations

from typing import IO, Any, Callable, NamedTuple

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from protocheck.sources.dicom import native, rawio
from protocheck.sources.dicom.rawio import (
    HDR12, LONG_VRS, SHORT_VRS, UNDEFINED, FastPathUnavailable, RawFile, Reader, file_size, header, read_meta,
    skip_undefined_sq, uid_text,
)
from protocheck.sources.dicom.readplan import ReadPlan
from protocheck.sources.dicom.sopclass import MULTIFRAME_SOPS, NOT_PLAIN

MAX_PRIVATE_VALUE = 64 * 1024   # larger private values (e.g. Siemens CSA series header) are not per-file values
# The top-level public elements per-file extraction reads (extract.extract_record, the vendors' file_diffusion):
# charset, image type, SOP class/instance, acquisition time, manufacturer, sequence name, echo time/number, pulse
# sequence name, diffusion attributes, study/series UIDs, instance, position, frames, modality (not_mr_reason),
# acquisition contrast, image comments (canon.file_diffusion: newer software writes "b=1500(x,y,z)" there).
PUBLIC_TAGS = frozenset({
    0x00080005, 0x00080008, 0x00080016, 0x00080018, 0x00080032, 0x00080060, 0x00080070, 0x00089209,
    0x00180024, 0x00180081, 0x00180086, 0x00189005, 0x00189075, 0x00189076, 0x00189087, 0x00189089,
    0x00189117, 0x0020000D, 0x0020000E, 0x00200013, 0x00200032, 0x00204000, 0x00280008,
})
# Private elements read per file: the vendor specs' (``plan.private_low``: the low byte of each, in any private
# block; creators kept); public groups and those go element by element (``plan.hot_groups``), others are walked.
_NOTHING: frozenset[int] = frozenset()
# The per-file values decoded straight from their bytes when plain ASCII (extract.extract_record's fast branch).
TEXT_TAGS = (("sop_class", 0x00080016), ("sop_uid", 0x00080018), ("series_uid", 0x0020000E),
             ("study_uid", 0x0020000D), ("manufacturer", 0x00080070), ("inst", 0x00200013), ("pos", 0x00200032),
             ("acq_time", 0x00080032), ("te", 0x00180081), ("echo", 0x00180086), ("itype", 0x00080008),
             ("frames", 0x00280008))


class Scanned(NamedTuple):
    """A scanned classic file: its per-file elements' dataset, their plain texts (None: not plain), its stamp."""

    dataset: Dataset
    texts: dict[str, str] | None
    stamp: rawio.Stamp | None = None


MULTI_FRAME = Scanned(Dataset(), None)   # returned by scan() for a multi-frame object: framescan reads those


def scan(fh: IO[bytes] | RawFile, plan: ReadPlan, last_group: int | None = None) -> Scanned | None:
    """The per-file elements (groups up to ``last_group``, default the plan's), or None to fall back to pydicom.

    A multi-frame object gives MULTI_FRAME (left to framescan) without reading past its file meta.
    """
    try:
        return _scan(fh, plan, plan.last_group if last_group is None else last_group)
    except (FastPathUnavailable, ValueError, OSError):
        return None


class _State:
    """What one scan has kept, and where it may stop (lowered or extended once the vendor is known)."""

    __slots__ = ("plan", "private_low", "raw", "chunks", "limit", "last_group", "extend_to", "needs_more",
                 "stop_elem", "end")

    def __init__(self, plan: ReadPlan, last_group: int) -> None:
        self.plan, self.private_low = plan, plan.private_low
        self.raw: dict = {}
        self.chunks: dict[int, bytes] = {}      # this file's chunks: the template of the next file
        self.limit = self.last_group = last_group   # the caller's last group: never read past it
        self.extend_to = 0            # a later group the vendor may still need (Philips: 0x2005)
        self.needs_more: Callable[[Dataset], bool] | None = None
        self.stop_elem = -1           # in the last group: the highest element a per-file value may be
        self.end = False

    def vendor(self, manufacturer: bytes) -> None:
        """Lower the last group to this vendor's per-file groups (and note a group it may need later)."""
        early, last, needs_more = self.plan.vendor_plan(manufacturer)
        if early < self.last_group:
            self.last_group = early
            if last > early:
                self.extend_to, self.needs_more = min(last, self.limit), needs_more

    def last_wanted(self, group: int) -> int:
        """The highest wanted element of private ``group``: block of the last creator present, wanted offset."""
        lo, hi = (group << 16) | 0x10, (group << 16) | 0x100   # the group's creator elements (xx10-xxFF)
        blocks = [t & 0xFF for t in self.raw if lo <= t < hi] or [0x10]
        return (max(max(blocks), 0x10) << 8) | max(self.private_low.get(group, _NOTHING) or {0xFF})


# The bytes a scan reads at once: what the previous file's per-file elements needed, with a margin (files of a
# series have headers of one size; a larger header is read on by the same window, as any header beyond CHUNK).
FIRST_MIN, FIRST_MARGIN = 8192, 4096
_first = [rawio.CHUNK]


def _scan(fh: IO[bytes] | RawFile, plan: ReadPlan, last_group: int) -> Scanned | None:
    r = Reader(fh, min(_first[0], rawio.CHUNK))
    meta, pos = read_meta(r)
    ts = uid_text(meta.get(0x0010))
    if not ts or ts in NOT_PLAIN:
        return None
    if uid_text(meta.get(0x0002)) in MULTIFRAME_SOPS:
        return MULTI_FRAME   # per-frame functional groups: framescan (or pydicom) reads them
    st, ds = _State(plan, last_group), None
    while True:
        pos = _walk(r, pos, st)
        if not st.end:
            h = header(r, pos)
            if h is None:
                if pos != file_size(fh):   # a partial header, or the last value ran past the end: truncated
                    raise FastPathUnavailable("truncated")
                break
            if h[0] <= st.last_group and h[0] != 0x7FE0:
                pos = _element(r, st, pos, h)
                continue
            st.end = True
        if st.extend_to and st.needs_more is not None:
            ds = dataset_of(st.raw, meta, ts)   # shares st.raw: elements read on are added to it
            if _needs_more(st, ds):
                st.last_group, st.extend_to, st.stop_elem, st.end = st.extend_to, 0, -1, False
                continue
        break
    plan.classic_template = st.chunks
    _first[0] = min(rawio.CHUNK, max(FIRST_MIN, ((pos + FIRST_MARGIN) | 0xFFF) + 1))
    return Scanned(ds if ds is not None else dataset_of(st.raw, meta, ts), _texts(st.raw),
                   rawio.window_stamp(r, pos if st.end else None))


def _needs_more(st: _State, ds: Dataset) -> bool:
    """Ask the vendor whether the values read so far leave a per-file value to a later group."""
    try:
        return bool(st.needs_more(ds))  # type: ignore[misc]
    except Exception:  # noqa: BLE001 - unsure: read on (reading more is always exact)
        return True


_VR_TEXT = {vr: vr.decode("ascii") for vr in LONG_VRS | SHORT_VRS}
CHUNK_ELEMENTS = 8     # elements per template chunk: small enough that one changed value spoils little


def _walk(r: Reader, pos: int, st: _State) -> int:
    """The tight loop (compiled when native.CWALK is there: the same walk, see _py_walk)."""
    c, tables = native.CWALK, _TABLES.get(id(st.plan))
    if c is not None:
        if tables is None or tables[0] is not st.plan:
            tables = _tables(st.plan)
        if tables[1]:
            return c.walk(r.buf, r.base, pos, st, tables[1], tables[2], st.plan.classic_template)
    return _py_walk(r, pos, st)


def _tables(plan: ReadPlan) -> tuple[ReadPlan, bytes, bytes]:
    """The compiled walk's view of ``plan``: per group 0 (not hot), 1 (public) or 2 + its index in the private
    low-byte masks (32 bytes each); empty tables when the plan does not fit them (the Python walk then)."""
    hot, lows = bytearray(65536), bytearray()
    for group in plan.hot_groups:
        if 0 <= group <= 0xFFFF and not group & 1:
            hot[group] = 1
        elif 0 <= group <= 0xFFFF:
            if group not in plan.private_low or len(lows) >= 250 * 32:
                return _remember(plan, b"", b"")
            hot[group] = 2 + len(lows) // 32
            mask = bytearray(32)
            for low in plan.private_low[group]:
                if 0 <= low <= 0xFF:
                    mask[low >> 3] |= 1 << (low & 7)
            lows += mask
    return _remember(plan, bytes(hot), bytes(lows))


def _remember(plan: ReadPlan, hot: bytes, lows: bytes) -> tuple[ReadPlan, bytes, bytes]:
    if len(_TABLES) > 16:
        _TABLES.clear()
    _TABLES[id(plan)] = tables = (plan, hot, lows)
    return tables


_TABLES: dict[int, tuple[ReadPlan, bytes, bytes]] = {}   # id(plan) -> (plan, group kinds, private masks)


def _py_walk(r: Reader, pos: int, st: _State) -> int:
    """The tight loop: walk elements no per-file value lives in, keep the wanted ones whose value is in the buffer;
    returns the offset of an element the general path must read, with ``st.end`` set when done.

    Runs of unwanted elements (up to CHUNK_ELEMENTS, never across a group or a kept element) are recorded as
    chunks; a chunk of the previous file whose bytes recur at the same element is jumped over in one comparison.
    Identical bytes from an element boundary parse identically, so this is exact; files of one series share most of
    their header, which makes it pay.
    """
    unpack, longs, shorts, rec = HDR12.unpack_from, LONG_VRS, SHORT_VRS, st.chunks
    hot, tmpl = st.plan.hot_groups, st.plan.classic_template
    buf, base = r.buf, r.base
    off, limit, current, in_hot, last_group = pos - base, len(buf) - 12, -1, False, st.last_group
    n = start = first = 0                       # the open chunk: elements, offset, first tag
    while 0 <= off <= limit:
        group, elem, vr, length, long_length = unpack(buf, off)
        if group != current:
            if n:
                rec[first], n = buf[start:off], 0
            if group > last_group:
                st.end = True
                break
            current, in_hot = group, group in hot
        if not n:
            first = (group << 16) | elem
            seen = tmpl.get(first)
            if seen is not None and buf.startswith(seen, off):
                rec[first] = seen
                off += len(seen)
                continue
            start = off
        if vr in longs:
            if long_length == UNDEFINED:
                break
            length, step = long_length, 12 + long_length
        elif vr in shorts:
            step = 8 + length
        else:
            raise FastPathUnavailable("not explicit VR")   # implicit VR, an item tag at top level, or a damaged header
        if in_hot and _wanted(st, group, elem, length, last_group):
            if st.end or off + step > len(buf):
                break
            if n:
                rec[first], n = buf[start:off], 0
            _keep_here(st, buf, base, group, elem, vr, length, off + step)
            last_group = st.last_group
            off += step
            continue
        off += step
        n += 1
        if n >= CHUNK_ELEMENTS and off <= len(buf):
            rec[first], n = buf[start:off], 0
    if n and off <= len(buf):
        rec[first] = buf[start:off]
    return off + base


def _wanted(st: _State, group: int, elem: int, length: int, last_group: int) -> bool:
    """Whether an element of a hot group is kept; sets ``st.end`` past the last wanted element or at pixels."""
    if group & 1:
        if elem >= 0x1000 and group == last_group:   # past the last wanted element: done
            if st.stop_elem < 0:
                st.stop_elem = st.last_wanted(group)
            if elem > st.stop_elem:
                st.end = True
                return True
        return 0x0010 <= elem < 0x0100 or (elem >= 0x1000 and (elem & 0xFF) in st.private_low[group]
                                           and length <= MAX_PRIVATE_VALUE)
    if group >= 0x7FE0:
        st.end = True
        return True
    return ((group << 16) | elem) in PUBLIC_TAGS


def _keep_here(st: _State, buf: bytes, base: int, group: int, elem: int, vr: bytes, length: int, end: int) -> None:
    """Keep the element whose value ends at ``end`` in the buffer (lazily decoded by pydicom)."""
    tag = _TAGS.get(key := (group << 16) | elem) or _tag(key)
    value = buf[end - length:end]
    st.raw[key] = RawDataElement(tag, _VR_TEXT[vr], length, value, base + end - length, False, True)
    if key == 0x00080070:   # the vendor's per-file groups: stop there
        st.vendor(value)


def _element(r: Reader, st: _State, pos: int, h: tuple[int, int, bytes, int, int]) -> int:
    """The general path (sequences, values beyond the buffer): keep the element at ``pos`` if a per-file
    value needs it, else record an undefined-length sequence as a chunk; returns the offset after it."""
    group, elem, vr, length, vpos = h
    if group & 1:
        low = st.private_low.get(group, _NOTHING)
        keep = (0x0010 <= elem < 0x0100 and bool(low)) or ((elem & 0xFF) in low and elem >= 0x1000
                                                           and length <= MAX_PRIVATE_VALUE)
    else:
        keep = ((group << 16) | elem) in PUBLIC_TAGS
    if length == UNDEFINED:
        if vr != b"SQ":
            raise FastPathUnavailable("undefined length outside a sequence")
        end = skip_undefined_sq(r, vpos)
        if keep:   # items without the sequence delimiter, decoded lazily as a defined-length value
            _keep(st.raw, r, group, elem, vr, vpos, end - 8 - vpos)
        elif pos >= r.base:   # the whole sequence is one chunk (jumped over in the next file if unchanged)
            st.chunks[(group << 16) | elem] = r.get(pos, end - pos)
        return end
    if keep:
        _keep(st.raw, r, group, elem, vr, vpos, length)
        if group == 0x0008 and elem == 0x0070:
            st.vendor(r.get(vpos, length))
    return vpos + length


def _keep(raw: dict, r: Reader, group: int, elem: int, vr: bytes, vpos: int, length: int) -> None:
    if not r.need(vpos, length):
        raise FastPathUnavailable("value runs past the end of the file")
    tag = _TAGS.get(key := (group << 16) | elem) or _tag(key)
    raw[key] = RawDataElement(tag, vr.decode("ascii"), length, r.get(vpos, length), vpos, False, True)


# The kept elements are keyed by plain ints: the per-file code looks them up by int, and a dict keyed by
# BaseTag compares every hit in Python (BaseTag.__eq__). pydicom's own lookups (with BaseTag) still find them.
_TAGS: dict[int, BaseTag] = {}


def _tag(key: int) -> BaseTag:
    tag = BaseTag(key)
    if len(_TAGS) < 4096:
        _TAGS[key] = tag
    return tag


def dataset_of(raw: dict, meta: dict[int, bytes], ts: str) -> Dataset:
    """A dataset over the kept raw elements: a copy of a prototype per transfer syntax, SOP class and
    character set (pydicom's constructor and attribute hooks cost more than the scan of a small file)."""
    charset = raw.get(0x00080005)
    value = getattr(charset, "value", None)
    key = (ts, meta.get(0x0002), value if isinstance(value, bytes) else id(charset))
    proto = _PROTOTYPES.get(key) if value is None or isinstance(value, bytes) else None
    if proto is None:
        proto = _prototype(charset, meta, ts)
        if len(_PROTOTYPES) < 256 and (value is None or isinstance(value, bytes)):
            _PROTOTYPES[key] = proto
    return dataset_over(proto, raw)


def elements(ds: Dataset) -> dict:
    """The elements of ``ds`` by int tag, raw or converted: the one place outside this layer's datasets where pydicom's
    element dict is read (``Dataset.get_item`` converts the tag on every call); the extraction reads them so."""
    return ds._dict  # type: ignore[return-value]  # keyed by BaseTag, an int


def dataset_over(proto: Dataset, raw: dict) -> Dataset:
    """A copy of the prototype ``proto`` holding the elements ``raw`` (no mutable state is shared)."""
    cls = proto.__class__
    ds = cls.__new__(cls)   # what copy.copy makes (the prototype's attributes), without its generic protocol
    state = ds.__dict__
    for name, value in proto.__dict__.items():
        state[name] = type(value)(value) if isinstance(value, (dict, list, set)) else value
    state["_dict"] = raw
    return ds


def _prototype(charset: Any, meta: dict[int, bytes], ts: str) -> Dataset:
    ds = Dataset()
    encoding: str | list[str] = "iso8859"
    if charset is not None and charset.value:
        from pydicom.charset import convert_encodings
        names = [s.strip() for s in charset.value.decode("ascii", "replace").split("\\")]
        try:
            encoding = convert_encodings(names)
        except Exception:  # noqa: BLE001 - unknown charset: keep the default, as pydicom does with a warning
            encoding = "iso8859"
    ds.set_original_encoding(False, True, encoding)
    key = (ts, meta.get(0x0002))
    fm = _META_CACHE.get(key)
    if fm is None:   # shared by the files of a transfer syntax and SOP class: read only, never modified
        fm = FileMetaDataset()
        fm.TransferSyntaxUID = UID(ts)
        if 0x0002 in meta:
            fm.MediaStorageSOPClassUID = UID(uid_text(meta[0x0002]))
        if len(_META_CACHE) < 256:
            _META_CACHE[key] = fm
    ds.file_meta = fm
    return ds


_PROTOTYPES, _META_CACHE = {}, {}  # type: dict[tuple, Dataset], dict[tuple, FileMetaDataset]


def _texts(raw: dict) -> dict[str, str] | None:
    """The per-file values of TEXT_TAGS as plain ASCII text ("" when absent); None if any needs pydicom."""
    c = native.CWALK
    if c is not None:
        return c.texts(raw)
    out = {}
    for key, tag in TEXT_TAGS:
        el = raw.get(tag)
        if el is None:
            out[key] = ""
            continue
        v = el.value if isinstance(el, RawDataElement) else None
        if not isinstance(v, bytes) or not v.isascii():
            return None
        out[key] = v.decode("ascii").rstrip("\x00").strip()
    return out


if native.CWALK is not None:
    native.CWALK.setup(FastPathUnavailable, RawDataElement, len(RawDataElement._fields),
                       tuple(RawDataElement._field_defaults.values()), _TAGS, _tag, _VR_TEXT, LONG_VRS,
                       sorted(PUBLIC_TAGS), TEXT_TAGS)
