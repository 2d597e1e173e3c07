"""Geometry shared by every source: the slice orientation named from the image orientation cosines."""

from __future__ import annotations

from typing import Sequence

from protocheck.model import Acquisition

_AXIS_NAMES = ("sagittal", "coronal", "axial")   # slice normal along patient x (L-R), y (A-P), z (S-I)


def slice_orientation(iop: Sequence[float] | None) -> str | None:
    """"sagittal", "coronal" or "axial" from the six ImageOrientationPatient cosines (the normal's largest axis)."""
    if iop is None or len(iop) != 6:
        return None
    try:
        r = [float(x) for x in iop[:3]]
        c = [float(x) for x in iop[3:]]
    except (TypeError, ValueError):
        return None
    normal = (r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0])
    size = [abs(v) for v in normal]
    if max(size) < 1e-6:
        return None
    return _AXIS_NAMES[size.index(max(size))]


def set_slice_orientation(acq: Acquisition) -> None:
    """Derive SliceOrientation from ImageOrientationPatientDICOM when that is known (any source)."""
    if acq.get("SliceOrientation") is not None:
        return
    name = slice_orientation(acq.get("ImageOrientationPatientDICOM"))
    if name:
        acq.set("SliceOrientation", name, "derived from ImageOrientationPatientDICOM (largest axis of the "
                "slice normal)")
