"""Per-folder pre-merged summaries: a re-check merges unchanged folders and gives what a scan without index gives."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from protocheck.sources.dicom import collector as collector_mod
from protocheck.sources.dicom import scan_dicom, touched
from protocheck.sources.options import ScanOptions
from scan_results import scan_summary


class _Merges(list):
    partial: list[bool]

    def clear(self) -> None:
        super().clear()
        self.partial.clear()


@pytest.fixture()
def merges(monkeypatch) -> list[bool]:
    """What every merge of a summary gave (True: taken whole; False: the folder folded file by file)."""
    out = _Merges()
    partial = out.partial = []
    real = collector_mod.DicomCollector.merge

    def spy(self, summary):
        ok = real(self, summary)
        out.append(ok)
        partial.append(ok and bool(summary[4]))
        return ok

    monkeypatch.setattr(collector_mod.DicomCollector, "merge", spy)
    return out


@pytest.fixture(scope="module")
def shared_copy(dicom_root, tmp_path_factory) -> Path:
    """All shared DICOM data, copied: the tests change it (the input of a scan is never written)."""
    dest = tmp_path_factory.mktemp("summaries") / "in"
    shutil.copytree(dicom_root, dest, ignore=shutil.ignore_patterns("*.md", "*.tsv"))
    return dest


def _series_folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob("*") if p.is_file()})


def test_first_run_and_recheck_after_changes_equal_a_scan_without_index(shared_copy, tmp_path, merges, monkeypatch):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(shared_copy, opts)
    assert scan_summary(first) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=1)))
    assert merges.count(True) > 50, "the first run folds each folder of new series into its own summary"
    folders = _series_folders(shared_copy)
    for folder in folders[::7]:                       # changed folders: read again, summaries rebuilt
        for f in folder.iterdir():
            st = f.stat()
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    victim = sorted(folders[3].iterdir())[0]
    victim.unlink()                                   # removed
    # a copy of a later folder's file in a folder walked first: that series is known when its folder comes,
    # so its summary cannot be merged (the folder is folded file by file: the copy is a duplicate there)
    early = shared_copy / "000-early"
    early.mkdir()
    donor = sorted(folders[10].iterdir())[0]
    shutil.copy2(donor, early / donor.name)
    shutil.copy2(donor, donor.parent / "zzzz-copy")   # a duplicate in a later block of the same folder
    files = sorted(p for p in shared_copy.rglob("*") if p.is_file())
    for f in files[::37]:                              # single files here and there: their blocks re-folded
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    merges.clear()
    again = scan_dicom(shared_copy, opts)
    assert scan_summary(again) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=1)))
    assert merges.count(True) > 50 and False in merges, "unchanged blocks merged; the known series folded"
    assert sum(1 for s in again.skipped if s.kind == "duplicate") >= 2
    for f in files[5::41]:                             # again, other blocks: the stored summaries now merge
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    merges.clear()
    real_reuse, off = touched.reuse_snapshot, [True]   # not the touched-only path here: the merges
    monkeypatch.setattr(touched, "reuse_snapshot", lambda *args: not off and real_reuse(*args))
    again = scan_dicom(shared_copy, opts)
    assert scan_summary(again) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=1)))
    assert any(merges.partial), "a block of a series begun in an earlier block merges into it"
    merges.clear()
    assert scan_summary(scan_dicom(shared_copy, opts)) == scan_summary(again) and not merges   # unchanged: the snapshot
    off.clear()
    for f in files[9::41]:                             # only touched: the snapshot, once the files read the same
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert scan_summary(scan_dicom(shared_copy, opts)) == scan_summary(again) and not merges
    assert scan_summary(again) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=1)))


def test_two_workers_recheck_equals_a_scan_without_index(shared_copy, tmp_path):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    scan_dicom(shared_copy, opts)
    folder = _series_folders(shared_copy)[5]
    for f in folder.iterdir():
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    assert scan_summary(scan_dicom(shared_copy, opts)) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=2)))


def test_an_interrupted_scan_keeps_the_rows_of_folders_it_did_not_reach(shared_copy, tmp_path, monkeypatch):
    from protocheck.sources.dicom import parallel
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(shared_copy, opts)
    first = _series_folders(shared_copy)[0]
    for f in first.iterdir():                          # the snapshot no longer answers: folders are looked up
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 3 * 10**9))
    monkeypatch.setattr(touched, "reuse_snapshot", lambda *args: False)   # the folders are folded
    real, calls = parallel._fold, []

    def interrupted(folder, *args):
        calls.append(folder.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(folder, *args)

    monkeypatch.setattr(parallel, "_fold", interrupted)
    with pytest.raises(KeyboardInterrupt):
        scan_dicom(shared_copy, opts)
    monkeypatch.setattr(parallel, "_fold", real)
    reads: list[str] = []
    real_read = parallel.read_file
    monkeypatch.setattr(parallel, "read_file", lambda rel, *a: reads.append(rel) or real_read(rel, *a))
    again = scan_dicom(shared_copy, opts)
    assert len(reads) <= len(list(first.iterdir())), "only the touched folder is read again"
    assert scan_summary(again) == scan_summary(scan_dicom(shared_copy, ScanOptions(workers=1)))
