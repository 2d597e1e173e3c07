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


_PIECES = st.sampled_from(list(siemens._ASC_KEYS) + ["sPat.lAccelFactPEx", "x", " ", "\t", "=", " = ", "\n", "\r",
                                                     "\r\n", '"', "0x2", "2", "### ASCCONV BEGIN ###", "# c"])


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=40))
def test_ascconv_search_equals_the_regex_pass(pieces):
    text = "".join(pieces)
    assert siemens.parse_ascconv(text) == _findall_reference(text)
