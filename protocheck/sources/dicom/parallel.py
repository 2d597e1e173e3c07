"""Archive-scale DICOM scan: fast per-file reads, optional worker processes, optional incremental index.

Files are taken folder by folder in walk order and read in batches by ``workers.read_batch`` (the hand-rolled
scanners; the first file of a series a worker has not seen yet also gives the series "seed", the series
parameters from its whole header). Results are folded in walk order, so the findings are those of a serial
scan. A folder the index holds nothing of is folded by the workers too, block by block (``blockfold``).
With an index (``options.cache_dir``), unchanged folders are taken from it without opening a file, and an
unchanged tree is answered from the index's whole-tree snapshot (walk + one row; pydicom is not imported), and
so is a tree whose changed files read as before (``touched``).
Memory follows the number of series: at most a bounded window of folder batches is in flight.
"""
from __future__ import annotations

import collections
import os
import time
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from protocheck.model import ScanResult
from protocheck.sources import treedigest
from protocheck.sources.dicom import blockfold, refold
from protocheck.sources.dicom.refold import pause_gc as _pause_gc, resume_gc as _resume_gc
from protocheck.sources.dicom.workers import (
    AUTO_MIN_FILES, Payload, Pools, Everything, add_payload, read_batch, read_file, resolve_workers,
)
from protocheck.sources.options import ScanOptions
from protocheck.sources.treedigest import TreeHash, tree_digest
from protocheck.storage.listing import cut_blocks, keyed_blocks

if TYPE_CHECKING:
    from protocheck.storage.index import Entry

__all__ = ["add_payload", "read_file", "resolve_workers", "scan_tree", "tree_digest"]

BATCH = 128                   # files per task
FEW = BATCH // 4              # a folder with fewer files to read shares a task with others' (refold.Queue)
HOLD = 256                    # folders that may wait for a shared task to fill before it is sent anyway
BLOCK = 16                    # mean files per index block (a changed file re-folds its block only)
PROGRESS_INTERVAL = 0.1       # seconds between progress callbacks (at most ~10 per second)

class _DamagedRow(Exception):
    """A re-check's stored row for a folder chunk it did not list again cannot be read (damaged or gone)."""


class _Folder:
    """One folder's files in walk order: listing, stored blocks, and the reads still to fold."""

    __slots__ = ("name", "chunk", "key", "files", "prefix", "odd", "changed", "pending", "blocks", "stored", "same",
                 "remote", "away")

    def __init__(self, name: str, chunk: int = 0, prefix: str = "", files: Any = ()) -> None:
        self.name, self.chunk = name, chunk
        self.key = name if chunk == 0 else f"{name}\x00{chunk}"   # index row of a very large folder's chunk
        self.same = files is None   # a re-check's chunk whose row was stored for its listing (not listed again)
        self.files: list[tuple[str, int, int]] = list(files or ())
        self.prefix = prefix                  # the folder's path (with a separator): a file's path is this + name
        self.odd: dict[str, str] = {}         # files reached otherwise (a linked file): name -> path
        self.changed: Any = None              # refold.Changed: the stored blocks whose listing changed
        self.pending: list[Any] = []
        self.blocks: list[tuple[Any, bytes, Any]] = []   # (files (None: not listed), key, stored block)
        self.stored = False   # every block as the index holds it: the row needs no rewrite
        self.remote = False   # every block read and folded by the workers (blockfold)
        self.away: set[int] = set()   # positions of the changed blocks a worker folds (``refold.fold_away``)


def scan_tree(root: str | os.PathLike[str], options: ScanOptions | None = None) -> ScanResult:
    """Scan a DICOM tree with the fast path (and workers / index as the options say)."""
    from protocheck.sources.discovery import folders as listings

    options = options or ScanOptions()
    index = _open_index(root, options)
    recheck = index is not None and index.has_snapshot()
    plan = None
    if recheck:   # re-audit: an unchanged tree needs no file and no row
        from protocheck.sources.dicom.touched import stored_result, walked
        cached, tree = stored_result(root, index, options)
        if cached is not None:
            index.close(prune=False)
            if options.progress is not None:
                options.progress(cached.n_files_seen, sum(1 for _ in cached.acquisitions()), "")
            return cached
        plan = walked(tree, index, root)   # the chunks in walk order: no second walk
    from protocheck.sources.dicom.collector import DicomCollector   # imports pydicom: only when reading

    collector = DicomCollector(root, options)
    items = listings(root) if plan is None else iter(())
    workers = options.workers if options.workers and options.workers > 0 else None
    if plan is not None:
        n = tree.n_changed   # the files of the changed chunks: what this re-check may read
        workers, listing = workers or resolve_workers(options, n if n < AUTO_MIN_FILES else None), tree
        folders: Iterator[_Folder] = (_Folder(name, chunk, prefix, files) for name, chunk, prefix, files in plan)
    elif workers is None:   # auto: look ahead until enough files are found to be worth a second process
        head, n = [], 0
        for item in items:
            head.append(item)
            n += len(getattr(item, "entries", ()))
            if n >= AUTO_MIN_FILES:
                break
        workers = resolve_workers(options, n if n < AUTO_MIN_FILES else None)
        items = _chain(head, items)
    if plan is None:
        listing = TreeHash()
        folders = _folders(items, collector, listing)
    done = False
    paused = _pause_gc(recheck)
    try:
        try:
            _run(folders, collector, options, index, workers)
        except _DamagedRow:   # a stored row of a chunk not listed again cannot be read: list the tree, read what
            collector, listing = DicomCollector(root, options), TreeHash()   # the index lacks (a cache miss)
            _run(_folders(listings(root), collector, listing), collector, options, index, workers)
        result = collector.finish()
        if index is not None:
            index.store_snapshot(listing.digest(), result, listing.state())
        done = True
    finally:
        if paused:
            _resume_gc()
        if index is not None:
            index.close(prune=done)   # interrupted: folders not reached yet keep their rows
    return result


def _chain(head: list, rest: Iterator) -> Iterator:
    yield from head
    yield from rest


def _open_index(root: str | os.PathLike[str], options: ScanOptions) -> Any:
    if options.cache_dir is None:
        return None
    from protocheck.sources.dicom.records import open_index
    return open_index(options.cache_dir, root, options)


def _folders(blocks: Iterable[Any], collector: Any, tree: Any) -> Iterator[_Folder]:
    """The walk's folder listings (``discovery.folders``) as _Folders of at most FOLDER_CHUNK files; what the
    walk could not take goes to the collector's skipped files.

    ``tree`` (a hash) takes every listing and walk problem in order: the digest of the whole tree's state (the
    chunking is ``treedigest._Blocks``', so an unchanged tree gives the digest its snapshot is stored under).
    """
    from protocheck.model import SkippedFile

    current: _Folder | None = None
    sep = os.sep
    for block in blocks:
        if isinstance(block, SkippedFile):
            collector.skipped.append(block)
            tree.skipped(block)
            continue
        prefix = block.path if block.path.endswith(sep) else block.path + sep
        if block.plain and (current is None or block.rel != current.name):   # every entry a plain file
            for start in range(0, len(block.entries), treedigest.FOLDER_CHUNK):
                if current is not None:
                    tree.listing(current.key, current.files)
                    yield current
                current = _Folder(block.rel, start // treedigest.FOLDER_CHUNK, prefix)
                current.files = block.entries[start:start + treedigest.FOLDER_CHUNK]
            continue
        for item in block.entries:   # a linked or unreadable file among them: item by item
            if isinstance(item, SkippedFile):
                collector.skipped.append(item)
                tree.skipped(item)
                continue
            folder, entry, path = block.rel, item, None
            if item.__class__ is not tuple:   # a FoundFile
                cut = item.rel.rfind(sep)
                folder, name = (item.rel[:cut], item.rel[cut + 1:]) if cut >= 0 else ("", item.rel)
                entry, path = (name, item.size, item.mtime_ns), item.path
            if current is None or folder != current.name or len(current.files) >= treedigest.FOLDER_CHUNK:
                chunk = current.chunk + 1 if current is not None and folder == current.name else 0
                if current is not None:
                    tree.listing(current.key, current.files)
                    yield current
                current = _Folder(folder, chunk, prefix)
            current.files.append(entry)
            if path is not None:
                current.odd[entry[0]] = path
    if current is not None:
        tree.listing(current.key, current.files)
        yield current


def _run(folders: Iterator[_Folder], collector: Any, options: ScanOptions, index: Any, workers: int) -> None:
    pools = Pools(workers, options)   # started on the first file to read: a re-audit may read none
    queue = refold.Queue(pools, collector.root)
    window: collections.deque[_Folder] = collections.deque()
    in_flight = 0
    progress = _Progress(options, collector)
    seen: set[str] = set()
    dest = (_top(collector), collector.root)
    try:
        for folder in folders:
            in_flight += _submit(folder, index, pools, options, seen, queue, dest)
            window.append(folder)
            while window:
                head = window[0]
                if head.pending and not _sent(head):   # its reads wait in the open shared task
                    if len(window) < HOLD and in_flight <= 4 * workers:
                        break
                    queue.send()
                if not (pools.pool is None or in_flight > 4 * workers or _ready(head)):
                    break
                in_flight -= _fold(window.popleft(), collector, index, progress)
        queue.send()
        while window:
            _fold(window.popleft(), collector, index, progress)
    finally:
        if pools.pool is not None:
            pools.close()
    progress.done()


def _sent(folder: _Folder) -> bool:
    return all(not isinstance(t, tuple) or t[0].task is not None for t in folder.pending)


def _ready(folder: _Folder) -> bool:
    """Whether every read of the folder is done (a folder with none is)."""
    return all((t[0].task if isinstance(t, tuple) else t).done() for t in folder.pending if not isinstance(t, list))


def _blocks(files: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    """A folder's files in walk order, cut into blocks of ~BLOCK files (``listing.cut_blocks``)."""
    return cut_blocks(files, BLOCK)


def _submit(folder: _Folder, index: Any, pools: "Pools", options: ScanOptions, seen: set[str],
            queue: refold.Queue, dest: tuple[str, str]) -> int:
    """Look the folder's blocks up in the index and start reading the files it does not hold; returns tasks
    started. An unchanged block is taken whole (its summary); a changed one reuses its unchanged files' records.
    A changed file whose stored record came without a seed is read without one (its series is begun by an
    earlier file: a seed would be read in full for nothing; should the series be new after all, the file is
    read in full when folded, ``add_payload``); a folder with few files to read shares a task with others; a
    folder the index holds nothing of is read and folded by the workers block by block (``blockfold``)."""
    if folder.same:   # its stored blocks, in order (files unknown: only a damaged row would need them)
        kept = index.stored_blocks(folder.key)
        if kept is None:
            raise _DamagedRow(folder.key)
        folder.blocks, folder.stored, folder.changed = [(None, k, hit) for k, hit in kept.items()], True, None
        return 0
    stored = {} if index is None else index.load_blocks(folder.key)
    keyed = keyed_blocks(folder.files, BLOCK) if index is not None else [(b, b"") for b in _blocks(folder.files)]
    for files, key in keyed:
        folder.blocks.append((files, key, stored.pop(key, None)))
    folder.stored = bool(folder.blocks) and not stored and all(b[2] is not None for b in folder.blocks)
    changed = folder.changed = refold.Changed(index, stored.values())   # blocks that changed: rows by name
    if folder.files and not changed.rows and all(b[2] is None for b in folder.blocks) and pools.get() is not None:
        folder.remote = True   # nothing stored: every file is read, and folded, by the workers
        return blockfold.submit(pools.pool, folder, dest[0], dest[1], BATCH)
    done = index.fresh.get(folder.name) if index is not None and changed.rows else None   # read earlier in this run
    away = refold.fold_away(folder, done or {}, index, pools, queue, dest[0]) if changed.rows else ()
    todo: list[tuple[str, str, bool]] = []
    prefix, odd = folder.prefix, folder.odd
    for i, (files, _key, hit) in enumerate(folder.blocks):
        if hit is not None or i in away:
            continue
        for name, size, mtime in files:
            if not changed.unchanged(name, size, mtime):
                todo.append((os.path.join(folder.name, name) if folder.name else name,
                             odd.get(name) or prefix + name, changed.wants_seed(name)))
    if done and todo:
        names = [os.path.basename(t[0]) for t in todo]
        folder.pending.append([done[n] for n in names if n in done])
        todo = [t for t, n in zip(todo, names) if n not in done]
    pool = pools.get() if todo else pools.pool
    if pool is None:
        every = Everything()
        folder.pending.extend([[read_file(rel, path, options, seen if seed else every)  # type: ignore[arg-type]
                                for rel, path, seed in todo[i:i + BATCH]] for i in range(0, len(todo), BATCH)])
        return 0
    if 0 < len(todo) < FEW and changed.rows:   # a few files of a folder the index holds (a first run's
        queue.add(folder.pending, todo)          # folders go one task each: no wait for a shared task to fill)
        return 0
    for i in range(0, len(todo), BATCH):
        folder.pending.append(pool.submit(read_batch, [t[:2] for t in todo[i:i + BATCH]], i == 0))
    return sum(1 for t in folder.pending if not isinstance(t, (list, tuple)))   # tasks of its own


def _safe_entries(index: Any, rows: bytes) -> list[Entry] | None:
    try:
        return index.entries(rows)
    except Exception:  # noqa: BLE001 - a damaged row is only a cache miss
        return None


def _fold(folder: _Folder, collector: Any, index: Any, progress: "_Progress") -> int:
    """Fold the folder's blocks into the collector in walk order: an unchanged block by merging its stored
    summary, another one file by file (through a sub-collector whose summary is stored with the block)."""
    if folder.remote:   # read and folded by the workers
        n_tasks = len(folder.pending)
        _done(folder, index, blockfold.fold(folder, collector, index, progress, _fold_new), progress)
        return n_tasks
    n_tasks = 0
    fresh: dict[str, Payload] = {}
    folded: list[Any] = []   # the changed blocks a worker folded (``refold.fold_away``), in order
    for task in folder.pending:
        if isinstance(task, tuple):   # a slice of a shared task
            results = task[0].task.result()[task[1]:task[2]]
            if isinstance(task[0], refold.Folds):
                folded.extend(results)
                continue
        else:
            results = task if isinstance(task, list) else task.result()
            n_tasks += 0 if isinstance(task, list) else 1
        for rec, seed in results:
            fresh[os.path.basename(rec.name)] = (rec, seed)
    out: list[tuple[bytes, bytes | None, bytes | None]] = []
    away = iter(folded)
    for i, (files, key, hit) in enumerate(folder.blocks):
        if i in folder.away:   # folded by a worker
            out.append((key, *refold.take_away(folder, files, next(away), collector, index, progress, _fold_new)))
            continue
        if hit is not None:
            summary = index.summary_of(hit[1]) if hit[1] is not None else None
            if summary is None or not collector.merge(summary):
                entries = _safe_entries(index, hit[0])
                if entries is None:   # damaged (never expected): the block's files are read here
                    if files is None:   # not listed (a re-check's unchanged chunk): list the tree again
                        raise _DamagedRow(folder.key)
                    top = _top(collector)
                    for name, _size, _mtime in files:
                        collector.add_path(os.path.join(top, folder.name, name), os.path.join(folder.name, name))
                else:
                    _fold_entries(folder, entries, collector, progress)
            out.append((key, *hit))
            continue
        same = None if index is None else folder.changed.reuse(files, fresh, index)
        if same is not None:   # every file read again reads as stored: the stored summary holds
            summary = index.summary_of(same[1])
            if summary is not None and collector.merge(summary):
                out.append((key, *same))
                continue
        entries = folder.changed.entries(files, fresh, index)
        out.append((key, *_fold_new(folder, entries, collector, index, progress)))
    _done(folder, index, out, progress)
    return n_tasks


def _done(folder: _Folder, index: Any, out: list[tuple[bytes, bytes | None, bytes | None]],
          progress: "_Progress") -> None:
    """Store the folded folder's blocks (unless stored as they are) and let it go."""
    if index is not None:
        if not folder.stored and all(rows is not None for _key, rows, _summary in out):
            index.store_blocks(folder.key, folder.files, out)
        index.forget()
    progress.tick(folder.name)
    folder.pending, folder.changed, folder.blocks = [], None, []


def _fold_new(folder: _Folder, entries: list[Entry], collector: Any, index: Any,
              progress: "_Progress") -> tuple[bytes | None, bytes | None]:
    """Fold a block read now; returns its (encoded records, summary) for the index (None: not stored)."""
    rows = None if index is None else index.encode(entries)   # before folding: stored seeds stay pristine
    if rows is None:
        _fold_entries(folder, entries, collector, progress)
        return None, None
    sub = collector.sub(e[3][0].series_uid for e in entries)
    _fold_entries(folder, entries, sub, progress)
    summary = index.pack_summary(sub.summary())   # before merging: later folds change the adopted series
    if collector.merge(sub.summary()):
        return rows, summary
    _fold_entries(folder, index.entries(rows), collector, progress)   # e.g. a duplicate of an earlier block
    return rows, None


def _fold_entries(folder: _Folder, entries: list[Entry], collector: Any, progress: "_Progress") -> None:
    top = _top(collector)
    for name, _size, _mtime, payload in entries:
        add_payload(collector, payload, (top, folder.name, name))
        progress.tick(name)


def _top(collector: Any) -> str:
    return collector.root if os.path.isdir(collector.root) else os.path.dirname(collector.root)


class _Progress:
    """Calls options.progress(files, series, path) at most every PROGRESS_INTERVAL seconds."""

    def __init__(self, options: ScanOptions, collector: Any) -> None:
        self.fn = options.progress
        self.collector = collector
        self.last = 0.0

    def tick(self, name: str) -> None:
        if self.fn is None:
            return
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self.fn(self.collector.n_files, len(self.collector.series), name)

    def done(self) -> None:
        if self.fn is not None:
            self.fn(self.collector.n_files, len(self.collector.series), "")
