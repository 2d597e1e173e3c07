"""UIH private tags (no real UIH files available: headers are built in memory)."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import uih


def _uih(b: float | None = None, vec: list[float] | None = None) -> Dataset:
    ds = Dataset()
    ds.Manufacturer = "UIH"
    ds.MRAcquisitionType = "2D"
    ds.InPlanePhaseEncodingDirection = "COL"
    if b is not None:
        ds.add_new(0x00651009, "FD", b)
    if vec is not None:
        ds.add_new(0x00651037, "FD", vec)
    return ds


def test_diffusion_sample() -> None:
    s = uih.file_diffusion(_uih(1000.0, [0.0, 0.6, 0.8]))
    assert s is not None and s.bvalue == 1000.0 and s.vector == (0.0, 0.6, 0.8)
    assert s.directionality == "DIRECTIONAL"
    assert uih.file_diffusion(_uih(0.0, [0.0, 0.0, 0.0])).directionality == "NONE"
    assert uih.file_diffusion(_uih(1000.0, [0.0, 0.0, 0.0])).directionality == "ISOTROPIC"
    assert uih.file_diffusion(_uih()) is None


@pytest.mark.parametrize("text, expected", [("PE:2.0 SS:1.0", 2.0), ("SENSE 3", 3.0), ("", None), ("1", None)])
def test_parallel_factor(text: str, expected: float | None) -> None:
    assert uih.parallel_factor(text) == expected


def test_series_params_polarity_and_acceleration() -> None:
    ds = _uih()
    ds.add_new(0x0065100D, "SH", "PE:2 SS:1")
    ds.add_new(0x00651058, "IS", "0")
    acq = Acquisition(key="u")
    uih.series_params(ds, acq)
    assert acq.get("Manufacturer") == "UIH"
    assert acq.get("ParallelReductionFactorInPlane") == 2.0
    assert acq.get("PhaseEncodingDirection") == "j-"
    ds.MRAcquisitionType = "3D"
    acq3 = Acquisition(key="u3")
    uih.series_params(ds, acq3)
    assert acq3.get("PhaseEncodingDirection") is None
