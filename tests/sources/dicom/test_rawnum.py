"""Private numbers decoded from raw bytes (_rawnum) equal pydicom's decoded values, on every shared DICOM file."""
from __future__ import annotations

import math
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from protocheck.sources.dicom import fastscan, ge, philips, vendors
from protocheck.sources.dicom._privtags import element_value, first_float
from protocheck.sources.dicom._rawnum import first_float_at
from protocheck.sources.dicom.rawio import RawFile

# (group, element, creator, binary) as the vendor modules read them through first_float_at
READS = [(0x0043, 0x1039, ge.PARM, None)] + [(0x0019, e, ge.ACQU, None) for e in (0x10BB, 0x10BC, 0x10BD, 0x10DF,
                                                                                  0x10E0)]
READS += [(0x2001, 0x1003, philips.IMG1, "f")] + [(0x2005, e, philips.MR1, "f") for e in (0x10B0, 0x10B1, 0x10B2)]


def _files(dicom_root: Path) -> list[Path]:
    return sorted(p for p in dicom_root.rglob("*") if p.is_file() and p.name != "INDEX.tsv")


def _converted(ds: Dataset) -> Dataset:
    """A copy of ``ds`` with every top-level element converted by pydicom (the path the raw decoding bypasses)."""
    out = fastscan.dataset_over(ds, dict(fastscan.elements(ds)))
    for tag in list(out.keys()):
        try:
            out[tag]
        except Exception:  # noqa: BLE001 - left raw: element_value treats it as absent either way
            pass
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _raw_datasets(path: Path) -> list[Dataset]:
    """The datasets the read paths hand to the vendors: pydicom's (raw elements) and the fast scanner's."""
    out = [pydicom.dcmread(path, stop_before_pixels=True, force=True)]
    with RawFile(path) as fh:
        scanned = fastscan.scan(fh, vendors.READ_PLAN)
    if scanned is not None and scanned is not fastscan.MULTI_FRAME:
        out.append(scanned.dataset)
    return out


def test_raw_numbers_and_samples_equal_pydicom_on_every_shared_file(dicom_root):
    files = _files(dicom_root)
    assert files
    checked = decoded = 0
    for path in files:
        try:
            raws = _raw_datasets(path)
        except Exception:  # noqa: BLE001 - not DICOM at all: no vendor value is read from it
            continue
        for ds in raws:
            ref = _converted(ds)
            man = str(ref.get("Manufacturer", "") or "")
            want = [first_float(element_value(ref, g, e, c), b) for g, e, c, b in READS]
            got = [first_float_at(ds, g, e, c, b) for g, e, c, b in READS]
            assert all(_same(x, y) for x, y in zip(got, want)), (path, got, want)
            assert vendors.file_diffusion_sample(ds, man) == vendors.file_diffusion_sample(ref, man), path
            assert philips.needs_last_group(ds) == philips.needs_last_group(ref), path
            checked += 1
            decoded += sum(v is not None for v in got)
    assert checked > len(files) and decoded > 100


@pytest.mark.parametrize("vr,raw,want", [
    ("DS", b"1000\\8\\0 ", 1000.0), ("IS", b"+12", 12.0), ("DS", b"1e999", None), ("DS", b" .5", 0.5),
    ("FL", b"\x00\x00\x80\x3f", 1.0), ("FD", b"\x00" * 7 + b"\x40" + b"\x00" * 8, 2.0), ("US", b"\x05\x00", 5.0),
    ("DS", b"abc", None), ("FL", b"\x00\x00\x80", None), ("FL", b"\x00\x00\xc0\x7f", None),
])
def test_first_float_at_matches_pydicom_on_odd_values(vr, raw, want):
    from pydicom.dataelem import RawDataElement
    ds = Dataset()
    ds._dict[0x00431010] = RawDataElement(0x00431010, "LO", 12, ge.PARM.encode(), 0, False, True)
    ds._dict[0x00431039] = RawDataElement(0x00431039, vr, len(raw), raw, 0, False, True)
    got = first_float_at(ds, 0x0043, 0x1039, ge.PARM)
    ref = Dataset()
    ref._dict.update(ds._dict)
    try:
        expected = first_float(element_value(ref, 0x0043, 0x1039, ge.PARM))
    except Exception:  # noqa: BLE001
        expected = None
    assert _same(got, expected) and _same(got, want)
