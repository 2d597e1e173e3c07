"""The compiled scan loops (_cwalk) give exactly what the pure-Python loops give: on every shared file, and on
truncated and damaged variants of real headers (hostile lengths near 2^32, odd lengths, bad VRs, flipped bytes).

Each file is scanned twice from the same previous-file template, once with ``native.CWALK`` set to None (the
pure-Python path) and once with the extension; the kept raw elements (tag, VR, length, value bytes, offset),
their order, the Scanned texts, the chunks recorded for the next file and the fall-back-to-pydicom decision
must be equal.
"""
from __future__ import annotations

import io
import random
import struct
import sys
from pathlib import Path

import pytest

from protocheck.sources.dicom import fastscan, framescan, native, rawio, reader
from protocheck.sources.dicom.vendors import READ_PLAN

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hostile"))
import hostile_corpus as hc  # noqa: E402 - tests/hostile's builders of damaged files

C = native.CWALK
pytestmark = pytest.mark.skipif(C is None, reason="the C extension _cwalk is not built (pure-Python install)")

# Real files of several vendors and layouts (classic, Philips with many sequences, enhanced multi-frame).
SAMPLES = [hc.GOOD_SERIES, hc.OTHER_SERIES, hc.SIEMENS_SERIES, hc.ENHANCED_FILE, "dcm_qa_philips",
           "dcm_qa_philips_enh", "dcm_qa_canon_61", "dcm_qa_nih"]


def _outcome(data: bytes | Path) -> object:
    """What the scanners make of one file: None, or its raw elements (every field), order and texts."""
    src = data.read_bytes() if isinstance(data, Path) else data
    header = _header_walk(src)
    try:
        scanned = fastscan.scan(io.BytesIO(src), READ_PLAN)
    except Exception as exc:  # noqa: BLE001 - the same exception type either way
        return ("raised", type(exc).__name__, header)
    if scanned is None:
        return (None, header)
    if scanned is fastscan.MULTI_FRAME:
        template = READ_PLAN.enhanced_template
        got = framescan.scan(io.BytesIO(src), READ_PLAN)
        READ_PLAN.enhanced_template, walk = template, _frame_walk(src)   # the walk's state too, from the same template
        return ("multi-frame", None if got is None else (_raw(got[0]._dict), got[1]), walk)
    return (_raw(scanned.dataset._dict), scanned.texts, header)


def _header_walk(src: bytes) -> object:
    """The whole header as scan_header reads it (a new series' description): every top-level element, raw."""
    r = framescan._Grow(io.BytesIO(src))
    try:
        meta, pos = rawio.read_meta(r)
    except Exception as exc:  # noqa: BLE001 - the same exception type either way
        return ("meta raised", type(exc).__name__)
    try:
        raw, _, _ = framescan._top_level(r, pos, len(src), READ_PLAN, frames=False)
    except Exception as exc:  # noqa: BLE001
        return list(meta.items()), pos, ("raised", type(exc).__name__)
    return list(meta.items()), pos, _raw(raw)


def _frame_walk(src: bytes) -> object:
    """What the frame walk keeps of every frame: macro states, vendor item spans, its templates."""
    try:
        r = framescan._Grow(io.BytesIO(src))
        _, pos = rawio.read_meta(r)
        _, walk, _ = framescan._top_level(r, pos, len(src), READ_PLAN, frames=True)
    except Exception as exc:  # noqa: BLE001 - the same exception type either way
        return ("raised", type(exc).__name__)
    if walk is None:
        return None
    return walk.n, walk.first, walk.last, list(walk.keys.items()), walk.order, list(walk.template.items())


def _raw(elements: dict) -> list:
    """Raw elements as their fields; those a vendor's predicate already converted as tag, VR and value."""
    return [(key, type(el).__name__, tuple(el) if isinstance(el, tuple) else (el.tag, el.VR, repr(el.value)))
            for key, el in elements.items()]


class _Both:
    """Scans with both loops, each from its own copy of the previous file's templates (equal if all is well)."""

    def __init__(self) -> None:
        self.templates = {"py": ({}, {}), "c": ({}, {})}
        self.firsts = {"py": rawio.CHUNK, "c": rawio.CHUNK}   # each loop's first read size (the previous file's)

    def compare(self, data: bytes | Path, what: object) -> object:
        results = {}
        for mode, module in (("py", None), ("c", C)):
            native.CWALK = module
            READ_PLAN.classic_template, READ_PLAN.enhanced_template = self.templates[mode]
            fastscan._first[0] = self.firsts[mode]
            try:
                results[mode] = _outcome(data)
            finally:
                native.CWALK = C
            self.templates[mode] = (READ_PLAN.classic_template, READ_PLAN.enhanced_template)
            self.firsts[mode] = fastscan._first[0]
        assert results["c"] == results["py"], what
        (cl_py, en_py), (cl_c, en_c) = self.templates["py"], self.templates["c"]
        assert list(cl_c.items()) == list(cl_py.items()) and list(en_c.items()) == list(en_py.items()), what
        return results["py"]


@pytest.fixture
def fresh_templates():
    saved = READ_PLAN.classic_template, READ_PLAN.enhanced_template
    yield
    READ_PLAN.classic_template, READ_PLAN.enhanced_template = saved


def test_every_shared_file_scans_the_same(dicom_root, fresh_templates):
    both, kept = _Both(), 0
    for p in sorted(p for p in dicom_root.rglob("*") if p.is_file()):
        kept += both.compare(p, p)[0] is not None
    assert kept > 3000


def test_fast_read_decisions_are_the_same(dicom_root, fresh_templates):
    for p in sorted(p for p in dicom_root.rglob("*") if p.is_file())[::7]:
        got = {}
        for mode, module in (("py", None), ("c", C)):
            native.CWALK = module
            try:
                got[mode] = reader.fast_read(str(p), p, READ_PLAN)
            finally:
                native.CWALK = C
        assert (got["c"] is None) == (got["py"] is None), p
        assert got["c"] is None or got["c"][0] == got["py"][0], p


def _samples(dicom_root: Path) -> list[Path]:
    out = []
    for rel in SAMPLES:
        folder = dicom_root / rel
        if folder.is_file():
            out.append(folder)
        elif folder.is_dir():
            out += sorted(p for p in folder.rglob("*") if p.is_file())[:2]
    assert len(out) >= 8
    return out


def _headers(raw: bytes) -> list[int]:
    """Offsets of the top-level element headers (explicit VR LE), up to the pixel data or an odd element."""
    pos, out = hc.meta_end(raw), []
    while pos + 12 <= len(raw):
        group, vr, length = struct.unpack_from("<H", raw, pos)[0], raw[pos + 4:pos + 6], 0
        out.append(pos)
        if group >= 0x7FE0 or vr not in rawio.VRS:
            break
        if vr in rawio.LONG_VRS:
            length = struct.unpack_from("<I", raw, pos + 8)[0]
            if length == rawio.UNDEFINED:
                try:
                    pos = rawio.skip_undefined_sq(rawio.BytesReader(raw), pos + 12)
                except rawio.FastPathUnavailable:
                    break
                continue
            pos += 12 + length
        else:
            pos += 8 + struct.unpack_from("<H", raw, pos + 6)[0]
    return out


def _variants(raw: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """Truncations, hostile lengths and VRs at real element headers, flipped bytes."""
    out = [(f"cut {p}", raw[:p]) for p in hc.truncation_points(raw)]
    out += [(f"cut {p}", raw[:p]) for p in range(120, hc.meta_end(raw) + 16)]   # in every meta element
    heads = _headers(raw)
    for pos in rng.sample(heads, min(len(heads), 40)):
        long_vr = raw[pos + 4:pos + 6] in rawio.LONG_VRS
        for value in (0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFF0, 0x80000001, len(raw) * 3, 1, 3):
            b = bytearray(raw)
            if long_vr:
                b[pos + 8:pos + 12] = struct.pack("<I", value)
            else:
                b[pos + 6:pos + 8] = struct.pack("<H", value & 0xFFFF)
            out.append((f"length {value:#x} at {pos}", bytes(b)))
        for vr in (b"ZZ", b"\x00\x00", b"SQ", b"UN", b"US"):
            out.append((f"VR {vr!r} at {pos}", raw[:pos + 4] + vr + raw[pos + 6:]))
    for pos in heads:   # private values of exactly the largest kept size, and one byte more
        if struct.unpack_from("<H", raw, pos)[0] & 1 and raw[pos + 4:pos + 6] in rawio.LONG_VRS:
            for value in (fastscan.MAX_PRIVATE_VALUE, fastscan.MAX_PRIVATE_VALUE + 1):
                out.append((f"private length {value} at {pos}", raw[:pos + 8] + struct.pack("<I", value)
                            + raw[pos + 12:]))
    pixels = raw.find(b"\xe0\x7f\x10\x00")
    stop = pixels if pixels > 0 else min(len(raw), 200_000)
    for i in range(60):
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(hc.meta_end(raw), stop)] = rng.randrange(256)
        out.append((f"flips {i}", bytes(b)))
    return out


def test_damaged_variants_scan_the_same(dicom_root, fresh_templates):
    rng, both = random.Random(2222), _Both()
    for src in _samples(dicom_root):
        raw = src.read_bytes()
        both.compare(raw, src)
        for what, data in _variants(raw, rng):
            both.compare(data, (src, what))
            both.compare(raw, (src, "again after", what))   # the template of a damaged file, then the real one


def test_hostile_structural_files_scan_the_same(dicom_root, tmp_path, fresh_templates):
    both = _Both()
    for rel in (hc.GOOD_SERIES, hc.SIEMENS_SERIES):
        src = hc.files_of(dicom_root, rel)[0]
        dest = tmp_path / rel.replace("/", "_")
        hc.build_structural(src, dest)
        hc.build_not_dicom(dest)
        for p in sorted(dest.iterdir()):
            both.compare(p, p)


@pytest.mark.parametrize("chunk", [997, 4096, 12000])
def test_small_read_windows_scan_the_same(dicom_root, fresh_templates, monkeypatch, chunk):
    """Values and sequences across the reader's buffer ends: the compiled walk leaves those to Python."""
    monkeypatch.setattr(rawio, "CHUNK", chunk)
    both = _Both()
    for src in _samples(dicom_root):
        both.compare(src, (src, chunk))


def test_sequence_skip_is_the_same_on_damaged_sequences(dicom_root):
    """skip_undefined_sq over in-memory sequences with flipped header bytes: same end offset or same error."""
    rng = random.Random(22)
    seqs = []
    for src in _samples(dicom_root):
        raw = src.read_bytes()
        for pos in _headers(raw):
            if raw[pos + 4:pos + 6] == b"SQ" and raw[pos + 8:pos + 12] == b"\xff\xff\xff\xff":
                seqs.append(raw[pos:pos + 4000])
    assert seqs
    seqs.insert(0, _nested_sequence())
    cuts = [(seq[:n], 0) for seq in seqs[:8] for n in range(12, min(len(seq), 700))]   # ends in every header
    for seq, rounds in [(seq, 40) for seq in seqs[:60]] + cuts:
        for i in range(rounds or 1):
            b = bytearray(seq)
            if i:
                for _ in range(rng.randint(1, 3)):
                    b[rng.randrange(12, min(len(b), 400))] = rng.choice((0, 0xFF, 0xFE, 0xE0, 0xDD, 0x0D,
                                                                         rng.randrange(256)))
            got = {}
            for mode, module in (("py", None), ("c", C)):
                native.CWALK = module
                try:
                    got[mode] = rawio.skip_undefined_sq(rawio.BytesReader(bytes(b)), 12)
                except rawio.FastPathUnavailable as exc:
                    got[mode] = str(exc)
                finally:
                    native.CWALK = C
            assert got["c"] == got["py"], bytes(b[:64])


def _el(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in rawio.LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def _sq(group: int, elem: int, items: list[bytes]) -> bytes:
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item
                    + struct.pack("<HHI", 0xFFFE, 0xE00D, 0) for item in items)
    return struct.pack("<HH2sHI", group, elem, b"SQ", 0, 0xFFFFFFFF) + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def test_frame_items_read_the_same():
    """Frame items mixing plain, vendor, macro and other children, in changing orders and values."""
    rng = random.Random(9)
    macro = _sq(0x0020, 0x9113, [_el(0x0020, 0x0032, b"DS", b"1\\2\\3 ")])
    pieces = [_el(0x0008, 0x0100, b"SH", b"PLAIN "), _sq(0x0020, 0x9111, [_el(0x0020, 0x9157, b"UL", b"1234")]),
              macro, _sq(0x0018, 0x9117, [_el(0x0018, 0x9087, b"FD", b"\0" * 8)]),
              _el(0x2005, 0x1001, b"UN", b"vendor"), _el(0x0019, 0x1001, b"OB", b"xy")]
    for _ in range(200):
        items = [b"".join(rng.sample(pieces, rng.randint(1, len(pieces)))) for _ in range(rng.randint(1, 5))]
        data = _sq(0x5200, 0x9230, items)
        got = {}
        for mode, module in (("py", None), ("c", C)):
            native.CWALK = module
            try:
                walk = framescan._FrameWalk(framescan._Grow(io.BytesIO(data)), READ_PLAN)
                walk.run(12, rawio.UNDEFINED)
                got[mode] = walk.n, list(walk.keys.items()), walk.order, list(walk.template.items())
            finally:
                native.CWALK = C
        assert got["c"] == got["py"], items


def _nested_sequence() -> bytes:
    """An undefined-length sequence of undefined-length items holding short, long and nested elements."""
    el, sq = _el, _sq
    inner = el(0x0018, 0x9087, b"FD", b"\0" * 8) + el(0x0019, 0x1001, b"OB", b"ab") + el(0x0008, 0x0100, b"SH", b"X ")
    item = el(0x0020, 0x0032, b"DS", b"1\\2\\3 ") + sq(0x0018, 0x9117, [inner, inner]) + el(0x2005, 0x1001, b"UN", b"x" * 9)
    return sq(0x5200, 0x9230, [item, item + el(0x0028, 0x0008, b"IS", b"2 ")])


def test_pure_python_switch(monkeypatch):
    """PROTOCHECK_PURE_PYTHON=1 leaves the extension out."""
    monkeypatch.setenv("PROTOCHECK_PURE_PYTHON", "1")
    assert native._load() is None
    monkeypatch.setenv("PROTOCHECK_PURE_PYTHON", "0")
    assert native._load() is C
