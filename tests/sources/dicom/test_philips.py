"""Philips parameters and diffusion on real Philips headers (dcm_qa_philips, _dwi, _enh, dcm_qa_fmap, hazen)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import philips


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def _params(folder: Path) -> Acquisition:
    acq = Acquisition(key="test")
    philips.series_params(pydicom.dcmread(_files(folder)[0], stop_before_pixels=True), acq)
    return acq


def test_classic_dti_trace_volume_is_isotropic(dicom_root: Path) -> None:
    folder = dicom_root / "dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax"
    samples = [philips.file_diffusion(pydicom.dcmread(p, stop_before_pixels=True)) for p in _files(folder)]
    kinds = Counter(s.directionality for s in samples if s is not None)
    assert len(samples) == 680 and None not in samples
    assert kinds["ISOTROPIC"] == 40            # one appended trace volume of 40 slices
    directions = {tuple(round(x, 4) for x in s.vector) for s in samples if s.directionality == "DIRECTIONAL"}
    assert len(directions) == 15               # dcm2niix .bvec: 15 directions at b=2000
    assert {s.bvalue for s in samples if s.directionality == "NONE"} == {0.0}


def test_classic_series_parameters(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax")
    assert acq.get("Manufacturer") == "Philips"
    assert acq.get("PulseSequenceName") == "DwiSE"
    assert acq.get("ParallelReductionFactorInPlane") == pytest.approx(2.5)
    assert acq.get("PhaseEncodingDirection") is None
    assert any(n.code == "pe-polarity-unknown" for n in acq.notes)


def test_tiny_bvalues_count_as_b0(dicom_root: Path) -> None:
    folder = dicom_root / "dcm_qa_philips_dwi/cl/DICOM/SN701_467861"
    samples = [philips.file_diffusion(pydicom.dcmread(p, stop_before_pixels=True)) for p in _files(folder)[::5]]
    small = [s for s in samples if s is not None and s.bvalue < 1]
    assert small and all(s.directionality == "NONE" for s in small)
    assert any(s.bvalue == pytest.approx(1000) and s.directionality == "DIRECTIONAL" for s in samples if s)


def test_3d_t1_tfe_sets_repetition_time_excitation(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_philips_enh/cl/SN1301_458288")
    assert acq.get("PulseSequenceName") == "T1TFE"
    assert acq.get("RepetitionTimeExcitation") == pytest.approx(0.006501, rel=1e-4)
    assert any(n.code == "per-shot-tr" for n in acq.notes)
    ffe = _params(dicom_root / "dcm_qa_philips_enh/cl/SN2001_866874")
    assert ffe.get("RepetitionTimeExcitation") is None


def test_enhanced_private_tr_and_acceleration(dicom_root: Path) -> None:
    acq = _params(dicom_root / "dcm_qa_fmap/Philips/fmap")
    assert acq.get("RepetitionTime") == pytest.approx(0.0038045, rel=1e-4)
    assert acq.get("ParallelReductionFactorInPlane") == pytest.approx(1.0)
    asl = _params(dicom_root / "dcm_qa_philips_enh/enh/SN1901_445468")
    assert asl.get("ParallelReductionFactorInPlane") == pytest.approx(2.0)
    assert asl.get("PulseSequenceName") == "GraSE"


def test_non_diffusion_scan_has_no_sample(dicom_root: Path) -> None:
    ds = pydicom.dcmread(_files(dicom_root / "hazen/tests/data/acr/PhilipsAchievaLocalizer")[0],
                         stop_before_pixels=True)
    assert philips.file_diffusion(ds) is None


def test_enhanced_frame_public_isotropic() -> None:
    frame = Dataset()
    item = Dataset()
    item.DiffusionBValue = 1000.0
    item.DiffusionDirectionality = "ISOTROPIC"
    frame.MRDiffusionSequence = [item]
    s = philips.file_diffusion(frame)
    assert s is not None and s.directionality == "ISOTROPIC" and s.vector is None
    item.DiffusionDirectionality = "DIRECTIONAL"
    grad = Dataset()
    grad.DiffusionGradientOrientation = [0.0, 1.0, 0.0]
    item.DiffusionGradientDirectionSequence = [grad]
    s = philips.file_diffusion(frame)
    assert s is not None and s.vector == (0.0, 1.0, 0.0) and s.directionality == "DIRECTIONAL"
