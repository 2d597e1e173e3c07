"""United Imaging (UIH) private header, implemented from dcm2niix's documented UIH tags (no local samples).

dcm2niix (console/nii_dicom.cpp) reads: (0065,1009) b-value FD, (0065,1037) diffusion gradient direction FD,
(0065,100D) parallel-imaging information SH (e.g. acceleration text), (0065,1058) phase-encoding direction
positive IS (issue 410), (0065,1005) PE direction as displayed SH, (0065,1050) number of images in a grid
(mosaic). Values here are read defensively: anything unexpected is left unknown, never guessed.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom._privtags import (
    element_value, first_float, floats, is_zero_vector, set_manufacturer, text, unit_vector,
)
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.dicom.phase import bids_pe_direction
from protocheck.sources.dicom.vendorspec import VendorSpec
from protocheck.vendor_ids import vendor_pattern

PER_FILE_LAST_GROUP: int = 0x0065

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _private(ds: Dataset, elem: int) -> object:
    return element_value(ds, 0x0065, elem, None)


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One UIH file's b-value (0065,1009), gradient (0065,1037) and directionality."""
    b = first_float(_private(ds, 0x1009), "d")
    if b is None or b < 0:
        return None
    vec = unit_vector(floats(_private(ds, 0x1037), "d"))
    if b < 1.0:
        return DiffusionSample(bvalue=b, vector=None, directionality="NONE")
    if is_zero_vector(vec):
        return DiffusionSample(bvalue=b, vector=None, directionality="ISOTROPIC")
    return DiffusionSample(bvalue=b, vector=vec, directionality="DIRECTIONAL")


def parallel_factor(info: str | None) -> float | None:
    """In-plane acceleration from the (0065,100D) text: the number after 'PE' if given, else the first > 1."""
    if not info:
        return None
    m = re.search(r"(?i)PE\s*[:=]?\s*([0-9.]+)", info)
    if m:
        try:
            return float(m.group(1))
        except ValueError:
            return None
    numbers = [float(n) for n in _NUMBER.findall(info)]
    above = [n for n in numbers if n > 1]
    return above[0] if above else None


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Fill UIH-specific parameters: manufacturer, in-plane acceleration and phase-encoding polarity."""
    set_manufacturer(ds, acq)
    if acq.get("ParallelReductionFactorInPlane") is None:
        r = parallel_factor(text(_private(ds, 0x100D)))
        acq.set("ParallelReductionFactorInPlane", r, "UIH (0065,100D) parallel information")
    positive = first_float(_private(ds, 0x1058))
    pe = text(ds.get("InPlanePhaseEncodingDirection")) or ""
    if positive in (0.0, 1.0) and pe[:3] in ("COL", "ROW") and (text(ds.get("MRAcquisitionType")) or "") != "3D":
        # dcm2niix readDICOMx: (0065,1058) 1 -> "flipped", 0 -> "unflipped", then nii_SaveBIDSX as for GE/Siemens
        acq.set("PhaseEncodingDirection", bids_pe_direction(pe, 0 if positive == 1.0 else 1),
                f"UIH (0065,1058) phase-encoding direction positive = {int(positive)} with (0018,1312) {pe}")


SPEC = VendorSpec(
    name="uih", manufacturer=vendor_pattern("uih"),
    dcm2niix=(("UI", "UIH"), ("UNITED IMAGING", "UIH")),
    per_file_private={0x0065: frozenset({0x09, 0x37})},   # (0065,xx09) b-value, (0065,xx37) gradient
    last_group=PER_FILE_LAST_GROUP, series_params=series_params, file_diffusion=file_diffusion,
)
