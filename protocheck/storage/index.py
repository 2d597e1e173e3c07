"""Incremental index (SQLite, outside the input tree): per-folder file records for fast re-audits.

Each folder of a scanned tree is one row, cut into blocks of files (``parallel._blocks``: boundaries set by
file names, so a change moves no other block). Per block: the digest of its (name, size, mtime_ns) listing,
each file's small record (``reader.FileRecord``, plus for the file that was read in full the per-series
"seed": series parameters from the full header), and the block's pre-merged summary (its files folded into
per-series aggregates, ``DicomCollector.summary``). A re-check merges an unchanged block's summary (cost per
series, not per file); in a changed block only added or changed files (different size or mtime_ns) are read
again and the block is folded anew; removed and renamed files disappear with the new listing.
Records are plain tuples (marshal, fast to load; a DICOM record's last value is its content stamp, which lets a
touched file be verified without a parse); seeds stay pickled and are unpickled only when folded.
A whole-tree snapshot (the finished ScanResult under ``treedigest``'s digest of every folder listing, with each
folder chunk's hash: ``snapshot_chunks``) serves an unchanged tree with one walk and one row, and a tree whose
files were only touched with the rows of the changed folders (``sources/dicom/touched.py``), which then stores
only the new times of the files it read again (table ``retimed``: per folder row, its blocks' new listing keys and
times; a row is read as if rewritten with them, and ``store_blocks`` drops them). A result's digest
(the key of cached checks and reports) is a digest of its content (``snapshot.content_digest``): files touched
but read the same leave it, and what follows it, unchanged. The database name carries a fingerprint of the
reading code and of the options that change records (identifiers, pseudonym key), so a new protocheck version
or other options never reuse stale records. Block keys: ``listing.keyed_blocks``.
"""
from __future__ import annotations

import gc
import hashlib
import marshal
import os
import pickle
import sqlite3
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from protocheck.errors import SourceError
from protocheck.resources import code_digest
from protocheck.storage import cachedb
from protocheck.storage.listing import chunk_hash
from protocheck.storage.location import check_cache_location
from protocheck.storage.sealing import current_key, seal, unseal
from protocheck.storage.snapshot import (  # noqa: F401  (the caches' pickles, imported from here too)
    compressed_pickle, content_digest, loaded_pickles, scan_content_digest, snapshot_blob, snapshot_from,
)

if TYPE_CHECKING:   # storage sits below the sources layer: the type only
    from protocheck.sources.options import ScanOptions

SCHEMA = 10
Entry = tuple[str, int, int, Any]     # (file name, size, mtime_ns, payload (record, seed or pickled seed))
# How a source stores its per-file records: (record -> tuple of plain marshal-able values, tuple -> record).
RecordCodec = tuple[Callable[[Any], tuple], Callable[[tuple], Any]]
Retimes = dict[bytes, tuple[bytes, dict[str, tuple[int, int]]]]   # block key -> (new key, name -> (size, mtime))


def retimed_blocks(index: "Index", blocks: dict[bytes, tuple[bytes, bytes | None]],
                   times: Retimes) -> dict[bytes, tuple[bytes, bytes | None]]:
    """A row's blocks as if stored with the new times (each retimed block under its new key, in order)."""
    out = {}
    for key, (rows, summary) in blocks.items():
        got = times.get(key)
        if got is None:
            out[key] = rows, summary
            continue
        new = got[1]
        try:
            raws = [(n, *new.get(n, (size, mtime)), t, seed) for n, size, mtime, t, seed in index.raw_entries(rows)]
        except Exception:  # noqa: BLE001 - a damaged block: as stored (its files are read again)
            out[key] = rows, summary
            continue
        out[got[0]] = index.pack_rows(raws), summary
    return out


def seed_of(seed: Any) -> Any:
    """A payload's series seed: unpickled now if it came from the index (so the stored one stays pristine)."""
    return pickle.loads(seed) if isinstance(seed, bytes) else seed


def fingerprint(options: "ScanOptions") -> str:
    """Hash of the reading code and of the options that change records; names the database file."""
    here = Path(__file__).resolve().parent.parent / "sources"
    mine = Path(__file__).resolve()
    code = code_digest(f"schema{SCHEMA}", [mine, mine.with_name("snapshot.py"),
                                           *(p for sub in ("dicom", ".") for p in sorted((here / sub).glob("*.py")))])
    h = hashlib.sha256(code)
    h.update(repr((options.include_identifiers, options.site_from)).encode())
    h.update(hashlib.sha256((options.pseudonym_key or "").encode()).digest())
    return h.hexdigest()[:16]


def index_path(cache: Path, options: "ScanOptions") -> Path:
    """The index database of a tree in its cache folder (``check_cache_location``) for these options."""
    return cache / f"index-{fingerprint(options)}.sqlite"


def _tables(db: sqlite3.Connection) -> None:
    """WAL without fsync: a crash of protocheck cannot damage the file; an OS crash or power loss may, and a
    damaged index is replaced (``cachedb``); each row is sealed and keyed by its listing. Opening and closing
    waited ~9 ms for the disk of a ~0.5 s first check of 3,300 files."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE IF NOT EXISTS folders (root TEXT, folder TEXT, listing BLOB, data BLOB, "
               "PRIMARY KEY (root, folder)) WITHOUT ROWID")
    db.execute("CREATE TABLE IF NOT EXISTS snapshots (root TEXT PRIMARY KEY, tree BLOB, data BLOB, chunks BLOB)")
    db.execute("CREATE TABLE IF NOT EXISTS retimed (root TEXT, folder TEXT, base BLOB, listing BLOB, data BLOB, "
               "PRIMARY KEY (root, folder)) WITHOUT ROWID")


class Index:
    """Per-folder records of one input root; use as a context manager (commits on exit)."""

    def __init__(self, cache_dir: Path, root: str | os.PathLike[str], options: ScanOptions,
                 codec: RecordCodec) -> None:
        self.record_tuple, self.record_from = codec
        self.cache = check_cache_location(cache_dir, root)
        self.root = os.path.abspath(os.fspath(root))
        try:
            self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path = index_path(self.cache, options)
            self.db = cachedb.connect(self.path, _tables)
        except (OSError, sqlite3.Error) as exc:
            raise SourceError(f"cannot open the incremental index: {exc}", path=str(self.cache),
                              where="--cache-dir", fix="give a writable cache folder, or run without a cache"
                              ) from None
        self.seen: set[str] = set()
        self._pending = 0
        self._known: dict[int, tuple[Any, tuple]] = {}   # id(record) -> (record, its stored tuple)
        self._snapshot: tuple[bytes, bytes] | None = None   # (content digest, sealed row) of the stored snapshot
        self._retimed: dict[str, tuple[bytes, bytes, bytes]] | None = None   # folder -> (base, listing, data)
        self.fresh: dict[str, dict[str, Any]] = {}   # files read earlier in this run: folder -> name -> payload
        try:   # the cache key of every row this index reads and writes (the environment read once)
            self._key: bytes | None = current_key()
        except Exception:  # noqa: BLE001 - no key now: each seal or unseal asks (and fails) as before
            self._key = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(prune=exc[0] is None)

    def load_blocks(self, folder: str) -> dict[bytes, tuple[bytes, bytes | None]]:
        """The folder's stored blocks: block listing key -> (encoded records, pickled summary or None), with the
        new times ``store_times`` stored for them; a missing or damaged row is only a cache miss ({})."""
        blocks, times, _base = self.base_blocks(folder)
        return retimed_blocks(self, blocks, times) if times else blocks

    def stored_blocks(self, folder: str) -> dict[bytes, tuple[bytes, bytes | None]] | None:
        """The blocks of a folder chunk not listed again, in order, as stored (new times stored apart are left
        out: only the records and summaries are used); None for a missing or damaged row."""
        return self._row(folder)[0]

    def base_blocks(self, folder: str, sealed: tuple[bytes | None, bytes | None] | None = None
                    ) -> tuple[dict[bytes, tuple[bytes, bytes | None]], Retimes, bytes | None]:
        """The folder's row ({} if missing or damaged; ``sealed``: ``sealed_row``'s, decoded without the database),
        its blocks' new times (key -> (new key, {name: (size, mtime_ns)})), the listing hash it was stored for."""
        data, base = self.sealed_row(folder) if sealed is None else sealed
        blocks = self.blocks_of(unseal(data, self._key))
        if blocks is None:
            return {}, {}, None
        got = self._retimes().get(folder)
        if got is None or got[0] != base:
            return blocks, {}, base
        try:
            times = marshal.loads(unseal(got[2], self._key))   # type: ignore[arg-type] # None: damaged
            return blocks, {key: (new, dict(files)) for key, new, files in times}, base
        except Exception:  # noqa: BLE001 - damaged new times: the row's own (its changed files are read again)
            return blocks, {}, base

    def _row(self, folder: str) -> tuple[dict[bytes, tuple[bytes, bytes | None]] | None, bytes | None]:
        data, base = self.sealed_row(folder)
        return self.blocks_of(unseal(data, self._key)), base

    def sealed_row(self, folder: str) -> tuple[bytes | None, bytes | None]:
        """The folder's row data as stored, sealed (None: no row), and its listing hash; the new times are read too:
        ``base_blocks(folder, sealed)`` then checks the seal and decodes it without the database (forked process)."""
        self.seen.add(folder)
        self._retimes()
        row = self.db.execute("SELECT data, listing FROM folders WHERE root=? AND folder=?",
                              (self.root, folder)).fetchone()
        return (None, None) if row is None else (row[0], row[1])

    @staticmethod
    def blocks_of(data: bytes | None) -> dict[bytes, tuple[bytes, bytes | None]] | None:
        """A row's blocks (its data unsealed): block key -> (rows, summary); None if missing or damaged."""
        try:
            return {key: (rows, summary) for key, rows, summary in marshal.loads(data)}   # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a damaged row: the caller decides
            return None

    def _retimes(self) -> dict[str, tuple[bytes, bytes, bytes]]:
        if self._retimed is None:
            self._retimed = {f: (base, listing, data) for f, base, listing, data in self.db.execute(
                "SELECT folder, base, listing, data FROM retimed WHERE root=?", (self.root,))}
        return self._retimed

    def row_listings(self) -> dict[str, bytes]:
        """Each stored folder chunk's hash (``listing.chunk_hash`` of the listing its row was stored for, or of
        the one its new times were stored for)."""
        rows = dict(self.db.execute("SELECT folder, listing FROM folders WHERE root=?", (self.root,)))
        for folder, (base, listing, _data) in self._retimes().items():
            if rows.get(folder) == base:
                rows[folder] = listing
        return rows

    def store_times(self, chunks: list[tuple[str, bytes, bytes, Retimes]]) -> None:
        """Store, per folder chunk (key, hash of the listing its row was stored for, hash of its listing now,
        new times), the new times of files whose records and seeds were found the same (``touched``): the row
        then stands for the new listing without being rewritten."""
        self.db.executemany("INSERT OR REPLACE INTO retimed VALUES (?, ?, ?, ?, ?)", [
            (self.root, folder, base, listing,
             seal(marshal.dumps([(k, new, sorted(files.items())) for k, (new, files) in times.items()]), self._key))
            for folder, base, listing, times in chunks])
        self._retimed = None

    def entries(self, rows: bytes) -> list[Entry]:
        """The (name, size, mtime_ns, (record, seed)) of a block's ``encode``d records (seeds still pickled)."""
        return self.decoded(self.raw_entries(rows))

    @staticmethod
    def raw_entries(rows: bytes) -> list[tuple]:
        """A block's stored rows as they are kept: (name, size, mtime_ns, record tuple, pickled seed or None)."""
        return marshal.loads(zlib.decompress(rows))

    @staticmethod
    def pack_rows(raws: list[tuple]) -> bytes:
        """The stored form of rows as ``raw_entries`` gives them."""
        return zlib.compress(marshal.dumps(raws), 1)

    def decoded(self, raws: list[tuple]) -> list[Entry]:
        """The entries of ``raw_entries`` rows; each record's stored tuple is kept until ``forget``, so encoding
        it again costs nothing."""
        record_from, known = self.record_from, self._known
        out = []
        for name, size, mtime, t, seed in raws:
            rec = record_from(t)
            known[id(rec)] = (rec, t)
            out.append((name, size, mtime, (rec, seed)))
        return out

    def forget(self) -> None:
        """Drop the stored tuples kept by ``entries`` (a folder's blocks are stored)."""
        self._known.clear()

    def encode(self, entries: list[Entry]) -> bytes | None:
        """The stored form of a block's records (seeds pickled now: later folding cannot change them); None
        when a value cannot be stored (never expected: the folder is then simply not cached)."""
        known, record_tuple = self._known, self.record_tuple
        rows = []
        for name, size, mtime, (rec, seed) in entries:
            was = known.get(id(rec))
            rows.append((name, size, mtime, was[1] if was is not None and was[0] is rec else record_tuple(rec),
                         seed if seed is None or isinstance(seed, bytes)
                         else pickle.dumps(seed, pickle.HIGHEST_PROTOCOL)))
        try:
            return self.pack_rows(rows)
        except ValueError:
            return None

    @staticmethod
    def pack_summary(summary: Any) -> bytes:
        """A block's pre-merged summary (``DicomCollector.summary``) as stored (not compressed: pickles of series
        shrink less than 2x, and a re-check loads every unchanged block's summary)."""
        return pickle.dumps(summary, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def summary_of(packed: bytes) -> Any:
        """The summary of ``pack_summary`` (None if damaged: the block is then folded from its records); it comes
        from a folder row whose seal ``load_blocks`` verified, like the seeds beside it."""
        try:
            return pickle.loads(packed)
        except Exception:  # noqa: BLE001 - a damaged row is only a cache miss
            return None

    def store_blocks(self, folder: str, files: list[tuple[str, int, int]],
                     blocks: list[tuple[bytes, bytes, bytes | None]]) -> None:
        """Replace the folder's row: its listing and, per block, (listing key, encoded records, summary), each
        packed on its own (records compressed; a re-check unpacks only what it uses and stores unchanged blocks
        as they came: rewriting a folder's row after one changed file packs one block, not the folder)."""
        self.db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?, ?, ?)",
                        (self.root, folder, chunk_hash(folder, files), seal(marshal.dumps(blocks), self._key)))
        if folder in self._retimes():   # the new times are in the new row
            self.db.execute("DELETE FROM retimed WHERE root=? AND folder=?", (self.root, folder))
            del self._retimes()[folder]
        self._pending += len(files)
        if self._pending > 20_000:
            self.db.commit()
            self._pending = 0

    def has_snapshot(self) -> bool:
        """True when a whole-tree result of this root is stored (a re-audit may then need no folder row)."""
        return self.db.execute("SELECT 1 FROM snapshots WHERE root=?", (self.root,)).fetchone() is not None

    def snapshot_candidate(self) -> tuple[bytes, Any] | None:
        """The stored (tree digest, scan result with its digest) of this root, read before the tree's digest is
        known (while the listing runs); None when there is none or it is damaged (only a cache miss)."""
        row = self.db.execute("SELECT tree, data FROM snapshots WHERE root=?", (self.root,)).fetchone()
        if row is None:
            return None
        blob = unseal(row[1])
        if blob is None:   # planted, damaged or another user's: never unpickled
            return None
        paused = gc.isenabled()   # no collection pass over the result while it is loaded (none would free a thing)
        gc.disable()
        try:
            result = snapshot_from(blob[16:])
        except Exception:  # noqa: BLE001 - a damaged row is only a cache miss
            return None
        finally:
            if paused:
                gc.enable()
        result.digest = self.result_digest(blob[:16])
        self._snapshot = blob[:16], row[1]
        return row[0], result

    def load_snapshot(self, tree: bytes, candidate: tuple[bytes, Any] | None | bool = False) -> Any:
        """The stored scan result if the tree digest (every folder listing) is unchanged (``candidate``: what
        snapshot_candidate gave, when it was read ahead)."""
        if candidate is False:
            candidate = self.snapshot_candidate()
        if not isinstance(candidate, tuple) or candidate[0] != tree:
            return None
        return candidate[1]

    def snapshot_chunks(self) -> tuple[dict[str, bytes], list[bytes]] | None:
        """The stored snapshot's tree state (``TreeHash.state``: chunk hashes by key, walk problems' hashes), read
        before the walk so it can keep the listings of the chunks that changed; None if none or damaged."""
        row = self.db.execute("SELECT chunks FROM snapshots WHERE root=?", (self.root,)).fetchone()
        blob = None if row is None or row[0] is None else unseal(row[0], self._key)
        if blob is None:
            return None
        try:
            keys, skips = marshal.loads(blob)
        except Exception:  # noqa: BLE001 - a damaged row is only a cache miss
            return None
        return (keys, skips) if isinstance(keys, dict) and isinstance(skips, list) else None

    def store_snapshot(self, tree: bytes, result: Any, chunks: tuple | None = None) -> None:
        """Store the whole-tree scan result (before any check touches it) under the tree digest (and its state
        ``chunks``, see ``snapshot_chunks``), and give the result its digest (the key of cached check results
        and reports): a digest of its content, so a tree whose files were touched but read the same keeps its
        checks and report."""
        content = scan_content_digest(result)
        result.digest = self.result_digest(content)
        if self._snapshot is not None and self._snapshot[0] == content:   # files touched, content the same:
            if self.store_tree(tree, chunks):   # the stored result holds: only its tree changes
                return
        blob = seal(content + snapshot_blob(result))
        self.db.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)",
                        (self.root, tree, blob, self._chunks(chunks)))

    def store_tree(self, tree: bytes, chunks: tuple | None) -> bool:
        """Keep the stored result (read by ``snapshot_candidate``) for a new tree digest and state: its files were
        touched but read the same. False if that row changed meanwhile."""
        assert self._snapshot is not None   # a candidate was read
        done = self.db.execute("UPDATE snapshots SET tree=?, chunks=? WHERE root=? AND data=?",
                               (tree, self._chunks(chunks), self.root, self._snapshot[1]))
        return done.rowcount == 1

    def _chunks(self, chunks: tuple | None) -> bytes | None:
        if chunks is None:
            return None
        try:
            return seal(marshal.dumps(chunks), self._key)
        except ValueError:   # a value marshal cannot store (never expected): no chunk-wise re-check
            return None

    def result_digest(self, content: bytes) -> bytes:
        """What identifies a scan result: the reading code and options (the database name), root and content."""
        return hashlib.blake2b(f"{self.path.name}\0{self.root}\0".encode() + content, digest_size=16).digest()

    def close(self, prune: bool = True) -> None:
        """Forget folders of this root that were not seen (removed), commit and close."""
        try:
            if prune:
                stale = [f for (f,) in self.db.execute("SELECT folder FROM folders WHERE root=?", (self.root,))
                         if f not in self.seen]
                self.db.executemany("DELETE FROM folders WHERE root=? AND folder=?",
                                    [(self.root, f) for f in stale])
                self.db.executemany("DELETE FROM retimed WHERE root=? AND folder=?",
                                    [(self.root, f) for f in self._retimes() if f not in self.seen])
            self.db.commit()
        finally:
            self.db.close()
