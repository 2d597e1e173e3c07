"""Rendered check reports kept in the cache folder: re-checking an unchanged archive prints the stored text.

Rendering the console report of an archive of hundreds of exams takes longer than answering the unchanged archive
from the index, so the re-check of an unchanged archive would cost a third of the first run. The text is a
function of the scan (its digest: reading code, options, root and the content read), of the sites given to
its exams, of the protocol (sha256), of the checking and reporting code, of the options and of the console (width,
colours, encoding): all are in the key. Every entry is sealed with the user's HMAC key (``sealing``) and bound to
its key: a damaged, tampered or foreign entry is a miss, never an error and never printed.
"""
from __future__ import annotations

import functools
import hashlib
import sqlite3
import zlib
from pathlib import Path
from typing import Any

from protocheck import __version__
from protocheck.errors import SourceError
from protocheck.resources import code_digest
from protocheck.storage import cachedb
from protocheck.storage.sealing import check_folder, seal, unseal

SCHEMA = 1
KEEP = 16                  # entries kept (the most recently stored)
_NAME = "reports.sqlite"
_BLOCK = 1 << 16            # compressed bytes inflated at a time when a stored report is written out


@functools.cache
def code_fingerprint() -> bytes:
    """Hash of the code between a scan and its printed report: a new version never reuses a stored text."""
    from protocheck.storage.fingerprints import checks_code
    here = Path(__file__).resolve().parent.parent
    files = [here / "cli_run.py", here / "privacy.py", *sorted((here / "reports").glob("*.py"))]   # privacy:
    # the folder names scrubbed out of the report
    return checks_code() + code_digest(f"schema{SCHEMA}-{__version__}", files)


def report_key(scan: Any, protocol: bytes | None, settings: tuple) -> bytes | None:
    """The key of a report of ``scan`` checked against the protocol ``protocol`` identifies (what it is built from:
    ``protocol_cache.identity``, known before it is loaded) with ``settings``; None when the scan has no digest
    (not index-backed: nothing to key it by) or the protocol no identity."""
    if scan.digest is None or not protocol:
        return None
    sites = "\0".join(str(e.site) for e in scan.exams)
    h = hashlib.blake2b(scan.digest + protocol + code_fingerprint(), digest_size=16)
    h.update(repr(settings).encode() + b"\0" + sites.encode())
    return h.digest()


def _open(cache_dir: Path) -> sqlite3.Connection:
    """The store, read-only (never created); SourceError for a cache folder others may write."""
    check_folder(cache_dir)
    return sqlite3.connect(f"{(Path(cache_dir) / _NAME).resolve().as_uri()}?mode=ro", uri=True)


def _opened(key: bytes, data: bytes | None) -> bytes | None:
    """What ``_sealed`` sealed under ``key``, or None (tampered, damaged, another user's or another key's)."""
    blob = unseal(data)
    return blob[len(key):] if blob is not None and blob.startswith(key) else None


def _sealed(key: bytes, blob: bytes) -> bytes:
    """``blob`` bound to ``key`` and sealed with the user's HMAC key: a tampered text is never printed."""
    return seal(key + blob)


def load(cache_dir: Path, key: bytes) -> tuple[str, int] | None:
    """The stored (text, exit code) of ``key``, or None."""
    found = load_blocks(cache_dir, key)
    try:
        return None if found is None else (b"".join(found[0]).decode("utf-8"), found[1])
    except UnicodeDecodeError:
        return None


def load_blocks(cache_dir: Path, key: bytes) -> tuple[list[bytes], int] | None:
    """The stored (text as UTF-8 blocks, exit code) of ``key``, or None: written as they are, never decoded (a
    re-check's report of 100,000 files is ~5 MB: decoding it and encoding it again took ~10 ms), and inflated
    block by block (no growing ~5 MB buffer copied as it grows: ~9 -> ~6 ms)."""
    try:
        db = _open(cache_dir)
        try:
            row = db.execute("SELECT text FROM reports WHERE key=?", (key,)).fetchone()
        finally:
            db.close()
        blob = None if row is None else _opened(key, row[0])
        if blob is None:
            return None
        packed, inflate = memoryview(blob)[1:], zlib.decompressobj()
        blocks = [inflate.decompress(packed[at:at + _BLOCK]) for at in range(0, len(packed), _BLOCK)]
        blocks.append(inflate.flush())
        if not inflate.eof:   # cut short: a damaged entry (sealed, so hardly ever)
            return None
        return blocks, blob[0]   # sealed: what ``store`` wrote, UTF-8
    except Exception:  # noqa: BLE001 - a missing, damaged or locked entry, or an unsafe folder, is only a miss
        return None


def store(cache_dir: Path, key: bytes, text: str | bytes, exit_code: int) -> None:
    """Keep the text (or its zlib-compressed UTF-8) for the next re-check (silently nothing when the folder
    cannot be written)."""
    packed = text if isinstance(text, bytes) else zlib.compress(text.encode("utf-8"), 1)
    try:
        check_folder(cache_dir)
        cachedb.write(Path(cache_dir) / _NAME, lambda db: _insert(db, key, packed, exit_code))
    except (OSError, sqlite3.Error, SourceError):
        return


def _insert(db: sqlite3.Connection, key: bytes, packed: bytes, exit_code: int) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS reports (key BLOB PRIMARY KEY, stored INTEGER, text BLOB, "
               "exit_code INTEGER)")
    n = (db.execute("SELECT MAX(stored) FROM reports").fetchone()[0] or 0) + 1
    db.execute("INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?)",
               (key, n, _sealed(key, bytes([exit_code & 0xFF]) + packed), exit_code))
    db.execute("DELETE FROM reports WHERE stored <= ?", (n - KEEP,))


class Sections:
    """Each exam's rendered console section, kept by the exam's own content and the console settings: after a
    change, a re-check renders only the exams whose report changed (``reports.console.render_console_text``).

    Use as a context manager: new sections are written on exit; sections not used by this run or the three
    before it are forgotten. A damaged or unwritable store is only a miss."""

    KEEP_RUNS = 4

    def __init__(self, cache_dir: Path, settings: tuple) -> None:
        self.path = Path(cache_dir) / _NAME
        self.salt = code_fingerprint() + repr(settings).encode()
        self.used: list[bytes] = []
        self.new: list[tuple[bytes, bytes]] = []
        self._keys: dict[int, tuple[dict[str, Any], bytes]] = {}   # id -> (exam, key): put after get hashes once
        try:
            self.db: sqlite3.Connection | None = _open(cache_dir)
        except (sqlite3.Error, SourceError):
            self.db = None

    def _key(self, exam: dict[str, Any]) -> bytes:
        known = self._keys.get(id(exam))
        if known is not None and known[0] is exam:
            return known[1]
        import json
        text = json.dumps(exam, ensure_ascii=False, separators=(",", ":"), default=str)
        key = hashlib.blake2b(self.salt + text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        self._keys[id(exam)] = (exam, key)
        return key

    def get(self, exam: dict[str, Any]) -> str | None:
        key = self._key(exam)
        self.used.append(key)
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT text FROM sections WHERE key=?", (key,)).fetchone()
            blob = None if row is None else _opened(key, row[0])
            return None if blob is None else zlib.decompress(blob).decode("utf-8")
        except Exception:  # noqa: BLE001 - a missing, damaged or locked entry is only a miss
            return None

    def put(self, exam: dict[str, Any], text: str) -> None:
        key = self._key(exam)
        self.new.append((key, _sealed(key, zlib.compress(text.encode("utf-8"), 1))))

    def __enter__(self) -> "Sections":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.db is not None:
            self.db.close()
        if exc[0] is not None or self.db is None and self.path.exists():   # an unsafe folder or a bad store
            return
        try:
            check_folder(self.path.parent)
            cachedb.write(self.path, self._keep)
        except (OSError, sqlite3.Error, SourceError):
            return

    def _keep(self, db: sqlite3.Connection) -> None:
        """Store the new sections, mark the used ones as used by this run, forget those unused for KEEP_RUNS."""
        db.execute("CREATE TABLE IF NOT EXISTS sections (key BLOB PRIMARY KEY, run INTEGER, text BLOB)")
        run = (db.execute("SELECT MAX(run) FROM sections").fetchone()[0] or 0) + 1
        db.executemany("INSERT OR REPLACE INTO sections VALUES (?, ?, ?)", [(k, run, t) for k, t in self.new])
        db.executemany("UPDATE sections SET run=? WHERE key=?", [(run, k) for k in self.used])
        db.execute("DELETE FROM sections WHERE run <= ?", (run - self.KEEP_RUNS,))
