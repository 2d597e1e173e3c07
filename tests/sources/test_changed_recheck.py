"""Re-checks after a real content change with worker processes (``refold.fold_away``): the changed blocks are
folded by the workers from their stored and re-read rows; the result is a scan without index's."""
from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from protocheck.sources.dicom import parallel, refold, scan_dicom
from protocheck.sources.options import ScanOptions
from scan_results import scan_summary
from touch_trees import tree, tree_files as _files  # noqa: F401  (fixture)


@pytest.fixture()
def sent(monkeypatch) -> list[int]:
    """The number of changed blocks each folder sent to be folded by a worker."""
    out: list[int] = []
    real = refold.fold_away

    def spy(*args):
        got = real(*args)
        out.append(len(got))
        return got

    monkeypatch.setattr(refold, "fold_away", spy)
    return out


@pytest.fixture()
def taken(monkeypatch) -> list[bool]:
    """Per changed block a worker folded: whether its files read as stored (its stored summary taken)."""
    out: list[bool] = []
    real = refold.take_away

    def spy(folder, files, block, *args):
        out.append(block[0] is not None and block[1] is None)
        return real(folder, files, block, *args)

    monkeypatch.setattr(refold, "take_away", spy)
    return out


def _fresh(root: Path) -> tuple:
    return scan_summary(scan_dicom(root, ScanOptions(workers=1)))


def _new_uid(path: Path) -> None:
    """Every copy of the file's SOP Instance UID replaced by another of the same length (bytes written in place)."""
    uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID).encode()
    path.write_bytes(path.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))


def _edit(path: Path, **values) -> None:
    ds = pydicom.dcmread(path)
    for key, value in values.items():
        setattr(ds, key, value)
    ds.save_as(path)


@pytest.mark.parametrize("change", ["uid", "echo time", "new series", "uid and touch", "first file"])
def test_a_content_change_is_folded_by_the_workers(tree, tmp_path, sent, change):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    first = scan_dicom(tree, opts)
    files = _files(tree)
    if change in ("uid", "uid and touch"):
        for f in files[5::11]:
            _new_uid(f)
        if change == "uid and touch":   # files that only look changed, in other blocks or the same ones
            for f in files[2::13]:
                f.write_bytes(f.read_bytes())
    elif change == "echo time":   # a parameter changed in some files of one series: findings change
        for f in files[43:47]:
            _edit(f, EchoTime=float(pydicom.dcmread(f, stop_before_pixels=True).EchoTime) + 1.5)
    elif change == "new series":   # a file moved to a series of its own
        _edit(files[7], SeriesInstanceUID=pydicom.uid.generate_uid(), SeriesNumber=99)
    else:   # a series' first file (the one whose stored row holds its seed)
        _edit(files[0], ProtocolName="changed")
    sent.clear()
    again = scan_dicom(tree, opts)
    assert sum(sent) > 0   # some changed blocks were folded by a worker
    assert scan_summary(again) == _fresh(tree)
    assert again.digest == scan_dicom(tree, ScanOptions(cache_dir=tmp_path / "other", workers=2)).digest
    if change in ("echo time", "new series", "first file"):
        assert scan_summary(again) != scan_summary(first)
    sent.clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(again) and sent == []   # the new snapshot
    _new_uid(files[5])   # and the rows the workers stored serve the next re-check
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree) and sum(sent) > 0


def test_one_worker_folds_the_changed_blocks_itself(tree, tmp_path, sent, monkeypatch):
    """Without worker processes nothing is sent; the result is the same."""
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(tree, opts)
    for f in _files(tree)[5::11]:
        _new_uid(f)
    folded: list[int] = []
    real = parallel._fold_new
    monkeypatch.setattr(parallel, "_fold_new", lambda folder, entries, *a: folded.append(len(entries)) or
                        real(folder, entries, *a))
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree)
    assert sum(sent) == 0 and folded


@pytest.mark.parametrize("case", ["not read earlier", "added", "split"])
def test_files_the_touched_check_did_not_read_are_read_by_the_workers(tree, tmp_path, sent, taken, monkeypatch,
                                                                     case):
    """Files the touched-only check did not read (it ended before: a file added, a content change in an earlier
    chunk) are read by the workers; they fold the blocks that really changed and tell which ones read as stored
    (their stored summaries are merged)."""
    from protocheck.sources.dicom import touched
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    first = scan_dicom(tree, opts)
    if case == "not read earlier":
        monkeypatch.setattr(touched, "reuse_snapshot", lambda *args: False)
    elif case == "split":
        monkeypatch.setattr(touched, "SPLIT_FROM", 1)
    files = _files(tree)
    for f in files[2::9]:   # same bytes, new times
        f.write_bytes(f.read_bytes())
    if case == "added":
        shutil.copy2(files[0], files[0].parent / "zz-copy")   # a duplicate SOP instance: skipped as such
    for f in files[5::23]:
        _new_uid(f)
    sent.clear()
    again = scan_dicom(tree, opts)
    assert scan_summary(again) == _fresh(tree) and sum(sent) > 0 and False in taken
    if case == "not read earlier":
        assert True in taken   # blocks that only look changed: their stored summaries
    for f in files[1::2]:   # many changed files in every folder
        _edit(f, ImageComments="changed")
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree) != scan_summary(first)
