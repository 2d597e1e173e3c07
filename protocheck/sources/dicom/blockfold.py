"""A first run's folding done by the worker processes: whole index blocks per task, folded where they are read.

A folder the index holds nothing of (every file of a first run) is read in tasks of whole blocks
(``parallel._blocks``). The worker reads each block's files, encodes its records (the index's rows, seeds
pickled before any folding) and folds them into a sub-collector, and sends back per block (rows, pickled
summary): two byte strings instead of a record object per file. The main process merges the summary
(``DicomCollector.merge``: cost per series, not per file) and stores both bytes as they came.

The worker cannot know which series the main collector already holds; it guesses: a series whose first file in
the block comes with a seed (the worker read its whole header: new to that worker) is new, any other one is
known (its files are folded into a partial aggregate). ``merge`` takes the summary only when that guess is
the main collector's state (and no SOP instance repeats, etc.): the summary is then the very one the main process
would have made. Otherwise the block is folded file by file from its rows, as before (e.g. a series seeded by
both workers).
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Callable

from protocheck.sources.dicom import workers

BATCH = 128                   # at most this many files per task (whole blocks; one larger block alone)

Folded = tuple   # (rows bytes | None, pickled summary | None, payloads if the rows could not be encoded | None)


def group(blocks: list[list[tuple[str, int, int]]], limit: int = BATCH) -> list[list[int]]:
    """The blocks' positions cut into tasks of whole blocks, each of at most ``limit`` files when possible."""
    tasks: list[list[int]] = []
    n = limit
    for i, files in enumerate(blocks):
        if n + len(files) > limit:
            tasks.append([])
            n = 0
        tasks[-1].append(i)
        n += len(files)
    return tasks


def submit(pool: Any, folder: Any, top: str, root: str, limit: int = BATCH) -> int:
    """Start the tasks reading and folding every block of ``folder`` (a _Folder none of whose blocks is stored);
    returns the number of tasks. The first task makes the seeds of the folder's series (``read_batch``)."""
    where = (top, folder.name, os.path.join(folder.name, "") if folder.name else "", folder.prefix, folder.odd)
    for n, task in enumerate(group([b[0] for b in folder.blocks], limit)):
        folder.pending.append(pool.submit(fold_blocks, [folder.blocks[i][0] for i in task], n == 0, where, root))
    return len(folder.pending)


def fold_blocks(blocks: list[list[tuple[str, int, int]]], seeds: bool, where: tuple[str, str, str, str, dict],
                root: str) -> list[Folded]:
    """(Worker) Read and fold each block of (name, size, mtime_ns) files of one folder; ``where``: (top, folder,
    folder as a prefix of relative paths, folder's path as a prefix, {name: path} of files reached otherwise)."""
    seen = workers._seen if seeds else workers.Everything()
    return [_fold_block(block, seen, where, root) for block in blocks]


def _fold_block(block: list[tuple[str, int, int]], seen: Any, where: tuple[str, str, str, str, dict],
                root: str) -> Folded:
    from protocheck.sources.dicom.records import record_tuple
    from protocheck.storage.index import Index

    options, read_file = workers._options, workers.read_file
    top, name_of_folder, rel, prefix, odd = where
    payloads = [read_file(rel + name, odd.get(name) or prefix + name, options, seen) for name, _s, _m in block]
    try:
        rows = Index.pack_rows([(name, size, mtime, record_tuple(rec),
                                 None if seed is None else pickle.dumps(seed, pickle.HIGHEST_PROTOCOL))
                                for (name, size, mtime), (rec, seed) in zip(block, payloads)])
    except ValueError:   # a value marshal cannot store (never expected): the main process folds the records
        return None, None, payloads
    return rows, _summary([name for name, _s, _m in block], payloads, (top, name_of_folder), root), None


def fold_rows(items: list[tuple[tuple[str, str], bytes, bool]], root: str) -> list[Folded]:
    """(Worker) Fold each of a re-check's changed blocks: ((top, folder), marshalled ``refold.Changed.raws``,
    whether the block's names are a stored block's); the files not read yet are read here. Returns per block
    (rows as stored, pickled summary, None) as ``fold_blocks`` does, or (rows, None, None) when every file read
    here gave its stored record and seed (the stored summary holds)."""
    import marshal

    from protocheck.sources.dicom.records import record_from, record_tuple
    from protocheck.sources.dicom.refold import same_row
    from protocheck.storage.index import Index

    out: list[Folded] = []
    every: Any = workers.Everything()   # a "seen" set holding every series: a record only
    for where, data, same in items:
        raws, payloads, read = [], [], False
        for part in marshal.loads(data):
            if part[0] is not None:   # a stored row, or one of a file read earlier
                raws.append(part)
                payloads.append((record_from(part[3]), part[4]))
                continue
            (name, size, mtime, rel, path, seed), old = part[1], part[2]
            rec, made = workers.read_file(rel, path, workers._options, set() if seed else every)
            raw = (name, size, mtime, record_tuple(rec), None if made is None else
                   pickle.dumps(made, pickle.HIGHEST_PROTOCOL))
            same, read = same and old is not None and same_row(raw[3], raw[4], old), True
            raws.append(raw)
            payloads.append((rec, made))
        try:
            rows = Index.pack_rows(raws)
        except ValueError:   # a value marshal cannot store (never expected): the main process folds the records
            out.append((None, None, payloads))
            continue
        out.append((rows, None if same and read else _summary([r[0] for r in raws], payloads, where, root), None))
    return out


def _summary(names: list[str], payloads: list[Any], where: tuple[str, str], root: str) -> bytes:
    """The pickled summary of a block's payloads folded into a sub-collector (seeds still pickled are unpickled
    when adopted: the rows keep theirs)."""
    from protocheck.sources.dicom.collector import DicomCollector

    top, name_of_folder = where
    known: dict[str, bool] = {}   # series -> taken as known to the main collector (no seed with its first file)
    for rec, seed in payloads:
        if rec.skip is None and rec.series_uid and rec.series_uid not in known:
            known[rec.series_uid] = seed is None
    sub = DicomCollector(root, workers._options).sub([uid for uid, old in known.items() if old], assume=True)
    for name, payload in zip(names, payloads):
        workers.add_payload(sub, payload, (top, name_of_folder, name))
    return pickle.dumps(sub.summary(), pickle.HIGHEST_PROTOCOL)


def fold(folder: Any, collector: Any, index: Any, progress: Any, fold_new: Callable[..., tuple]) -> list[tuple]:
    """(Main process) Merge the blocks of ``folder`` the workers folded, in walk order; one that cannot be merged
    is folded by ``fold_new`` (``parallel._fold_new``) as a block read by the main process is. Returns the
    blocks' (listing key, rows, summary) for the index."""
    out: list[tuple] = []
    folded = [block for task in folder.pending for block in task.result()]
    for (files, key, _hit), block in zip(folder.blocks, folded):
        out.append((key, *take(folder, files, block, collector, index, progress, fold_new)))
    return out


def take(folder: Any, files: list[tuple[str, int, int]], block: Folded, collector: Any, index: Any, progress: Any,
         fold_new: Callable[..., tuple]) -> tuple:
    """(Main process) One block a worker folded: merged, or folded by ``fold_new``; its (rows, summary)."""
    got = merge(block, collector)
    if got is None:
        got = fold_new(folder, entries(block, files) if index is None or block[0] is None else
                       index.entries(block[0]), collector, index, progress)
    progress.tick(files[-1][0])
    return got


def merge(folded: Folded, collector: Any) -> tuple[bytes | None, bytes | None] | None:
    """(Main process) Merge a block folded by a worker; returns its (rows, summary) for the index, or None when
    the block must be folded file by file (``entries``)."""
    rows, packed, _payloads = folded
    if rows is None or not collector.merge(pickle.loads(packed)):
        return None
    return rows, packed


def entries(folded: Folded, files: list[tuple[str, int, int]]) -> list[tuple[str, int, int, Any]]:
    """The block's (name, size, mtime_ns, (record, seed)) entries, to fold them one by one (seeds still pickled
    when they come from the rows)."""
    rows, _packed, payloads = folded
    if rows is None:
        return [(*f, p) for f, p in zip(files, payloads)]
    from protocheck.sources.dicom.records import record_from
    from protocheck.storage.index import Index

    return [(name, size, mtime, (record_from(t), seed)) for name, size, mtime, t, seed in Index.raw_entries(rows)]
