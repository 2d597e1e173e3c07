"""Incremental index: an unchanged tree re-audits without reading files; every change is noticed."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from protocheck.errors import SourceError
from protocheck.sources import treedigest
from protocheck.sources.dicom import parallel, scan_dicom, touched
from protocheck.storage.location import default_cache_dir
from protocheck.sources.options import ScanOptions

SERIES = "dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2"


@pytest.fixture()
def tree(dicom_root, tmp_path) -> Path:
    """A small real tree (one GE DWI series, two folders) the test may change."""
    src = sorted((dicom_root / SERIES).iterdir())[:12]
    for i, f in enumerate(src):
        dest = tmp_path / "in" / ("a" if i < 6 else "b") / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
    return tmp_path / "in"


@pytest.fixture()
def reads(monkeypatch) -> list[str]:
    """The files actually opened by the scan (index hits are not)."""
    seen: list[str] = []
    real = parallel.read_file

    def spy(rel, path, options, s):
        seen.append(rel)
        return real(rel, path, options, s)

    monkeypatch.setattr(parallel, "read_file", spy)
    monkeypatch.setattr(touched, "read_file", spy)   # files only touched: read again to prove them the same
    return seen


def _snap(r):
    return (sorted((a.key, a.n_files, {k: repr(v.value) for k, v in a.params.items()}) for a in r.acquisitions()),
            sorted((s.path, s.kind) for s in r.skipped), r.n_files_seen)


def test_unchanged_tree_reads_no_file_and_gives_the_same_result(tree, tmp_path, reads):
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    first = scan_dicom(tree, opts)
    assert len(reads) == 12
    reads.clear()
    again = scan_dicom(tree, opts)
    assert reads == [] and _snap(again) == _snap(first)
    assert _snap(first) == _snap(scan_dicom(tree, ScanOptions()))
    assert not any(p.name.endswith(".sqlite") for p in tree.rglob("*"))      # nothing written into the input


def test_added_changed_removed_renamed_files_are_noticed(tree, tmp_path, reads):
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    scan_dicom(tree, opts)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    # added: a copy with another SOPInstanceUID (same length)
    data = files[0].read_bytes()
    import pydicom
    uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).SOPInstanceUID).encode()
    new_uid = uid[:-1] + (b"1" if uid[-1:] != b"1" else b"2")
    (tree / "a" / "added.dcm").write_bytes(data.replace(uid, new_uid))
    reads.clear()
    r = scan_dicom(tree, opts)
    assert reads == [os.path.join("a", "added.dcm")] and r.n_files_seen == 13
    # changed: same size, new mtime (ns) -> its content stamp holds: the same bytes, not parsed again
    st = files[1].stat()
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000))
    reads.clear()
    scan_dicom(tree, opts)
    assert reads == []
    # removed
    files[2].unlink()
    reads.clear()
    r = scan_dicom(tree, opts)
    assert reads == [] and r.n_files_seen == 12
    assert sum(a.n_files for a in r.acquisitions()) == 12
    # renamed: the new name is read, the old one is gone
    files[3].rename(tree / "b" / "renamed.dcm")
    reads.clear()
    r = scan_dicom(tree, opts)
    assert reads == [os.path.join("b", "renamed.dcm")] and r.n_files_seen == 12
    assert _snap(r) == _snap(scan_dicom(tree, ScanOptions()))


def test_content_change_with_same_size_and_new_mtime_is_reflected(tree, tmp_path):
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    scan_dicom(tree, opts)
    f = sorted((tree / "b").iterdir())[0]
    data = f.read_bytes()
    import pydicom
    uid = str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID).encode()
    f.write_bytes(data.replace(uid, uid[:-1] + (b"7" if uid[-1:] != b"7" else b"8")))  # same size
    r = scan_dicom(tree, opts)
    assert _snap(r) == _snap(scan_dicom(tree, ScanOptions()))


def test_two_workers_with_index(tree, tmp_path):
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=2)
    first = scan_dicom(tree, opts)
    assert _snap(scan_dicom(tree, opts)) == _snap(first) == _snap(scan_dicom(tree, ScanOptions()))


def test_cache_inside_the_input_tree_is_refused(tree):
    with pytest.raises(SourceError) as exc:
        scan_dicom(tree, ScanOptions(cache_dir=tree / "a" / ".cache"))
    assert "inside the input tree" in str(exc.value) and "--cache-dir" in str(exc.value)
    assert not (tree / "a" / ".cache").exists()


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "protocheck"


def test_large_folder_is_indexed_in_chunks(tree, tmp_path, monkeypatch, reads):
    monkeypatch.setattr(treedigest, "FOLDER_CHUNK", 4)
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    first = scan_dicom(tree, opts)
    reads.clear()
    again = scan_dicom(tree, opts)
    assert reads == [] and _snap(again) == _snap(first) == _snap(scan_dicom(tree, ScanOptions()))


def test_single_file_input(tree, tmp_path):
    f = sorted((tree / "a").iterdir())[0]
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    r1, r2 = scan_dicom(f, opts), scan_dicom(f, opts)
    assert r1.n_files_seen == r2.n_files_seen == 1 and _snap(r1) == _snap(r2)
    assert sum(a.n_files for a in r2.acquisitions()) == 1


def test_unchanged_tree_is_served_from_the_snapshot_and_a_change_is_not(tree, tmp_path, reads, monkeypatch):
    from protocheck.storage import index as index_mod
    opts = ScanOptions(cache_dir=tmp_path / "cache", workers=1)
    first = scan_dicom(tree, opts)
    loads: list[str] = []
    real_load = index_mod.Index.sealed_row   # every read of a folder row
    monkeypatch.setattr(index_mod.Index, "sealed_row", lambda self, folder: loads.append(folder)
                        or real_load(self, folder))
    reads.clear()
    again = scan_dicom(tree, opts)
    assert _snap(again) == _snap(first) and not reads and not loads   # no file, no folder row
    victim = sorted((tree / "b").iterdir())[0]
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    changed = scan_dicom(tree, opts)   # touched only: its folder's row, the file's stamp, the same result
    assert reads == [] and loads == ["b"]
    assert _snap(changed) == _snap(first)
    reads.clear(), loads.clear()
    assert _snap(scan_dicom(tree, opts)) == _snap(first) and not reads and not loads   # the new times stored


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_damaged_index_is_replaced_and_every_file_read_again(tree, tmp_path, reads, caplog, damage):
    """A damaged index file (not a database; pages overwritten: 'malformed') is a cache miss, never an error."""
    opts = ScanOptions(cache_dir=tmp_path / "cache")
    first = scan_dicom(tree, opts)
    (db,) = (tmp_path / "cache").rglob("index-*.sqlite")
    for extra in db.parent.glob(db.name + "-*"):   # the WAL folded in first: the damage is the whole story
        extra.unlink()
    data = bytearray(db.read_bytes())
    start, end = (0, 100) if damage == "header" else (4096, len(data))
    data[start:end] = bytes(range(7, 7 + end - start)) if damage == "header" else b"\xa5" * (end - start)
    db.write_bytes(bytes(data))
    reads.clear()
    again = scan_dicom(tree, opts)
    assert _snap(again) == _snap(first) and sorted(reads) == sorted(set(reads)) and len(reads) == 12
    assert "is damaged" in caplog.text and "replaced by a new one" in caplog.text
    reads.clear()
    assert _snap(scan_dicom(tree, opts)) == _snap(first) and reads == []   # the new index serves the next run
