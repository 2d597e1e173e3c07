"""Hostile and broken DICOM input: the scan never raises, every bad file is reported, good files are kept.

The corpus is generated in tmp_path from real headers of the shared data (see hostile_corpus.py).
Unreadable files are simulated by making ``open`` raise PermissionError for that one path (chmod 000 does
not stop root, which CI runs as); where the tests do not run as root, a chmod 000 file is tried too.
"""
from __future__ import annotations

import builtins
import os
import shutil
from pathlib import Path

import pytest

import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _skipped(result, name: str):
    """The SkippedFile whose path ends with ``name`` (or None)."""
    for s in result.skipped:
        if s.path.replace("\\", "/").endswith(name):
            return s
    return None


def _acq(result, key: str):
    for a in result.acquisitions():
        if a.key == key:
            return a
    return None


def _assert_good_kept(result, good_uid: str, n: int = 11) -> None:
    acq = _acq(result, good_uid)
    assert acq is not None, "the good series beside the bad files was lost"
    assert acq.n_files == n, f"good series has {acq.n_files} files, expected {n}"


def _assert_reported(result, name: str, *words: str):
    s = _skipped(result, name)
    assert s is not None, f"{name} is not listed as skipped: {[x.path for x in result.skipped]}"
    assert s.reason.strip(), f"{name}: empty reason"
    if words:
        low = s.reason.lower()
        assert any(w in low for w in words), f"{name}: reason {s.reason!r} says none of {words}"
    return s


def test_not_dicom_files_are_skipped_with_reason(scan, case_dir, good_uid):
    files = corpus.build_not_dicom(case_dir / "junk")
    result = scan(case_dir)
    for name in files:
        s = _assert_reported(result, name)
        assert s.kind in ("not-dicom", "invalid", "unreadable"), (name, s.kind)
    _assert_reported(result, "notes.txt", "not a dicom", "not dicom")
    _assert_reported(result, "image.png", "not a dicom", "not dicom")
    _assert_good_kept(result, good_uid)


def test_truncated_headers_never_crash_nor_invent_series(scan, case_dir, good_uid, other_files, other_uid):
    names = corpus.build_truncated(other_files[0], case_dir / "truncated")
    assert len(names) >= 100
    result = scan(case_dir)
    _assert_good_kept(result, good_uid)
    keys = {a.key for a in result.acquisitions()}
    assert keys <= {good_uid, other_uid}, f"truncated files produced bogus series: {keys - {good_uid, other_uid}}"
    other = _acq(result, other_uid)
    used = other.n_files if other else 0
    skipped = [n for n in names if _skipped(result, n) is not None]
    assert len(skipped) + used == len(names), "some truncated files were neither read nor reported"
    for n in names[:5]:   # cut inside preamble / meta: nothing to read there
        _assert_reported(result, n)


def test_structural_damage(scan, case_dir, good_uid, other_files, other_uid):
    cases = corpus.build_structural(other_files[0], case_dir / "damaged")
    result = scan(case_dir)
    _assert_good_kept(result, good_uid)
    keys = {a.key for a in result.acquisitions()}
    assert keys <= {good_uid, other_uid}, keys
    other = _acq(result, other_uid)
    used = other.n_files if other else 0
    reported = [n for n in cases if _skipped(result, n) is not None]
    assert len(reported) + used == len(cases), (reported, used)
    for name in ("absurd_private_size.dcm", "length_past_eof.dcm", "preamble_only.dcm"):
        _assert_reported(result, name)


def test_file_without_preamble_is_read(scan, case_dir, other_files, other_uid):
    raw = other_files[0].read_bytes()
    (case_dir / "nopre").mkdir()
    (case_dir / "nopre" / "no_preamble.dcm").write_bytes(raw[132:])
    result = scan(case_dir)
    acq = _acq(result, other_uid)
    assert acq is not None and acq.n_files == 1, [s.reason for s in result.skipped]


def test_missing_series_uid_manufacturer_garbage_dates_charset(scan, case_dir, good_uid, other_files):
    out = corpus.build_semantic(other_files[0], case_dir / "semantic")
    result = scan(case_dir)
    _assert_good_kept(result, good_uid)
    s = _assert_reported(result, "no_series_uid.dcm", "seriesinstanceuid", "series instance uid")
    assert s.kind == "invalid"
    no_man = _acq(result, out["no_manufacturer.dcm"])
    assert no_man is not None
    assert any("manufacturer" in (n.code + n.message).lower() for n in no_man.notes), no_man.notes
    dates = _acq(result, out["garbage_dates.dcm"])
    assert dates is not None, "a file with StudyDate '***' must still be read"
    exam = next(e for e in result.exams if dates in e.acquisitions)
    assert exam.date is None or exam.date.year > 1900
    charset = _acq(result, out["bad_charset.dcm"])
    assert charset is not None, "unknown character set / invalid bytes must not lose the file"
    assert isinstance(charset.description, str)


def test_two_series_in_one_folder(scan, tmp_path, good_files, other_files, good_uid, other_uid):
    root = tmp_path / "mixed"
    root.mkdir()
    for f in good_files + other_files:
        shutil.copyfile(f, root / f"{f.parent.name}_{f.name}")
    result = scan(root)
    assert _acq(result, good_uid).n_files == 11
    assert _acq(result, other_uid).n_files == len(other_files)


def test_one_series_over_two_folders(scan, tmp_path, good_files, good_uid):
    root = tmp_path / "split"
    for i, f in enumerate(good_files):
        d = root / ("part_a" if i % 2 else "part_b")
        d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, d / f.name)
    result = scan(root)
    acqs = list(result.acquisitions())
    assert len(acqs) == 1
    assert acqs[0].n_files == 11
    assert "part_a" in acqs[0].folder and "part_b" in acqs[0].folder


def test_duplicate_sop_instance_uid(scan, case_dir, good_files, good_uid):
    shutil.copyfile(good_files[3], case_dir / "duplicate_copy.dcm")
    result = scan(case_dir)
    dup = [x for x in result.skipped if x.kind == "duplicate"]
    assert len(dup) == 1, result.skipped   # whichever copy comes second in scan order is the duplicate
    assert dup[0].path.endswith(("duplicate_copy.dcm", good_files[3].name))
    assert "sopinstanceuid" in dup[0].reason.lower().replace(" ", "") or "duplicate" in dup[0].reason.lower()
    _assert_good_kept(result, good_uid)


def test_slice_missing_is_noted(scan, case_dir, good_uid):
    import pydicom
    files = sorted(case_dir.joinpath("good").iterdir(),
                   key=lambda p: int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber))
    files[5].unlink()   # a middle slice
    result = scan(case_dir)
    acq = _acq(result, good_uid)
    assert acq.n_files == 10
    assert any(n.code == "slice-missing" for n in acq.notes), acq.notes


def test_dicomdir_is_skipped_and_its_images_read(scan, tmp_path, other_files, other_uid):
    root = tmp_path / "media"
    dicomdir = corpus.build_dicomdir(other_files[:3], root)
    assert dicomdir.is_file()
    result = scan(root)
    _assert_reported(result, "DICOMDIR", "dicomdir")
    assert _acq(result, other_uid).n_files == 3


def test_unreadable_file_as_root_too(scan, case_dir, good_files, good_uid, other_files, monkeypatch):
    target = case_dir / "locked.dcm"
    shutil.copyfile(other_files[0], target)
    real_open = builtins.open
    real_os_open = os.open

    def guarded_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).resolve() == target.resolve():
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def guarded_os_open(path, *args, **kwargs):
        if Path(path).resolve() == target.resolve():
            raise PermissionError(13, "Permission denied", str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    result = scan(case_dir)
    s = _assert_reported(result, "locked.dcm", "permission", "denied", "cannot open")
    assert s.kind == "unreadable"
    _assert_good_kept(result, good_uid)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="chmod 000 does not prevent reading as root (the monkeypatched test covers root)")
def test_unreadable_file_chmod(scan, case_dir, other_files, good_uid):
    target = case_dir / "chmod000.dcm"
    shutil.copyfile(other_files[0], target)
    target.chmod(0)
    try:
        result = scan(case_dir)
    finally:
        target.chmod(0o644)
    _assert_reported(result, "chmod000.dcm", "permission", "denied")
    _assert_good_kept(result, good_uid)


def test_symlink_loop(scan, case_dir, good_uid):
    link = corpus.make_symlink_loop(case_dir)
    if link is None:
        pytest.skip("symbolic links cannot be created here")
    result = scan(case_dir)
    assert any("loop" in s.reason.lower() or "already visited" in s.reason.lower() for s in result.skipped)
    _assert_good_kept(result, good_uid)   # 11 files, not counted twice through the loop


def test_file_vanishing_during_scan(scan, case_dir, other_files, good_uid, monkeypatch):
    target = case_dir / "vanishing.dcm"
    shutil.copyfile(other_files[0], target)
    real_open, real_os_open = builtins.open, os.open

    def vanish(file) -> None:
        if isinstance(file, (str, os.PathLike)) and os.fspath(file).endswith("vanishing.dcm") and target.exists():
            target.unlink()   # the file disappears just before the reader opens it

    def deleting_open(file, *args, **kwargs):
        vanish(file)
        return real_open(file, *args, **kwargs)

    def deleting_os_open(file, *args, **kwargs):   # the scanners open files with os.open
        vanish(file)
        return real_os_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deleting_open)
    monkeypatch.setattr(os, "open", deleting_os_open)
    result = scan(case_dir)
    _assert_reported(result, "vanishing.dcm", "vanish", "no such file", "not found", "cannot open")
    _assert_good_kept(result, good_uid)


def test_enhanced_nested_reference_is_not_the_series(scan, tmp_path, dicom_root):
    src = corpus.files_of(dicom_root, corpus.ENHANCED_FILE)[0]
    root = tmp_path / "enh"
    root.mkdir()
    own, other = corpus.build_enhanced_nested_ref(src, root)
    result = scan(root)
    keys = {a.key for a in result.acquisitions()}
    assert keys == {own}, f"expected only the file's own series {own}, got {keys} (nested {other})"


def test_file_cut_inside_series_uid_is_not_a_new_series(scan, other_files, other_uid):
    import io

    from protocheck.sources.dicom.collector import DicomCollector
    raw = other_files[0].read_bytes()
    start = raw.index(other_uid.encode())
    bogus = []
    for cut in range(start + 1, start + len(other_uid)):
        c = DicomCollector("cuts")
        data = raw[:cut]
        c.add_fileobj(f"cut_{cut}.dcm", lambda d=data: io.BytesIO(d), len(data), 0.0)
        result = c.finish()
        keys = [a.key for a in result.acquisitions()]
        if keys and keys != [other_uid]:
            bogus.append((cut, keys))
        assert keys or result.skipped, "a truncated file was neither read nor reported"
    assert not bogus, f"{len(bogus)} truncated files became bogus series, e.g. {bogus[:2]}"
