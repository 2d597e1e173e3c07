"""Canon enhanced DWI (dcm_qa_canon_61): per-frame public diffusion and manufacturer naming."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import canon


def _read(folder: Path) -> Dataset:
    return pydicom.dcmread(sorted(p for p in folder.iterdir() if p.is_file())[0], stop_before_pixels=True)


def test_enhanced_frames_diffusion(dicom_root: Path) -> None:
    ds = _read(dicom_root / "dcm_qa_canon_61/enh/SN3000_343001")
    samples = [canon.file_diffusion(f) for f in ds.PerFrameFunctionalGroupsSequence]
    kinds = Counter((s.bvalue, s.directionality) for s in samples if s)
    assert kinds == {(1500.0, "DIRECTIONAL"): 480, (0.0, "NONE"): 40}
    dirs = {tuple(round(x, 4) for x in s.vector) for s in samples if s and s.directionality == "DIRECTIONAL"}
    assert len(dirs) == 12                     # 13 volumes in the dcm2niix .bval: 1 b0 + 12 directions


def test_series_params_manufacturer_and_protocol_label(dicom_root: Path) -> None:
    ds = _read(dicom_root / "dcm_qa_canon_61/enh/SN3000_343001")
    acq = Acquisition(key="c")
    acq.set("PulseSequenceName", "DTI_PA-ortho", "DICOM (0018,9005)")
    canon.series_params(ds, acq)
    assert acq.get("Manufacturer") == "Canon"
    assert acq.get("PulseSequenceName") is None


def test_no_diffusion_attributes() -> None:
    assert canon.file_diffusion(Dataset()) is None
