"""Siemens: CSA image/series headers (VB/VD/VE, read as nibabel does), Phoenix ASCCONV, mosaic, XA exports."""
from __future__ import annotations

import math
import re
import struct
from typing import Any

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import csa
from protocheck.sources.dicom import siemens_xa as xa
from protocheck.sources.dicom._rawnum import UNKNOWN, is_plain_raw, plain_numbers
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.dicom.fastscan import elements
from protocheck.sources.dicom.phase import bids_pe_direction
from protocheck.sources.dicom.vendorspec import VendorSpec
from protocheck.vendor_ids import vendor_pattern

# Per-file values: (0019,100C/100E) diffusion, CSA image header in (0029,1010) for older exports.
PER_FILE_LAST_GROUP: int = 0x0029

_PF = {1: 0.5, 2: 0.625, 4: 0.75, 8: 0.875, 16: 1.0}   # ucPhasePartialFourier code -> fraction
_ASC_KEYS = ("sPat.lAccelFactPE", "sSliceAcceleration.lMultiBandFactor", "sKSpace.ucPhasePartialFourier",
             "sKSpace.lPhaseEncodingLines", "sKSpace.lBaseResolution", "sPat.lAccelFact3D", "tSequenceFileName",
             "sWipMemBlock.alFree[13]", "sWiPMemBlock.alFree[13]", "alTI[2]")


def _csa(ds: Dataset, kind: str) -> dict | None:
    """The parsed CSA header ("image" or "series") or None when absent/unreadable."""
    try:
        return csa.header(ds, kind)
    except Exception:  # noqa: BLE001 - what nibabel rejects is no CSA header
        return None


def _csa_items(csa: dict | None, name: str) -> list:
    if not csa:
        return []
    tag = csa.get("tags", {}).get(name)
    return list(tag.get("items") or []) if tag else []


def _csa_scalar(csa: dict | None, name: str) -> Any:
    items = _csa_items(csa, name)
    return items[0] if items else None


def _private(ds: Dataset, creator_rx: str, elem: int, group: int) -> Any:
    """A private value by creator (regex) and element offset, without knowing the block number."""
    for tag in xa.creator_tags(ds, group):   # only the creators present (no 240 lookups)
        block = tag & 0xFF
        cr = ds.get(tag)
        if cr is None:
            continue
        if re.search(creator_rx, str(cr.value), re.I):
            el = ds.get((group, (block << 8) | elem))
            if el is not None:
                return el.value
    return None


def _vec(v: Any) -> tuple[float, float, float] | None:
    try:
        t = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        return None
    return t if len(t) == 3 and all(math.isfinite(x) for x in t) else None


_MR_HEADER = re.compile(rb"SIEMENS MR HEADER", re.I)
_FD3 = struct.Struct("<3d")


def _raw_mr_header(ds: Dataset, elem: int) -> Any:
    """``_private(ds, "SIEMENS MR HEADER", elem, 0x0019)`` for the b-value (IS, one value) and gradient (FD, three
    values) decoded from raw explicit-VR bytes (creators plain ASCII LO); UNKNOWN when pydicom must decode."""
    d = elements(ds)
    for tag in xa.creator_tags(ds, 0x0019):
        cr = d.get(tag)
        if not is_plain_raw(cr) or cr.VR != "LO" or not (cr.value or b"").isascii():
            return UNKNOWN
        if not _MR_HEADER.search(cr.value or b""):
            continue
        el = d.get(0x00190000 | ((tag & 0xFF) << 8) | elem)
        if el is None:
            continue
        if not is_plain_raw(el):
            return UNKNOWN
        if el.VR == "FD" and len(el.value or b"") == 24:
            return _FD3.unpack(el.value or b"")
        nums = plain_numbers(el) if el.VR == "IS" else None
        return nums[0] if nums is not None and len(nums) == 1 else UNKNOWN
    return None


def _mr_header(ds: Dataset, elem: int) -> Any:
    got = _raw_mr_header(ds, elem)
    return _private(ds, r"SIEMENS MR HEADER", elem, 0x0019) if got is UNKNOWN else got


def file_diffusion(ds: Dataset) -> DiffusionSample | None:
    """b-value / direction of one Siemens file: (0019,100C/100E), else the CSA image header."""
    b = _mr_header(ds, 0x0C)
    vec = _vec(_mr_header(ds, 0x0E))
    direc = None
    if b is None:
        csa = _csa(ds, "image")
        b = _csa_scalar(csa, "B_value")
        vec = vec or _vec(_csa_items(csa, "DiffusionGradientDirection"))
        d = _csa_scalar(csa, "DiffusionDirectionality")
        direc = str(d).strip().upper() if d else None
    if b is None:
        seq = str(ds.get("SequenceName", "") or "")
        m = re.search(r"ep_b(\d+)", seq)
        if m and "#" not in seq and int(m.group(1)) == 0:
            return DiffusionSample(0.0, None, "NONE")
        return None
    try:
        bval = float(b)
    except (TypeError, ValueError):
        return None
    if direc is None:
        direc = "NONE" if bval < 1 else ("DIRECTIONAL" if vec is not None else "ISOTROPIC")
    return DiffusionSample(bval, vec, direc)


# Searched for instead of the keys, one pass each: every key holds one of them, so every line that can match is
# tried (a line holding a needle but no key does not match: it gives nothing). Six passes instead of ten.
_ASC_NEEDLES = ("sPat.lAccelFact", "sSliceAcceleration.lMultiBandFactor", "sKSpace.", "tSequenceFileName",
                "MemBlock.alFree[13]", "alTI[2]")


def parse_ascconv(text: str) -> dict[str, str]:
    """The ### ASCCONV BEGIN ... END ### key = value lines of a Phoenix protocol (only the keys we use)."""
    text = text.replace("\r", "\n")
    lines: dict[int, tuple[str, str]] = {}   # start of a line that holds a key -> (key, value) if it matches
    for needle in _ASC_NEEDLES:   # str.find skips the long text far faster than the regular expression can
        at = text.find(needle)
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            if start not in lines:
                m = _ASC_LINE.match(text, start)   # a match starts at a line start: the same lines as findall
                lines[start] = (m.group(1), m.group(2)) if m else ("", "")
            at = text.find(needle, at + len(needle))
    out: dict[str, str] = {}
    for start in sorted(lines):   # in text order: later lines win
        key, value = lines[start]
        if key:
            out[key] = value.strip('"')
    return out


# a line "<key> = <value>" for one of the keys used (a longer name is no match: only blanks or "=" may follow)
_ASC_LINE = re.compile(r"^[^\S\n]*(" + "|".join(re.escape(k) for k in _ASC_KEYS) + r")[^\S\n]*=[^\S\n]*(\S+)",
                       re.MULTILINE)


def _num(v: Any) -> float | None:
    try:
        s = str(v)
        return float(int(s, 16)) if s.lower().startswith("0x") else float(s)
    except (TypeError, ValueError):
        return None


_CMRR_MB_KEY = "sWipMemBlock.alFree[13]"


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Siemens parameters with provenance from the CSA image/series headers or the XA private groups."""
    img = _csa(ds, "image")
    ser = _csa(ds, "series")
    if img or ser:
        _csa_params(ds, img, ser, acq)
    else:
        _xa_params(ds, acq)
    _scout(ds, acq)


def _inplane(ds: Dataset, acq: Acquisition) -> str:
    """(0018,1312) as ROW / COL (enhanced objects spell it COLUMN in MRFOVGeometrySequence)."""
    v = str(ds.get("InPlanePhaseEncodingDirection", "") or acq.get("InPlanePhaseEncodingDirectionDICOM") or "")
    v = v.strip().upper()
    return "COL" if v in ("COL", "COLUMN") else v


def _pe_direction(ds: Dataset, acq: Acquisition, pos: Any, where: str) -> None:
    """PhaseEncodingDirection from the polarity flag and the in-plane axis, as dcm2niix."""
    inplane = _inplane(ds, acq)
    pol = _num(pos)
    if pol is None or inplane not in ("ROW", "COL"):
        return
    acq.set("PhaseEncodingDirection", bids_pe_direction(inplane, int(pol)),
            f"{where} PhaseEncodingDirectionPositive={int(pol)} with (0018,1312) {inplane}")


def _csa_params(ds: Dataset, img: dict | None, ser: dict | None, acq: Acquisition) -> None:
    n_mosaic = _csa_scalar(img, "NumberOfImagesInMosaic")
    itype = [str(x).upper() for x in (ds.get("ImageType") or [])]
    if n_mosaic and "MOSAIC" in itype:
        acq.set("NumberOfSlices", int(n_mosaic), "Siemens CSA image NumberOfImagesInMosaic")
    bw = _num(_csa_scalar(img, "BandwidthPerPixelPhaseEncode"))
    if bw:
        acq.set("BandwidthPerPixelPhaseEncode", bw, "Siemens CSA image BandwidthPerPixelPhaseEncode")
    pos = _csa_scalar(img, "PhaseEncodingDirectionPositive")
    if pos is not None:
        _pe_direction(ds, acq, pos, "Siemens CSA image")
    proto, name = protocol_text(ser)
    if proto:
        _phoenix(parse_ascconv(proto), acq, f"Siemens CSA series {name} ", proto, coil_first=True)
    if (acq.get("MultibandAccelerationFactor") or 1) <= 1:
        _mb_from_slice_times(_csa_items(img, "MosaicRefAcqTimes"), acq)
    txt = _csa_scalar(img, "AcquisitionMatrixText") or _private(ds, r"SIEMENS CSA HEADER", 0x0B, 0x0051)
    _echo_spacing(ds, acq, bw, txt, "CSA BandwidthPerPixelPhaseEncode", _csa_scalar(img, "NumberOfImagesInMosaic"))


def protocol_text(ser: dict | None) -> tuple[str, str]:
    """(ASCCONV protocol text, CSA series tag holding it): MrPhoenixProtocol (VB15 on), MrProtocol (VA/early VB),
    else any series tag with an ASCCONV block, as dcm2niix's siemensCsaAscii searches the whole series header."""
    names = ["MrPhoenixProtocol", "MrProtocol"] + sorted((ser or {}).get("tags", {}))
    for name in names:
        for item in _csa_items(ser, name)[:1]:
            text = str(item)
            if "ASCCONV" in text:
                return text, name
    return "", ""


# the first receive coil element's ID, whatever the coil-select array is called (aRxCoilSelectData on VD/VE,
# asCoilSelectMeas on VA/VB): dcm2niix siemensCsaAscii reads the first "sCoilElementID.tCoilID"
_COIL_LINE = re.compile(r"^[^\S\n]*\S*sCoilElementID\.tCoilID[^\S\n]*=[^\S\n]*(\S+)", re.MULTILINE)
# ASL sequences whose inversion time is alTI[2] (dcm2niix nii_SaveBIDSX: ep2d_pasl, tgse_pasl, to_ep2d_VEPCASL)
_ASL_TI = re.compile(r"(?i)ep2d_pasl|tgse_pasl|to_ep2d_VEPCASL")


def _coil_line(text: str) -> re.Match[str] | None:
    """``_COIL_LINE.search(text)``: a match lies on a line holding "sCoilElementID", so only those lines are tried
    (in text order; str.find skips the long protocol far faster than the search tries every line start)."""
    at, tried = text.find("sCoilElementID"), -1
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        if start != tried:
            m = _COIL_LINE.match(text, start)
            if m:
                return m
            tried = start
        at = text.find("sCoilElementID", at + 1)
    return None


def _phoenix(asc: dict[str, str], acq: Acquisition, src: str, text: str = "", coil_first: bool = False) -> None:
    """Acceleration, partial Fourier, coil and ASL inversion time from the Phoenix ASCCONV keys.

    ``coil_first`` (CSA headers, VA-VE): the protocol's tCoilID is ReceiveCoilName even when (0018,1250) is
    present, as dcm2niix nii_SaveBIDSX writes it (the public or (0051,100F) string becomes its CoilString)."""
    pe = _num(asc.get("sPat.lAccelFactPE"))
    if pe:
        acq.set("ParallelReductionFactorInPlane", int(pe), src + "sPat.lAccelFactPE")
    _phoenix_mb(asc, acq, src)
    pf = _num(asc.get("sKSpace.ucPhasePartialFourier"))
    if pf is not None and int(pf) in _PF:
        acq.set("PartialFourier", _PF[int(pf)], src + "sKSpace.ucPhasePartialFourier")
    m = _coil_line(text.replace("\r", "\n"))
    coil = m.group(1).strip('"') if m else ""
    if coil and (coil_first or acq.get("ReceiveCoilName") is None):
        acq.set("ReceiveCoilName", coil, src + "tCoilID of the first receive coil element")
    ti = _num(asc.get("alTI[2]"))
    seq = asc.get("tSequenceFileName", "")
    if _ASL_TI.search(seq) and ti and ti > 0:
        acq.set("InversionTime", round(ti / 1e6, 9), src + f"alTI[2], us->s (ASL sequence {seq}, as dcm2niix)")


def _phoenix_mb(asc: dict[str, str], acq: Acquisition, src: str) -> None:
    """Product sSliceAcceleration, else the CMRR sequences' WIP block (spelled sWiPMemBlock on VB)."""
    mb = _num(asc.get("sSliceAcceleration.lMultiBandFactor"))
    how = "sSliceAcceleration.lMultiBandFactor"
    for key in (_CMRR_MB_KEY, "sWiPMemBlock.alFree[13]"):
        cmrr = _num(asc.get(key))
        if re.search(r"(?i)cmrr", asc.get("tSequenceFileName", "")) and cmrr and cmrr > 1 and (mb or 1) <= 1:
            # CMRR multiband EPI keeps its slice acceleration in the WIP block, as dcm2niix reads it
            mb, how = cmrr, key + " (CMRR sequence " + asc.get("tSequenceFileName", "") + ")"
    if mb:
        acq.set("MultibandAccelerationFactor", int(mb), src + how)


def _mb_from_slice_times(times: list, acq: Acquisition) -> None:
    """Multiband factor = slices / distinct acquisition times of a mosaic (CSA MosaicRefAcqTimes), used when the
    protocol gives none or 1 (older CMRR software): dcm2niix's checkSliceTiming estimate overrides a CSA factor
    of 1 the same way."""
    vals = [_num(t) for t in times]
    if len(vals) < 2 or None in vals:
        return
    distinct = {round(float(v), 1) for v in vals}   # type: ignore[arg-type]
    if len(vals) % len(distinct) == 0 and len(vals) // len(distinct) > 1:
        acq.set("MultibandAccelerationFactor", len(vals) // len(distinct),
                "Siemens CSA image MosaicRefAcqTimes: slices / distinct slice times")


def _recon_matrix_pe(ds: Dataset, acq: Acquisition, txt: Any, n_mosaic: Any) -> tuple[int | None, str]:
    """Reconstructed matrix along phase encoding (one mosaic tile, never the mosaic width)."""
    inplane = _inplane(ds, acq)
    m = re.match(r"\s*(\d+)p?\*(\d+)", str(txt or ""))
    if m:
        # AcquisitionMatrixText is "PE*RO" ("82p*82"): the first number is the phase-encoding matrix
        return int(m.group(1)), "AcquisitionMatrixText"
    rows, cols = ds.get("Rows"), ds.get("Columns")
    if rows and cols and inplane in ("ROW", "COL"):
        tiles = math.ceil(math.sqrt(int(n_mosaic))) if n_mosaic else 1
        size = (int(cols) if inplane == "ROW" else int(rows)) // tiles
        return size, "image matrix (mosaic tile)" if n_mosaic else "image matrix"
    return None, ""


def _echo_spacing(ds: Dataset, acq: Acquisition, bw: float | None, txt: Any, bw_src: str, n_mosaic: Any) -> None:
    """EffectiveEchoSpacing = 1/(BWPhase*ReconMatrixPE); TotalReadoutTime = EES*(ReconMatrixPE-1), as dcm2niix."""
    if not bw:
        return
    recon, how = _recon_matrix_pe(ds, acq, txt, n_mosaic)
    if not recon or recon < 2:
        return
    ees = 1.0 / (bw * recon)
    src = f"1/({bw_src} * ReconMatrixPE {recon} from {how}), as dcm2niix"
    acq.set("EffectiveEchoSpacing", round(ees, 9), src)
    acq.set("TotalReadoutTime", round(ees * (recon - 1), 7), "EffectiveEchoSpacing * (ReconMatrixPE - 1), as dcm2niix")


def _xa_params(ds: Dataset, acq: Acquisition) -> None:
    """XA (no CSA): SDS/SDI private groups and the Phoenix protocol in (0021,1019), classic or enhanced."""
    sw = str(ds.get("SoftwareVersions", "") or "")
    at = xa.levels(ds)   # where XA values live: found once (every read below looks at the same places)
    xa.classic_attributes(ds, acq, at)
    vals = xa.image_values(ds, at)
    text, where = xa.phoenix_text(ds, at)
    if text:
        _phoenix(parse_ascconv(text), acq, f"Siemens XA {where}(0021,1019) MrPhoenixProtocol ", text)
    if "PhaseEncodingDirectionPositive" in vals:
        v, src = vals["PhaseEncodingDirectionPositive"]
        _pe_direction(ds, acq, v, src.rsplit(" ", 1)[0])
    bw = _num(vals.get("BandwidthPerPixelPhaseEncode", (None, ""))[0])
    if bw:
        acq.set("BandwidthPerPixelPhaseEncode", bw, vals["BandwidthPerPixelPhaseEncode"][1])
        _echo_spacing(ds, acq, bw, vals.get("AcquisitionMatrixText", (None, ""))[0],
                      "XA (0021,1153) BandwidthPerPixelPhaseEncode", None)
    if acq.get("MultibandAccelerationFactor") is None:
        mb, where = xa.xa_value(ds, xa.SDS, 0x56, at)
        if _num(mb):
            acq.set("MultibandAccelerationFactor", int(_num(mb) or 1), f"Siemens XA {where}(0021,1056) SDS 01")
    if re.search(r"XA\d", sw) and "PerFrameFunctionalGroupsSequence" not in ds and (not text or not bw):
        missing = ", ".join(x for x, ok in (("Phoenix protocol (0021,1019)", bool(text)),
                                            ("BandwidthPerPixelPhaseEncode (0021,1153)", bool(bw))) if not ok)
        acq.note("xa-classic-export", f"Siemens XA series exported as classic (or mosaic) DICOM without {missing}: "
                 "some parameters (echo spacing, acceleration) cannot be read; export as enhanced DICOM if "
                 "possible", "warning")


def _scout(ds: Dataset, acq: Acquisition) -> None:
    desc = f"{ds.get('SeriesDescription', '')} {ds.get('ProtocolName', '')}"
    seq = str(ds.get("SequenceName", "") or "")
    if re.search(r"(?i)AAHead_Scout|localizer|scout", desc) or seq.lower().startswith("*fl2d1") and \
            re.search(r"(?i)loc|scout", desc):
        acq.roles.add("localizer")
        acq.note("localizer", f"localizer: Siemens scout series ({desc.strip()})")


SPEC = VendorSpec(
    name="siemens", manufacturer=vendor_pattern("siemens"), dcm2niix=(("SI", "Siemens"),),
    # (0019,xx0C/0E) b-value / gradient; (0029,xx08/10/18) CSA image header type, content, version
    per_file_private={0x0019: frozenset({0x0C, 0x0E}), 0x0029: frozenset({0x08, 0x10, 0x18})},
    last_group=PER_FILE_LAST_GROUP, series_params=series_params, file_diffusion=file_diffusion,
)
