"""Philips private header: diffusion (private and public), trace volume, per-shot TR, acceleration, technique.

Implements Philips' documented behaviour as dcm2niix reads it (dcm2niix Philips/README.md, nii_dicom.cpp):
b-value (2001,1003), gradient (2005,10B0/B1/B2) on classic files and public (0018,9087)/(0018,9089)/(0018,9075)
in enhanced objects (frame MR Diffusion Sequence) and in the private per-frame sequence (2005,140F); the
appended isotropic/trace volume (directionality ISOTROPIC, or (2001,1004) 'I' with b > 0) is not a direction;
3D T1 TFE headers give the per-shot TR; Philips never records the phase-encoding polarity (axis only).
"""

from __future__ import annotations


from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom._privtags import (
    element_value, find_public, first_float, first_item, floats, is_zero_vector, private_tag, set_manufacturer,
    text, unit_vector,
)
from protocheck.sources.dicom._rawnum import first_float_at
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor
from protocheck.sources.dicom.vendorspec import VendorSpec
from protocheck.vendor_ids import vendor_pattern

PER_FILE_LAST_GROUP: int = 0x2005
PER_FILE_EARLY_GROUP: int = 0x2001   # group 2005 holds only the gradient and the private per-frame copy

IMG1 = "Philips Imaging DD 001"
MR1 = "Philips MR Imaging DD 001"
MR5 = "Philips MR Imaging DD 005"
PRIVATE_PER_FRAME = 0x2005140F   # element 0x0F of MR5, at its usual block; R11 software may reserve another block
MR_DIFFUSION_SEQ = 0x00189117
GRADIENT_DIRECTION_SEQ = 0x00189076


def per_frame_tag(ds: Dataset) -> int:
    """The private per-frame sequence's tag in ``ds``: (2005,xx0F) of "Philips MR Imaging DD 005", found by its
    creator (never a hard-coded element number), (2005,140F) when no creator is present."""
    return private_tag(ds, 0x2005, MR5, 0x0F, PRIVATE_PER_FRAME)


def _containers(ds: Dataset) -> tuple[int, int]:
    return (MR_DIFFUSION_SEQ, per_frame_tag(ds))


B0_THRESHOLD = 1.0   # s/mm2; Philips labels some b=0 volumes 0.001, 0.002... (kept as b-values, counted as b0)


def _bvalue(ds: Dataset) -> float | None:
    b = first_float_at(ds, 0x2001, 0x1003, IMG1, "f")
    if b is None:
        b = first_float(find_public(ds, 0x00189087, _containers(ds)), "d")
    return None if b is None or b < 0 else b


def _vector(ds: Dataset) -> tuple[float, float, float] | None:
    vec = unit_vector([first_float_at(ds, 0x2005, e, MR1, "f") for e in (0x10B0, 0x10B1, 0x10B2)])
    if vec is not None:
        return vec
    raw = find_public(ds, 0x00189089, _containers(ds))
    if raw is None:
        item = first_item(ds, MR_DIFFUSION_SEQ) or ds
        raw = find_public(item, 0x00189089, (GRADIENT_DIRECTION_SEQ,))
    return unit_vector(floats(raw, "d"))


def _public_directionality(ds: Dataset) -> str | None:
    """(0018,9075) at top level or in the frame's MR Diffusion Sequence (not the often-stale private copy)."""
    value = find_public(ds, 0x00189075, (MR_DIFFUSION_SEQ,))
    return (text(value) or "").upper() or None


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One Philips file's (or enhanced frame's) b-value, gradient (patient RL/AP/FH) and directionality."""
    b = _bvalue(ds)
    if b is None:
        return None
    public = _public_directionality(ds)
    label = (text(element_value(ds, 0x2001, 0x1004, IMG1)) or "").upper()
    if b < B0_THRESHOLD:
        if public not in ("DIRECTIONAL", "ISOTROPIC", "BMATRIX") and not label and not _is_dwi(ds):
            return None          # a b-value of 0 on a non-diffusion scan
        return DiffusionSample(bvalue=b, vector=None, directionality="NONE")
    vec = _vector(ds)   # (none of these readers raises: reading it only when used changes no result)
    if public == "ISOTROPIC" or label == "I" or (public != "DIRECTIONAL" and is_zero_vector(vec)):
        return DiffusionSample(bvalue=b, vector=None, directionality="ISOTROPIC")
    return DiffusionSample(bvalue=b, vector=vec, directionality="DIRECTIONAL")


def needs_last_group(ds: Dataset) -> bool:
    """Whether a classic file's diffusion sample may need group 2005, given its groups up to 2001.

    Mirrors vendors.file_diffusion_sample and file_diffusion above: 2005 holds the gradient (read when
    b >= 1) and the private per-frame copy (read when (2001,1003) or the technique (2001,1020) is missing).
    Any doubt answers True: reading on is always exact. Keep in step with file_diffusion.
    """
    from protocheck.sources.dicom.enhanced import top_level_diffusion
    if not needs_vendor(top_level_diffusion(ds)):
        return False                 # the public sample is complete: no private value is read
    b = first_float_at(ds, 0x2001, 0x1003, IMG1, "f")
    if b is None:
        return True                  # _bvalue falls back to the private per-frame copy
    if b < 0:
        return False                 # no sample
    if b >= B0_THRESHOLD:
        return True                  # the gradient (2005,10B0-B2)
    label = (text(element_value(ds, 0x2001, 0x1004, IMG1)) or "").upper()
    if _public_directionality(ds) in ("DIRECTIONAL", "ISOTROPIC", "BMATRIX") or label:
        return False
    return not text(element_value(ds, 0x2001, 0x1020, IMG1))   # else _is_dwi reads the per-frame copy


def _technique(ds: Dataset) -> str | None:
    return text(element_value(ds, 0x2001, 0x1020, IMG1)) or text(find_public(ds, 0x00189005, (per_frame_tag(ds),)))


def _is_dwi(ds: Dataset) -> bool:
    return (_technique(ds) or "").upper().startswith("DWI")


def _set_tr(ds: Dataset, acq: Acquisition) -> None:
    """RepetitionTime when the public one is missing (enhanced), and the per-shot TR of 3D T1 TFE."""
    private_tr = first_float(element_value(ds, 0x2005, 0x1030, MR1), "f")
    if acq.get("RepetitionTime") is None and private_tr and private_tr > 0:
        acq.set("RepetitionTime", round(private_tr / 1000.0, 9), "Philips (2005,1030) repetition time, ms->s")
    technique = (_technique(ds) or "").upper()
    tr_s = acq.get("RepetitionTime")
    if tr_s is None:
        tr_ms = first_float(ds.get("RepetitionTime")) or private_tr
        tr_s = tr_ms / 1000.0 if tr_ms else None
    is_3d = (text(ds.get("MRAcquisitionType")) or text(element_value(ds, 0x2005, 0x10A9, MR1)) or "") == "3D"
    if is_3d and "TFE" in technique and "T1" in technique and tr_s and tr_s < 0.03:
        acq.set("RepetitionTimeExcitation", round(float(tr_s), 9),
                "DICOM (0018,0080) RepetitionTime, ms->s (Philips 3D T1 TFE: per-shot TR, as dcm2niix)")
        acq.note("per-shot-tr", "Philips 3D T1 TFE: (0018,0080) is the TR of one TFE shot, not the shot interval; "
                                "check TI and flip angle instead")


def _set_acceleration(ds: Dataset, acq: Acquisition) -> None:
    if acq.get("ParallelReductionFactorInPlane") is None:
        r = first_float(find_public(ds, 0x00189069, (per_frame_tag(ds),)), "d")
        if r and r > 0:
            acq.set("ParallelReductionFactorInPlane", r,
                    "DICOM (0018,9069) ParallelReductionFactorInPlane (Philips private per-frame (2005,140F))")


_PER_FRAME_COPIES = (
    ("ScanningSequence", 0x00180020), ("SequenceVariant", 0x00180021), ("SequenceName", 0x00180024),
)


def _last_frame_copy(ds: Dataset, tag: int) -> str | None:
    """A classic attribute from the private (2005,140F) copy inside the last PerFrameFunctionalGroups item."""
    try:
        frames = ds.get("PerFrameFunctionalGroupsSequence")
        for frame in reversed(list(frames or [])):
            value = text(find_public(frame, tag, (per_frame_tag(frame),)))
            if value:
                return value
    except Exception:  # noqa: BLE001 - malformed per-frame sequence: treated as absent
        return None
    return None


def _set_from_private_copies(ds: Dataset, acq: Acquisition) -> None:
    """Enhanced objects keep some classic attributes only in the private per-frame sequence (2005,140F)."""
    for name, tag in _PER_FRAME_COPIES:
        if acq.get(name) is None:
            value = text(find_public(ds, tag, (per_frame_tag(ds),)))
            label = f"DICOM ({tag >> 16:04X},{tag & 0xFFFF:04X}) {name} in Philips (2005,140F)"
            if value is None:
                value = _last_frame_copy(ds, tag)
                label += " of the last per-frame item (dcm2niix reads frames in order and keeps the last value)"
            acq.set(name, value, label)
    if acq.get("InversionTime") is None:
        delay = first_float(element_value(ds, 0x2001, 0x101B, IMG1), "f")
        if delay and delay > 0:
            acq.set("InversionTime", round(delay / 1000.0, 9), "Philips (2001,101B) prepulse delay, ms->s")


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Fill Philips-specific parameters of a series from its representative header."""
    set_manufacturer(ds, acq)
    _set_from_private_copies(ds, acq)
    technique = _technique(ds)
    if technique:
        acq.set("PulseSequenceName", technique, "Philips (2001,1020) MR scanning technique description")
    _set_tr(ds, acq)
    _set_acceleration(ds, acq)
    if acq.get("PhaseEncodingDirection") is None:
        acq.note("pe-polarity-unknown", "Philips DICOM records the phase-encoding axis only, never its polarity")


SPEC = VendorSpec(
    name="philips", manufacturer=vendor_pattern("philips"), dcm2niix=(("PH", "Philips"),),
    # (2001,xx03/04/20) b-value, diffusion label, technique; (2005,xxB0-B2) gradient, (2005,xx0F) per-frame copy
    per_file_private={0x2001: frozenset({0x03, 0x04, 0x20}), 0x2005: frozenset({0xB0, 0xB1, 0xB2, 0x0F})},
    last_group=PER_FILE_LAST_GROUP, early_group=PER_FILE_EARLY_GROUP, needs_last_group=needs_last_group,
    series_params=series_params, file_diffusion=file_diffusion,
)
