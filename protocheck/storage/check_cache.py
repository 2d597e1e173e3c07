"""Check results kept in the cache folder: an unchanged archive checked against the same protocol again is
answered without evaluating a rule (a re-audit must cost a few percent of the first run).

The key joins the scan's digest (set by an index-backed scan: reading code, options, root and the content of the
result, so files touched but read the same keep their results), the protocol's sha256 and a fingerprint of the
checking code. Results are pickled with references to
the scan's exams (persistent ids), so loaded results point at this scan's very objects. The cache is only a
shortcut: a damaged or unreadable entry is a miss, never an error.
"""
from __future__ import annotations

import hashlib
import pickle
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocheck.results import ExamResult
from protocheck.errors import SourceError
from protocheck.model import ScanResult
from protocheck.storage import cachedb
from protocheck.storage.fingerprints import CHECKS_SCHEMA, checks_code as code_fingerprint  # noqa: F401
from protocheck.storage.sealing import check_folder, seal, unseal
from protocheck.storage.snapshot import compressed_pickle, loaded_pickles

if TYPE_CHECKING:   # storage sits below the protocol layer: the type only
    from protocheck.protocol.model import Protocol

SCHEMA = CHECKS_SCHEMA
KEEP = 32                 # entries kept per cache folder (the most recently stored)
GROUP = 64                # exams' results per pickle
_NAME = "checks.sqlite"


def _key(scan: ScanResult, protocol: Protocol) -> bytes | None:
    if scan.digest is None or not protocol.sha256:
        return None
    return hashlib.blake2b(scan.digest + protocol.sha256.encode() + code_fingerprint(), digest_size=16).digest()


def _connect(cache_dir: Path) -> sqlite3.Connection:
    """The cache database, read-only (never created)."""
    check_folder(cache_dir)
    return sqlite3.connect(f"{(Path(cache_dir) / _NAME).resolve().as_uri()}?mode=ro", uri=True)


def load(cache_dir: Path, scan: ScanResult, protocol: Protocol) -> list[ExamResult] | None:
    """The stored results of this scan and protocol, or None."""
    key = _key(scan, protocol)
    if key is None:
        return None
    try:
        db = _connect(cache_dir)
        try:
            row = db.execute("SELECT data FROM results WHERE key=?", (key,)).fetchone()
        finally:
            db.close()
        if row is None:
            return None
        blob = unseal(row[0])
        if blob is None:   # planted, damaged or another user's: never unpickled
            return None
        results = [r for group in loaded_pickles(blob, lambda f: _Unpickler(f, scan)) for r in group]
    except Exception:  # noqa: BLE001 - a damaged, locked or foreign entry is only a miss
        return None
    return results if isinstance(results, list) else None


def store(cache_dir: Path, scan: ScanResult, protocol: Protocol, results: list[ExamResult]) -> None:
    """Keep the results for a re-audit (silently nothing when the folder cannot be written)."""
    key = _key(scan, protocol)
    if key is None or not _outside_inputs(cache_dir, scan):
        return
    try:
        groups = [results[i:i + GROUP] for i in range(0, len(results), GROUP)]   # memo: one group at a time
        blob = seal(compressed_pickle(groups, lambda out: _Pickler(out, scan)))
        check_folder(cache_dir)
        cachedb.write(Path(cache_dir) / _NAME, lambda db: _insert(db, key, blob))
    except (OSError, sqlite3.Error, pickle.PicklingError, TypeError, AttributeError, SourceError):
        return


def _insert(db: sqlite3.Connection, key: bytes, blob: bytes) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS results (key BLOB PRIMARY KEY, stored INTEGER, data BLOB)")
    n = (db.execute("SELECT MAX(stored) FROM results").fetchone()[0] or 0) + 1
    db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (key, n, blob))
    db.execute("DELETE FROM results WHERE stored <= ?", (n - KEEP,))


def _outside_inputs(cache_dir: Path, scan: ScanResult) -> bool:
    """Whether the folder lies outside every input of the scan (protocheck never writes into its input)."""
    from protocheck.storage.location import check_cache_location
    try:
        for root in scan.roots:
            check_cache_location(cache_dir, root)
    except SourceError:
        return False
    return True


class _Pickler(pickle.Pickler):
    """Pickles results with each exam and series of the scan as a reference (its position), not a copy."""

    def __init__(self, file: Any, scan: ScanResult) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.refs: dict[int, tuple[int, ...]] = {}
        for i, exam in enumerate(scan.exams):
            self.refs[id(exam)] = (i,)
            for j, acq in enumerate(exam.acquisitions):
                self.refs[id(acq)] = (i, j)

    def persistent_id(self, obj: object) -> tuple[int, ...] | None:
        return self.refs.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, scan: ScanResult) -> None:
        super().__init__(file)
        self.scan = scan

    def persistent_load(self, pid: tuple[int, ...]) -> object:
        exam = self.scan.exams[pid[0]]
        return exam if len(pid) == 1 else exam.acquisitions[pid[1]]
