"""The CSA header port equals nibabel's reader: on the real Siemens files, and on damaged headers."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocheck.sources.dicom import csa, siemens

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from nibabel.nicom import csareader


def _items(header: dict | None) -> dict | None:
    return None if header is None else {name: tag["items"] for name, tag in header["tags"].items()}


def _outcome(fn, *args):
    try:
        return _items(fn(*args))
    except Exception as exc:  # noqa: BLE001 - the error is part of what must be equal
        return ("error", type(exc).__name__)


def _siemens_files(dicom_root: Path, per_folder: int = 2) -> list[Path]:
    with open(dicom_root / "INDEX.tsv", newline="") as fh:
        folders = [row["folder"] for row in csv.DictReader(fh, delimiter="\t") if row["vendor"] == "Siemens"]
    files = []
    for folder in folders:
        files += sorted(p for p in (dicom_root / folder).iterdir() if p.is_file())[:per_folder]
    return files


def test_same_items_as_nibabel_on_every_siemens_series(dicom_root):
    compared = with_csa = 0
    for path in _siemens_files(dicom_root):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        for kind in ("image", "series"):
            ours, theirs = _outcome(csa.header, ds, kind), _outcome(csareader.get_csa_header, ds, kind)
            assert ours == theirs, (path, kind)
            compared += 1
            with_csa += isinstance(theirs, dict)
    assert with_csa >= 40, "the shared Siemens files should carry CSA headers (VB/VE exports)"
    assert compared > with_csa   # XA exports carry none: both say None


@pytest.fixture(scope="module")
def real_header(dicom_root) -> bytes:
    for path in _siemens_files(dicom_root, 1):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        start = csa._private_section(ds)
        if start is not None and (0x29, start + 0x10) in ds:
            return ds[(0x29, start + 0x10)].value
    pytest.fail("no Siemens CSA image header in the shared files")


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=4))
def test_damaged_headers_give_what_nibabel_gives(real_header, cut, flips):
    raw = bytearray(real_header[:len(real_header) - cut] if cut < len(real_header) else real_header[:16])
    for at, byte in flips:   # bytes changed near the start: counts, names, VRs and item lengths
        if at < len(raw):
            raw[at] = byte
    raw = bytes(raw)
    assert _outcome(csa.parse, raw) == _outcome(csareader.read, raw)


def test_csa1_and_odd_values_are_left_to_nibabel(real_header):
    for raw in (b"", b"SV10", real_header[4:], real_header[:200], "SV10 as text"):
        assert _outcome(csa.parse, raw) == _outcome(csareader.read, raw)
    assert _outcome(csa.parse, b"")[0] == "error"   # nibabel's own error, not a silent empty header


def _findall_reference(text: str) -> dict[str, str]:
    """The ASCCONV parse as it was: one regular-expression pass over the whole text."""
    out = {}
    for key, value in siemens._ASC_LINE.findall(text.replace("\r", "\n")):
        out[key] = value.strip('"')
    return out


_PIECES = st.sampled_from(list(siemens._ASC_KEYS) + list(siemens._ASC_NEEDLES)   # needles: lines that hold no key
                          + ["sPat.lAccelFactPEx", "x", " ", "\t", "=", " = ", "\n", "\r", "\r\n", '"', "0x2", "2",
                             "### ASCCONV BEGIN ###", "# c"])


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=40))
def test_ascconv_search_equals_the_regex_pass(pieces):
    text = "".join(pieces)
    assert siemens.parse_ascconv(text) == _findall_reference(text)


def _both_tags(raw: bytes) -> tuple:
    """csa.read with the compiled walk and with the Python loop: (outcome, outcome)."""
    from protocheck.sources.dicom import native
    compiled, saved = _outcome(csa.read, raw), native.CWALK
    native.CWALK = None
    try:
        python = _outcome(csa.read, raw)
    finally:
        native.CWALK = saved
    return compiled, python


def test_compiled_walk_is_built_with_the_module():
    from protocheck.sources.dicom import native
    if native.CWALK is None:
        pytest.skip("pure-Python install")
    assert hasattr(native.CWALK, "csa_tags")


def test_compiled_and_python_walks_give_the_same_items(real_header, monkeypatch):
    compiled, python = _both_tags(real_header)
    assert isinstance(python, dict) and compiled == python
    def refuse(value: object) -> float:
        raise ValueError(value)

    with monkeypatch.context() as m:   # the converters are the ones csa passes: a value that fails fails alike
        for vr in list(csa._CONVERTERS):
            m.setitem(csa._CONVERTERS, vr, refuse)
        compiled, python = _both_tags(real_header)
        assert compiled == python == ("error", "FastPathUnavailable")


@settings(max_examples=400, deadline=None)
@given(cut=st.integers(0, 4000), flips=st.lists(st.tuples(st.integers(0, 6000), st.integers(0, 255)), max_size=6))
def test_compiled_walk_equals_python_on_damaged_headers(real_header, cut, flips):
    raw = bytearray(real_header[:len(real_header) - cut] if cut < len(real_header) else real_header[:16])
    for at, byte in flips:   # counts, names, VRs (a converter or none), item lengths and values
        if at < len(raw):
            raw[at] = byte
    compiled, python = _both_tags(bytes(raw))
    assert compiled == python


def test_plain_creators_give_the_section_pydicom_gives(dicom_root):
    """The CSA block found from raw creators equals nibabel's find_private_section through pydicom."""
    from protocheck.sources.dicom import framescan
    from protocheck.sources.dicom.vendors import READ_PLAN
    n = 0
    for path in _siemens_files(dicom_root):
        ds = framescan.scan_header(str(path), READ_PLAN)
        if ds is None:
            continue
        fast = csa._plain_section(ds)
        assert fast is not False, path   # real exports: plain creators
        assert fast == csa._private_section(framescan.scan_header(str(path), READ_PLAN)), path
        n += fast is not None
    assert n >= 20


@pytest.mark.parametrize("creators, want", [
    ({0x10: ("LO", b"SIEMENS CSA HEADER")}, 0x1000),
    ({0x10: ("LO", b"SIEMENS MEDCOM HEADER2 "), 0x11: ("LO", b"SIEMENS CSA HEADER\0")}, 0x1100),
    ({0x10: ("OB", b"SIEMENS CSA HEADER")}, 0x1000),
    ({0x10: ("OB", b"SIEMENS CSA HEADER ")}, None),           # OB: no padding removed
    ({0x10: ("LO", b" SIEMENS CSA HEADER")}, None),           # LO: only trailing padding removed
    ({0x10: ("LO", b"OTHER"), 0x12: ("LO", b"SIEMENS CSA HEADER")}, 0x1200),
    ({0x10: ("UN", b"SIEMENS CSA HEADER")}, False),           # pydicom decides (a VR it may replace)
    ({0x10: ("LO", b"\x1b$BSIEMENS CSA HEADER")}, False),     # an escape: the character set decides
    ({0x10: ("LO", b"A\\SIEMENS CSA HEADER")}, False),        # several values
    ({}, None),
])
def test_plain_section_decides_only_plain_creators(creators, want):
    from pydicom.dataelem import RawDataElement
    from pydicom.dataset import Dataset
    from pydicom.tag import Tag
    ds = Dataset()
    for elem, (vr, value) in creators.items():
        tag = Tag(0x0029, elem)
        ds._dict[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
    got = csa._plain_section(ds)
    assert got == want if want is not False else got is False
    if want is not False and all(vr != "UN" for vr, _ in creators.values()):
        assert csa._private_section(ds) == want   # what the pydicom path finds


def test_every_ascconv_key_holds_a_needle():
    """parse_ascconv searches for its needles: a key holding none would never be found."""
    assert all(any(n in key for n in siemens._ASC_NEEDLES) for key in siemens._ASC_KEYS)
