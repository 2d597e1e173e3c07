"""Canon / Toshiba header: diffusion and acceleration from public (functional-group) attributes.

Canon enhanced exports (e.g. V6.1 Galan) store diffusion per frame in the public MR Diffusion Sequence
(0018,9117): b-value (0018,9087), directionality (0018,9075) and the gradient (0018,9089) inside (0018,9076);
classic files carry the same attributes at top level. dcm2niix reads Canon diffusion from these public
attributes too. Canon's (0018,9005) PulseSequenceName holds the protocol label, so it is not reported as a
pulse sequence; the manufacturer is normalised to "Canon"/"Toshiba" as dcm2niix writes it.
"""

from __future__ import annotations

import re

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom._privtags import (
    find_public, first_float, first_item, floats, is_zero_vector, set_manufacturer, text, unit_vector,
)
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.dicom.vendorspec import VendorSpec
from protocheck.vendor_ids import vendor_pattern

PER_FILE_LAST_GROUP: int = 0x0029

MR_DIFFUSION_SEQ = 0x00189117
GRADIENT_DIRECTION_SEQ = 0x00189076


def is_diffusion(ds: Dataset) -> bool:
    """A diffusion-weighted acquisition: (0008,9209) AcquisitionContrast DIFFUSION (top level, or in the shared or
    first per-frame MRImageFrameType macro) or DIFFUSION in ImageType: the flags dcm2niix readDICOMx sets
    isDiffusion from."""
    contrast = text(find_public(ds, 0x00089209))
    for seq in (0x52009229, 0x52009230):   # shared, then first per-frame functional group
        item = None if contrast else first_item(ds, seq)
        if item is not None:
            contrast = text(find_public(item, 0x00089209, (0x00189226,)))
    image_type = (text(ds.get("ImageType")) or "").upper().split("\\")
    return (contrast or "").upper() == "DIFFUSION" or "DIFFUSION" in image_type


# Canon software after the Toshiba acquisition writes the gradient (image frame) in ImageComments:
# "b=1500(0.445,0.000,0.895)" (dcm2niix Canon/README.md)
_COMMENT = re.compile(r"b\s*=\s*([0-9.]+)\s*\(\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\)")


def comment_diffusion(ds: Dataset) -> tuple[float, tuple[float, float, float]] | None:
    """(b, gradient) from the (0020,4000) ImageComments "b=1500(0.445,0.000,0.895)" of newer Canon software."""
    m = _COMMENT.search(text(ds.get("ImageComments")) or "")
    try:
        return (float(m.group(1)), (float(m.group(2)), float(m.group(3)), float(m.group(4)))) if m else None
    except ValueError:
        return None


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One Canon/Toshiba file's (or frame's) b-value, gradient and directionality.

    Public (0018,9087)/(0018,9089)/(0018,9075) first (Toshiba; enhanced Canon in the frame's MRDiffusionSequence),
    then the ImageComments text of newer classic Canon files. A diffusion image with no b-value at all is a b=0
    volume: Toshiba writes the b-value only where a gradient is applied (dcm2niix Canon/README.md)."""
    b = first_float(find_public(ds, 0x00189087, (MR_DIFFUSION_SEQ,)), "d")
    comment = comment_diffusion(ds)
    if b is None and comment is not None:
        b = comment[0]
    if b is None and is_diffusion(ds):
        return DiffusionSample(bvalue=0.0, vector=None, directionality="NONE")
    if b is None or b < 0:
        return None
    holder = first_item(ds, MR_DIFFUSION_SEQ) or ds
    raw = find_public(holder, 0x00189089, (GRADIENT_DIRECTION_SEQ,))
    vec = unit_vector(floats(raw, "d"))
    if vec is None and comment is not None:
        vec = comment[1]
    declared = (text(find_public(holder, 0x00189075)) or "").upper() or None
    if b < 1.0:
        return DiffusionSample(bvalue=b, vector=None, directionality="NONE")
    if declared == "ISOTROPIC" or (declared != "DIRECTIONAL" and is_zero_vector(vec)):
        return DiffusionSample(bvalue=b, vector=None, directionality="ISOTROPIC")
    return DiffusionSample(bvalue=b, vector=vec, directionality=declared or "DIRECTIONAL")


# Images of a Canon/Toshiba diffusion series that carry no b-value at all are its b=0 volumes (collector).
UNTAGGED_DIFFUSION = DiffusionSample(bvalue=0.0, vector=None, directionality="NONE")


def scanning_sequence(ds: Dataset) -> str | None:
    """Classic (0018,0020) terms from the enhanced (0018,9008) EchoPulseSequence, (0018,9018)
    EchoPlanarPulseSequence and (0018,9009) InversionRecovery (DICOM PS3.3 C.8.13.1 / C.8.3.1): EP, SE/GR, IR."""
    def flag(tag: int) -> str:
        return (text(find_public(ds, tag)) or text(_shared_macro_value(ds, tag)) or "").upper()
    echo = flag(0x00189008)
    parts = ["EP"] if flag(0x00189018) == "YES" else []
    parts += {"SPIN": ["SE"], "GRADIENT": ["GR"], "BOTH": ["SE", "GR"]}.get(echo, [])
    if flag(0x00189009) == "YES":
        parts.append("IR")
    return "\\".join(parts) if echo else None


def _shared_macro_value(ds: Dataset, tag: int) -> object:
    """``tag`` in the shared MRImageFrameType macro (some exports keep the pulse-sequence flags there)."""
    shared = first_item(ds, 0x52009229)
    frame_type = first_item(shared, 0x00189226) if shared is not None else None
    return frame_type[tag].value if frame_type is not None and tag in frame_type else None


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Fill Canon-specific parameters: manufacturer as dcm2niix names it; drop the protocol-label pulse name."""
    set_manufacturer(ds, acq)
    if acq.get("ScanningSequence") is None:
        acq.set("ScanningSequence", scanning_sequence(ds), "DICOM (0018,9008) EchoPulseSequence, (0018,9018) "
                "EchoPlanarPulseSequence, (0018,9009) InversionRecovery (enhanced), as classic (0018,0020) terms")
    if acq.get("PixelBandwidth") is None:
        shared = first_item(ds, 0x52009229)
        modifier = first_item(shared, 0x00189006) if shared is not None else None
        bw = first_float(modifier.get("PixelBandwidth")) if modifier is not None else None
        acq.set("PixelBandwidth", bw, "DICOM (0018,0095) PixelBandwidth in shared MRImagingModifierSequence")
    psn = acq.get("PulseSequenceName")
    if psn and psn in {text(ds.get("ProtocolName")), text(ds.get("SeriesDescription"))}:
        acq.params.pop("PulseSequenceName", None)


SPEC = VendorSpec(
    name="canon", manufacturer=vendor_pattern("canon"), dcm2niix=(("TO", "Toshiba"), ("CA", "Canon")),
    per_file_private={},   # public elements and ImageComments only
    last_group=PER_FILE_LAST_GROUP, untagged_diffusion=UNTAGGED_DIFFUSION,
    series_params=series_params, file_diffusion=file_diffusion,
)
