"""A first run's blocks read and folded by the workers (blockfold): the index and findings of a serial scan."""
from __future__ import annotations

import marshal
import os
import sqlite3
import zlib
from pathlib import Path

import pytest

from protocheck.sources.dicom import blockfold, parallel, scan_dicom, workers
from protocheck.sources.dicom.collector import DicomCollector
from protocheck.sources.dicom.records import RECORD_VALUES
from protocheck.sources.options import ScanOptions
from protocheck.storage.sealing import unseal
from scan_results import scan_summary

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the workers are forked")


def _index(cache: Path) -> dict[str, list[tuple]]:
    """folder -> [(block key, records without seeds and content stamps, summary)] of the index in ``cache`` (a
    stamp covers the bytes its reader's window held: its size follows the files the process read before)."""
    db = sqlite3.connect(next(cache.rglob("index-*.sqlite")))
    out = {}
    for folder, data in db.execute("SELECT folder, data FROM folders"):
        out[folder] = [(key, [(*r[:3], r[3][:RECORD_VALUES]) for r in marshal.loads(zlib.decompress(rows))], summary)
                       for key, rows, summary in marshal.loads(unseal(data))]
    db.close()
    return out


def test_group_keeps_whole_blocks_in_tasks_of_at_most_the_limit():
    sizes = [10, 64, 60, 1, 70, 5]
    tasks = blockfold.group([[("f", 0, 0)] * n for n in sizes], 128)
    assert [i for t in tasks for i in t] == list(range(len(sizes)))
    assert [sum(sizes[i] for i in t) for t in tasks] == [74, 61, 75]


def test_two_workers_store_the_index_of_a_serial_scan_and_give_its_findings(dicom_root, tmp_path, monkeypatch):
    merged = []
    real = blockfold.merge
    monkeypatch.setattr(blockfold, "merge", lambda folded, c: merged.append(real(folded, c)) or merged[-1])
    serial = scan_dicom(dicom_root, ScanOptions(workers=1, cache_dir=tmp_path / "one"))
    two = scan_dicom(dicom_root, ScanOptions(workers=2, cache_dir=tmp_path / "two"))
    full = scan_dicom(dicom_root, ScanOptions(full_read=True))
    assert scan_summary(two) == scan_summary(serial) == scan_summary(full)
    assert sum(m is not None for m in merged) > 0.9 * len(merged) > 100   # nearly every block merged whole
    one, other = _index(tmp_path / "one"), _index(tmp_path / "two")
    assert one.keys() == other.keys()
    blocks = [(a, b) for f in one for a, b in zip(one[f], other[f], strict=True)]
    assert all(a[:2] == b[:2] for a, b in blocks)   # the same files' records, block by block
    # the summaries are those a serial scan stores (none missing but where a series was seeded twice)
    assert sum(a[2] == b[2] for a, b in blocks) > 0.95 * len(blocks)
    again = scan_dicom(dicom_root, ScanOptions(workers=1, cache_dir=tmp_path / "two"))
    assert scan_summary(again) == scan_summary(serial)


def test_a_block_whose_guess_is_wrong_is_folded_file_by_file(dicom_root):
    """A series the worker seeds (new to it) but the main collector holds: merge refuses, the rows fold."""
    folder = dicom_root / "dcm_qa_ge" / "04_Ax_DWI_TENSOR_R2MB2"
    files = sorted(folder.iterdir())[:6]
    block = [(p.name, 0, 0) for p in files]
    where = (str(folder), "", "", str(folder) + os.sep, {})
    workers.init_worker(ScanOptions())
    main = DicomCollector(folder)
    first = blockfold.fold_blocks([block[:3]], True, where, str(folder))
    assert blockfold.merge(first[0], main) is not None
    workers.init_worker(ScanOptions())   # another worker: the series is new to it, it seeds it again
    again = blockfold.fold_blocks([block[3:]], True, where, str(folder))
    assert again[0][0] is not None and blockfold.merge(again[0], main) is None
    for name, _size, _mtime, payload in blockfold.entries(again[0], [(p.name, 0, 0) for p in files[3:]]):
        parallel.add_payload(main, payload, (str(folder), "", name))
    serial = DicomCollector(folder)
    for p in files:
        serial.add_path(p, p.name)
    assert scan_summary(main.finish()) == scan_summary(serial.finish())


def test_a_row_read_again_is_the_stored_one_value_for_value_and_type_for_type():
    """``refold.same_row``, what a worker (``fold_rows``) and the main process (``refold._same``) both compare."""
    from protocheck.sources.dicom.refold import same_row

    row = ("a", 1, 2, ("uid", 1, (2.0, "x")), b"seed")
    assert same_row(("uid", 1, (2.0, "x")), b"seed", row)
    assert not same_row(("uid", 1.0, (2.0, "x")), b"seed", row)      # 1.0 is not 1: another record
    assert not same_row(("uid", 1, (2.0, "x")), b"other", row)
    assert not same_row(("uid", 1, (2.0, "x")), None, row)
    assert same_row(("uid",), None, ("a", 1, 2, ("uid",), None))
    assert not same_row(("uid",), b"seed", ("a", 1, 2, ("uid",), None))
    assert not same_row((object(),), None, ("a", 1, 2, (1,), None))    # a value marshal cannot store: not the same
