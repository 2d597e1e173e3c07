"""The tree digest: one hash of an input tree's state, the key of the index's whole-tree snapshot.

It covers every folder listing (each file's name, size and mtime_ns, in chunks of ``FOLDER_CHUNK`` files) and
every walk problem, so any added, changed or removed file changes it. It is order-free (a hash of the sorted
per-chunk hashes): two processes can then list the halves of a large tree at once, and a re-audit of an
unchanged archive is mostly this walk. The first run computes the same digest from its own walk (``TreeHash``).
"""
from __future__ import annotations

import hashlib
import marshal
import os
import struct
import threading
from typing import Any, Callable, Iterator

from protocheck.model import SkippedFile
from protocheck.sources.discovery import Branch, descend, folders, visit
from protocheck.storage.listing import listing_bytes

FOLDER_CHUNK = 20_000         # a larger folder is indexed (and held) in chunks of this many files
SPLIT_BRANCHES = 32           # the forked walk lists the top levels until this many sub-trees are found
SPLIT_DEPTH = 4               # ... or this many levels were listed
MAX_CHANGED = 250_000         # a re-check keeps the listings of changed chunks up to this many files (~40 MB)


class TreeHash:
    """Order-free hash of a tree's folder chunks and walk problems.

    It also keeps each chunk's hash by key (``keys``) and the walk problems' hashes (``skips``): what a re-check
    compares chunk by chunk (``state``). Given the stored ``known`` chunk hashes, the listings of the chunks
    whose hash is not the known one are kept (``changed``: key -> (folder path, files)), up to MAX_CHANGED files
    (beyond, or for a chunk holding a linked file, ``overflow`` is set and none is kept)."""

    __slots__ = ("parts", "keys", "skips", "known", "changed", "overflow", "n_changed", "on_change")

    def __init__(self, known: dict[str, bytes] | None = None) -> None:
        self.parts: list[bytes] = []
        self.keys: dict[str, bytes] = {}
        self.skips: list[bytes] = []
        self.known = known
        self.changed: dict[str, tuple[str, list[tuple[str, int, int]]]] = {}
        self.overflow = False
        self.n_changed = 0
        self.on_change: Callable[[], None] | None = None   # called once, on the first changed chunk

    def listing(self, key: str, files: list[tuple[str, int, int]], path: str | None = None,
                packed: bytes | None = None) -> None:
        """One folder chunk: its key (folder, or folder NUL chunk number) and its (name, size, mtime_ns) list;
        ``path``: the folder's path when every file of the chunk is a plain file in it (else None); ``packed``:
        ``listing_bytes(files)`` when known."""
        if packed is None:
            packed = listing_bytes(files)
        h = self.keys[key] = self._add(key.encode("utf-8", "surrogateescape") + b"\1" + packed)
        known = self.known
        if known is None or self.overflow or known.get(key) == h:
            return
        call = self.on_change
        if call is not None:
            self.on_change = None
            call()
        self.n_changed += len(files)
        if path is None or self.n_changed > MAX_CHANGED:
            self.overflow, self.changed = True, {}
            return
        self.changed[key] = (path, files)

    def skipped(self, item: SkippedFile) -> None:
        """A file or folder the walk could not take, and why."""
        self.skips.append(self._add(repr((item.path, item.reason, item.kind)).encode("utf-8", "surrogateescape")))

    def _add(self, data: bytes) -> bytes:
        h = hashlib.blake2b(data, digest_size=16).digest()
        self.parts.append(h)
        return h

    def digest(self) -> bytes:
        return hashlib.blake2b(b"".join(sorted(self.parts)), digest_size=16).digest()

    def state(self) -> tuple[dict[str, bytes], list[bytes]]:
        """What the index stores beside the snapshot: the chunk hashes by key, the walk problems' (sorted)."""
        return self.keys, sorted(self.skips)

    def absorb(self, other: tuple) -> None:
        """Add what another process' TreeHash gave (``exported``)."""
        parts, keys, skips, changed, overflow, n_changed = other
        self.parts.extend(parts)
        self.keys.update(keys)
        self.skips.extend(skips)
        self.n_changed += n_changed
        self.overflow = self.overflow or overflow or self.n_changed > MAX_CHANGED
        self.changed = {} if self.overflow else {**self.changed, **changed}

    def exported(self) -> tuple:
        """This hash's content, for ``absorb`` in another process."""
        return self.parts, self.keys, self.skips, self.changed, self.overflow, self.n_changed


class _Blocks:
    """The first run's chunking (``parallel._folders``) applied to ``folders`` blocks, into a TreeHash."""

    def __init__(self, known: dict[str, bytes] | None = None) -> None:
        self.hash = TreeHash(known)
        self.name: str | None = None
        self.chunk = 0
        self.files: list[tuple[str, int, int]] | None = None
        self.path: str | None = None   # the chunk's folder path while every file in it is a plain one
        self.packed: bytes | None = None   # listing_bytes(files) when the walk gave it (a folder in one chunk)

    def block(self, block: Any) -> None:
        """One block of the walk: a SkippedFile or a FolderListing."""
        if isinstance(block, SkippedFile):
            self.hash.skipped(block)
        elif block.plain and block.rel != self.name:
            if len(block.entries) <= FOLDER_CHUNK:   # the whole folder in one chunk
                self.flush()
                self.name, self.chunk, self.path, self.files = block.rel, 0, block.path, block.entries
                self.packed = block.packed
                return
            for start in range(0, len(block.entries), FOLDER_CHUNK):
                self.flush()
                self.name, self.chunk, self.path = block.rel, start // FOLDER_CHUNK, block.path
                self.files = block.entries[start:start + FOLDER_CHUNK]
        else:   # a linked or unreadable file among them: the first run's steps, item by item
            for item in block.entries:
                self._item(item, block.rel, block.path)

    def _item(self, item: Any, folder: str, path: str) -> None:
        if isinstance(item, SkippedFile):
            self.hash.skipped(item)
            return
        plain = item.__class__ is tuple
        if plain:
            entry = item
        else:
            cut = item.rel.rfind(os.sep)
            folder, name = (item.rel[:cut], item.rel[cut + 1:]) if cut >= 0 else ("", item.rel)
            entry = (name, item.size, item.mtime_ns)
        if self.files is None or folder != self.name or len(self.files) >= FOLDER_CHUNK:
            chunk = self.chunk + 1 if self.files is not None and folder == self.name else 0
            self.flush()
            self.name, self.chunk, self.files, self.path = folder, chunk, [], path
        self.files.append(entry)
        self.packed = None
        if not plain:
            self.path = None

    def flush(self) -> None:
        if self.files is not None:
            assert self.name is not None   # set with the folder's first file
            key = self.name if self.chunk == 0 else f"{self.name}\x00{self.chunk}"
            self.hash.listing(key, self.files, self.path, self.packed)
            self.files, self.packed = None, None


def tree_digest(root: str | os.PathLike[str], meanwhile: Callable[[], None] | None = None) -> bytes:
    """The digest of ``root`` (what the first run's walk computes), listed by two processes when it can be.

    ``meanwhile`` (e.g. loading the stored result the digest may confirm) runs once in this process, while the
    forked one is already listing: the two then share the rest of the listing as each is free.
    """
    return tree_state(root, meanwhile).digest()


def tree_state(root: str | os.PathLike[str], meanwhile: Callable[[], None] | None = None,
               known: dict[str, bytes] | None = None, on_change: Callable[[], None] | None = None) -> TreeHash:
    """``tree_digest``'s walk, as the TreeHash of the whole tree: its digest, its chunk hashes, and (``known``:
    the stored chunk hashes) the listings of the chunks that changed; ``on_change`` is called (in this process,
    once the listing is shared with the forked one, if any) when this process finds the first changed chunk, or
    after the walk when only the forked process found changed chunks."""
    done: list[bool] = []

    def once() -> None:
        if meanwhile is not None and not done:
            done.append(True)
            meanwhile()

    split = _forked(root, once, known=known, on_change=on_change)
    if split is not None:
        return split
    once()
    blocks = _Blocks(known)
    blocks.hash.on_change = on_change
    for block in folders(root):
        blocks.block(block)
    blocks.flush()
    return blocks.hash


def _plan(base: str, visited: set[str], linked: list[Branch],
          known: dict[str, bytes] | None = None) -> tuple[_Blocks, list[Branch]]:
    """The top levels listed here (level by level: the digest is order-free) and the sub-trees below them."""
    head = _Blocks(known)
    frontier: list[Branch] = [(base, "", None)]
    for _ in range(SPLIT_DEPTH):
        if len(frontier) >= SPLIT_BRANCHES:
            break
        below: list[Branch] = []
        for branch in frontier:
            block, subdirs = visit(base, branch, visited)
            linked.extend(d for d in subdirs if d[2] is None)
            if block is not None:
                head.block(block)
            below.extend(subdirs)
        frontier = below
    return head, frontier


def _walk(base: str, branches: list[Branch], tickets: int, blocks: _Blocks, visited: set[str],
          linked: list[Branch]) -> None:
    """List the sub-trees whose numbers this process draws from the ``tickets`` pipe (both processes draw
    from it, a 4-byte number at a time, so neither waits while the other still has a large sub-tree to list)."""
    for i in drawn(tickets, len(branches)):
        for block in descend(base, [branches[i]], visited, linked):
            blocks.block(block)
    blocks.flush()


_TICKET = struct.Struct("<I")
MAX_TICKETS = 1024   # 4 KiB of tickets: what any pipe holds before its writer would block


def _per_ticket(n: int) -> int:
    return -(-n // MAX_TICKETS)   # sub-trees per ticket: one, unless there are more than MAX_TICKETS


def tickets_for(n: int) -> int:
    """A pipe holding one ticket per group of ``_per_ticket(n)`` of n items (its read end), for processes that
    share the items as each is free (``drawn``)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"".join(_TICKET.pack(i) for i in range(-(-n // _per_ticket(n)))))
    finally:
        os.close(write_end)
    return read_end


def drawn(tickets: int, n: int) -> Iterator[int]:
    """The numbers of the items this process draws from a ``tickets_for(n)`` pipe, a ticket at a time (each
    ticket is drawn by one process only: 4-byte reads of a pipe are atomic)."""
    per = _per_ticket(n)
    while True:
        ticket = os.read(tickets, 4)
        if len(ticket) < 4:
            return
        first = _TICKET.unpack(ticket)[0] * per
        yield from range(first, min(first + per, n))


def _forked(root: str | os.PathLike[str], meanwhile: Callable[[], None] | None = None,
            known: dict[str, bytes] | None = None, on_change: Callable[[], None] | None = None) -> TreeHash | None:
    """The digest with the sub-trees shared with a forked process; None (walk it in one) when the tree has a
    linked folder (the walk's loop detection then depends on order), is small, or forking is not safe here."""
    root = os.fspath(root)
    if not hasattr(os, "fork") or threading.active_count() > 1 or not os.path.isdir(root):
        return None
    base = os.path.abspath(root)
    visited: set[str] = set()
    linked: list[Branch] = []
    mine, branches = _plan(base, visited, linked, known)
    if linked or len(branches) < 2:
        return None
    tickets = tickets_for(len(branches))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: list the sub-trees it draws, send back its chunk hashes, exit at once
        status = 1
        try:
            os.close(read_end)
            theirs, their_links = _Blocks(known), list[Branch]()
            _walk(base, branches, tickets, theirs, set(), their_links)
            with open(write_end, "wb") as out:
                out.write(marshal.dumps((bool(their_links), theirs.hash.exported())))   # plain values: marshal
                # (several times faster than pickle on the listings of the changed chunks a re-check keeps)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    inp = open(read_end, "rb")
    mine.hash.on_change = on_change   # after the fork (it may start a thread)
    try:
        if meanwhile is not None:
            meanwhile()
        _walk(base, branches, tickets, mine, visited, linked)
        data = inp.read()
    finally:
        inp.close()   # first: a child still writing then fails at once instead of waiting for a reader
        os.close(tickets)
        _, status = os.waitpid(pid, 0)
    if status != 0 or linked or not data:
        return None
    try:
        their_links, theirs = marshal.loads(data)
    except Exception:  # noqa: BLE001 - a child cut short: walk the tree in one process
        return None
    if their_links:
        return None
    mine.hash.absorb(theirs)
    call = mine.hash.on_change
    if call is not None and mine.hash.n_changed:   # every changed chunk was the other process' (or listed before
        mine.hash.on_change = None                 # the fork): the caller still learns of the change, once
        call()
    return mine.hash
