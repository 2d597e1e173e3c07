"""Slice orientation from ImageOrientationPatient, on real headers and on cosines built here."""

from __future__ import annotations

import pytest

from protocheck.model import Acquisition
from protocheck.sources.dicom import scan_dicom
from protocheck.sources.geometry import set_slice_orientation, slice_orientation


@pytest.mark.parametrize("iop, name", [
    ([1, 0, 0, 0, 1, 0], "axial"),
    ([0, 1, 0, 0, 0, -1], "sagittal"),
    ([1, 0, 0, 0, 0, -1], "coronal"),
    ([0.99, 0.1, 0, -0.1, 0.99, 0.05], "axial"),     # slightly oblique axial
])
def test_orientation_from_cosines(iop, name):
    assert slice_orientation(iop) == name


@pytest.mark.parametrize("iop", [None, [], [1, 0, 0], [0, 0, 0, 0, 0, 0], ["x", 0, 0, 0, 1, 0]])
def test_unusable_orientation_is_unknown(iop):
    assert slice_orientation(iop) is None
    acq = Acquisition(key="k")
    if iop is not None:
        acq.set("ImageOrientationPatientDICOM", iop, "test")
    set_slice_orientation(acq)
    assert acq.get("SliceOrientation") is None


@pytest.mark.parametrize("folder, name", [
    ("dcm_qa_xa30/5_anat-T1w_acq-tfl", "sagittal"),        # enhanced: from the functional groups
    ("dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "axial"),         # classic GE "Ax"
])
def test_real_series_orientation(dicom_root, folder, name):
    acq = next(scan_dicom(dicom_root / folder).acquisitions())
    assert acq.get("SliceOrientation") == name
    assert "ImageOrientationPatientDICOM" in acq.provenance("SliceOrientation")
