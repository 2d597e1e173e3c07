"""Canon / Toshiba header: diffusion and acceleration from public (functional-group) attributes.

Canon enhanced exports (e.g. V6.1 Galan) store diffusion per frame in the public MR Diffusion Sequence
(0018,9117): b-value (0018,9087), directionality (0018,9075) and the gradient (0018,9089) inside (0018,9076);
classic files carry the same attributes at top level. dcm2niix reads Canon diffusion from these public
attributes too. Canon's (0018,9005) PulseSequenceName holds the protocol label, so it is not reported as a
pulse sequence; the manufacturer is normalised to "Canon"/"Toshiba" as dcm2niix writes it.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom._privtags import (
    find_public, first_float, first_item, floats, is_zero_vector, set_manufacturer, text, unit_vector,
)
from protocheck.sources.dicom.diffusion import DiffusionSample

PER_FILE_LAST_GROUP: int = 0x0029

MR_DIFFUSION_SEQ = 0x00189117
GRADIENT_DIRECTION_SEQ = 0x00189076


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One Canon file's (or frame's) b-value, gradient and directionality from public diffusion attributes."""
    b = first_float(find_public(ds, 0x00189087, (MR_DIFFUSION_SEQ,)), "d")
    if b is None or b < 0:
        return None
    holder = first_item(ds, MR_DIFFUSION_SEQ) or ds
    raw = find_public(holder, 0x00189089, (GRADIENT_DIRECTION_SEQ,))
    vec = unit_vector(floats(raw, "d"))
    declared = (text(find_public(holder, 0x00189075)) or "").upper() or None
    if b < 1.0:
        return DiffusionSample(bvalue=b, vector=None, directionality="NONE")
    if declared == "ISOTROPIC" or (declared != "DIRECTIONAL" and is_zero_vector(vec)):
        return DiffusionSample(bvalue=b, vector=None, directionality="ISOTROPIC")
    return DiffusionSample(bvalue=b, vector=vec, directionality=declared or "DIRECTIONAL")


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Fill Canon-specific parameters: manufacturer as dcm2niix names it; drop the protocol-label pulse name."""
    set_manufacturer(ds, acq)
    if acq.get("PixelBandwidth") is None:
        shared = first_item(ds, 0x52009229)
        modifier = first_item(shared, 0x00189006) if shared is not None else None
        bw = first_float(modifier.get("PixelBandwidth")) if modifier is not None else None
        acq.set("PixelBandwidth", bw, "DICOM (0018,0095) PixelBandwidth in shared MRImagingModifierSequence")
    psn = acq.get("PulseSequenceName")
    if psn and psn in {text(ds.get("ProtocolName")), text(ds.get("SeriesDescription"))}:
        acq.params.pop("PulseSequenceName", None)
