"""Re-checks of a tree whose files were only touched: the stored result holds when every changed file reads the same.

A copy, a ``touch`` or a backup tool gives files new times and leaves their bytes alone. When a re-check's walk
finds the same folders, the same files in each and the same walk problems as the stored snapshot's, and only
some files' size or mtime changed, those files are read again: if each gives the record (and seed) the index
holds for it, every input of the scan is what it was, so the stored result is the scan's result (the same
argument as ``refold.Changed.reuse``, for the whole tree). The index keeps the new times of the files read
(``Index.store_times``: the changed folders' rows stand for their new listings without being rewritten) and the
snapshot's new tree; nothing is folded, finalized or digested again. Any other change (a file added, removed or
renamed, a folder more or less, a file read differently) leaves this path for the usual re-check. A file of the
same size whose row's record carries a content stamp (``rawio.Stamp``: the crc of the bytes its record and seed
were read from) is not parsed: one read of those bytes, the same crc, and it reads as stored; the readers
(pydicom) are imported only when a file must be parsed.
"""
from __future__ import annotations

import gc
import os
import pickle
import threading
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import protocheck
from protocheck.forked import fork_writer
from protocheck.sources.dicom import refold
from protocheck.sources.dicom.rawio import stamp_holds
from protocheck.sources.dicom.records import RECORD_VALUES
from protocheck.sources.dicom.workers import Everything, Payload, read_file, resolve_workers
from protocheck.sources.options import ScanOptions
from protocheck.sources.treedigest import TreeHash, drawn, tickets_for, tree_state
from protocheck.storage.listing import keyed_blocks

if TYPE_CHECKING:
    from protocheck.model import ScanResult
    from protocheck.storage.index import Retimes

SPLIT_FROM = 4096             # files in changed chunks from which two processes share the work (blocks, records,
                              # files read again: ~0.1 ms a record, ~2 ms a seed)
SHARED = (3, 5)               # 3 chunks in 5 may be taken by the forked process (the other 2 are this process'
                              # own: it also reads their rows, and takes what the forked process has not)

_Fresh = dict[str, dict[str, Payload]]   # files read again: folder -> file name -> (record, seed)
# a changed chunk: key, folder path, listing, stored blocks, their stored new times, the row's listing hash
_Chunk = tuple[str, str, list[tuple[str, int, int]], dict[bytes, tuple[bytes, bytes | None]], "Retimes", bytes | None]


def stored_result(root: str | os.PathLike[str], index: Any,
                  options: ScanOptions) -> tuple[ScanResult | None, TreeHash]:
    """The stored result when the tree is unchanged, or when its changed files only look changed (new times,
    same records: ``touched``), else None (the tree is scanned); and the walk's tree state."""
    known = index.snapshot_chunks()   # before the walk: it keeps the listings of the chunks that changed
    ahead: list = []   # the stored result, read while the forked process already lists the tree
    paused = gc.isenabled()    # no cycle is made here; collections would go over the stored result loaded
    gc.disable()               # meanwhile, and over the listings of the changed chunks, again and again
    cached = None
    try:
        tree = tree_state(root, lambda: ahead.append(index.snapshot_candidate()), None if known is None else known[0])
        candidate = ahead[0] if ahead else index.snapshot_candidate()
        cached = index.load_snapshot(tree.digest(), candidate)
        if cached is None and known is not None and candidate is not None:
            if reuse_snapshot(index, tree, known, options):
                cached = candidate[1]
    finally:
        if paused:
            if cached is not None and protocheck.LEAN_PYDICOM:   # the command's own process, answered: what is
                gc.freeze()   # alive lives to its end (``cli_progress.settle``); no collection goes over it again
            gc.enable()
    return cached, tree


def walked(tree: TreeHash, index: Any, root: str | os.PathLike[str]) -> list[tuple[str, int, str, Any]] | None:
    """The re-check's folder chunks in walk order, from its walk's tree state (no second walk): (folder, chunk
    number, folder path with separator, listing, or None for a chunk whose index row was stored for its very
    listing: its stored blocks are taken in order). None when the state cannot stand for a walk: walk problems
    (they are reported in walk order), a chunk not kept (too many changed files, a linked file), or a row stored
    for another listing."""
    if tree.overflow or tree.skips or not os.path.isdir(root):
        return None
    rows = index.row_listings()
    base = os.path.abspath(os.fspath(root))
    out = []
    for key, h in tree.keys.items():
        folder, _, chunk = key.partition("\0")
        path = os.path.join(base, folder) if folder else base
        got = tree.changed.get(key)
        if got is None and rows.get(key) != h:
            return None
        out.append((folder, int(chunk or 0), path if path.endswith(os.sep) else path + os.sep,
                    None if got is None else got[1]))
    out.sort(key=lambda c: (c[0].split(os.sep) if c[0] else [], c[1]))   # depth first, names sorted
    return out


def reuse_snapshot(index: Any, tree: "TreeHash", stored: tuple[dict[str, bytes], list[bytes]],
                   options: ScanOptions, ready: Callable[[], None] = lambda: None) -> bool:
    """Whether the stored snapshot is the result of the tree ``tree`` describes (its walk, with the listings of
    the chunks whose hash is not ``stored``'s); if so the index keeps the files' new times (``Index.store_times``:
    a few bytes per file read again, the rows are not rewritten) and the snapshot's new tree. ``ready`` is called
    before the first file is parsed and before any fork. The readers (pydicom) are imported only when a file must
    be parsed (``read_file``): a file whose content stamp holds is not (``_stamped``)."""
    keys, skips = stored
    if tree.overflow or not tree.changed or sorted(tree.skips) != skips or tree.keys.keys() != keys.keys():
        return False
    paused = gc.isenabled()   # no cycle is made here, and the loaded result makes every full collection long
    gc.disable()
    try:
        times, fresh = _shared([(key, *listed) for key, listed in tree.changed.items()], index, options, ready)
    finally:
        if paused:
            gc.enable()
    if times is None:   # the usual re-check takes the files read here as they are (none is read twice)
        index.fresh = fresh
        return False
    index.store_times([(key, base, tree.keys[key], new) for key, (base, new) in times.items()])
    return bool(index.store_tree(tree.digest(), tree.state()))


def _sealed(index: Any, listed: list[tuple[str, str, list[tuple[str, int, int]]]]) -> list[tuple]:
    """The changed chunks (key, folder path, listing) with their rows as read (``Index.sealed_row``: a forked
    process checks and decodes them, ``_chunk``, without the database: less is done before it starts)."""
    return [(*c, index.sealed_row(c[0])) for c in listed]


def _chunk(index: Any, sealed: tuple) -> _Chunk:
    """A chunk of ``_sealed`` with its stored rows and new times."""
    key, path, files, row = sealed
    return (key, path, files, *index.base_blocks(key, row))


def _loading(index: Any, listed: list[tuple[str, str, list[tuple[str, int, int]]]]) -> Iterator[_Chunk]:
    """The changed chunks with their stored rows and new times, each chunk's row read when it is checked (the
    check may end at the first chunk)."""
    return ((key, path, files, *index.base_blocks(key)) for key, path, files in listed)


def _shared(listed: list[tuple[str, str, list[tuple[str, int, int]]]], index: Any, options: ScanOptions,
            ready: Callable[[], None] = lambda: None) -> tuple[dict[str, tuple[bytes, Retimes]] | None, _Fresh]:
    """``_verify`` of the changed chunks, by two processes when they hold many files. The forked process never
    touches the database: the rows of the chunks it may take (``SHARED`` of them) are read before it starts;
    it draws them one by one from a pipe of tickets, and this process, once its own chunks are verified (their
    rows read as it goes), draws the ones left: neither waits for the other while it still has many to verify."""
    if (len(listed) < 2 or sum(len(c[2]) for c in listed) < SPLIT_FROM or resolve_workers(options) < 2
            or not hasattr(os, "fork")):
        return _verify(_loading(index, listed), index, options, ready)
    own = [c for i, c in enumerate(listed) if i % SHARED[1] >= SHARED[0]]
    pool = _sealed(index, [c for i, c in enumerate(listed) if i % SHARED[1] < SHARED[0]])
    ready()
    if threading.active_count() > 1:   # another thread: no fork
        return _verify(chain((_chunk(index, c) for c in pool), _loading(index, own)), index, options)
    tickets = tickets_for(len(pool))
    try:   # the child: the chunks it draws, its answer pickled back
        pid, fd = fork_writer(lambda: _answer(_verify((_chunk(index, pool[i]) for i in drawn(tickets, len(pool))),
                                                      index, options)))
    except OSError:
        os.close(tickets)
        return _verify(chain((_chunk(index, c) for c in pool), _loading(index, own)), index, options)
    inp = open(fd, "rb")
    try:
        mine = _verify(chain(_loading(index, own), (_chunk(index, pool[i]) for i in drawn(tickets, len(pool)))),
                       index, options)
        while mine[0] is None and os.read(tickets, 4096):   # not as stored: the forked process stops sooner
            pass
        data = inp.read()
    finally:
        inp.close()
        os.close(tickets)
        _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None, mine[1]
    try:
        theirs = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a child cut short: the usual re-check
        return None, mine[1]
    fresh = mine[1]
    for folder, got in theirs[1].items():
        fresh.setdefault(folder, {}).update(got)
    return (None if mine[0] is None or theirs[0] is None else {**mine[0], **theirs[0]}), fresh


def _answer(got: tuple[dict[str, tuple[bytes, Retimes]] | None, _Fresh]) -> bytes:
    """(Forked process) Its ``_verify`` answer, pickled; the files it read only when its half did not read as
    stored (the usual re-check then takes them; when only the other half did not, it reads them again: rare)."""
    times, fresh = got
    return pickle.dumps((times, {} if times is not None else fresh), pickle.HIGHEST_PROTOCOL)


def _verify(chunks: Iterable[_Chunk], index: Any, options: ScanOptions,
            ready: Callable[[], None] = lambda: None) -> tuple[dict[str, tuple[bytes, Retimes]] | None, _Fresh]:
    """The chunks' rows' listing hashes and new times (``Index.store_times``), if every file whose size or mtime
    changed reads as stored (else None: one does not, or the names changed), and the files read. Chunk by chunk:
    the first one that changed otherwise ends the check (the usual re-check reads the rest, by the workers).
    ``ready`` is called before the first file is read."""
    out: dict[str, tuple[bytes, Retimes]] = {}
    fresh: _Fresh = {}
    for key, path, files, stored, times, base in chunks:
        plan = None if base is None else _plan(index, files, stored, times)
        if plan is None or base is None:
            return None, fresh
        blocks, changed, kept = plan
        folder = key.split("\0")[0]
        prefix = path if path.endswith(os.sep) else path + os.sep
        by_name = changed.rows   # name -> stored row: a file whose size or mtime is not the row's is read again
        todo, verified = _stamped([(n, size, prefix + n, by_name.get(n))
                                   for block, _lk, hit in blocks if hit is None for n, size, mtime in block
                                   if (row := by_name.get(n)) is None or row[1] != size or row[2] != mtime])
        todo = [(os.path.join(folder, n) if folder else n, path, seed) for n, path, seed in todo]
        if todo:
            ready()
        for name, got in _read(todo, options).items():
            fresh.setdefault(name, {}).update(got)
        got = fresh.get(folder, {})
        for block, lk, hit in blocks:
            if hit is not None:
                continue
            rows, _summary, was = changed.blocks[tuple(f[0] for f in block)]
            if not changed.same(block, rows, got, index, verified):
                return None, fresh
            new = dict(times[was][1]) if was in times else {}
            new.update((f[0], f[1:]) for f, row in zip(block, rows) if row[1] != f[1] or row[2] != f[2])
            kept[was] = lk, new
        out[key] = base, kept
    return out, fresh


def _stamped(files: list[tuple[str, int, str, tuple | None]]) -> tuple[list[tuple[str, str, bool]], set[str]]:
    """Of the changed files (name, size, path, stored row or None): those to read again (name, path, make a seed)
    and the names of those that read as stored without a parse: same size, and the first bytes their row's
    record and seed were made of (its content stamp, ``rawio.stamp_of``) give the stored crc."""
    todo, verified = [], set()
    for name, size, path, row in files:
        stamp = None if row is None or row[1] != size else row[3][RECORD_VALUES]
        if stamp is not None and stamp_holds(path, stamp):
            verified.add(name)
        else:
            todo.append((name, path, row is None or row[4] is not None))
    return todo, verified


def _plan(index: Any, files: list[tuple[str, int, int]], stored: dict[bytes, tuple[bytes, bytes | None]],
          times: Retimes) -> tuple[list[tuple[list[tuple[str, int, int]], bytes, Any]], refold.Changed, Retimes] | None:
    """The chunk's blocks (files, listing key, stored block key if unchanged), its changed stored blocks and the
    stored new times of its unchanged ones; None unless the changed blocks hold the very file names of the
    stored blocks left (each with a summary): a new, renamed or removed file leaves this path."""
    from protocheck.sources.dicom.parallel import BLOCK

    left = dict(stored)
    now = {(times[k][0] if k in times else k): k for k in stored}   # listing key (with the new times) -> key
    blocks, kept = [], {}
    for block, lk in keyed_blocks(files, BLOCK):
        hit = now.pop(lk, None)
        if hit is not None:
            del left[hit]
            if hit in times:
                kept[hit] = times[hit]
        blocks.append((block, lk, hit))
    changed = refold.Changed(index, [(*v, k) for k, v in left.items()],
                             {n: t for k in left if k in times for n, t in times[k][1].items()})
    names = {tuple(f[0] for f in block) for block, _lk, hit in blocks if hit is None}
    if not len(names) == len(left) == len(changed.blocks) or names != changed.blocks.keys():
        return None
    return blocks, changed, kept


def _read(todo: list[tuple[str, str, bool]], options: ScanOptions) -> _Fresh:
    """The files read again, by folder and name, a seed made for each marked one (whichever series it belongs
    to: it is compared with the seed the index holds)."""
    out: _Fresh = {}
    every: Any = Everything()   # a "seen" set holding every series: a record only
    for rel, path, seed in todo:
        folder, name = os.path.split(rel)
        out.setdefault(folder, {})[name] = read_file(rel, path, options, set() if seed else every)
    return out
