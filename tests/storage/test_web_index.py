"""The DICOMweb index is a cache: a damaged file (not a database, damaged pages) is a miss and is replaced."""
from __future__ import annotations

import logging

import pytest

from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions
from protocheck.storage.web_index import WebIndex

SERVER = "http://pacs.example/dicom-web"


def _stored(tmp_path) -> WebIndex:
    with WebIndex(tmp_path / "cache", SERVER, ScanOptions()) as index:
        index.store("1.2.3", b"seen", ScanResult(roots=["r"], n_files_seen=7))
    return index


@pytest.mark.parametrize("damage", ["header", "pages"])
def test_damaged_web_index_is_a_miss_and_is_replaced(tmp_path, caplog, damage):
    path = _stored(tmp_path).path
    with WebIndex(tmp_path / "cache", SERVER, ScanOptions()) as index:
        got = index.load("1.2.3", b"seen")
        assert got is not None and got.n_files_seen == 7
    for extra in path.parent.glob(path.name + "-*"):
        extra.unlink()
    data = bytearray(path.read_bytes())
    start, end = (0, 100) if damage == "header" else (4096, len(data))
    data[start:end] = b"\xa5" * (end - start)
    path.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    with WebIndex(tmp_path / "cache", SERVER, ScanOptions()) as index:
        assert index.load("1.2.3", b"seen") is None
        index.store("1.2.3", b"seen", ScanResult(roots=["r"], n_files_seen=8))   # no error
    assert "is damaged" in caplog.text
    with WebIndex(tmp_path / "cache", SERVER, ScanOptions()) as index:   # a sound file again
        index.store("1.2.4", b"seen", ScanResult(roots=["r"], n_files_seen=9))
    with WebIndex(tmp_path / "cache", SERVER, ScanOptions()) as index:
        got = index.load("1.2.4", b"seen")
        assert got is not None and got.n_files_seen == 9
