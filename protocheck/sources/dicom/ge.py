"""GE private header: b-values/vectors, ASSET, HyperBand, echo spacing, PE polarity, roles.

Implements GE's documented private tags as dcm2niix reads them (dcm2niix GE/README.md and nii_dicom.cpp):
(0043,1039) b-value (first element, modulo 1e9), (0019,10BB/BC/BD) gradient in the logical frame,
(0043,1083) ASSET R factors stored as 1/R, (0043,10B6) multiband factor, (0043,102C) echo spacing in
microseconds, (0018,9034) or (0043,102A) for the phase-encoding polarity, (0043,102F) complex component,
(0019,1017) series plane (256 = 3-plane localizer), (0043,107C) epiRT group delay (not part of TR).
"""

from __future__ import annotations

import math
import struct

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom._privtags import (
    element_value, find_public, first_float, floats, is_zero_vector, set_manufacturer, text, unit_vector,
)
from protocheck.sources.dicom._rawnum import first_float_at
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.dicom.phase import bids_pe_direction
from protocheck.sources.dicom.vendorspec import VendorSpec
from protocheck.vendor_ids import vendor_pattern

PER_FILE_LAST_GROUP: int = 0x0043

ACQU = "GEMS_ACQU_01"
PARM = "GEMS_PARM_01"
_COMPLEX = {0: "MAGNITUDE", 1: "PHASE", 2: "REAL", 3: "IMAGINARY"}


def bvalue(ds: Dataset) -> float | None:
    """b-value from (0043,1039) first element modulo 1e9 (some software adds a 1e9 bias, dcm2niix #602)."""
    v = first_float_at(ds, 0x0043, 0x1039, PARM)
    if v is None:
        return None
    return float(int(round(v)) % 1_000_000_000)


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """One GE file's b-value, gradient (logical frame: freq, phase, slice) and directionality."""
    b = bvalue(ds)
    if b is None:
        return None
    if b <= 0:
        n_t2 = first_float_at(ds, 0x0019, 0x10DF, ACQU)
        n_dirs = first_float_at(ds, 0x0019, 0x10E0, ACQU)
        if not n_t2 and not n_dirs:   # (0019,10DF/10E0) T2 and direction counts 0: not a diffusion scan
            return None
    vec = unit_vector([first_float_at(ds, 0x0019, e, ACQU) for e in (0x10BB, 0x10BC, 0x10BD)])
    if b <= 0:
        return DiffusionSample(bvalue=0.0, vector=vec if vec else None, directionality="NONE")
    # a b>0 image without a gradient is GE's combined/trace image, not a direction
    directionality = "ISOTROPIC" if is_zero_vector(vec) else "DIRECTIONAL"
    return DiffusionSample(bvalue=b, vector=vec, directionality=directionality)


def asset_factors(ds: Dataset) -> tuple[float | None, float | None]:
    """(in-plane R, slice R) from (0043,1083), which stores their reciprocals."""
    vals = floats(element_value(ds, 0x0043, 0x1083, PARM))
    out: list[float | None] = []
    for i in (0, 1):
        v = vals[i] if len(vals) > i else None
        out.append(round(1.0 / v, 4) if v and v > 0 else None)
    return out[0], out[1]


def _phase_lines(ds: Dataset) -> int | None:
    """Acquired phase-encoding lines from (0018,1310) AcquisitionMatrix (freqRows, freqCols, phaseRows, phaseCols)."""
    vals = [v for v in floats(ds.get("AcquisitionMatrix")) if v is not None]
    if len(vals) != 4:
        return None
    pe = text(ds.get("InPlanePhaseEncodingDirection")) or ""
    if pe.startswith("COL"):
        lines = vals[2] or vals[3] or vals[1]
    else:
        lines = vals[3] or vals[2] or vals[0]
    return int(lines) if lines else None


def _recon_pe(ds: Dataset) -> int | None:
    pe = text(ds.get("InPlanePhaseEncodingDirection")) or ""
    dim = ds.get("Rows") if pe.startswith("COL") else ds.get("Columns")
    try:
        return int(dim) if dim else None
    except (TypeError, ValueError):
        return None


def readout_times(ds: Dataset) -> tuple[float, float] | None:
    """(EffectiveEchoSpacing, TotalReadoutTime) in s with the dcm2niix GE formula (ASSET and PFF rounding)."""
    esp = first_float(element_value(ds, 0x0043, 0x102C, PARM), "h")
    lines, recon = _phase_lines(ds), _recon_pe(ds)
    if not esp or esp <= 0 or not lines or not recon or recon < 2:
        return None
    r, _ = asset_factors(ds)
    r = r or 1.0
    options = [o.upper() for o in (text(ds.get("ScanOptions")) or "").split("\\")]
    round_factor = 4.0 if "PFF" in options else 2.0
    trt = ((math.ceil(lines / r / round_factor) * round_factor) - 1.0) * esp * 1e-6
    return trt / (recon - 1), trt


def _kydir_polarity(ds: Dataset) -> bool | None:
    """Polarity from the (0043,102A) user-define-data block (rdbm): ky traversal XOR pepolar bit; EPI only."""
    raw = element_value(ds, 0x0043, 0x102A, PARM)
    if not isinstance(raw, (bytes, bytearray)) or len(raw) < 916:
        return None
    try:
        off = struct.unpack_from("<I", raw, 24)[0]
        if len(raw) < off + 1040:
            return None
        version = struct.unpack_from("<f", raw, off)[0]
        if not 5.0 <= version <= 40.0:
            return None
        hdr, kydir_off = off, 0x0394
        if version >= 25.002:
            hdr += 0x004C
            kydir_off -= 0x008C
        if not struct.unpack_from("<H", raw, hdr + 0x003A)[0] & 0x800:   # not EPI
            return None
        pepolar = bool(struct.unpack_from("<H", raw, hdr + 0x0030)[0] & 0x0004)
        ky_dir = struct.unpack_from("<H", raw, hdr + kydir_off)[0]
    except struct.error:
        return None
    if ky_dir not in (0, 2):
        return None
    return (ky_dir == 2) != pepolar


def flipped(ds: Dataset) -> tuple[bool | None, str]:
    """Whether GE stored the phase encoding 'flipped' (dcm2niix PhaseEncodingPolarityGE), and the source."""
    reorder = text(find_public(ds, 0x00189034, (0x00189125,)))
    if reorder in ("LINEAR", "REVERSE_LINEAR"):
        return reorder == "LINEAR", f"DICOM (0018,9034) RectilinearPhaseEncodeReordering {reorder}"
    pol = _kydir_polarity(ds)
    if pol is not None:
        return pol, "GE (0043,102A) user define data, ky direction and pepolar bit"
    return None, ""


# GE epi_pepolar (0019,10B3) UserData12 polarity scheme: 0 forward, 1 reverse, 2 reverse-forward, 3 forward-reverse
# (dcm2niix readDICOMx kPulseSequenceNameGE -> kGE_EPI_PEPOLAR_FWD combined with kUserData12GE; issue 532).
_PEPOLAR = {1.0: "reverse", 2.0: "reverse then forward", 3.0: "forward then reverse"}


def pepolar_scheme(ds: Dataset) -> str | None:
    """The polarity scheme of a GE epi_pepolar series that is not plain forward, else None."""
    psn = text(element_value(ds, 0x0019, 0x109C, ACQU)) or ""
    if "epi_pepolar" not in psn:
        return None
    scheme = first_float(element_value(ds, 0x0019, 0x10B3, ACQU))
    if scheme == 0.0:
        return None
    scheme = 2.0 if scheme is None else scheme   # absent: the sequence's default, 2
    return _PEPOLAR.get(scheme, f"code {scheme:g}")


def _set_phase_encoding(ds: Dataset, acq: Acquisition) -> None:
    pe = text(ds.get("InPlanePhaseEncodingDirection")) or ""
    if (text(ds.get("MRAcquisitionType")) or "") == "3D" or pe[:3] not in ("COL", "ROW"):
        return
    scheme = pepolar_scheme(ds)
    if scheme is not None:   # volumes of both polarities (or all reversed while the header says otherwise)
        acq.note("ge-pepolar", f"GE epi_pepolar series, (0019,10B3) polarity scheme '{scheme}': the volumes' "
                 "phase-encoding polarity is not the one the header states, so PhaseEncodingDirection is unknown")
        return
    is_flipped, source = flipped(ds)
    if is_flipped is None:
        return
    # dcm2niix nii_SaveBIDSX "make GE match Siemens": Unflipped is a positive polarity, Flipped a negative one
    acq.set("PhaseEncodingDirection", bids_pe_direction(pe, 0 if is_flipped else 1),
            f"{source} ({'Flipped' if is_flipped else 'Unflipped'}) with (0018,1312) {pe}")


def _set_acceleration(ds: Dataset, acq: Acquisition) -> None:
    r_pe, _ = asset_factors(ds)
    if r_pe:
        acq.set("ParallelReductionFactorInPlane", r_pe, "GE (0043,1083) ASSET, 1/x")
    mb = first_float(element_value(ds, 0x0043, 0x10B6, PARM))
    if mb and mb >= 1:
        acq.set("MultibandAccelerationFactor", mb, "GE (0043,10B6) multiband parameters, first value")
    times = readout_times(ds)
    if times:
        src = "GE (0043,102C) echo spacing with (0018,1310), (0043,1083) ASSET, ScanOptions PFF (dcm2niix formula)"
        acq.set("EffectiveEchoSpacing", round(times[0], 9), src)
        acq.set("TotalReadoutTime", round(times[1], 9), src)


def _set_roles_and_notes(ds: Dataset, acq: Acquisition) -> None:
    plane = first_float(element_value(ds, 0x0019, 0x1017, ACQU), "h")
    if plane == 256:
        acq.roles.add("localizer")
        acq.note("localizer", "localizer: GE (0019,1017) SeriesPlane 256 (3-plane localizer)")
    comp = first_float(element_value(ds, 0x0043, 0x102F, PARM), "h")
    if comp is not None and int(comp) != 0:
        acq.roles.add("phase")
        acq.note("complex-component",
                 f"GE (0043,102F) private image type {int(comp)} = {_COMPLEX.get(int(comp), 'other')}, not magnitude")
    delay = first_float(element_value(ds, 0x0043, 0x107C, PARM), "f")
    if delay and delay > 0:
        acq.note("ge-group-delay", f"GE epiRT group delay (0043,107C) {delay:g} s is not included in "
                                   "RepetitionTime; the volume sampling interval is TR + group delay")


def _is_per_shot_tr(ds: Dataset) -> bool:
    """3D inversion-prepared gradient echo (IR-FSPGR/BRAVO): (0018,0080) is the excitation TR of one shot."""
    if (text(ds.get("MRAcquisitionType")) or "") != "3D":
        return False
    seq = (text(ds.get("ScanningSequence")) or "").upper().split("\\")
    opts = (text(ds.get("ScanOptions")) or "").upper().split("\\")
    tr = first_float(ds.get("RepetitionTime"))
    prepared = "IR" in seq or "IR_GEMS" in opts or bool(first_float(ds.get("InversionTime")))
    return prepared and "GR" in seq and tr is not None and 0 < tr < 30


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Fill GE-specific parameters of a series from its representative header."""
    set_manufacturer(ds, acq)
    psn = text(element_value(ds, 0x0019, 0x109C, ACQU))
    if psn:
        acq.set("PulseSequenceName", psn, "GE (0019,109C) pulse sequence name")
        if acq.get("SequenceName") is None:
            acq.set("SequenceName", psn, "GE (0019,109C) pulse sequence name (as dcm2niix SequenceName)")
    _set_acceleration(ds, acq)
    _set_phase_encoding(ds, acq)
    _set_roles_and_notes(ds, acq)
    if _is_per_shot_tr(ds):
        tr = first_float(ds.get("RepetitionTime"))
        acq.set("RepetitionTimeExcitation", round(tr / 1000.0, 9),  # type: ignore[operator]  # None: noted
                "DICOM (0018,0080) RepetitionTime, ms->s (GE 3D IR-prepared GRE: per-shot TR)")
        acq.note("per-shot-tr", "GE 3D IR-prepared gradient echo (IR-FSPGR/BRAVO): (0018,0080) is the excitation "
                                "TR of one shot, not the inversion repetition time; check TI and flip angle instead")


SPEC = VendorSpec(
    name="ge", manufacturer=vendor_pattern("ge"), dcm2niix=(("GE", "GE"),),
    # (0019,xxBB-BD) gradient, (0019,xxDF/E0) T2 and direction counts; (0043,xx39) b-value
    per_file_private={0x0019: frozenset({0xBB, 0xBC, 0xBD, 0xDF, 0xE0}), 0x0043: frozenset({0x39})},
    last_group=PER_FILE_LAST_GROUP, series_params=series_params, file_diffusion=file_diffusion,
)
