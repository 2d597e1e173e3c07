"""Fast path (hand-rolled scanner, worker processes) gives exactly what a full read gives, on real headers."""
from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from protocheck.sources.dicom import damage, fastscan, parallel, reader, scan_dicom
from protocheck.sources.dicom.vendors import READ_PLAN
from protocheck.sources.options import ScanOptions


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_scanner_record_equals_full_read_on_every_shared_file(dicom_root):
    fast = 0
    for p in _files(dicom_root):
        rec = reader._fast_record(str(p), p, READ_PLAN)
        if rec is None:
            continue
        fast += 1
        assert rec == reader.read_record(str(p), p, full=True), p
    assert fast > 3000   # the classic files of every vendor go through the scanner


def _snap(result):
    acqs = sorted((a.key, a.folder, a.n_files, sorted(a.roles), {k: (repr(v.value), v.source) for k, v in
                                                              a.params.items()},
                   sorted((n.code, n.message) for n in a.notes)) for a in result.acquisitions())
    exams = sorted((e.key, e.subject, str(e.date), e.folder) for e in result.exams)
    return acqs, exams, sorted((s.path, s.kind, s.reason) for s in result.skipped), result.n_files_seen


def test_two_workers_give_the_findings_of_a_full_read(dicom_root):
    from protocheck.checks.compliance import check_scan
    from protocheck.protocol.loader import load_protocol

    full = scan_dicom(dicom_root, ScanOptions(full_read=True))
    fast = scan_dicom(dicom_root, ScanOptions(workers=2))
    assert _snap(fast) == _snap(full)
    protocol = load_protocol("als-brain-3t")
    # dataclass equality, not repr: a set (an acquisition's roles) built along another path may list its members
    # in another order
    fast_results, full_results = check_scan(fast, protocol), check_scan(full, protocol)
    assert fast_results == full_results and len(fast_results) > 10


def _ds(**extra) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = reader.MR_IMAGE
    ds.SOPInstanceUID = "1.2.3.4.5"
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesInstanceUID = "1.2.3.4"
    ds.Manufacturer = "Philips Medical Systems"
    ds.InstanceNumber = 7
    ds.ImagePositionPatient = [1.0, 2.5, -3.25]
    ds.EchoTime = 30
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M"]
    for k, v in extra.items():
        setattr(ds, k, v)
    return ds


def _write(ds: Dataset, path: Path, ts=ExplicitVRLittleEndian) -> Path:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def test_undefined_length_sequences_are_skipped_and_kept_lazily(tmp_path):
    inner = Dataset()
    inner.DiffusionBValue = 1000.0
    nested = Dataset()
    nested.ReferencedSOPInstanceUID = "9.9"
    inner.ReferencedImageSequence = Sequence([nested])
    ds = _ds(MRDiffusionSequence=Sequence([inner]), ReferencedImageSequence=Sequence([nested]))
    for holder, kw in ((ds, "MRDiffusionSequence"), (ds, "ReferencedImageSequence"),
                       (inner, "ReferencedImageSequence")):
        holder[kw].is_undefined_length = True
        for item in holder[kw].value:
            item.is_undefined_length_sequence_item = True
    path = _write(ds, tmp_path / "a.dcm")
    raw = path.read_bytes()
    assert b"\xfe\xff\xdd\xe0" in raw          # the file really has sequence delimiters
    rec = reader._fast_record("a.dcm", path, READ_PLAN)
    assert rec is not None and rec == reader.read_record("a.dcm", path, full=True)
    assert rec.instance_number == 7 and rec.position == (1.0, 2.5, -3.25) and rec.echo_time == 30.0


def test_unusual_files_fall_back_to_pydicom(tmp_path):
    implicit = _write(_ds(), tmp_path / "implicit.dcm", ImplicitVRLittleEndian)
    with open(implicit, "rb") as fh:
        assert fastscan.scan(fh, READ_PLAN) is None
    rec = reader.read_record("implicit.dcm", implicit)
    assert rec.skip is None and rec.instance_number == 7
    for name, data in (("garbage", b"x" * 500), ("empty", b""), ("truncated", implicit.read_bytes()[:140])):
        assert fastscan.scan(io.BytesIO(data), READ_PLAN) is None
        (tmp_path / name).write_bytes(data)
        rec = reader.read_record(name, tmp_path / name)
        assert rec.skip is not None or not rec.series_uid     # skipped, or reported as ungroupable


def test_truncated_explicit_file_never_crashes(dicom_root, tmp_path):
    src = next(p for p in _files(dicom_root / "dcm_qa_philips") if p.stat().st_size > 4000)
    data = src.read_bytes()
    for cut in (200, 1000, len(data) // 2):
        (tmp_path / f"cut{cut}").write_bytes(data[:cut])
        with open(tmp_path / f"cut{cut}", "rb") as fh:
            fastscan.scan(fh, READ_PLAN)     # returns a dataset or None, never raises
    result = scan_dicom(tmp_path, ScanOptions(workers=2))
    assert result.n_files_seen == 3


def test_progress_is_throttled_and_ends_with_the_totals(dicom_root):
    calls = []
    root = dicom_root / "dcm_qa_philips"
    n = len(_files(root))
    scan_dicom(root, ScanOptions(progress=lambda f, s, p: calls.append((f, s))))
    assert 1 <= len(calls) < n
    assert calls[-1][0] == n and calls[-1][1] >= 1


def test_auto_workers():
    assert parallel.resolve_workers(ScanOptions(workers=3)) == 3
    assert parallel.resolve_workers(ScanOptions(workers=0), 10) == 1
    assert parallel.resolve_workers(ScanOptions(workers=0), None) in (1, 2)


def test_auto_workers_scan_small_tree(dicom_root):
    root = dicom_root / "dcm_qa_ge" / "04_Ax_DWI_TENSOR_R2MB2"
    auto = scan_dicom(root, ScanOptions(workers=0))
    one = scan_dicom(root, ScanOptions(workers=1))
    assert _snap(auto) == _snap(one) and auto.n_files_seen == len(_files(root))


def _first_uid_cut(path: Path) -> tuple[bytes, str, int]:
    raw = path.read_bytes()
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)
    start = raw.index(uid.encode())
    return raw, uid, start


@pytest.mark.parametrize("where", ["scan_dicom", "full_read", "read_record"])
def test_file_cut_inside_a_value_is_invalid_with_the_element_named(dicom_root, tmp_path, where):
    src = _files(dicom_root / "dcm_qa_ge")[0]
    raw, uid, start = _first_uid_cut(src)
    cut = tmp_path / "in" / "cut.dcm"
    cut.parent.mkdir()
    cut.write_bytes(raw[:start + len(uid) // 2])
    if where == "read_record":
        skip = reader.read_record("cut.dcm", cut).skip
    else:
        result = scan_dicom(tmp_path / "in", ScanOptions(full_read=where == "full_read", workers=1))
        assert not list(result.acquisitions()), "a truncated file became a series"
        skip = result.skipped[0]
    assert skip is not None and skip.kind == "invalid"
    assert "file ends inside element (0020,000E)" in skip.reason and "truncated" in skip.reason, skip.reason


def test_damaged_headers_say_where_and_what(dicom_root, tmp_path):
    src = _files(dicom_root / "dcm_qa_ge")[0]
    raw, uid, start = _first_uid_cut(src)
    vr_at = start - 4          # (0020,000E) UI <len16> <value>: the VR is 4 bytes before the value
    assert raw[vr_at:vr_at + 2] == b"UI"
    cases = {"bad_vr.dcm": raw[:vr_at] + b"Q\x01" + raw[vr_at + 2:],
             "huge.dcm": raw[:vr_at] + b"OB\x00\x00" + (0x7FFFFFF0).to_bytes(4, "little") + raw[start:]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with open(tmp_path / name, "rb") as fh:
            why = damage.diagnose(fh)
        assert why is not None and why.startswith(f"header damaged at byte {vr_at - 4}: element (0020,000E)"), why
        rec = reader.read_record(name, tmp_path / name)
        assert rec.skip is not None and "missing SeriesInstanceUID" not in rec.skip.reason
    with open(src, "rb") as fh:
        assert damage.diagnose(fh) is None    # a sound file has no damage


def test_template_chunks_never_hide_a_changed_value(dicom_root, tmp_path):
    """A chunk of the previous file is jumped over only when its bytes recur exactly (edits of one file)."""
    src = next(p for p in _files(dicom_root / "dcm_qa_ge") if p.stat().st_size > 4000)
    ds = pydicom.dcmread(src)
    variants = {"same": {}, "instance": {"InstanceNumber": 77}, "unwanted": {"SeriesDescription": "changed!"},
                "inserted": {"ContentLabel": "EXTRA"}, "position": {"ImagePositionPatient": [1.5, 2.5, 3.5]}}
    for name, changes in variants.items():
        out = tmp_path / f"{name}.dcm"
        copy = pydicom.dcmread(src)
        for k, v in changes.items():
            setattr(copy, k, v)
        copy.save_as(out)
        reader._fast_record("prime", src, READ_PLAN)   # the previous file: the template
        rec = reader._fast_record(out.name, out, READ_PLAN)
        assert rec is not None and rec == reader.read_record(out.name, out, full=True), name
    assert rec.position == (1.5, 2.5, 3.5) and str(ds.InstanceNumber) != "77"


def test_later_batches_of_a_folder_make_no_seed(dicom_root):
    """Only a folder's first batch seeds its series (two workers would otherwise both seed it); a series that
    begins in a later batch is read in full when folded, so the result is the same."""
    from protocheck.sources.dicom import workers
    files = _files(dicom_root / "dcm_qa_ge" / "04_Ax_DWI_TENSOR_R2MB2")[:3]
    batch = [(p.name, str(p)) for p in files]
    workers.init_worker(ScanOptions())
    assert [seed for _, seed in workers.read_batch(batch, False)] == [None] * 3
    seeded = workers.read_batch(batch)
    assert seeded[0][1] is not None and seeded[1][1] is None


def test_series_beginning_in_a_later_batch_of_a_flat_folder(dicom_root, tmp_path, monkeypatch):
    """A flat folder of several series read in many small batches by two workers gives a full read's result."""
    import shutil
    flat = tmp_path / "flat"
    flat.mkdir()
    for k, series in enumerate(("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22",
                                "dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax")):
        for i, p in enumerate(_files(dicom_root / series)[:5]):
            shutil.copy2(p, flat / f"{k}_{i:02d}.dcm")   # series after series: the 2nd and 3rd start mid-folder
    monkeypatch.setattr(parallel, "BATCH", 3)
    fast = scan_dicom(flat, ScanOptions(workers=2))
    assert len(list(fast.acquisitions())) == 3 and fast.n_files_seen == 15
    assert _snap(fast) == _snap(scan_dicom(flat, ScanOptions(full_read=True)))


def test_raw_public_diffusion_equals_pydicoms_decoding_on_every_shared_file(dicom_root):
    from protocheck.sources.dicom.enhanced import public_diffusion, raw_public_diffusion
    compared = with_vector = 0
    for p in _files(dicom_root):
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - not DICOM: nothing to compare
            continue
        if 0x00189087 not in ds._dict and 0x00189075 not in ds._dict:
            continue
        fast = raw_public_diffusion(ds._dict)
        if fast is False:
            continue
        assert fast == public_diffusion(ds), p   # public_diffusion decodes every element through pydicom
        compared += 1
        with_vector += fast is not None and fast.vector is not None
    assert compared > 1500 and with_vector > 1500, (compared, with_vector)


def test_pydicom_is_imported_without_requests_which_stays_importable():
    """A scan's first import of pydicom skips `requests` (0.1 s before the workers start); nothing else changes."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from protocheck.sources.dicom import collector\n"
            "assert 'pydicom' in sys.modules and 'requests' not in sys.modules\n"
            "import requests\n"
            "assert requests.get\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_command_imports_pydicom_without_numpy_and_still_reads(dicom_root):
    """The command line's entry point hides NumPy while pydicom is imported (its pixel handlers only: ~0.1 s of
    start-up); files are read the same, NumPy stays importable, and a library user keeps pydicom whole."""
    import subprocess
    import sys

    probe = sorted((dicom_root / "dcm_qa_ge").rglob("*"))
    path = str(next(p for p in probe if p.is_file() and p.stat().st_size > 1000))
    code = ("import sys, protocheck\n"
            "protocheck.LEAN_PYDICOM = {lean}\n"
            "from protocheck.sources.dicom import reader\n"
            "rec = reader.read_record('f', {path!r})\n"
            "assert rec.skip is None and rec.series_uid, rec\n"
            "print('numpy' in sys.modules)\n"
            "import numpy\n"
            "import pydicom.pixels.utils as u\n"
            "print(u.HAVE_NP)\n")
    lean = subprocess.run([sys.executable, "-c", code.format(lean=True, path=path)], capture_output=True, text=True)
    assert lean.returncode == 0, lean.stderr
    assert lean.stdout.split() == ["False", "False"]
    whole = subprocess.run([sys.executable, "-c", code.format(lean=False, path=path)], capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.split() == ["True", "True"]


def test_record_values_never_raise_on_numbers_out_of_range():
    """One converter for the file and the DICOM JSON readers: an IS of "1e999" (infinite) is unknown, not a crash."""
    from protocheck.sources.dicom.extract import float_value, int_value, text_value
    assert int_value("1e999") is None and int_value("12") == 12 and int_value(" 7.0 ") == 7 and int_value("") is None
    assert float_value("x") is None and float_value("2.5") == 2.5 and text_value(None) == "" and text_value(" a ") == "a"
