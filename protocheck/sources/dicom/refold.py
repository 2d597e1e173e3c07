"""Re-checks that cost what changed: the few files a re-check reads, and the blocks whose files only look changed.

A re-check reads again every file whose size or mtime changed; most often the bytes are the same (a copy, a
``touch``, a backup tool). Each changed index block is then checked: when every file read again gives the very
record it had (and the same seed, if it had one), the block's stored summary still holds and is merged as an
unchanged block's would be; only a block whose content really changed is folded file by file again. The files
to read are few and spread over many folders: they are read by shared tasks of several folders' files. With
worker processes, the changed blocks go to the workers whole (``fold_away``: the stored rows of their unchanged
files, the rows of files read already, the files still to read), as a first run's blocks do (``blockfold``):
a worker reads, checks and folds them, and the main process merges one summary per block.
"""
from __future__ import annotations

import gc
import marshal
import os
import pickle
from typing import TYPE_CHECKING, Any, Callable, Container, Iterable

from protocheck.sources.dicom.records import RECORD_VALUES
from protocheck.sources.dicom.workers import Payload, read_marked

if TYPE_CHECKING:
    from protocheck.sources.dicom.workers import Pools
    from protocheck.storage.index import Entry

BATCH = 128                   # files per shared task
FOLD_ROWS = 256               # rows per shared fold task (a row folds in ~30 us: a task of ~8 ms)


class Shared:
    """Few files of several folders, read as one task (one task per folder would cost more to send than to
    read: a re-check reads a touched file here and there)."""

    __slots__ = ("items", "task")

    def __init__(self) -> None:
        self.items: list[tuple[str, str, bool]] = []   # (rel, path, make a seed)
        self.task: Any = None


class Folds(Shared):
    """Changed blocks of several folders, folded as one task by a worker (``blockfold.fold_rows``)."""

    __slots__ = ()


class Queue:
    """The open shared tasks (files to read, changed blocks to fold); sent when full, or when a folder waiting
    for one must be folded."""

    def __init__(self, pools: "Pools", root: str = "") -> None:
        self.pools, self.open, self.folds, self.root = pools, Shared(), Folds(), root
        self.n_folds = 0   # rows in the open fold task

    def fold(self, pending: list[Any], items: list[tuple[tuple[str, str], bytes, bool]], n_rows: int) -> None:
        """Queue a folder's changed blocks (``fold_away``); its ``pending`` list gets the slice
        of the shared task that folds them."""
        start = len(self.folds.items)
        self.folds.items.extend(items)   # type: ignore[arg-type]
        pending.append((self.folds, start, len(self.folds.items)))
        self.n_folds += n_rows
        if self.n_folds >= FOLD_ROWS:
            self.send()

    def add(self, pending: list[Any], todo: list[tuple[str, str, bool]]) -> None:
        """Queue a folder's files; its ``pending`` list gets the slice of the shared task that reads them."""
        start = len(self.open.items)
        self.open.items.extend(todo)
        pending.append((self.open, start, len(self.open.items)))
        if len(self.open.items) >= BATCH:
            self.send()

    def send(self) -> None:
        """Send the open tasks that hold anything."""
        if self.open.items:
            self.open.task = self.pools.get().submit(read_marked, self.open.items)
            self.open = Shared()
        if self.folds.items:
            from protocheck.sources.dicom.blockfold import fold_rows
            self.folds.task = self.pools.get().submit(fold_rows, self.folds.items, self.root)
            self.folds, self.n_folds = Folds(), 0


class Changed:
    """A folder's stored blocks whose listing changed: their rows by file name, and by the names they hold."""

    __slots__ = ("rows", "blocks")

    def __init__(self, index: Any, stored: Iterable[tuple], times: dict[str, tuple[int, int]] | None = None) -> None:
        """``stored``: (records, summary) or (records, summary, block key) per block; ``times``: newer (size,
        mtime_ns) of some of their files (``Index.base_blocks``), taken instead of the stored ones."""
        self.rows: dict[str, tuple] = {}                    # name -> (name, size, mtime_ns, record tuple, seed)
        self.blocks: dict[tuple[str, ...], tuple[list[tuple], bytes, Any]] = {}   # names -> (rows, summary, key)
        for rows, summary, *key in stored:
            try:
                raws = index.raw_entries(rows)
            except Exception:  # noqa: BLE001 - a damaged row is only a cache miss
                continue
            if times:
                raws = [(r[0], *times[r[0]], r[3], r[4]) if r[0] in times else r for r in raws]
            self.rows.update((r[0], r) for r in raws)
            if summary is not None:
                self.blocks[tuple(r[0] for r in raws)] = (raws, summary, key[0] if key else None)

    def unchanged(self, name: str, size: int, mtime: int) -> bool:
        row = self.rows.get(name)
        return row is not None and row[1] == size and row[2] == mtime

    def wants_seed(self, name: str) -> bool:
        """Whether a file read again should give a seed: a new one, or one whose stored record had one."""
        row = self.rows.get(name)
        return row is None or row[4] is not None

    def reuse(self, files: list[tuple[str, int, int]], fresh: dict[str, Payload],
              index: Any) -> tuple[bytes, bytes] | None:
        """(rows, packed summary) of a stored block with the same files, when every file read again gave what
        the block holds (record and seed); None when the block must be folded again."""
        old = self.blocks.get(tuple(f[0] for f in files))
        if old is None or not self.same(files, old[0], fresh, index):
            return None
        return index.pack_rows([(name, size, mtime, row[3], row[4])
                                for (name, size, mtime), row in zip(files, old[0])]), old[1]

    @staticmethod
    def same(files: list[tuple[str, int, int]], rows: list[tuple], fresh: dict[str, Payload], index: Any,
             verified: Container[str] = ()) -> bool:
        """Whether every file of ``files`` (the names of ``rows``, in order) whose size or mtime changed was read
        again and gave its stored record and seed, or is in ``verified`` (its stamp holds: ``touched``)."""
        for (name, size, mtime), row in zip(files, rows):
            if (row[1] != size or row[2] != mtime) and name not in verified:
                got = fresh.get(name)
                if got is None or not _same(got, row, index):
                    return False
        return True

    def raws(self, files: list[tuple[str, int, int]], fresh: dict[str, Payload], index: Any,
             where: tuple[str, str, dict[str, str]]) -> list[tuple]:
        """A changed block's rows as ``Index.raw_entries`` gives them (the stored ones of unchanged files, those of
        the files read again, seeds pickled); a file not read yet gives (None, (name, size, mtime, relative path,
        path, make a seed), its stored row or None) instead: the worker reads it (``blockfold.fold_rows``).
        ``where``: (folder, folder's path with a separator, {name: path} of files reached otherwise)."""
        out: list[tuple] = []
        folder, prefix, odd = where
        for name, size, mtime in files:
            if self.unchanged(name, size, mtime):
                out.append(self.rows[name])
                continue
            got = fresh.get(name)
            if got is None:
                out.append((None, (name, size, mtime, os.path.join(folder, name) if folder else name,
                                   odd.get(name) or prefix + name, self.wants_seed(name)), self.rows.get(name)))
                continue
            rec, seed = got
            out.append((name, size, mtime, index.record_tuple(rec), seed if seed is None or isinstance(seed, bytes)
                        else pickle.dumps(seed, pickle.HIGHEST_PROTOCOL)))
        return out

    def entries(self, files: list[tuple[str, int, int]], fresh: dict[str, Payload], index: Any) -> list[Entry]:
        """A changed block's entries: the stored ones of unchanged files, the fresh ones of files read again."""
        out: list[Entry] = []
        for name, size, mtime in files:
            if self.unchanged(name, size, mtime):
                out.extend(index.decoded([self.rows[name]]))
            elif name in fresh:
                out.append((name, size, mtime, fresh[name]))
        return out


def fold_away(folder: Any, done: dict[str, Payload], index: Any, pools: "Pools", queue: Queue, top: str) -> set[int]:
    """Send the folder's changed blocks to be folded by a worker (``blockfold.fold_rows``: it reads the files not
    read earlier in this run, and tells whether they read as stored); a block whose files were all read and
    read as stored is left to the main process (its stored summary holds). Returns the positions of the blocks
    sent (none without worker processes: the main process folds them)."""
    if pools.workers <= 1:
        return set()
    changed, where = folder.changed, (folder.name, folder.prefix, folder.odd)
    items: list[tuple[tuple[str, str], bytes, bool]] = []
    away: set[int] = set()
    n = 0
    for i, (files, _key, hit) in enumerate(folder.blocks):
        if hit is not None or changed.reuse(files, done, index) is not None:
            continue
        raws = changed.raws(files, done, index, where)
        try:
            data = marshal.dumps(raws)
        except ValueError:   # a value marshal cannot store (never expected): folded here
            continue
        old = changed.blocks.get(tuple(f[0] for f in files))   # the worker tells whether it reads as stored
        same = old is not None and all(_same(done[f[0]], row, index) for f, row in zip(files, old[0])
                                       if (row[1] != f[1] or row[2] != f[2]) and f[0] in done)
        items.append(((top, folder.name), data, same))
        away.add(i)
        n += len(raws)
    if items:
        queue.fold(folder.pending, items, n)
    folder.away = away
    return away


def take_away(folder: Any, files: list[tuple[str, int, int]], block: tuple, collector: Any, index: Any,
              progress: Any, fold_new: Callable[..., tuple]) -> tuple:
    """(Main process) A changed block a worker folded (``fold_away``): its stored summary merged when its files
    read as stored, else the worker's (or folded here: ``blockfold.take``); its (rows, summary) for the index."""
    from protocheck.sources.dicom import blockfold

    rows, packed, _payloads = block
    if rows is not None and packed is None:   # every file read again reads as stored
        stored = folder.changed.blocks[tuple(f[0] for f in files)][1]
        summary = index.summary_of(stored)
        if summary is not None and collector.merge(summary):
            progress.tick(files[-1][0])
            return rows, stored
        got = fold_new(folder, index.entries(rows), collector, index, progress)   # folded from its rows
        progress.tick(files[-1][0])
        return got
    return blockfold.take(folder, files, block, collector, index, progress, fold_new)


def _same(got: Payload, row: tuple, index: Any) -> bool:
    """Whether a file read again gives its stored record and seed (``same_row``; the seed pickled only when
    both are there)."""
    rec, seed = got
    if seed is not None and row[4] is not None:
        seed = pickle.dumps(seed, pickle.HIGHEST_PROTOCOL)
    return same_row(index.record_tuple(rec), seed, row)


def same_row(record: tuple, seed: Any, row: tuple) -> bool:
    """Whether a file read again (its record tuple, its pickled seed or None) is the stored ``row``, value for
    value and type for type (records compared as marshal version 2 bytes, seeds as pickle bytes: equal bytes
    are equal values; unequal ones only cost a fold)."""
    try:   # the records' values (their content stamps aside: equal records of unequal bytes read the same)
        if marshal.dumps(record[:RECORD_VALUES], 2) != marshal.dumps(row[3][:RECORD_VALUES], 2):
            return False
    except ValueError:
        return False
    if seed is None or row[4] is None:
        return seed is None and row[4] is None
    return isinstance(row[4], bytes) and isinstance(seed, bytes) and seed == row[4]


_GC = {"paused": False}


def pause_gc(recheck: bool) -> bool:
    """Pause the cyclic garbage collector while a re-check merges stored summaries (it only builds what it
    keeps, no cycle to free; the collector's full passes over the growing series cost ~10 % of a re-check).
    Worker processes forked meanwhile collect as usual (``_child_gc``)."""
    if not recheck or not gc.isenabled():
        return False
    gc.disable()
    _GC["paused"] = True
    return True


def resume_gc() -> None:
    """Resume the collector ``pause_gc`` paused."""
    _GC["paused"] = False
    gc.enable()


def _child_gc() -> None:
    if _GC["paused"]:
        _GC["paused"] = False
        gc.enable()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_child_gc)
