"""BIDS source: the real spine-generic dataset first, then small datasets built with real NIfTI images."""
from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from protocheck.sources.bids import is_bids_dataset, scan_bids
from protocheck.sources.options import ScanOptions


@pytest.fixture(scope="module")
def sg_scan(spine_generic: Path):
    return scan_bids(spine_generic, ScanOptions())


def _acq(scan, key_end: str):
    return next(a for a in scan.acquisitions() if a.key.endswith(key_end))


def test_spine_generic_subjects_and_exams(sg_scan, spine_generic):
    assert is_bids_dataset(spine_generic)
    assert len(sg_scan.exams) == 267
    assert {e.key for e in sg_scan.exams} >= {"sub-amu01", "sub-vuiisIngenia06"}
    amu = next(e for e in sg_scan.exams if e.key == "sub-amu01")
    assert amu.subject == "amu01" and amu.session is None
    assert amu.date is not None and amu.date.year == 2019   # participants.tsv date_of_scan
    assert any(s.path == "sourcedata/" and s.kind == "ignored" for s in sg_scan.skipped)


def test_spine_generic_mt_pair(sg_scan):
    on = _acq(sg_scan, "sub-amu01_flip-1_mt-on_MTS.nii.gz")
    off = _acq(sg_scan, "sub-amu01_flip-1_mt-off_MTS.nii.gz")
    assert on.get("MTState") is True and off.get("MTState") is False
    assert "mt-on" in on.provenance("MTState")
    assert on.get("RepetitionTime") == off.get("RepetitionTime") == 0.035
    assert on.provenance("RepetitionTime") == "BIDS sidecar sub-amu01_flip-1_mt-on_MTS.json"
    assert on.get("BIDSSuffix") == "MTS" and on.get("BIDSName") == "flip-1_mt-on_MTS"


def test_spine_generic_annex_pointer_note(sg_scan):
    t1 = _acq(sg_scan, "sub-amu01_T1w.nii.gz")
    notes = [n for n in t1.notes if n.code == "image-header-unavailable"]
    assert notes and "git-annex" in notes[0].message
    assert t1.get("VoxelSize") is None and t1.get("FlipAngle") == 9


def test_spine_generic_dwi_and_derived(sg_scan):
    dwi = _acq(sg_scan, "sub-amu01_dwi.nii.gz")
    assert dwi.get("DiffusionShells") == [800]
    assert dwi.get("DiffusionDirectionsPerShell") == {800: 30}
    avg = _acq(sg_scan, "sub-amu01_rec-average_dwi.nii.gz")
    assert "derived" in avg.roles and avg.is_support
    b0 = _acq(sg_scan, "sub-amu01_acq-b0_dwi.nii.gz")
    assert not b0.is_support
    # acq-b0 also inherits the same-level sub-amu01_dwi.json, but its own sidecar wins
    assert b0.provenance("EchoTime") == "BIDS sidecar sub-amu01_acq-b0_dwi.json"
    assert b0.get("DiffusionShells") is None     # no .bval of its own; listed in .bidsignore: no inheritance
    assert any(n.code == "bidsignore" for n in b0.notes)


def test_spine_generic_manufacturer_fallback(sg_scan):
    acq = _acq(sg_scan, "sub-ucl01_T1w.nii.gz")
    assert acq.get("Manufacturer") and "participants.tsv" in acq.provenance("Manufacturer")


def test_spine_generic_no_identifiers(sg_scan):
    for acq in sg_scan.acquisitions():
        assert "InstitutionAddress" not in acq.params and "PatientName" not in acq.params


# ------------------------------------------------------------------ small datasets built here

def _nifti(path: Path, shape=(8, 10, 6), zooms=(0.9, 0.9, 5.0)) -> None:
    img = nib.Nifti1Image(np.zeros(shape, dtype=np.int16), np.diag(list(zooms) + [1.0]))
    img.header.set_zooms(zooms + ((2.0,) if len(shape) == 4 else ()))
    nib.save(img, str(path))


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


@pytest.fixture
def small(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    _write(root / "dataset_description.json", {"Name": "t", "BIDSVersion": "1.8.0"})
    _write(root / "T1w.json", {"RepetitionTime": 2.0, "FlipAngle": 9, "Manufacturer": "Siemens"})
    anat = root / "sub-01" / "ses-1" / "anat"
    _write(anat / "sub-01_ses-1_T1w.json", {"EchoTime": 0.00372})
    _nifti(anat / "sub-01_ses-1_T1w.nii.gz", (16, 12, 10), (1.0, 1.0, 1.2))
    _write(anat / "sub-01_ses-1_T2w.json", {"RepetitionTime": "1500", "EchoTime": 0.12})
    (anat / "sub-01_ses-1_T2w.nii.gz").write_bytes(b"")   # present but empty: no header
    _write(root / "sub-01" / "ses-1" / "sub-01_ses-1_scans.tsv",
           "filename\tacq_time\nanat/sub-01_ses-1_T1w.nii.gz\t2020-03-04T10:11:12\n")
    dwi = root / "sub-01" / "ses-1" / "dwi"
    _write(dwi / "sub-01_ses-1_dwi.json", {"RepetitionTime": 3.0})
    _nifti(dwi / "sub-01_ses-1_dwi.nii.gz", (8, 8, 4, 7), (2.0, 2.0, 2.0))
    _write(dwi / "sub-01_ses-1_dwi.bval", "0 1000 1000 1000 2000 2000 5\n")
    _write(dwi / "sub-01_ses-1_dwi.bvec", "0 1 0 0 1 0 0\n0 0 1 0 0 1 0\n0 0 0 1 0 0 0\n")
    _write(root / "sub-02" / "anat" / "sub-02_T1w.json", "{\"RepetitionTime\": 2.0,,}")
    _nifti(root / "sub-02" / "anat" / "sub-02_T1w.nii.gz")
    return root


def test_inheritance_and_header(small):
    scan = scan_bids(small, ScanOptions())
    exam = next(e for e in scan.exams if e.key == "sub-01/ses-1")
    assert exam.session == "1" and exam.date.isoformat() == "2020-03-04"
    t1 = next(a for a in exam.acquisitions if a.key == "sub-01/ses-1/anat/sub-01_ses-1_T1w.nii.gz")
    assert t1.get("RepetitionTime") == 2.0
    assert t1.provenance("RepetitionTime") == "BIDS sidecar sub-01_ses-1_T1w.json (inherited from T1w.json)"
    assert t1.get("EchoTime") == 0.00372
    assert t1.get("VoxelSize") == [1.0, 1.0, 1.2]
    assert t1.get("NumberOfSlices") == 10 and t1.get("AcquisitionMatrix") == [16, 12]
    assert t1.folder == "sub-01/ses-1/anat" and t1.description == "sub-01_ses-1_T1w"


def test_missing_image_and_string_tr(small):
    scan = scan_bids(small, ScanOptions())
    t2 = next(a for a in scan.acquisitions() if a.description == "sub-01_ses-1_T2w")
    assert any(n.code == "image-header-unavailable" for n in t2.notes)
    assert t2.get("RepetitionTime") is None and t2.get("EchoTime") == 0.12
    bad = [n for n in t2.notes if n.code == "sidecar-bad-value"]
    assert bad and "'1500'" in bad[0].message


def test_bval_bvec_shells(small):
    scan = scan_bids(small, ScanOptions())
    dwi = next(a for a in scan.acquisitions() if a.description == "sub-01_ses-1_dwi")
    assert dwi.get("DiffusionShells") == [1000, 2000]
    assert dwi.get("DiffusionDirectionsPerShell") == {1000: 3, 2000: 2}
    assert dwi.get("NumberOfB0Volumes") == 2
    assert dwi.get("NumberOfVolumes") == 7


def test_invalid_json_sidecar(small):
    scan = scan_bids(small, ScanOptions())
    skipped = [s for s in scan.skipped if s.path == "sub-02/anat/sub-02_T1w.json"]
    assert skipped and "line 1, column" in skipped[0].reason
    acq = next(a for a in scan.acquisitions() if a.description == "sub-02_T1w")
    assert acq.get("FlipAngle") == 9                # dataset-level T1w.json still applies
    assert any(n.code == "sidecar-invalid" for n in acq.notes)


def test_missing_dataset_description(small):
    (small / "dataset_description.json").unlink()
    assert is_bids_dataset(small)
    scan = scan_bids(small, ScanOptions())
    assert any(s.path == "dataset_description.json" for s in scan.skipped)
    assert len(scan.exams) == 2


def test_not_bids(tmp_path):
    (tmp_path / "x.dcm").write_bytes(b"\0" * 10)
    assert not is_bids_dataset(tmp_path)
