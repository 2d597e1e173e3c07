"""Public DICOM attributes to BIDS names and units (as dcm2niix writes them), with provenance."""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import enhanced
from protocheck.sources.dicom._privtags import getv, keyword_tag
from protocheck.sources.dicom._rawnum import is_plain_raw, plain_numbers
from protocheck.sources.dicom.fastscan import elements
from protocheck.sources.dicom.registry import DCM2NIIX_NAMES
from protocheck.sources.geometry import set_slice_orientation

# keyword, tag label, BIDS name, scale, functional-group fallback (macro, keyword)
_NUMERIC: tuple[tuple[str, str, str, float, tuple[str, str] | None], ...] = (
    ("RepetitionTime", "(0018,0080)", "RepetitionTime", 0.001, ("MRTimingAndRelatedParametersSequence",
                                                                "RepetitionTime")),
    ("EchoTime", "(0018,0081)", "EchoTime", 0.001, ("MREchoSequence", "EffectiveEchoTime")),
    ("InversionTime", "(0018,0082)", "InversionTime", 0.001, ("MRModifierSequence", "InversionTimes")),
    ("FlipAngle", "(0018,1314)", "FlipAngle", 1.0, ("MRTimingAndRelatedParametersSequence", "FlipAngle")),
    ("MagneticFieldStrength", "(0018,0087)", "MagneticFieldStrength", 1.0, None),
    ("SliceThickness", "(0018,0050)", "SliceThickness", 1.0, ("PixelMeasuresSequence", "SliceThickness")),
    ("SpacingBetweenSlices", "(0018,0088)", "SpacingBetweenSlices", 1.0,
     ("PixelMeasuresSequence", "SpacingBetweenSlices")),
    ("PixelBandwidth", "(0018,0095)", "PixelBandwidth", 1.0, ("MRImagingModifierSequence", "PixelBandwidth")),
    ("EchoTrainLength", "(0018,0091)", "EchoTrainLength", 1.0,
     ("MRTimingAndRelatedParametersSequence", "EchoTrainLength")),
    ("NumberOfAverages", "(0018,0083)", "NumberOfAverages", 1.0, ("MRAveragesSequence", "NumberOfAverages")),
    ("ParallelReductionFactorInPlane", "(0018,9069)", "ParallelReductionFactorInPlane", 1.0,
     ("MRModifierSequence", "ParallelReductionFactorInPlane")),
)
_TEXT: tuple[tuple[str, str, str], ...] = (
    ("Manufacturer", "(0008,0070)", "Manufacturer"),
    ("ManufacturerModelName", "(0008,1090)", "ManufacturersModelName"),
    ("DeviceSerialNumber", "(0018,1000)", "DeviceSerialNumber"),
    ("StationName", "(0008,1010)", "StationName"),
    ("InstitutionName", "(0008,0080)", "InstitutionName"),
    ("MRAcquisitionType", "(0018,0023)", "MRAcquisitionType"),
    ("SequenceName", "(0018,0024)", "SequenceName"),
    ("PulseSequenceName", "(0018,9005)", "PulseSequenceName"),
    ("SeriesDescription", "(0008,103E)", "SeriesDescription"),
    ("ProtocolName", "(0018,1030)", "ProtocolName"),
    ("Modality", "(0008,0060)", "Modality"),
    ("ReceiveCoilName", "(0018,1250)", "ReceiveCoilName"),
    ("InPlanePhaseEncodingDirection", "(0018,1312)", "InPlanePhaseEncodingDirectionDICOM"),
    ("SOPClassUID", "(0008,0016)", "SOPClassUID"),
)
_JOINED = (("SoftwareVersions", "(0018,1020)", "SoftwareVersions"),
           ("ScanningSequence", "(0018,0020)", "ScanningSequence"),
           ("SequenceVariant", "(0018,0021)", "SequenceVariant"),
           ("ScanOptions", "(0018,0022)", "ScanOptions"))


def multi(v: Any) -> list:
    """A DICOM value as a list (single values become one-element lists, None an empty list)."""
    if v is None or v == "":
        return []
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        return list(v)
    return [v]


def to_float(v: Any) -> float | None:
    """A finite float, or None for empty/garbage values."""
    try:
        f = float(multi(v)[0]) if multi(v) else None
    except (TypeError, ValueError):
        return None
    return f if f is not None and f == f and abs(f) != float("inf") else None


def _clean(x: float) -> float | int:
    r = round(x, 6)
    return int(r) if float(r).is_integer() and abs(r) > 0 else r


def _number(ds: Dataset, keyword: str) -> float | None:
    """``to_float(getv(ds, keyword))``; a still-raw plain DS/IS value read from its bytes (_rawnum.plain_numbers:
    the numbers pydicom decodes), without a pydicom conversion."""
    tag = keyword_tag(keyword)
    el = elements(ds).get(tag) if tag is not None else None
    if el is not None and is_plain_raw(el):
        nums = plain_numbers(el)
        if nums:
            return nums[0] if math.isfinite(nums[0]) else None
    return to_float(getv(ds, keyword))


_PLAIN_TEXT_VRS = ("LO", "SH", "CS")


def _plain_text(ds: Dataset, keyword: str) -> str | None:
    """The text of a still-raw LO/SH/CS value of plain ASCII (no escape, no NUL but its padding), padding removed,
    its values still joined by backslashes; None for anything else (pydicom decodes it).

    pydicom gives such a value as this text (one value) or its parts (several): ASCII decodes alike in every
    character set it knows, and trailing blanks and NULs are all it removes (of the whole value for CS, of each
    part for LO/SH: the same parts once they are stripped, as every reader here strips them)."""
    el = elements(ds).get(keyword_tag(keyword))
    if el is None or not is_plain_raw(el) or el.VR not in _PLAIN_TEXT_VRS:
        return None
    raw = (el.value or b"").rstrip(b" \x00")
    if not raw.isascii() or b"\x00" in raw or b"\x1b" in raw:
        return None
    return raw.decode("ascii")


def public_params(ds: Dataset, acq: Acquisition) -> None:
    """Set every public parameter this header carries (top level first, then functional groups)."""
    for kw, tag, name, scale, fg in _NUMERIC:
        v = _number(ds, kw)
        src = f"DICOM {tag} {kw}"
        if v is None and fg is not None:
            v = to_float(enhanced.fg_value(ds, fg[0], fg[1]))
            src = f"DICOM enhanced {fg[0]} {fg[1]}"
        if v is None:
            continue
        if scale != 1.0:
            src += ", ms->s"
        acq.set(name, _clean(v * scale), src)
    for kw, tag, name in _TEXT:
        text = _plain_text(ds, kw)
        value = getv(ds, kw) if text is None or "\\" in text else text
        if value not in (None, ""):
            acq.set(name, str(value).strip(), f"DICOM {tag} {kw}")
    _manufacturer(ds, acq)
    for kw, tag, name in _JOINED:
        text = _plain_text(ds, kw)
        if text is None:
            vals = [str(x).strip() for x in multi(getv(ds, kw))]
        else:
            vals = [x.strip() for x in text.split("\\")] if text else []
        if vals:
            acq.set(name, "\\".join(vals), f"DICOM {tag} {kw}")
    _fg_text(ds, acq)
    _image_type(ds, acq)
    _matrix(ds, acq)
    _mt(ds, acq)
    iop, where = _orientation(ds)
    if len(iop) == 6 and None not in iop:
        acq.set("ImageOrientationPatientDICOM", [round(x, 6) for x in iop], f"DICOM (0020,0037){where}")
        set_slice_orientation(acq)


def _orientation(ds: Dataset) -> tuple[list, str]:
    """ImageOrientationPatient at top level, else from the shared or first per-frame PlaneOrientation group."""
    top = getv(ds, "ImageOrientationPatient")
    if top is not None:
        return [to_float(x) for x in multi(top)], ""
    for seq_kw, label in (("SharedFunctionalGroupsSequence", "shared"),
                          ("PerFrameFunctionalGroupsSequence", "first per-frame")):
        groups = ds.get(seq_kw)
        if not groups:
            continue
        planes = groups[0].get("PlaneOrientationSequence")
        if planes and planes[0].get("ImageOrientationPatient") is not None:
            return ([to_float(x) for x in multi(planes[0].ImageOrientationPatient)],
                    f" in {label} PlaneOrientationSequence")
    return [], ""




def normalise_manufacturer(raw: str | None) -> str | None:
    """The vendor name dcm2niix writes for a (0008,0070) Manufacturer value, or None if unrecognised.

    dcm2niix (nii_dicom.cpp dcmStrManufacturer) recognises the vendor by the first letters of (0008,0070) and
    writes a fixed name to the sidecar (the vendor specs' ``dcm2niix`` prefixes, plus vendors without a module)."""
    up = str(raw or "").strip().upper()
    for prefix, name in DCM2NIIX_NAMES:
        if up.startswith(prefix):
            return name
    return None


def _manufacturer(ds: Dataset, acq: Acquisition) -> None:
    raw = str(getv(ds, "Manufacturer", "") or "").strip()
    name = normalise_manufacturer(raw)
    if name is not None:
        acq.set("Manufacturer", name, f"DICOM (0008,0070) Manufacturer '{raw}', normalised as dcm2niix")


def _fg_text(ds: Dataset, acq: Acquisition) -> None:
    if acq.get("SequenceName") is None and is_enhanced(ds):
        v = getv(ds, "PulseSequenceName")
        acq.set("SequenceName", str(v).strip() if v else None, "DICOM (0018,9005) PulseSequenceName (enhanced "
                "object without (0018,0024)), as dcm2niix v1.0.20260620 names it")
    if acq.get("ReceiveCoilName") is None:
        v = enhanced.fg_value(ds, "MRReceiveCoilSequence", "ReceiveCoilName")
        acq.set("ReceiveCoilName", str(v).strip() if v else None, "DICOM enhanced MRReceiveCoilSequence")
    if acq.get("InPlanePhaseEncodingDirectionDICOM") is None:
        v = enhanced.fg_value(ds, "MRFOVGeometrySequence", "InPlanePhaseEncodingDirection")
        v = "COL" if str(v or "").strip().upper() == "COLUMN" else v
        acq.set("InPlanePhaseEncodingDirectionDICOM", str(v).strip() if v else None,
                "DICOM enhanced MRFOVGeometrySequence InPlanePhaseEncodingDirection")


def phase_encoding_axis(acq: Acquisition) -> None:
    """PhaseEncodingAxis ("i"/"j") when the in-plane axis is known but its polarity is not, as dcm2niix
    nii_SaveBIDSX writes it (not for 3D acquisitions unless EchoTrainLength > 1). PhaseEncodingDirection stays
    unknown: a bare "j" would claim positive polarity (BIDS), so no sign is ever guessed."""
    if acq.get("PhaseEncodingDirection") is not None:
        return
    inplane = str(acq.get("InPlanePhaseEncodingDirectionDICOM") or "").strip().upper()
    axis = {"ROW": "i", "COL": "j", "COLUMN": "j"}.get(inplane)
    etl = to_float(acq.get("EchoTrainLength"))
    if axis is None or (acq.get("MRAcquisitionType") == "3D" and not (etl and etl > 1)):
        return
    acq.set("PhaseEncodingAxis", axis, f"DICOM (0018,1312) InPlanePhaseEncodingDirection {inplane}; polarity "
            "not recorded, so PhaseEncodingDirection is unknown (dcm2niix nii_SaveBIDSX PhaseEncodingAxis)")


def is_enhanced(ds: Dataset) -> bool:
    """True for an enhanced (multi-frame functional groups) object."""
    return enhanced.is_multiframe(ds)


def _image_type(ds: Dataset, acq: Acquisition) -> None:
    it = [str(x).strip() for x in multi(getv(ds, "ImageType"))]
    if it:
        acq.set("ImageType", it, "DICOM (0008,0008) ImageType")
        up = [x.upper() for x in it]
        if "ND" in up:
            acq.set("NonlinearGradientCorrection", False, "DICOM ImageType ND")
        elif "DIS2D" in up or "DIS3D" in up:
            acq.set("NonlinearGradientCorrection", True, "DICOM ImageType DIS2D/DIS3D")


def _matrix(ds: Dataset, acq: Acquisition) -> None:
    am = [to_float(x) for x in multi(getv(ds, "AcquisitionMatrix"))]
    nz = [int(x) for x in am if x]
    if len(nz) == 2:
        acq.set("AcquisitionMatrix", nz, "DICOM (0018,1310) AcquisitionMatrix (non-zero pair)")
        return
    fe = to_float(enhanced.fg_value(ds, "MRFOVGeometrySequence", "MRAcquisitionFrequencyEncodingSteps"))
    pe = to_float(enhanced.fg_value(ds, "MRFOVGeometrySequence", "MRAcquisitionPhaseEncodingStepsInPlane"))
    if fe and pe:
        acq.set("AcquisitionMatrix", [int(fe), int(pe)], "DICOM enhanced MRFOVGeometrySequence (freq, phase)")


def _mt(ds: Dataset, acq: Acquisition) -> None:
    v = getv(ds, "MagnetizationTransfer")
    src = "DICOM (0018,9020) MagnetizationTransfer"
    if v in (None, ""):
        v = enhanced.fg_value(ds, "MRImagingModifierSequence", "MagnetizationTransfer")
        src = "DICOM enhanced MRImagingModifierSequence MagnetizationTransfer"
    if v not in (None, ""):
        acq.set("MTState", str(v).strip().upper() not in ("NONE", "OFF"), src)


def pixel_spacing(ds: Dataset) -> tuple[list[float] | None, str]:
    """In-plane PixelSpacing [row, col] mm (top level or PixelMeasuresSequence) and its provenance."""
    ps = [to_float(x) for x in multi(getv(ds, "PixelSpacing"))]
    if len(ps) == 2 and None not in ps:
        return ps, "DICOM (0028,0030) PixelSpacing"  # type: ignore[return-value]
    ps = [to_float(x) for x in multi(enhanced.fg_value(ds, "PixelMeasuresSequence", "PixelSpacing"))]
    if len(ps) == 2 and None not in ps:
        return ps, "DICOM enhanced PixelMeasuresSequence PixelSpacing"  # type: ignore[return-value]
    return None, ""


def acquired_at(ds: Dataset) -> _dt.datetime | None:
    """Acquisition date-time (internal only), robust to empty/garbage dates."""
    from protocheck.privacy import parse_dicom_date

    for dkw, tkw in (("AcquisitionDate", "AcquisitionTime"), ("SeriesDate", "SeriesTime"),
                     ("StudyDate", "StudyTime"), ("ContentDate", "ContentTime")):
        d = parse_dicom_date(ds.get(dkw))
        if d is None:
            continue
        t = str(ds.get(tkw, "") or "").strip()
        try:
            hh, mm, ss = int(t[0:2]), int(t[2:4] or 0), int(t[4:6] or 0)
            return _dt.datetime(d.year, d.month, d.day, hh, mm, ss)
        except (ValueError, IndexError):
            return _dt.datetime(d.year, d.month, d.day)
    return None


_DERIVED_RX = r"(?i)\b(ADC|TRACEW?|FA|COLFA|TENSOR(_B0)?|EXP|MPR|MIP|MNIP|MINIP|MOCO|SWI_?PROC|PERFUSION_WEIGHTED|" \
              r"RELCBF|CBF|MEAN|T2STAR_MAP|T1_MAP)\b"
_DERIVED_IT = {"ADC", "TRACEW", "TRACE", "FA", "TENSOR", "EXP", "MPR", "MIP", "MNIP", "MINIP", "MOCO",
               "PROJECTION IMAGE", "COLFA", "TENSOR_B0", "EADC", "CALC_BV", "RELCBF", "SUBTRACTION"}
_LOC_RX = r"(?i)(^|[^a-z])(loc|localizer|localiser|scout|survey|3[- ]?plane|tri[- ]?pilot)([^a-z]|$)"


def assign_roles(ds: Dataset, acq: Acquisition) -> None:
    """Roles localizer / derived / phase / non-image with a Note saying why (never dropped silently)."""
    import re

    it = [str(x).strip().upper() for x in multi(getv(ds, "ImageType"))]
    desc = f"{ds.get('SeriesDescription', '') or ''} {ds.get('ProtocolName', '') or ''}".strip()
    itxt = "\\".join(it)
    if "LOCALIZER" in it:
        acq.roles.add("localizer")
        acq.note("localizer", f"localizer: ImageType {itxt}")
    if (len(it) > 0 and it[0] == "DERIVED") or (len(it) > 1 and it[1] == "SECONDARY"):
        acq.roles.add("derived")
        acq.note("derived", f"derived: ImageType {itxt}")
    else:
        hit = sorted(set(it[2:]) & _DERIVED_IT)
        if hit:
            acq.roles.add("derived")
            acq.note("derived", f"derived: ImageType {itxt} ({', '.join(hit)})")
    if len(it) > 2 and ("P" in it[2:4] or "PHASE" in it[2:]):
        acq.roles.add("phase")
        acq.note("phase", f"phase image: ImageType {itxt}")
    if "localizer" not in acq.roles and "derived" not in acq.roles and re.search(_LOC_RX, desc):
        acq.roles.add("localizer")
        acq.note("localizer", f"localizer: series name '{desc}'")
    sop = str(getv(ds, "SOPClassUID", "") or "")
    if not acq.roles & {"mrs"} and "Rows" not in ds and "PerFrameFunctionalGroupsSequence" not in ds \
            and sop and not sop.startswith("1.2.840.10008.5.1.4.1.1.4"):
        acq.roles.add("non-image")
        acq.note("non-image", f"non-image object: SOP class {sop}")
