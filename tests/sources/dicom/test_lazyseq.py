"""Functional groups cut into raw items decode to what pydicom decodes, on every shared enhanced file."""
from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from protocheck.sources.dicom import framescan, rawio
from protocheck.sources.dicom.lazyseq import FUNCTIONAL_GROUPS, convert, lazy_groups
from protocheck.sources.dicom.vendors import READ_PLAN


def _plain(ds: Dataset) -> dict:
    """Every element of ``ds``, nested items included, as plain values (what extraction code can read)."""
    out = {}
    for elem in ds:
        if elem.VR == "SQ":
            out[elem.tag] = [_plain(item) for item in elem.value]
        else:
            out[elem.tag] = (elem.VR, repr(elem.value))
    return out


def _plain_lazy(ds: Dataset) -> dict:
    """``_plain`` with every nested sequence decoded by lazyseq.convert (as the readers' getv does)."""
    out = {}
    for tag in sorted(ds._dict):
        convert(ds, tag)
        elem = ds[tag]
        if elem.VR == "SQ":
            out[elem.tag] = [_plain_lazy(item) for item in elem.value]
        else:
            out[elem.tag] = (elem.VR, repr(elem.value))
    return out


def _enhanced(dicom_root: Path) -> list[Path]:
    out = []
    for path in sorted(p for p in dicom_root.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            head = fh.read(1024)
        if b"1.2.840.10008.5.1.4.1.1.4.1" in head:   # enhanced MR image storage in the file meta
            out.append(path)
    return out


def _cut(path: Path) -> Dataset | None:
    with rawio.RawFile(path) as fh:
        got = framescan.scan(fh, READ_PLAN)
    if got is None:
        return None
    lazy_groups(got[0])
    return got[0]


def test_lazy_items_decode_as_pydicom_on_every_shared_enhanced_file(dicom_root):
    """Items cut by lazyseq hold what pydicom decodes: nested sequences decoded by pydicom (iteration) or
    again by lazyseq, one level at a time (the readers' getv)."""
    cut = 0
    for path in _enhanced(dicom_root):
        ds, again = _cut(path), _cut(path)
        if ds is None:
            continue
        full = pydicom.dcmread(path, stop_before_pixels=True)
        for tag in FUNCTIONAL_GROUPS:
            if tag not in ds:
                continue
            seq = ds._dict[tag].value
            assert isinstance(seq, Sequence)
            assert all(isinstance(e, RawDataElement) for item in seq for e in item._dict.values())   # still raw
            items = list(full[tag].value)
            expected = [_plain(item) for item in
                        (items if tag != framescan.PER_FRAME or len(items) == 1 else [items[0], items[-1]])]
            assert [_plain(item) for item in seq] == expected, (path, hex(tag))
            assert [_plain_lazy(item) for item in again._dict[tag].value] == expected, (path, hex(tag))
            cut += 1
    assert cut >= 100, "the shared data holds enhanced files of several vendors"


def test_odd_sequences_are_left_to_pydicom():
    ds = Dataset()
    ds.set_original_encoding(False, True, "iso8859")
    ds._dict[pydicom.tag.BaseTag(0x52009229)] = RawDataElement(
        pydicom.tag.BaseTag(0x52009229), "SQ", 12, b"\x08\x00\x16\x00UI\x04\x001.2\x00", 0, False, True)
    lazy_groups(ds)   # an element where an item tag must be: not cut
    assert isinstance(ds._dict[0x52009229], RawDataElement)
