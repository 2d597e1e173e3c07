"""Vendor behaviour across software generations (docs/vendors.md), from real headers in ../shared.

Where no public file exists for a software generation, the test builds one from a real header of another
generation with the documented element moved or renamed exactly as that generation stores it; each such test
says so in its docstring. Every row of docs/vendors.md names one of the tests here (test_every_row_has_a_test).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pydicom
import pytest
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources import scan
from protocheck.sources.dicom import scan_dicom
from protocheck.sources.dicom.canon import file_diffusion as canon_diffusion

DOC = Path(__file__).resolve().parents[3] / "docs" / "vendors.md"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _only(result) -> Acquisition:
    acqs = list(result.acquisitions())
    assert len(acqs) == 1, [a.get("SeriesDescription") for a in acqs]
    return acqs[0]


def _rewrite(src: Path, dst_dir: Path, edit: Callable[[Dataset], None], n: int | None = None) -> Path:
    """Copy the first ``n`` DICOM files of ``src`` to ``dst_dir`` after ``edit`` (headers only)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(_files(src)[:n]):
        ds = pydicom.dcmread(f)
        edit(ds)
        ds.save_as(dst_dir / f"f{i:04d}.dcm", enforce_file_format=False)
    return dst_dir


def _csa_series_bytes(ds: Dataset, old: bytes, new: bytes) -> None:
    """Replace bytes of equal length inside the Siemens CSA series header (0029,1020)."""
    assert len(old) == len(new)
    raw = bytes(ds[0x00291020].value)
    assert old in raw, old
    ds[0x00291020].value = raw.replace(old, new)


# --------------------------------------------------------------------------------------------- Siemens
CMRR = "dcm_qa_stc/Siemens/E11/7_Rest_fMRI_AP"   # syngo MR E11, CMRR multiband EPI mosaic (MrPhoenixProtocol)


def test_siemens_va_vb_mrprotocol(dicom_root: Path, tmp_path: Path) -> None:
    """VA/early-VB software names the CSA series protocol tag ``MrProtocol``: built from the E11 CMRR header with
    the tag renamed (same length, padded with NULs; E11's own, empty MrProtocol tag renamed away), every Phoenix
    value is still read, as dcm2niix siemensCsaAscii searches the whole series header for the ASCCONV block."""
    ref = _only(scan_dicom(dicom_root / CMRR))

    def edit(ds: Dataset) -> None:
        _csa_series_bytes(ds, b"MrProtocol\x00", b"MrProtocoX\x00")
        _csa_series_bytes(ds, b"MrPhoenixProtocol\x00", b"MrProtocol\x00\x00\x00\x00\x00\x00\x00\x00")
    edited = _rewrite(dicom_root / CMRR, tmp_path / "vb", edit, n=2)
    acq = _only(scan_dicom(edited))
    for name in ("MultibandAccelerationFactor", "PartialFourier", "ParallelReductionFactorInPlane"):
        if ref.get(name) is not None:
            assert acq.get(name) == ref.get(name), name
    assert acq.get("MultibandAccelerationFactor") is not None
    assert "MrProtocol" in acq.params["MultibandAccelerationFactor"].source


def test_siemens_coil_id_from_protocol(dicom_root: Path, tmp_path: Path) -> None:
    """ReceiveCoilName is the protocol's first tCoilID on CSA software (dcm2niix nii_SaveBIDSX: the public
    (0018,1250) or (0051,100F) string is only its CoilString), also in the VA/VB spelling
    ``asCoilSelectMeas[0].asList[0]``: built from the E11 header with the array renamed (blank-padded) and a
    public (0018,1250) added as some VB exports carry it."""
    def edit(ds: Dataset) -> None:
        ds.ReceiveCoilName = "HE1-4;NE1,2"
        _csa_series_bytes(ds, b"sCoilSelectMeas.aRxCoilSelectData[0]", b" " * 17 + b"asCoilSelectMeas[0]")
    acq = _only(scan_dicom(_rewrite(dicom_root / CMRR, tmp_path / "coil", edit, n=2)))
    assert acq.get("ReceiveCoilName") == "HeadNeck_20"
    assert "tCoilID" in acq.params["ReceiveCoilName"].source


def test_siemens_asl_inversion_time(dicom_root: Path, tmp_path: Path) -> None:
    """ASL sequences (ep2d_pasl, tgse_pasl, to_ep2d_VEPCASL) record their inversion time in alTI[2] (dcm2niix
    nii_SaveBIDSX): built from the E11 header with the sequence file renamed to ep2d_pasl and alTI[0] -> alTI[2]."""
    def edit(ds: Dataset) -> None:
        old = b'""%CustomerSeq%\\cmrr_mbep2d_bold""'
        _csa_series_bytes(ds, old, b'""%SiemensSeq%\\ep2d_pasl""'.ljust(len(old)))
        _csa_series_bytes(ds, b"alTI[0]", b"alTI[2]")
    acq = _only(scan_dicom(_rewrite(dicom_root / CMRR, tmp_path / "asl", edit, n=2)))
    assert acq.get("InversionTime") == pytest.approx(2.5)
    assert "alTI[2]" in acq.params["InversionTime"].source


def test_siemens_cmrr_multiband_older_software(dicom_root: Path, tmp_path: Path) -> None:
    """CMRR multiband on older (VB) software: its WIP block is spelled ``sWiPMemBlock`` (built from the E11
    header renamed); without any WIP value the factor comes from the mosaic slice times (MosaicRefAcqTimes)."""
    ref = _only(scan_dicom(dicom_root / CMRR)).get("MultibandAccelerationFactor")
    assert ref and ref > 1
    wip = _only(scan_dicom(_rewrite(dicom_root / CMRR, tmp_path / "wip", lambda ds: _csa_series_bytes(
        ds, b"sWipMemBlock.alFree[13]", b"sWiPMemBlock.alFree[13]"), n=2)))
    assert wip.get("MultibandAccelerationFactor") == ref
    times = _only(scan_dicom(_rewrite(dicom_root / CMRR, tmp_path / "times", lambda ds: _csa_series_bytes(
        ds, b"sWipMemBlock.alFree[13]", b"sWipMemBlock.alFrez[13]"), n=2)))
    assert times.get("MultibandAccelerationFactor") == ref
    assert "MosaicRefAcqTimes" in times.params["MultibandAccelerationFactor"].source


def test_siemens_absent_is_unknown(dicom_root: Path, tmp_path: Path) -> None:
    """A Siemens header without its CSA series header: Phoenix values are unknown, never defaulted."""
    acq = _only(scan_dicom(_rewrite(dicom_root / CMRR, tmp_path / "nocsa",
                                    lambda ds: ds.__delitem__(0x00291020), n=2)))
    for name in ("MultibandAccelerationFactor", "PartialFourier", "ParallelReductionFactorInPlane"):
        assert acq.get(name) is None or "MosaicRefAcqTimes" in acq.params[name].source, name


# -------------------------------------------------------------------------------------------------- GE
GE_DWI = "dcm_qa_ge/01_Ax_DWI_TENSOR_R2"      # DV27-era, (0018,9034) LINEAR
GE_TRT = "dcm_qa_trt/02_EPI_mph_hb6_acc1_interp"


def test_ge_interpolated_readout_timing(dicom_root: Path) -> None:
    """GE readout timing with an interpolated matrix (80 acquired lines, 128 reconstructed): the July 2023
    dcm2niix formula (PR 725, nii_SaveBIDSX): TRT = (ceil(80/R/2)*2 - 1) * (0043,102C), EES = TRT/(128-1)."""
    acq = _only(scan_dicom(dicom_root / GE_TRT))
    assert acq.get("TotalReadoutTime") == pytest.approx(79 * 580e-6, rel=1e-6)
    assert acq.get("EffectiveEchoSpacing") == pytest.approx(79 * 580e-6 / 127, rel=1e-5)


@pytest.mark.parametrize("scheme, mixed", [("0", False), ("1", True), ("2", True), ("3", True), (None, True)])
def test_ge_pepolar_polarity(dicom_root: Path, tmp_path: Path, scheme: str | None, mixed: bool) -> None:
    """GE epi_pepolar: (0019,10B3) UserData12 gives the polarity scheme (0 fwd, 1 rev, 2 r-f, 3 f-r, absent = 2;
    dcm2niix readDICOMx kUserData12GE). Built from a DV27 DWI header with (0019,109C) set to epi_pepolar: only
    the forward scheme keeps the header's polarity; the others leave PhaseEncodingDirection unknown."""
    def edit(ds: Dataset) -> None:
        ds[0x0019109C].value = "epi_pepolar"
        if 0x001910B3 in ds:
            del ds[0x001910B3]
        if scheme is not None:
            ds.add_new(0x001910B3, "DS", scheme)
    acq = _only(scan_dicom(_rewrite(dicom_root / GE_DWI, tmp_path / f"p{scheme}", edit, n=3)))
    if mixed:
        assert acq.get("PhaseEncodingDirection") is None
        assert acq.get("PhaseEncodingAxis") == "j"
        assert any(n.code == "ge-pepolar" for n in acq.notes)
    else:
        assert acq.get("PhaseEncodingDirection") == _only(scan_dicom(dicom_root / GE_DWI)).get(
            "PhaseEncodingDirection")


@pytest.mark.parametrize("inplane, expected", [("COL", "j"), ("ROW", "i-")])
def test_ge_row_polarity_as_dcm2niix(dicom_root: Path, tmp_path: Path, inplane: str, expected: str) -> None:
    """(0018,9034) LINEAR is GE "Flipped", i.e. a negative polarity (dcm2niix readDICOMx issue 674), written as
    Siemens' flag would be (nii_SaveBIDSX): COL -> "j", ROW -> "i-". Built from the DV27 DWI header with
    (0018,1312) set to ROW (no public GE ROW example)."""
    acq = _only(scan_dicom(_rewrite(dicom_root / GE_DWI, tmp_path / inplane,
                                    lambda ds: setattr(ds, "InPlanePhaseEncodingDirection", inplane), n=3)))
    assert acq.get("PhaseEncodingDirection") == expected


def test_ge_absent_is_unknown(dicom_root: Path, tmp_path: Path) -> None:
    """A GE header without (0018,9034), (0043,102A) and (0043,1083): polarity and ASSET unknown, axis only."""
    def edit(ds: Dataset) -> None:
        for tag in (0x00189034, 0x0043102A, 0x00431083):
            if tag in ds:
                del ds[tag]
    acq = _only(scan_dicom(_rewrite(dicom_root / GE_DWI, tmp_path / "ge", edit, n=3)))
    assert acq.get("PhaseEncodingDirection") is None
    assert acq.get("PhaseEncodingAxis") == "j"
    assert acq.get("ParallelReductionFactorInPlane") is None


# ----------------------------------------------------------------------------------------------- Canon
CANON = "dcm_qa_canon_61/enh/SN3000_343001"   # V6.1 enhanced DTI


def _canon_classic(dicom_root: Path, out: Path, idx: int, with_b: bool, style: str = "toshiba") -> None:
    """A classic (one frame per file) Canon/Toshiba DWI header made from the real V6.1 enhanced one: functional
    groups dropped, (0008,9209) AcquisitionContrast dropped (the classic MR Image IOD has none), and the diffusion
    of the last frame written as that generation does: "toshiba" public (0018,9087)/(0018,9089) only where b > 0,
    "canon" (0018,9087) with the gradient in ImageComments "b=1500(x,y,z)" (dcm2niix Canon/README.md)."""
    ds = pydicom.dcmread(_files(dicom_root / CANON)[0])
    diff = ds.PerFrameFunctionalGroupsSequence[-1].MRDiffusionSequence[0]
    for tag in (0x52009229, 0x52009230, 0x00089209, 0x00280008):
        if tag in ds:
            del ds[tag]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"{ds.SOPInstanceUID}.{idx}"
    ds.InstanceNumber = idx
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    if with_b:
        ds.DiffusionBValue = diff.DiffusionBValue
        vec = [float(x) for x in diff.DiffusionGradientDirectionSequence[0].DiffusionGradientOrientation]
        if style == "toshiba":
            ds.DiffusionGradientOrientation = vec
        else:
            ds.ImageComments = f"b={diff.DiffusionBValue:g}({vec[0]:.3f},{vec[1]:.3f},{vec[2]:.3f})"
    ds.save_as(out / f"c{idx}.dcm", enforce_file_format=False)


@pytest.mark.parametrize("style", ["toshiba", "canon"])
def test_canon_dwi_without_bvalue_is_b0(dicom_root: Path, tmp_path: Path, style: str) -> None:
    """Toshiba/Canon DWI images without any b-value element are the b=0 volumes (dcm2niix Canon/README.md:
    "only the volumes with B>0 will report a DiffusionBValue"; nii_saveDTI counts them as B=0); newer Canon
    software gives the gradient in ImageComments. Built as classic files from the real V6.1 enhanced header."""
    _canon_classic(dicom_root, tmp_path, 1, False, style)
    _canon_classic(dicom_root, tmp_path, 2, True, style)
    _canon_classic(dicom_root, tmp_path, 3, False, style)
    acq = _only(scan_dicom(tmp_path))
    assert acq.get("NumberOfB0Volumes") == 2
    assert acq.get("DiffusionShells") == [1500]
    assert acq.get("DiffusionDirectionsPerShell") == {1500: 1}


def test_canon_enhanced_scanning_sequence_and_axis(dicom_root: Path) -> None:
    """Enhanced Canon files have no (0018,0020): ScanningSequence from EchoPulseSequence SPIN + EchoPlanar YES,
    and the phase-encoding axis from MRFOVGeometrySequence InPlanePhaseEncodingDirection (polarity unknown)."""
    acq = _only(scan_dicom(dicom_root / CANON))
    assert acq.get("ScanningSequence") == "EP\\SE"
    assert acq.get("PhaseEncodingAxis") == "j"
    assert acq.get("PhaseEncodingDirection") is None


def test_canon_absent_is_unknown(dicom_root: Path) -> None:
    """A Canon header without diffusion markers or b-value gives no diffusion sample; without the pulse-sequence
    flags no ScanningSequence is made up."""
    ds = pydicom.dcmread(_files(dicom_root / CANON)[0], stop_before_pixels=True)
    for tag in (0x00089209, 0x52009229, 0x52009230):
        if tag in ds:
            del ds[tag]
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    assert canon_diffusion(ds) is None
    from protocheck.sources.dicom.canon import scanning_sequence
    del ds[0x00189008]
    assert scanning_sequence(ds) is None


# --------------------------------------------------------------------------------------------- Philips
PHILIPS_ENH = "dcm_qa_philips_enh/enh"


def _move_block(ds: Dataset, old: int, new: int) -> None:
    """Move the private block ``old`` of group 2005 to block ``new`` (creator and elements), recursively."""
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value or []:
                _move_block(item, old, new)
        group, el = elem.tag >> 16, elem.tag & 0xFFFF
        if group != 0x2005 or not (el == old or el >> 8 == old):
            continue
        tag = (group << 16) | (new if el == old else (new << 8) | (el & 0xFF))
        del ds[elem.tag]
        ds.add(pydicom.DataElement(tag, elem.VR, elem.value))


def test_philips_private_by_creator(dicom_root: Path, tmp_path: Path) -> None:
    """Newer Philips software stores "Philips MR Imaging DD 005" (the per-frame (2005,140F) copy) under another
    block: built from the real enhanced header with block 0x14 moved to 0x30; every value is still read."""
    ref = _only(scan_dicom(dicom_root / PHILIPS_ENH))
    acq = _only(scan_dicom(_rewrite(dicom_root / PHILIPS_ENH, tmp_path / "r11", lambda ds: _move_block(ds, 0x14,
                                                                                                       0x30))))
    for name in ("ScanningSequence", "SequenceVariant", "PulseSequenceName", "SequenceName"):
        assert acq.get(name) == ref.get(name), name
    assert ref.get("ScanningSequence") is not None


def test_philips_trace_not_in_bvalues() -> None:
    """The appended isotropic/trace volume is left out of DiffusionBValues (dcm2niix removes it)."""
    from protocheck.sources.dicom.diffusion import DiffusionSample, summarize
    acq = Acquisition("x")
    summarize([DiffusionSample(0.0, None, "NONE"), DiffusionSample(1000.0, (1.0, 0.0, 0.0), "DIRECTIONAL"),
               DiffusionSample(1000.0, None, "ISOTROPIC")], acq, "test")
    assert acq.get("DiffusionBValues") == [0, 1000]


def test_philips_absent_is_unknown(dicom_root: Path) -> None:
    """Philips never records the phase-encoding polarity: only the axis is given, the direction stays unknown."""
    for folder in ("dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax", PHILIPS_ENH):
        acq = _only(scan_dicom(dicom_root / folder))
        assert acq.get("PhaseEncodingDirection") is None
        assert acq.get("PhaseEncodingAxis") in ("i", "j")


# ------------------------------------------------------------------------------------------------- UIH
def test_uih_absent_is_unknown(tmp_path: Path) -> None:
    """A UIH header without (0065,1058): no polarity, the axis only (no public UIH file: built in the test)."""
    from protocheck.sources.dicom.common import phase_encoding_axis
    from protocheck.sources.dicom.uih import series_params
    ds = Dataset()
    ds.Manufacturer = "UIH"
    ds.InPlanePhaseEncodingDirection = "COL"
    ds.MRAcquisitionType = "2D"
    acq = Acquisition("x")
    acq.set("InPlanePhaseEncodingDirectionDICOM", "COL", "test")
    series_params(ds, acq)
    phase_encoding_axis(acq)
    assert acq.get("PhaseEncodingDirection") is None and acq.get("PhaseEncodingAxis") == "j"


@pytest.mark.parametrize("inplane, positive, expected", [("COL", "1", "j"), ("COL", "0", "j-"),
                                                          ("ROW", "1", "i-"), ("ROW", "0", "i")])
def test_uih_polarity_as_dcm2niix(inplane: str, positive: str, expected: str) -> None:
    """UIH (0065,1058) 1 is "flipped" (dcm2niix readDICOMx issue 410), written as Siemens' flag would be
    (nii_SaveBIDSX). No public UIH file has the element: the header is built in the test."""
    from protocheck.sources.dicom.uih import series_params
    ds = Dataset()
    ds.Manufacturer = "UIH"
    ds.InPlanePhaseEncodingDirection = inplane
    ds.MRAcquisitionType = "2D"
    ds.add_new(0x00651058, "IS", positive)
    acq = Acquisition("x")
    series_params(ds, acq)
    assert acq.get("PhaseEncodingDirection") == expected


# ---------------------------------------------------------------------------------------------- not MR
def test_not_mr_objects_ignored() -> None:
    """pydicom's own CT, US, CR, RT and ECG test files are listed as 'not MR: ignored', never read as series."""
    from pydicom.data import get_testdata_file
    root = Path(get_testdata_file("CT_small.dcm")).parent
    result = scan_dicom(root)
    for acq in result.acquisitions():
        assert acq.get("Modality") == "MR"
    reasons = " ".join(s.reason for s in result.skipped)
    for what in ("CT Image Storage", "Ultrasound", "Computed Radiography", "RT Dose", "ECG"):
        assert re.search(rf"not MR \([^)]*{what}[^)]*\): ignored", reasons), what


def test_pydicom_warnings_never_reach_stderr() -> None:
    """pydicom's parse warnings (implicit VR found, bad DA values...) never reach the user's stderr."""
    from pydicom.data import get_testdata_file
    root = Path(get_testdata_file("CT_small.dcm")).parent
    proc = subprocess.run([sys.executable, "-m", "protocheck", "inspect", str(root)], capture_output=True,
                          text=True, timeout=600)
    assert "Warning" not in proc.stderr and "warn_and_log" not in proc.stderr, proc.stderr[:500]


def test_dicom_json_file_is_named(dicom_root: Path, tmp_path: Path) -> None:
    """A DICOM JSON file (PS3.18 Annex F) is read as DICOM headers, not parsed as a federated summary."""
    objs = [pydicom.dcmread(f).to_json_dict(bulk_data_threshold=1 << 30, suppress_invalid_tags=True)
            for f in _files(dicom_root / "dcm_qa_nih/20180918Si/mr_0003")]
    path = tmp_path / "study.json"
    path.write_text(json.dumps(objs))
    acq = _only(scan(path))
    assert acq.get("Manufacturer") == "Siemens" and acq.n_files == len(objs)


# ------------------------------------------------------------------------------------- docs/vendors.md
def test_every_row_has_a_test() -> None:
    """Every table row of docs/vendors.md names at least one test, and every test it names exists (``test_x`` in
    this module, ``file.py::test_x`` in that file of tests/sources/dicom)."""
    here = Path(__file__).resolve().parent
    names = {n for n in globals() if n.startswith("test_")}
    rows = [line for line in DOC.read_text().splitlines()
            if line.startswith("|") and not line.startswith("|---") and not line.startswith("| Field")]
    assert len(rows) >= 30
    for line in rows:
        refs = re.findall(r"`(?:(test_\w+\.py)::)?(test_\w+)`", line)
        assert refs, f"docs/vendors.md row without a test: {line[:80]}"
        for file, name in refs:
            if file:
                assert re.search(rf"^def {name}\(", (here / file).read_text(), re.M), f"{file}::{name} missing"
            else:
                assert name in names, f"docs/vendors.md names {name}, which does not exist"


def _strip(*tags: int) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        for tag in tags:
            if tag in ds:
                del ds[tag]
    return edit


@pytest.mark.parametrize("folder, edit", [
    ("dcm_qa_sag/4_DWI_SagAPmosaic", _strip(0x00291010)),              # Siemens: no CSA image header
    (GE_DWI, _strip(0x00189034, 0x0043102A)),                         # GE: no polarity elements
    ("dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax", None),           # Philips: never recorded
    (CANON, None),                                                     # Canon: never recorded
])
def test_unknown_polarity_is_cannot_verify(dicom_root: Path, tmp_path: Path, folder: str, edit) -> None:
    """Per vendor, a DTI header without the polarity element gives the protocol's phase-encoding constraint
    'cannot verify' (the axis alone is never taken for a direction), never a pass or a fail."""
    from protocheck.checks.compliance import check_exam
    from protocheck.checks.results import Status
    from protocheck.protocol import load_protocol
    src = dicom_root / folder if edit is None else _rewrite(dicom_root / folder, tmp_path / "x", edit)
    result = scan_dicom(src)
    acq = _only(result)
    assert acq.get("PhaseEncodingDirection") is None and acq.get("PhaseEncodingAxis") in ("i", "j")
    exam = check_exam(result.exams[0], load_protocol("als-brain-3t"))
    found = [f for f in exam.all_findings() if f.check_id == "dti/phase-encoding"]
    assert found and all(f.status is Status.CANNOT_VERIFY for f in found)
