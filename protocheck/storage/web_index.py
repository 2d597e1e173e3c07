"""Incremental index of DICOMweb archives (SQLite in the cache folder): per study, what QIDO-RS said about it
when it was read, and what was read from it.

A study's "seen" value is built by the DICOMweb source from QIDO-RS answers only (StudyDate/Time and the study's
series and instance counts, or its series list with their instance counts). A re-audit that finds the same value
takes the stored per-study result (its exams and skipped entries, a sealed snapshot: ``snapshot.snapshot_blob``)
and sends no WADO-RS request for it; a study with other values (more instances, a new series) is read again.
The database name carries ``index.fingerprint`` (reading code and the options that change records), so another
protocheck version or other options never reuse stale results. Nothing here ever holds a patient identifier
unless ``--include-identifiers`` put it in the result itself (and that option is part of the fingerprint).
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocheck.errors import SourceError
from protocheck.storage import cachedb
from protocheck.storage.index import fingerprint
from protocheck.storage.snapshot import snapshot_blob, snapshot_from
from protocheck.storage.sealing import check_folder, seal, unseal

if TYPE_CHECKING:   # storage sits below the sources layer: the types only
    from protocheck.model import ScanResult
    from protocheck.sources.options import ScanOptions


def _tables(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS studies (server TEXT, study TEXT, seen BLOB, data BLOB, "
               "PRIMARY KEY (server, study)) WITHOUT ROWID")


class WebIndex:
    """Per-study results of one DICOMweb server (its URL without credentials); a context manager."""

    def __init__(self, cache_dir: Path, server: str, options: ScanOptions, variant: str = "") -> None:
        self.server = f"{server}\0{variant}"
        cache = Path(cache_dir).expanduser()
        try:
            check_folder(cache)
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path = cache / f"dicomweb-{fingerprint(options)}.sqlite"
            self.db = cachedb.connect(self.path, _tables, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"cannot open the DICOMweb index: {exc}", path=str(cache), where="--cache-dir",
                              fix="give a writable cache folder, or run without a cache (--no-cache)") from None
        self.damage: Exception | None = None   # what showed the file damaged mid-run: removed at close

    def __enter__(self) -> "WebIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, study: str, seen: bytes) -> ScanResult | None:
        """The stored result of ``study`` if it was stored under the same ``seen`` value, else None (a miss)."""
        try:
            row = self.db.execute("SELECT seen, data FROM studies WHERE server=? AND study=?",
                                  (self.server, study)).fetchone()
        except sqlite3.DatabaseError as exc:
            if not cachedb.damaged(exc):
                raise
            self.damage = exc   # every study a miss; the file replaced at close
            return None
        if row is None or row[0] != seen:
            return None
        blob = unseal(row[1])
        if blob is None:   # planted, damaged or another user's: never unpickled
            return None
        try:
            return snapshot_from(blob)
        except Exception:  # noqa: BLE001 - a damaged row is only a miss
            return None

    def store(self, study: str, seen: bytes, result: ScanResult) -> None:
        """Keep the result of ``study`` read when QIDO-RS said ``seen`` (not in a damaged file)."""
        if self.damage is not None:
            return
        try:
            self.db.execute("INSERT OR REPLACE INTO studies VALUES (?, ?, ?, ?)",
                            (self.server, study, seen, seal(snapshot_blob(result))))
        except sqlite3.DatabaseError as exc:
            if not cachedb.damaged(exc):
                raise
            self.damage = exc

    def digest(self, seen: dict[str, bytes]) -> bytes:
        """What identifies a whole scan served from studies with these ``seen`` values (check results' key)."""
        h = hashlib.blake2b(f"{self.path.name}\0{self.server}\0".encode(), digest_size=16)
        for study in sorted(seen):
            h.update(study.encode() + b"\0" + seen[study] + b"\1")
        return h.digest()

    def close(self) -> None:
        """Commit and close (a file found damaged is removed: the next audit makes a new one)."""
        try:
            if self.damage is None:
                self.db.commit()
        except sqlite3.DatabaseError as exc:
            if not cachedb.damaged(exc):
                raise
            self.damage = exc
        finally:
            self.db.close()
            if self.damage is not None:
                cachedb.discard(self.path, self.damage)


def open_web_index(cache_dir: Path | None, server: str, options: ScanOptions, variant: str = "") -> Any:
    """The WebIndex of ``server`` in ``cache_dir``, or None without a cache folder."""
    return None if cache_dir is None else WebIndex(cache_dir, server, options, variant)
