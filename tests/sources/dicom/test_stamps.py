"""Content stamps (``rawio.Stamp``): what a record and its seed were read from, made by the reads' own buffers,
checked by ``rawio.stamp_holds``; the compiled and the pure-Python walks give the same stamps."""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import pytest

from protocheck.sources.dicom import native, rawio, workers
from protocheck.sources.options import ScanOptions

FOLDERS = ("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_mosaic", "dcm_qa_philips_enh/enh", "dcm_qa_xa30",
           "dcm_qa_philips_dwi")


def _files(dicom_root: Path, per_folder: int = 12) -> list[Path]:
    out = []
    for folder in FOLDERS:
        out += sorted(p for p in (dicom_root / folder).rglob("*") if p.is_file())[:per_folder]
    return out


def _stamps(files: list[Path], root: Path) -> list[tuple]:
    seen: set[str] = set()   # the first file of each series gives a seed: its stamp covers the whole header
    return [(workers.read_file(str(p.relative_to(root)), str(p), ScanOptions(), seen)[0].stamp, p) for p in files]


def test_records_and_seeds_are_stamped_and_the_stamps_hold(dicom_root):
    got = _stamps(_files(dicom_root), dicom_root)
    assert sum(s is not None for s, _p in got) >= 0.9 * len(got) > 30
    for stamp, path in got:
        if stamp is not None:
            n, _crc, ends, gaps = stamp
            assert 132 < n <= path.stat().st_size and (not ends or n == path.stat().st_size)
            assert len(gaps) % 2 == 0 and rawio.stamp_holds(path, stamp)


def test_the_compiled_and_the_python_walks_give_the_same_stamps(dicom_root, monkeypatch):
    if native.CWALK is None:
        pytest.skip("the compiled walk is not built here")
    files = _files(dicom_root)
    compiled = _stamps(files, dicom_root)
    monkeypatch.setattr(native, "CWALK", None)
    assert _stamps(files, dicom_root) == compiled


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_stamp_holds_for_its_bytes_only(tmp_path):
    data = bytes(range(256)) * 8
    f = _write(tmp_path / "f", data)
    head = rawio.stamp_of(data, 1000, False)
    assert rawio.stamp_holds(f, head)
    _write(f, data[:1500] + b"\0" + data[1501:])   # past the stamped bytes, same size: holds
    assert rawio.stamp_holds(f, head)
    _write(f, data[:999] + b"\1" + data[1000:])    # inside, same size: does not
    assert not rawio.stamp_holds(f, head)
    _write(f, data)
    whole = rawio.stamp_of(data, len(data), True)   # a read that went to the end: the file must end there
    assert rawio.stamp_holds(f, whole)
    _write(f, data + b"x")
    assert not rawio.stamp_holds(f, whole) and rawio.stamp_holds(f, rawio.stamp_of(data, len(data), False))
    assert not rawio.stamp_holds(tmp_path / "gone", head)
    f.chmod(0)
    if not os.access(f, os.R_OK):   # unreadable: not held (root reads anyway)
        assert not rawio.stamp_holds(f, head)


def test_bytes_a_reader_jumped_over_unread_are_left_out(tmp_path):
    data = bytes(range(256)) * 400
    f = _write(tmp_path / "f", data)
    with rawio.RawFile(f) as fh:
        r = rawio.Reader(fh, 1024)
        assert r.need(4000, 10)    # jumps over [1024, 4000): never read
        stamp = rawio.window_stamp(r)
    n, crc, ends, gaps = stamp
    assert gaps == (1024, 4000) and n == 4000 + rawio.CHUNK and not ends
    assert crc == zlib.crc32(data[4000:n], zlib.crc32(data[:1024]))
    _write(f, data[:2000] + b"\0" + data[2001:])   # inside the jumped span: the read would find the same
    assert rawio.stamp_holds(f, stamp)
    _write(f, data[:4001] + b"\0" + data[4002:])
    assert not rawio.stamp_holds(f, stamp)


def test_a_moved_window_keeps_the_crc_of_what_it_left(tmp_path):
    data = bytes(range(251)) * 400
    f = _write(tmp_path / "f", data)
    with rawio.RawFile(f) as fh:
        r = rawio.Reader(fh, 1024)
        assert r.need(900, 500)    # the window moves to 900, reading on
        stamp = rawio.window_stamp(r)
    assert r.base == 900 and stamp[0] == r.base + len(r.buf) and not stamp[3]
    assert stamp[1] == zlib.crc32(data[:stamp[0]]) and rawio.stamp_holds(f, stamp)
