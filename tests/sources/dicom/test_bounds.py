"""bound_dataset cuts exactly what its reference (every element through ``get_item``) cuts: raw elements are
judged from the element dict directly, converted and deferred ones as before."""
from __future__ import annotations

import copy
from typing import Any

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.tag import BaseTag

from protocheck.sources.dicom import framescan
from protocheck.sources.dicom.bounds import MAX_VALUES, VR_MAX, _dictionary_vr, _too_long, bound_dataset, cut_text
from protocheck.sources.dicom.vendors import READ_PLAN


def _reference(ds: Any) -> None:
    """bound_dataset as it was: every element through ``get_item``."""
    for tag in list(ds.keys()):
        try:
            elem = ds.get_item(tag)
            vr = str(getattr(elem, "VR", "") or "")
            vr = _dictionary_vr(tag) if vr in ("", "UN") else vr
            if vr not in VR_MAX or not _too_long(elem, vr):
                continue
            value = ds[tag].value
            if isinstance(value, (bytes, bytearray)):
                value = bytes(value).decode("latin-1").rstrip("\0 ")
            if isinstance(value, str):
                ds[tag] = DataElement(tag, vr, cut_text(value, vr))
            elif value is not None:
                ds[tag] = DataElement(tag, vr, [str(v)[:VR_MAX[vr]] for v in list(value)[:MAX_VALUES]])
        except Exception:  # noqa: BLE001
            continue


def _hostile(ds: Any) -> Any:
    """Over-long values: raw with their VR, raw as UN and without VR (implicit), converted, multi-valued."""
    long = b"t1" * 300
    raw = ds._dict
    raw[0x0008103E] = RawDataElement(BaseTag(0x0008103E), "LO", len(long), long, 0, False, True)
    raw[0x00181030] = RawDataElement(BaseTag(0x00181030), "UN", len(long), long, 0, False, True)
    raw[0x00180024] = RawDataElement(BaseTag(0x00180024), None, len(long), long, 0, True, True)
    raw[0x00081090] = RawDataElement(BaseTag(0x00081090), "LO", 4, b"ok  ", 0, False, True)
    ds.add_new(0x00080070, "LO", "x" * 200)
    ds.add_new(0x00080008, "CS", ["ORIGINAL"] * 400)
    return ds


def _state(ds: Any) -> list:
    """Every element as a reader sees it (decoded): raw or rebuilt, the same values are the same state."""
    out = []
    for tag in list(ds.keys()):
        try:
            out.append((int(tag), ds[tag].VR, repr(ds[tag].value)))
        except Exception as exc:  # noqa: BLE001 - an undecodable element: the same failure on both sides
            out.append((int(tag), type(exc).__name__))
    return out


def test_bound_dataset_equals_its_reference(dicom_root):
    files = sorted(p for p in dicom_root.rglob("*.dcm") if p.is_file())[::40]
    assert len(files) > 20
    for p in files:
        for ds in (framescan.scan_header(str(p), READ_PLAN), pydicom.dcmread(p, stop_before_pixels=True)):
            if ds is None:
                continue
            for sample in (ds, _hostile(copy.deepcopy(ds))):
                a, b = copy.deepcopy(sample), copy.deepcopy(sample)
                bound_dataset(a)
                _reference(b)
                assert _state(a) == _state(b), p
                if sample is not ds:   # the planted values were cut
                    assert len(a[0x0008103E].value) == 64 and len(a[0x00080070].value) == 64


def test_plain_multi_values_that_fit_stay_raw_and_long_ones_are_cut():
    """ImageOrientationPatient (DS, 6 values, 60 bytes) needs no cut: left raw, not decoded and rebuilt; a value
    over its VR's limit is cut, and a multi-valued LO (text that may hold multi-byte characters) is judged decoded."""
    ds = pydicom.Dataset()
    raw = ds._dict
    fits = b"1.000000\\0.000000\\0.000000\\0.000000\\0.999848\\-0.017452"
    over = b"ORIGINAL\\PRIMARY\\" + b"M" * 40
    text = b"a\\" + b"b" * 70
    for tag, vr, value in ((0x00200037, "DS", fits), (0x00080008, "CS", over), (0x00081090, "LO", text),
                           (0x00280030, None, b"0.5\\0.5" + b" " * 10)):   # implicit VR: the dictionary's (DS)
        raw[tag] = RawDataElement(BaseTag(tag), vr, len(value), value, 0, vr is None, True)
    bound_dataset(ds)
    assert type(ds._dict[0x00200037]) is RawDataElement and type(ds._dict[0x00280030]) is RawDataElement
    assert [float(v) for v in ds.ImageOrientationPatient][4] == 0.999848
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "M" * 16]
    assert list(ds.ManufacturerModelName) == ["a", "b" * 64]
