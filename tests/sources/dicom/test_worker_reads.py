"""Worker-side shortcuts give what the general code gives: the scanner's first read size, the dataset copy of a
prototype, the coil line of a Phoenix protocol found by str.find, the XA levels found once."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import fastscan, reader, siemens, siemens_xa
from protocheck.sources.dicom.rawio import CHUNK
from protocheck.sources.dicom.vendors import READ_PLAN


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("first", [CHUNK, fastscan.FIRST_MIN, 200, 1000])
def test_any_first_read_size_gives_the_same_records(dicom_root, monkeypatch, first):
    """A file whose header runs past the first read is read on by the window: the record never depends on it."""
    files = [p for p in _files(dicom_root) if p.stat().st_size > 2000][::7]
    want = {p: reader._fast_record(str(p), p, READ_PLAN) for p in files}
    monkeypatch.setattr(fastscan, "FIRST_MIN", min(first, fastscan.FIRST_MIN))
    n = 0
    for p in files:
        fastscan._first[0] = first   # as if the previous file had needed this much
        got = reader._fast_record(str(p), p, READ_PLAN)
        assert got == want[p], p
        n += got is not None
    assert n > 300


def test_first_read_follows_the_previous_header(dicom_root):
    """After a scan, the next one reads what that header needed (plus a margin), within [FIRST_MIN, CHUNK]."""
    small = min((p for p in _files(dicom_root / "dcm_qa_ge")), key=lambda p: p.stat().st_size)
    assert reader._fast_record(str(small), small, READ_PLAN) is not None
    assert fastscan._first[0] % 4096 == 0
    assert fastscan._first[0] <= max(fastscan.FIRST_MIN, small.stat().st_size + fastscan.FIRST_MARGIN + 4096)
    p = max(_files(dicom_root / "dcm_qa_ge"), key=lambda p: p.stat().st_size)
    fastscan._first[0] = 100
    assert reader._fast_record(str(p), p, READ_PLAN) is not None
    assert fastscan.FIRST_MIN <= fastscan._first[0] <= CHUNK
    assert fastscan._first[0] % 4096 == 0
    assert fastscan._first[0] >= min(CHUNK, p.stat().st_size // 2)   # a GE header is most of its (pixel-less) file


def test_dataset_over_a_prototype_is_a_copy_with_its_own_containers():
    proto = Dataset()
    proto.set_original_encoding(False, True, "iso8859")
    proto._private_blocks = {1: 2}
    raw: dict = {}
    ds = fastscan.dataset_over(proto, raw)
    assert type(ds) is Dataset and ds._dict is raw
    assert set(ds.__dict__) == set(proto.__dict__)
    assert ds._private_blocks == {1: 2} and ds._private_blocks is not proto._private_blocks
    assert ds.original_encoding == proto.original_encoding

    class Sub(Dataset):
        pass
    assert type(fastscan.dataset_over(Sub(), {})) is Sub


_LINES = ["sCoilElementID.tCoilID = \"HeadNeck_20\"", "  asList[0].sCoilElementID.tCoilID\t=  \"HC1\"",
          "x sCoilElementID.tCoilID = \"no\"", "sCoilElementIDxtCoilID = \"dot\"", "sCoilElementID.tCoilID \"eq\"",
          "a.sCoilElementID.tCoilID =", "sCoilElementID sCoilElementID.tCoilID = \"two\"", "", "  ",
          "ulVersion = 1", "sCoilElementID.tCoilID = \"later\"", "### ASCCONV END ###"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=8), st.sampled_from(["\n", "\r\n", "\r"]))
def test_coil_line_is_the_regex_search(lines, sep):
    text = sep.join(lines).replace("\r", "\n")
    want, got = siemens._COIL_LINE.search(text), siemens._coil_line(text)
    assert (want and (want.span(), want.group(1))) == (got and (got.span(), got.group(1)))


def test_coil_line_on_real_protocols(dicom_root):
    """Every Phoenix protocol of the shared Siemens files: the same coil as the regular expression's search."""
    from protocheck.sources.dicom import framescan
    n = 0
    for p in _files(dicom_root)[::5]:
        try:
            ds = framescan.scan_header(str(p), READ_PLAN)
        except Exception:  # noqa: BLE001 - not a scanned file
            continue
        if ds is None or "SIEMENS" not in str(ds.get("Manufacturer", "")).upper():
            continue
        ser = siemens._csa(ds, "series")
        text = siemens.protocol_text(ser)[0] or siemens_xa.phoenix_text(ds)[0]
        if not text:
            continue
        text = text.replace("\r", "\n")
        want = siemens._COIL_LINE.search(text)
        got = siemens._coil_line(text)
        assert (want and want.group(1)) == (got and got.group(1)) and (want is None) == (got is None), p
        n += 1
    assert n > 5


def test_xa_values_with_levels_given_equal_those_found_each_time(dicom_root):
    """siemens_xa reads at the levels passed (found once) exactly what it reads finding them each time."""
    from protocheck.sources.dicom import framescan
    n = 0
    for p in _files(dicom_root):
        if "xa" not in str(p).lower():
            continue
        got = reader.fast_read(str(p), p, READ_PLAN)
        ds = got[1] if got is not None and got[1] is not None else None
        if ds is None:
            continue
        at = siemens_xa.levels(ds)
        a, b = Acquisition(key="a", source_kind="dicom"), Acquisition(key="b", source_kind="dicom")
        siemens_xa.classic_attributes(ds, a)
        siemens_xa.classic_attributes(ds, b, at)
        assert a.params == b.params
        assert siemens_xa.image_values(ds) == siemens_xa.image_values(ds, at)
        assert siemens_xa.phoenix_text(ds) == siemens_xa.phoenix_text(ds, at)
        n += 1
        if n >= 10:
            break
    assert n > 0


def test_public_numbers_from_raw_bytes_equal_pydicoms(dicom_root):
    """Every numeric public parameter of every shared file: read from the raw bytes as pydicom decodes it."""
    from protocheck.sources.dicom import common, framescan
    from protocheck.sources.dicom._privtags import getv, keyword_tag
    from protocheck.sources.dicom._rawnum import is_plain_raw
    from protocheck.sources.dicom.fastscan import elements
    n = 0
    for p in _files(dicom_root)[::3]:
        fast, slow = framescan.scan_header(str(p), READ_PLAN), framescan.scan_header(str(p), READ_PLAN)
        if fast is None:
            continue
        for kw, *_ in common._NUMERIC:
            raw = is_plain_raw(elements(fast).get(keyword_tag(kw)))
            got, want = common._number(fast, kw), common.to_float(getv(slow, kw))
            assert repr(got) == repr(want), (p, kw)
            n += raw and want is not None
    assert n > 1000   # read from the raw bytes


@pytest.mark.parametrize("vr, raw", [("IS", b"-0"), ("IS", b"+12 "), ("DS", b"-0"), ("DS", b" 1.5\\2"), ("DS", b"1e999"),
                                     ("DS", b"1,5"), ("DS", b"  "), ("IS", b"1.0"), ("DS", b".5e-3\x00")])
def test_public_number_of_odd_values_is_pydicoms(vr, raw):
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    from protocheck.sources.dicom import common
    from protocheck.sources.dicom._privtags import getv

    def ds() -> Dataset:
        d = Dataset()
        d._dict[Tag(0x00180080)] = RawDataElement(Tag(0x00180080), vr, len(raw), raw, 0, False, True)
        return d
    try:
        want = repr(common.to_float(getv(ds(), "RepetitionTime")))
    except Exception as exc:  # noqa: BLE001 - pydicom refuses it: so must the raw path
        want = type(exc).__name__
    try:
        got = repr(common._number(ds(), "RepetitionTime"))
    except Exception as exc:  # noqa: BLE001
        got = type(exc).__name__
    assert got == want


def _params(acq: Acquisition) -> dict:
    return {k: (repr(v.value), v.source) for k, v in acq.params.items()}


def test_public_params_from_raw_bytes_equal_pydicoms_on_every_shared_file(dicom_root, monkeypatch):
    """public_params with raw texts and numbers equals public_params reading every value through pydicom."""
    from protocheck.sources.dicom import common, framescan
    from protocheck.sources.dicom._privtags import getv
    heads = [(p, framescan.scan_header(str(p), READ_PLAN)) for p in _files(dicom_root)[::4]]
    fast = {}
    for p, ds in heads:
        if ds is not None:
            acq = Acquisition(key="x", source_kind="dicom")
            common.public_params(ds, acq)
            fast[p] = _params(acq)
    monkeypatch.setattr(common, "_plain_text", lambda ds, kw: None)
    monkeypatch.setattr(common, "_number", lambda ds, kw: common.to_float(getv(ds, kw)))
    texts = 0
    for p in fast:
        acq = Acquisition(key="x", source_kind="dicom")
        common.public_params(framescan.scan_header(str(p), READ_PLAN), acq)
        assert _params(acq) == fast[p], p
        texts += "SeriesDescription" in fast[p]
    assert texts > 300


@pytest.mark.parametrize("vr", ["LO", "SH", "CS"])
@pytest.mark.parametrize("raw", [b"ep2d\\diff ", b"  ", b"A \\ B\x00", b"\\B", b"X\x00Y ", b" lead", b"a\x1b(Bb",
                                 b"caf\xe9", b"SE\\IR\\", b"EP "])
def test_plain_text_values_read_as_pydicom_reads_them(vr, raw):
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    from protocheck.sources.dicom import common

    def run(plain: bool) -> dict:
        ds = Dataset()
        ds.set_original_encoding(False, True, "iso8859")
        for tag in (0x00181030, 0x00180021):   # ProtocolName (a text), SequenceVariant (joined)
            ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(raw), raw, 0, False, True)
        acq = Acquisition(key="x", source_kind="dicom")
        saved = common._plain_text
        if not plain:
            common._plain_text = lambda ds, kw: None
        try:
            common.public_params(ds, acq)
        finally:
            common._plain_text = saved
        return _params(acq)
    assert run(True) == run(False)


def test_mr_image_class_is_no_skip_prefix():
    """classify_sop answers None for MR Image Storage at once: no skip prefix may ever start it."""
    from protocheck.sources.dicom import extract
    assert not any(extract.MR_IMAGE.startswith(prefix) for prefix, _ in extract._SKIP_PREFIXES)
    assert extract.classify_sop(extract.MR_IMAGE) is None and extract.not_mr_reason(extract.MR_IMAGE) is None


def _position_macro(value: bytes, undefined: bool) -> bytes:
    import struct
    el = struct.pack("<HH2sH", 0x0020, 0x0032, b"DS", len(value)) + value
    if undefined:
        return b"\xfe\xff\x00\xe0\xff\xff\xff\xff" + el + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(el)) + el


def _plain_position_reference(data: bytes) -> object:
    """plain_position as it was: the value decoded by framevalues.position (its _ds and float_tuple)."""
    from protocheck.sources.dicom import framevalues
    from protocheck.sources.dicom.rawio import FastPathUnavailable
    m = framevalues._PLAIN_POSITION.match(data)
    if m is None:
        return False
    n, ilen = int.from_bytes(m.group(2), "little"), int.from_bytes(m.group(1), "little")
    tail = data[16 + n:]
    if not ((ilen == 8 + n and not tail) or (ilen == 0xFFFFFFFF and tail == b"\xfe\xff\x0d\xe0\x00\x00\x00\x00")):
        return False
    try:
        return framevalues.position({framevalues.IMAGE_POSITION: (b"DS", data[16:16 + n])})
    except FastPathUnavailable:
        return False


_DS_PIECES = st.sampled_from(["1", "-2.5", "+.5", "3.", "1e2", "-1E-3", "1e999", " ", "\\", "x", "\x00", "é", "1,5",
                              "00012", "-111.4765625", "."])


@settings(max_examples=500, deadline=None)
@given(st.lists(_DS_PIECES, max_size=12), st.booleans())
def test_plain_position_equals_the_general_decoding(pieces, undefined):
    from protocheck.sources.dicom import framevalues
    value = "".join(pieces).encode("utf-8")
    value += b" " * (len(value) % 2)
    data = _position_macro(value, undefined)
    assert repr(framevalues.plain_position(data)) == repr(_plain_position_reference(data))


def test_plain_position_on_every_shared_enhanced_file(dicom_root):
    """Every frame state of every shared enhanced file: the same position as the general decoding."""
    from protocheck.sources.dicom import framescan, framevalues
    from protocheck.sources.dicom.rawio import RawFile
    n = 0
    for p in _files(dicom_root):
        seen: list[bytes] = []
        orig = framevalues.plain_position

        def spy(data: bytes) -> object:
            seen.append(data)
            return orig(data)
        framevalues.plain_position = spy
        try:
            with RawFile(p) as fh:
                if fastscan.scan(fh, READ_PLAN) is fastscan.MULTI_FRAME:
                    fh.seek(0)
                    framescan.scan(fh, READ_PLAN)
        except OSError:
            continue
        finally:
            framevalues.plain_position = orig
        for data in seen:
            assert repr(orig(data)) == repr(_plain_position_reference(data)), p
            n += 1
    assert n > 500


def test_shared_groups_parsed_once_per_file_failures_kept(monkeypatch):
    from protocheck.sources.dicom import framescan, framevalues
    from protocheck.sources.dicom.rawio import FastPathUnavailable
    calls = []
    real = framevalues.first_item

    def counted(data: bytes) -> object:
        calls.append(data)
        return real(data)
    monkeypatch.setattr(framevalues, "first_item", counted)
    walk = framescan._FrameWalk.__new__(framescan._FrameWalk)
    walk.shared_first = None
    good = _position_macro(b"1\\2\\3 ", False)
    first = walk._shared_first(good)
    assert first is walk._shared_first(good) and first == real(good) and len(calls) == 1
    bad = b"\x01\x02\x03\x04\x05\x06\x07\x08"
    for _ in range(2):
        with pytest.raises(FastPathUnavailable):
            walk._shared_first(bad)
    assert len(calls) == 2 and walk._shared_first(None) is None
