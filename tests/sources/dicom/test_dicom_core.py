"""DICOM core on the real shared headers: grouping, per-file vs full reads, skips, roles."""
from __future__ import annotations

import csv
from pathlib import Path

import pydicom
import pytest

from protocheck.sources.dicom import scan_dicom
from protocheck.sources.options import ScanOptions


@pytest.fixture(scope="module")
def fast(dicom_root: Path):
    return scan_dicom(dicom_root, ScanOptions())


@pytest.fixture(scope="module")
def index(dicom_root: Path) -> list[dict]:
    with open(dicom_root / "INDEX.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _by_folder(result) -> dict[str, object]:
    out = {}
    for a in result.acquisitions():
        for f in a.folder.split("; "):
            out.setdefault(f, []).append(a)
    return out


def _first_image_uid(folder: Path) -> str | None:
    for f in sorted(folder.iterdir()):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if str(ds.SOPClassUID).startswith("1.2.840.10008.5.1.4.1.1.4"):
            return str(ds.SeriesInstanceUID)
    return None


def test_each_series_folder_is_one_acquisition_with_its_own_uid(fast, index, dicom_root):
    by_folder = _by_folder(fast)
    non_image = {"dcm_qa_xa30/99_Phoenix_Document", "dcm_qa_philips_dwi/cl/DICOM/SN0_637274",
                 "dcm_qa_philips_dwi/cl/DICOM/SN0_488000"}
    for row in index:
        folder = row["folder"]
        if folder in non_image:
            assert folder not in by_folder, folder
            continue
        acqs = by_folder.get(folder)
        assert acqs and len(acqs) == 1, folder
        uid = _first_image_uid(dicom_root / folder)
        if uid is not None:
            assert acqs[0].key == uid, folder   # top-level (0020,000E), never a nested reference


def test_non_image_objects_are_skipped_with_reason(fast):
    kinds = {s.path: s for s in fast.skipped}
    phoenix = [s for p, s in kinds.items() if "99_Phoenix_Document" in p]
    assert len(phoenix) == 7 and all("structured report" in s.reason for s in phoenix)
    assert any("presentation state" in s.reason for s in fast.skipped)
    assert kinds["README.md"].kind == "not-dicom"


def test_fast_path_equals_full_read(fast, dicom_root):
    full = scan_dicom(dicom_root, ScanOptions(full_read=True))

    def snap(r):
        return sorted((a.key, a.folder, a.n_files, sorted(a.roles), {k: repr(v.value) for k, v in a.params.items()},
                       sorted((n.code, n.message) for n in a.notes)) for a in r.acquisitions())

    assert snap(fast) == snap(full)
    assert sorted((s.path, s.kind) for s in fast.skipped) == sorted((s.path, s.kind) for s in full.skipped)


def test_roles(fast):
    by_folder = {a.folder: a for a in fast.acquisitions()}
    for n in (11, 12, 13):
        acq = by_folder[f"dcm_qa_xa30/{n}_DWI_dir80_PA"]
        assert "derived" in acq.roles and any(x.code == "derived" for x in acq.notes)
    assert "localizer" in by_folder["dcm_qa_xa30i/2001_AAHead_Scout"].roles
    assert "mrs" in by_folder["dcm_qa_spec/31_svs_se"].roles
    assert "mrs" in by_folder["suspect/tests/test_data/siemens/SN4_000412"].roles
    assert not by_folder["dcm_qa_xa30/10_DWI_dir80_PA"].is_support


def test_units_and_privacy(fast):
    acq = {a.folder: a for a in fast.acquisitions()}["dcm_qa_sag/4_DWI_SagAPmosaic"]
    assert acq.get("RepetitionTime") == pytest.approx(4.414)
    assert acq.get("EchoTime") == pytest.approx(0.064)
    assert "ms->s" in acq.provenance("EchoTime")
    for exam in fast.exams:
        assert exam.identifiers == {}
        assert exam.subject and "Rorden" not in exam.subject
    text = repr([a.params for a in fast.acquisitions()])
    assert "Medical Center Dr" not in text      # InstitutionAddress never copied


def test_single_file_and_garbage_dates(dicom_root, tmp_path):
    src = sorted((dicom_root / "dcm_qa_sag/4_DWI_SagAPmosaic").iterdir())[0]
    ds = pydicom.dcmread(src)
    ds.StudyDate = "***"
    ds.ContentDate = ""
    ds.SeriesDate = "2024x"
    ds.AcquisitionDate = ""
    out = tmp_path / "noext"
    ds.save_as(out, enforce_file_format=False)
    r = scan_dicom(out)
    assert len(r.exams) == 1 and r.exams[0].date is None
    assert r.exams[0].acquisitions[0].n_files == 1


def test_missing_series_uid_and_duplicates(dicom_root, tmp_path):
    files = sorted((dicom_root / "dcm_qa_nih/20180918Si/mr_0003").iterdir())
    ds = pydicom.dcmread(files[0])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ds.save_as(tmp_path / "a" / "x1", enforce_file_format=False)
    ds.save_as(tmp_path / "b" / "x1copy", enforce_file_format=False)    # duplicate SOPInstanceUID
    pydicom.dcmread(files[1]).save_as(tmp_path / "b" / "x2", enforce_file_format=False)
    del ds.SeriesInstanceUID
    ds.save_as(tmp_path / "nouid", enforce_file_format=False)
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 10)
    r = scan_dicom(tmp_path)
    kinds = {s.path: s for s in r.skipped}
    assert kinds["nouid"].kind == "invalid" and "SeriesInstanceUID" in kinds["nouid"].reason
    assert kinds["b/x1copy"].kind == "duplicate"
    assert kinds["junk.bin"].kind == "not-dicom"
    acqs = list(r.acquisitions())
    assert len(acqs) == 1 and acqs[0].folder == "a; b" and acqs[0].n_files == 2


def test_truncated_file_is_invalid_not_crash(dicom_root, tmp_path):
    src = sorted((dicom_root / "dcm_qa_sag/4_DWI_SagAPmosaic").iterdir())[0]
    data = src.read_bytes()
    (tmp_path / "trunc").write_bytes(data[:900])
    r = scan_dicom(tmp_path)
    assert not list(r.acquisitions()) or all(a.n_files <= 1 for a in r.acquisitions())
    assert r.skipped or list(r.acquisitions())


def test_include_identifiers_opt_in(dicom_root):
    r = scan_dicom(dicom_root / "dcm_qa_sag/2_gre_field_mapping", ScanOptions(include_identifiers=True))
    assert "PatientName" in r.exams[0].identifiers or "PatientID" in r.exams[0].identifiers
