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


def is_diffusion(ds: Dataset) -> bool:
    """A diffusion-weighted acquisition: (0008,9209) AcquisitionContrast DIFFUSION (top level or in the
    MRImageFrameType macro) or DIFFUSION in ImageType, the flags dcm2niix readDICOMx sets isDiffusion from."""
    contrast = text(find_public(ds, 0x00089209, (0x00189226,)))
    if contrast is None:
        for seq in (0x52009229, 0x52009230):   # shared, then first per-frame functional group
            item = first_item(ds, seq)
            frame_type = first_item(item, 0x00189226) if item is not None else None
            contrast = text(frame_type.get(0x00089209).value) if frame_type is not None and \
                0x00089209 in frame_type else None
            if contrast:
                break
    image_type = (text(ds.get("ImageType")) or "").upper().split("\\")
    return (contrast or "").upper() == "DIFFUSION" or "DIFFUSION" in image_type


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One Canon file's (or frame's) b-value, gradient and directionality from public diffusion attributes.

    A volume of a diffusion acquisition without any b-value element is a b=0 volume (Canon writes none for
    b=0; dcm2niix nii_saveDTI "Diffusion image without gradients: assuming B=0")."""
    b = first_float(find_public(ds, 0x00189087, (MR_DIFFUSION_SEQ,)), "d")
    if b is None and is_diffusion(ds):
        return DiffusionSample(bvalue=0.0, vector=None, directionality="NONE")
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
