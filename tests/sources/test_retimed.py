"""The new times a touched-only re-check keeps (``Index.store_times``, table ``retimed``): the folder rows are not
rewritten, yet they read exactly as rows a first run stores for the new tree; a later change of any kind in those
folders gives what a scan without index gives."""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from protocheck.sources.dicom import parallel, scan_dicom, touched
from protocheck.sources.dicom.records import open_index
from protocheck.sources.options import ScanOptions
from scan_results import scan_summary
from touch_trees import (  # noqa: F401  (fixtures)
    SERIES, spied, touch_files as _touch, tree, tree_files as _files, unstamped,
)


def _rel(root: Path, files) -> list[str]:
    return sorted(str(f.relative_to(root)) for f in files)


def _fresh(root: Path) -> tuple:
    return scan_summary(scan_dicom(root, ScanOptions(workers=1)))


def _db(cache: Path) -> Path:
    (path,) = cache.glob("index-*.sqlite")
    return path


def _table(cache: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(_db(cache)) as db:
        return db.execute(sql).fetchall()


def _rows(root: Path, opts: ScanOptions) -> dict:
    """Every folder row as the re-checks read it: listing hash, then per block its key and decoded records."""
    index = open_index(opts.cache_dir, root, opts)
    try:
        listings = index.row_listings()
        return {folder: (listings[folder], [(key, index.raw_entries(rows)) for key, (rows, _summary)
                                            in index.load_blocks(folder).items()]) for folder in sorted(listings)}
    finally:
        index.close(prune=False)


def _change_uid(victim: Path) -> None:
    import pydicom
    uid = str(pydicom.dcmread(victim, stop_before_pixels=True).SOPInstanceUID).encode()
    victim.write_bytes(victim.read_bytes().replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))


def test_rows_with_new_times_read_as_a_first_runs_rows(tree, tmp_path, spied, unstamped):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    before = _table(opts.cache_dir, "SELECT folder, data FROM folders")
    victims = _files(tree)[::6]
    _touch(*victims)
    spied["reads"].clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) and spied["reuse"] == [True]
    assert spied["reads"] == _rel(tree, victims)
    assert _table(opts.cache_dir, "SELECT folder, data FROM folders") == before   # no row rewritten
    assert len(_table(opts.cache_dir, "SELECT folder FROM retimed")) == 3         # new times of three folders
    other = ScanOptions(cache_dir=tmp_path / "other", workers=1)   # a first run of the touched tree
    assert scan_summary(scan_dicom(tree, other)) == scan_summary(first)
    assert _rows(tree, opts) == _rows(tree, other)
    _touch(*victims, seconds=-1)   # back to the times the rows were stored with
    spied["reads"].clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(first) and spied["reuse"] == [True, True]
    assert spied["reads"] == _rel(tree, victims)
    third = ScanOptions(cache_dir=tmp_path / "third", workers=1)
    assert scan_summary(scan_dicom(tree, third)) == scan_summary(first)
    assert _rows(tree, opts) == _rows(tree, third) != _rows(tree, other)


def test_a_content_change_in_a_retimed_folder_takes_the_usual_recheck(tree, tmp_path, spied):
    """Touched, then other files of one folder touched and one really changed: the usual re-check reads only the
    files whose times differ from the stored new ones and rewrites that folder's row (its new times go with it);
    the other folders keep theirs."""
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(tree, opts)
    files = _files(tree)
    _touch(*files[::5])
    scan_dicom(tree, opts)
    in_b = [f for f in files[2::5] if f.parent.name == "b"]
    _touch(*in_b)
    victim = next(f for f in files if f.parent.name == "b")
    _change_uid(victim)
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    assert spied["reuse"] == [True, False] and spied["reads"] == _rel(tree, {*in_b, victim})
    assert scan_summary(again) == _fresh(tree)
    retimed = {f for (f,) in _table(opts.cache_dir, "SELECT folder FROM retimed")}
    assert retimed == {"s0/a".replace("/", os.sep), "s1/a".replace("/", os.sep)}
    spied["reads"].clear()
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(again) and spied["reads"] == []
    _touch(*files)   # everything touched once more: every row (rewritten or retimed) still answers for its files
    assert scan_summary(scan_dicom(tree, opts)) == scan_summary(again) and spied["reuse"][-1] is True
    other = ScanOptions(cache_dir=tmp_path / "other", workers=1)
    assert scan_summary(scan_dicom(tree, other)) == scan_summary(again)
    assert _rows(tree, opts) == _rows(tree, other)


def test_damaged_new_times_are_a_cache_miss(tree, tmp_path, spied, unstamped):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    files = _files(tree)
    _touch(*files[::4])
    scan_dicom(tree, opts)
    with sqlite3.connect(_db(opts.cache_dir)) as db:
        assert db.execute("UPDATE retimed SET data=?", (b"\0garbage",)).rowcount == 3
    _touch(*files[1::4])
    spied["reads"].clear()
    again = scan_dicom(tree, opts)
    assert spied["reuse"] == [True, True]
    assert spied["reads"] == _rel(tree, {*files[::4], *files[1::4]})   # the row's own times: both read again
    assert scan_summary(again) == scan_summary(first) == _fresh(tree)


@pytest.mark.parametrize("touch", [True, False])
def test_files_removed_with_their_whole_block_are_noticed(dicom_root, tmp_path, spied, touch):
    """A folder whose last index block lost all its files (and, or not, another file touched): the stored result
    no longer holds (it counted the removed files)."""
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    for f in sorted((dicom_root / SERIES[0]).iterdir())[:60]:
        shutil.copy2(f, root / "a" / f.name)
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    scan_dicom(root, opts)
    listing = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in _files(root)]
    blocks = parallel._blocks(listing)
    assert len(blocks) >= 2
    for name, _size, _mtime in blocks[-1]:
        (root / "a" / name).unlink()
    if touch:
        _touch(root / "a" / blocks[0][0][0])
    again = scan_dicom(root, opts)
    assert spied["reuse"] == [False]
    assert scan_summary(again) == _fresh(root) and again.n_files_seen == len(listing) - len(blocks[-1])
