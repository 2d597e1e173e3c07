"""Re-checks of a tree whose files were only touched: the stored result holds when every changed file reads the same.

A copy, a ``touch`` or a backup tool gives files new times and leaves their bytes alone. When a re-check's walk
finds the same folders, the same files in each and the same walk problems as the stored snapshot's, and only
some files' size or mtime changed, those files are read again: if each gives the record (and seed) the index
holds for it, every input of the scan is what it was, so the stored result is the scan's result (the same
argument as ``refold.Changed.reuse``, for the whole tree). The changed folders' rows and the snapshot's tree
are updated to the new times; nothing is folded, finalized or digested again. Any other change (a file added,
removed or renamed, a folder more or less, a file read differently) leaves this path for the usual re-check.
"""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from protocheck.sources.dicom import refold
from protocheck.sources.dicom.workers import Payload, Pools, read_file, resolve_workers
from protocheck.sources.options import ScanOptions

if TYPE_CHECKING:
    from protocheck.sources.treedigest import TreeHash

POOL_FROM = 4096              # files to read again from which two processes read them (below, forking the pool
                              # and its first tasks cost more than reading: ~0.1 ms a record, ~2 ms a seed)
BATCH = 128                   # files per task

_Plan = tuple[str, list[tuple[str, int, int]], list[tuple[list[tuple[str, int, int]], bytes, Any]], refold.Changed]


def reuse_snapshot(index: Any, tree: "TreeHash", stored: tuple[dict[str, bytes], list[bytes]],
                   options: ScanOptions) -> bool:
    """Whether the stored snapshot is the result of the tree ``tree`` describes (its walk, with the listings of
    the chunks whose hash is not ``stored``'s); if so the index is updated to the tree's new listings."""
    keys, skips = stored
    if tree.overflow or not tree.changed or sorted(tree.skips) != skips or tree.keys.keys() != keys.keys():
        return False
    plans: list[_Plan] = []
    todo: list[tuple[str, str, bool]] = []
    for key, (path, files) in tree.changed.items():
        plan = _plan(index, key, files)
        if plan is None:
            return False
        plans.append(plan)
        folder, changed = key.split("\0")[0], plan[3]
        prefix = path if path.endswith(os.sep) else path + os.sep
        for block, _lk, hit in plan[2]:
            if hit is None:
                todo.extend((os.path.join(folder, n) if folder else n, prefix + n, changed.wants_seed(n))
                            for n, size, mtime in block if not changed.unchanged(n, size, mtime))
    fresh = _read(todo, options)
    out: list[tuple[str, list[tuple[str, int, int]], list[tuple[bytes, bytes, bytes | None]]]] = []
    for key, files, blocks, changed in plans:
        got = fresh.get(key.split("\0")[0], {})
        rows: list[tuple[bytes, bytes, bytes | None]] = []
        for block, lk, hit in blocks:
            same = hit if hit is not None else changed.reuse(block, got, index)
            if same is None:
                return False
            rows.append((lk, *same))
        out.append((key, files, rows))
    for key, files, rows in out:   # the rows with the new times: a later re-check reads none of these again
        index.store_blocks(key, files, rows)
    return bool(index.store_tree(tree.digest(), tree.state()))


def _plan(index: Any, key: str, files: list[tuple[str, int, int]]) -> _Plan | None:
    """The chunk's blocks (files, listing key, stored block if unchanged) and its changed stored blocks; None
    when a changed block does not hold the same file names as a stored one with a summary."""
    from protocheck.sources.dicom.parallel import _blocks

    stored = index.load_blocks(key)
    blocks = []
    for block in _blocks(files):
        lk = index.listing_key(block)
        blocks.append((block, lk, stored.pop(lk, None)))
    changed = refold.Changed(index, stored.values())
    if any(hit is None and tuple(f[0] for f in block) not in changed.blocks for block, _lk, hit in blocks):
        return None
    return key, files, blocks, changed


def _read(todo: list[tuple[str, str, bool]], options: ScanOptions) -> dict[str, dict[str, Payload]]:
    """The files read again, by folder and name (a seed made for each marked one)."""
    if len(todo) >= POOL_FROM and resolve_workers(options) > 1:
        pools = Pools(resolve_workers(options), options)
        try:
            pool = pools.get()
            plain = dataclasses.replace(options, progress=None)
            tasks = [pool.submit(_read_some, todo[i:i + BATCH], plain) for i in range(0, len(todo), BATCH)]
            payloads = [p for task in tasks for p in task.result()]
        finally:
            pools.close()
    else:
        payloads = _read_some(todo, options)
    out: dict[str, dict[str, Payload]] = {}
    for (rel, _path, _seed), payload in zip(todo, payloads):
        folder, name = os.path.split(rel)
        out.setdefault(folder, {})[name] = payload
    return out


def _read_some(items: list[tuple[str, str, bool]], options: ScanOptions) -> list[Payload]:
    """The payloads of files read again, a seed for each marked one (whichever series it belongs to: it is
    compared with the seed the index holds)."""
    return [read_file(rel, path, options, set() if seed else _EVERY) for rel, path, seed in items]


class _All:
    """A "seen" set holding every series: the file gives its record only."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERY: Any = _All()
