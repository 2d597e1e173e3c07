"""The cache folder's small databases are written without fsync, and a damaged one is replaced by the next store."""
from __future__ import annotations

import os
import sqlite3

import pytest

from protocheck.storage import cachedb, report_cache


def _put(value: bytes):
    def work(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS t (v BLOB)")
        db.execute("INSERT INTO t VALUES (?)", (value,))
    return work


def _values(path) -> list[bytes]:
    db = sqlite3.connect(path)
    try:
        return [v for (v,) in db.execute("SELECT v FROM t")]
    finally:
        db.close()


def test_a_store_creates_the_database_and_does_not_wait_for_the_disk(tmp_path):
    seen = []
    cachedb.write(tmp_path / "c.sqlite", lambda db: seen.append(db.execute("PRAGMA synchronous").fetchone()[0]))
    cachedb.write(tmp_path / "c.sqlite", _put(b"a"))
    cachedb.write(tmp_path / "c.sqlite", _put(b"b"))
    assert seen == [0] and _values(tmp_path / "c.sqlite") == [b"a", b"b"]
    assert not (tmp_path / "c.sqlite-journal").exists()


def _malformed(path) -> None:
    """A real database whose pages were overwritten."""
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE t (v BLOB)")
        db.executemany("INSERT INTO t VALUES (?)", [(os.urandom(3000),) for _ in range(40)])
    db.close()
    data = bytearray(path.read_bytes())
    data[4096:12288] = b"\xff" * 8192
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not a database", "malformed"])
def test_a_damaged_database_is_replaced_by_the_next_store(tmp_path, damage):
    path = tmp_path / "c.sqlite"
    if damage == "malformed":
        _malformed(path)
    else:
        path.write_bytes(b"not a database" * 100)
    (tmp_path / "c.sqlite-journal").write_bytes(b"left over")
    cachedb.write(path, _put(b"fresh"))
    assert _values(path) == [b"fresh"]


def test_other_errors_are_raised_and_the_file_kept(tmp_path):
    path = tmp_path / "c.sqlite"
    cachedb.write(path, _put(b"kept"))

    def fails(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO t VALUES (?)", (b"lost",))
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        cachedb.write(path, fails)
    assert _values(path) == [b"kept"], "the transaction rolled back, the file was not removed"


def test_a_linked_damaged_database_is_replaced_by_a_file_not_through_the_link(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"not a database" * 10)
    (tmp_path / "c.sqlite").symlink_to(target)
    cachedb.write(tmp_path / "c.sqlite", _put(b"x"))
    assert target.read_bytes() == b"not a database" * 10
    assert not (tmp_path / "c.sqlite").is_symlink() and _values(tmp_path / "c.sqlite") == [b"x"]


def test_a_damaged_report_store_is_replaced_and_the_report_found_again(tmp_path):
    (tmp_path / "reports.sqlite").write_bytes(b"not a database")
    assert report_cache.load(tmp_path, b"k" * 16) is None
    report_cache.store(tmp_path, b"k" * 16, "the report\n", 1)
    assert report_cache.load(tmp_path, b"k" * 16) == ("the report\n", 1)
