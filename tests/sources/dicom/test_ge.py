"""GE private-tag parameters on real GE headers (dcm_qa_ge, dcm_qa_nih, dcm_qa_fmap, dcm_qa_trt, hazen, dcm_qa_table)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import ge


def _first(folder: Path) -> Dataset:
    return pydicom.dcmread(sorted(p for p in folder.iterdir() if p.is_file())[0], stop_before_pixels=True)


def _params(folder: Path) -> Acquisition:
    acq = Acquisition(key="test")
    ge.series_params(_first(folder), acq)
    return acq


@pytest.mark.parametrize("rel, pe, r, mb, ees, trt", [
    ("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "j-", 2.0, 2.0, 0.000245082, 0.062496),
    ("dcm_qa_ge/01_Ax_DWI_TENSOR_R2", "j", 2.0, None, 0.000238165, 0.060732),
    ("dcm_qa_ge/SliceTimingRT/2_epiRT_IntAsc_GD0", "j", 2.0, None, 0.000267683, 0.016864),
    ("dcm_qa_ge/SliceTiming/2_Ax_fMRI_HB8_72sl_int_asc", "j", 1.0, 8.0, 0.000552, 0.034776),
    ("dcm_qa_nih/20180918GE/mr_0004", "j-", 1.0, None, 0.000388, 0.024444),
])
def test_epi_parameters_match_dcm2niix(dicom_root: Path, rel: str, pe: str, r: float, mb: float | None,
                                       ees: float, trt: float) -> None:
    acq = _params(dicom_root / rel)
    assert acq.get("Manufacturer") == "GE"
    assert acq.get("PhaseEncodingDirection") == pe
    assert acq.get("ParallelReductionFactorInPlane") == pytest.approx(r)
    assert acq.get("MultibandAccelerationFactor") == (pytest.approx(mb) if mb else None)
    assert acq.get("EffectiveEchoSpacing") == pytest.approx(ees, rel=1e-4)
    assert acq.get("TotalReadoutTime") == pytest.approx(trt, rel=1e-4)
    assert "ASSET" in acq.provenance("ParallelReductionFactorInPlane")


def test_pulse_sequence_name_from_private_tag(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_ge/SliceTimingRT/2_epiRT_IntAsc_GD0")
    assert acq.get("PulseSequenceName") == "epiRT"
    assert "(0019,109C)" in acq.provenance("PulseSequenceName")


def test_fieldmap_readout_has_no_polarity(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_fmap/GE/2_3db0maps")
    assert acq.get("TotalReadoutTime") == pytest.approx(0.062244, rel=1e-4)
    assert acq.get("PhaseEncodingDirection") is None       # no (0018,9034), not EPI in (0043,102A)


def test_mprage_3d_keeps_tr_and_slice_acceleration(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22")
    assert acq.get("ParallelReductionFactorInPlane") == pytest.approx(2.0)
    assert acq.get("RepetitionTimeExcitation") is None     # TR 2217 ms is an inversion-cycle TR
    assert acq.get("PhaseEncodingDirection") is None


def test_three_plane_localizer_role(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_table/GE/Exam1486_Laser794mm/01_3_Plane_Localizer_FF")
    assert "localizer" in acq.roles
    t2 = _params(dicom_root / "hazen/tests/data/acr/GE_Signa_3T_T2")
    assert "localizer" not in t2.roles and t2.get("EffectiveEchoSpacing") is None


def test_diffusion_samples_bias_and_vectors(dicom_root: Path) -> None:
    folder = dicom_root / "dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2"
    samples = [ge.file_diffusion(pydicom.dcmread(p, stop_before_pixels=True)) for p in sorted(folder.iterdir())]
    assert all(s is not None for s in samples)
    bvals = {s.bvalue for s in samples}
    assert bvals == {0.0, 1000.0}
    directions = {s.vector for s in samples if s.directionality == "DIRECTIONAL"}
    assert len(directions) == 6
    assert ge.file_diffusion(_first(dicom_root / "dcm_qa_ge/SliceTimingRT/2_epiRT_IntAsc_GD0")) is None


def _synthetic(b: str, vec: tuple[str, str, str], vr: str = "DS", **extra: object) -> Dataset:
    ds = Dataset()
    ds.Manufacturer = "GE MEDICAL SYSTEMS"
    acqu = ds.private_block(0x0019, ge.ACQU, create=True)
    for off, v in zip((0xBB, 0xBC, 0xBD), vec):
        acqu.add_new(off, vr, v)
    acqu.add_new(0xDF, "DS", "1")
    acqu.add_new(0xE0, "DS", "6")
    parm = ds.private_block(0x0043, ge.PARM, create=True)
    parm.add_new(0x39, "IS" if vr == "DS" else vr, b)
    for k, v in extra.items():
        setattr(ds, k, v)
    return ds


def test_bvalue_modulo_1e9_and_trace_image() -> None:
    s = ge.file_diffusion(_synthetic("1000000750\\8\\0\\0", ("0.6", "0.8", "0")))
    assert s is not None and s.bvalue == 750.0 and s.directionality == "DIRECTIONAL"
    trace = ge.file_diffusion(_synthetic("1000\\8\\0\\0", ("0", "0", "0")))
    assert trace is not None and trace.directionality == "ISOTROPIC"


def test_bravo_per_shot_tr_and_group_delay_note() -> None:
    ds = _synthetic("0\\0\\0\\0", ("0", "0", "0"), MRAcquisitionType="3D", ScanningSequence=["GR", "IR"],
                    RepetitionTime="7.6", InversionTime="450")
    acq = Acquisition(key="bravo")
    ge.series_params(ds, acq)
    assert acq.get("RepetitionTimeExcitation") == pytest.approx(0.0076)
    assert any(n.code == "per-shot-tr" for n in acq.notes)
    parm = ds.private_block(0x0043, ge.PARM)
    parm.add_new(0x7C, "FL", 0.055)
    ds.MRAcquisitionType = "2D"
    acq2 = Acquisition(key="epirt")
    ge.series_params(ds, acq2)
    assert acq2.get("RepetitionTimeExcitation") is None
    assert any(n.code == "ge-group-delay" for n in acq2.notes)


def test_phase_component_and_bad_values_do_not_crash() -> None:
    ds = _synthetic("junk", ("x", "", "1"), vr="LO")
    ds.private_block(0x0043, ge.PARM).add_new(0x2F, "SS", 1)
    ds.private_block(0x0043, ge.PARM).add_new(0x83, "DS", "0\\1")
    acq = Acquisition(key="bad")
    ge.series_params(ds, acq)
    assert "phase" in acq.roles
    assert acq.get("ParallelReductionFactorInPlane") is None
    assert ge.file_diffusion(ds) is None
