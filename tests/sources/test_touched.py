"""Re-checks of a tree whose files were only touched (``sources/dicom/touched.py``): the stored result when every
changed file reads the same, the usual re-check for any other change; both give what a scan without index gives."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from protocheck.sources.dicom import scan_dicom, touched
from protocheck.sources.options import ScanOptions
from scan_results import scan_summary
from touch_trees import (  # noqa: F401  (fixtures)
    SERIES, spied, touch_files as _touch, tree, tree_files as _files, unstamped,
)

def _fresh(root: Path) -> tuple:
    return scan_summary(scan_dicom(root, ScanOptions(workers=1)))


@pytest.mark.parametrize("stamps", [True, False])
def test_touched_files_that_read_the_same_give_the_stored_result(tree, tmp_path, spied, request, stamps):
    """With content stamps, touched files are not parsed again (their first bytes give the stored crc);
    without, each is parsed and compared with its row."""
    if not stamps:
        request.getfixturevalue("unstamped")
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    files = _files(tree)
    victims = files[::7]
    _touch(*victims)
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    read = [] if stamps else sorted(str(f.relative_to(tree)) for f in victims)
    assert spied["reuse"] == [True] and sorted(spied["reads"]) == read
    assert scan_summary(again) == scan_summary(first) == _fresh(tree) and again.digest == first.digest
    spied["reads"].clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) and spied["reads"] == []   # new times stored
    _touch(*files[3::7])   # other files of the same blocks: those touched before are not read again
    spied["reads"].clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) and spied["reuse"][-1] is True
    assert sorted(spied["reads"]) == ([] if stamps else sorted(str(f.relative_to(tree)) for f in files[3::7]))


def test_a_touched_file_whose_content_changed_is_folded_again(tree, tmp_path, spied, monkeypatch):
    """Only the changed files are read, once; the tree is walked once (the chunks the re-check's walk found
    unchanged are taken from their rows, in walk order)."""
    from protocheck.sources import discovery
    walks: list[str] = []
    real_folders = discovery.folders
    monkeypatch.setattr(discovery, "folders", lambda root: walks.append(str(root)) or real_folders(root))
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(tree, opts)
    files = _files(tree)
    _touch(*files[::9])
    victim = files[4]   # same size, new mtime, another SOPInstanceUID
    import pydicom
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    victim.write_bytes(victim.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    # each changed file read once: the usual re-check takes those the touched-only check read
    assert sorted(spied["reads"]) == sorted(str(f.relative_to(tree)) for f in {*files[::9], victim})
    assert spied["reuse"] == [False] and walks == [str(tree)]   # the first run's walk only
    assert scan_summary(again) == _fresh(tree)
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(again)   # the snapshot stored with the new tree state


@pytest.mark.parametrize("change", ["deleted", "added", "renamed file", "renamed folder", "new folder"])
def test_other_changes_with_touched_files_take_the_usual_recheck(tree, tmp_path, spied, change):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    files = _files(tree)
    _touch(*files[1::5])
    if change == "deleted":
        files[2].unlink()
    elif change == "added":
        shutil.copy2(files[0], files[0].parent / "zz-copy")   # a duplicate SOP instance: skipped as such
    elif change == "renamed file":
        files[2].rename(files[2].parent / "renamed.dcm")
    elif change == "renamed folder":
        (tree / "s0" / "b").rename(tree / "s0" / "c")
    else:
        (tree / "s1" / "more").mkdir()
        shutil.copy2(files[-1], tree / "s1" / "more" / files[-1].name)
    again = scan_dicom(tree, opts)
    assert spied["reuse"] in ([False], [])   # not asked when the snapshot's state is missing
    assert scan_summary(again) == _fresh(tree)
    # the same series, from a new name
    assert (scan_summary(again) == scan_summary(first)) == (change == "renamed file")
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(again)   # and the re-check after it: the new snapshot


def test_two_processes_agree(tree, tmp_path, spied, monkeypatch):
    """The changed chunks shared by two processes (each verifies its half) give the same answer."""
    monkeypatch.setattr(touched, "SPLIT_FROM", 1)
    pids = tmp_path / "pids"
    real = touched._verify

    def verify(chunks, *args):
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return real(chunks, *args)

    monkeypatch.setattr(touched, "_verify", verify)
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    first = scan_dicom(tree, opts)
    _touch(*_files(tree))
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) == _fresh(tree) and spied["reuse"] == [True]
    assert len(set(pids.read_text().split())) == 2
    victim = _files(tree)[-1]   # a content change in either half: the usual re-check
    import pydicom
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    victim.write_bytes(victim.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))
    _touch(*_files(tree))
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree) and spied["reuse"] == [True, False]


def test_a_damaged_row_of_a_folder_not_listed_again_is_read_again(tree, tmp_path):
    """A content change in s1/a makes the re-check take s0's folders from their rows without listing them; a
    damaged s0/a row must not lose its files (nor stop the check): the tree is listed and s0/a read again."""
    import sqlite3
    import pydicom
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(tree, opts)
    victim = _files(tree / "s1")[0]
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    victim.write_bytes(victim.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))
    damaged = 0
    for db_path in (tmp_path / "cache").rglob("index-*.sqlite"):
        with sqlite3.connect(db_path) as db:
            damaged += db.execute("UPDATE folders SET data=? WHERE folder LIKE ?", (b"\0garbage", "s0%a")).rowcount
    assert damaged == 1
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree)
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree)   # and the rows stored by that re-check serve the next


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the second process is forked")
def test_the_two_processes_share_the_chunks_each_verified_once(tree, tmp_path, spied, monkeypatch):
    """The forked process draws its chunks from a pipe of tickets, this one takes its own then draws the ones
    left: every changed chunk is verified by one of them, once; a content change, whichever process meets it,
    leaves the touched-only path (the usual re-check)."""
    monkeypatch.setattr(touched, "SPLIT_FROM", 1)
    seen = tmp_path / "seen"
    real = touched._verify

    def verify(chunks, *args):
        def logged():
            for chunk in chunks:
                with open(seen, "a") as f:
                    f.write(f"{os.getpid()} {chunk[0]!r}\n")
                yield chunk
        return real(logged(), *args)

    monkeypatch.setattr(touched, "_verify", verify)
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    first = scan_dicom(tree, opts)
    _touch(*_files(tree))
    seen.write_text("")
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) == _fresh(tree) and spied["reuse"] == [True]
    keys = [line.split(" ", 1)[1] for line in seen.read_text().splitlines()]
    assert len(keys) == len(set(keys)) >= 2   # each chunk once
    import pydicom
    victim = _files(tree)[0]
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    victim.write_bytes(victim.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))
    _touch(*_files(tree))
    assert scan_summary(scan_dicom(tree, opts)) == _fresh(tree) and spied["reuse"] == [True, False]


def _same_size_edit(path: Path, old: bytes, new: bytes, count: int = -1) -> None:
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    st = path.stat()
    path.write_bytes(data.replace(old, new, count))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def test_a_same_size_edit_of_the_stamped_bytes_is_parsed_again(tree, tmp_path, spied):
    """Touched files whose stamps hold are not parsed; a file whose stamped bytes changed (same size, new
    mtime) is: here a header value no record reads (the stored result holds), then one a record reads (a new
    SOPInstanceUID: the usual re-check); each result is a scan's without index."""
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    files = _files(tree)
    _touch(*files[::3])
    victim = files[4]   # not the first file of its series: its row has a record, no seed
    _same_size_edit(victim, b"orange", b"lemons", 1)   # StationName (0008,1010), the first "orange"
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    assert spied["reads"] == [str(victim.relative_to(tree))] and spied["reuse"] == [True]
    assert scan_summary(again) == scan_summary(first) == _fresh(tree)
    import pydicom
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    _same_size_edit(victim, uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8"))
    spied["reads"].clear()
    changed = scan_dicom(tree, opts)
    assert spied["reuse"] == [True, False] and spied["reads"] == [str(victim.relative_to(tree))]
    assert scan_summary(changed) == _fresh(tree) != scan_summary(first)


def test_touched_files_without_a_stamp_are_parsed(tree, tmp_path, spied, monkeypatch):
    """A row whose record has no stamp (its file was read by pydicom) makes its touched file parsed again;
    the others are verified by their stamps."""
    from protocheck.sources.dicom import records
    real = records.record_tuple
    files = _files(tree)
    plain = {str(f.relative_to(tree)) for f in files[::4]}   # half of the files touched below
    monkeypatch.setattr(records, "record_tuple",
                        lambda rec: real(rec)[:-1] + (None,) if rec.name in plain else real(rec))
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    _touch(*files[::2])
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    assert sorted(spied["reads"]) == sorted(plain) and spied["reuse"] == [True]
    assert scan_summary(again) == scan_summary(first) == _fresh(tree)
