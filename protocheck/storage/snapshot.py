"""Whole scan results as the caches store them: compressed pickles (``compressed_pickle``), the index's snapshot of a
scan result (``snapshot_blob``: Parameters shared through a table), and a digest of what a result holds
(``content_digest``: equal however the result was built, the key of cached checks and reports).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import zlib
from typing import Any, Callable

from protocheck.model import Parameter, Pickled, field_names


class _Deflating:
    """A write-only file that compresses as it is written: a pickled snapshot never exists uncompressed."""

    def __init__(self) -> None:
        self.z = zlib.compressobj(1)
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(self.z.compress(data))
        return len(data)


def compressed_pickle(items: list[Any], pickler: Callable[[Any], pickle.Pickler] | None = None) -> bytes:
    """The pickles of ``items`` one after the other, zlib-compressed as they are written, the pickler's memo
    cleared after each (memory: the compressed size and one item's memo, ~100 bytes per object, not the whole
    archive's). ``pickler(file)`` makes a custom Pickler; its ``next_item()``, if any, is called after each item.
    """
    out = _Deflating()
    p = (pickler or (lambda f: pickle.Pickler(f, pickle.HIGHEST_PROTOCOL)))(out)
    p.dump(len(items))
    for item in items:
        p.dump(item)
        p.clear_memo()
        getattr(p, "next_item", lambda: None)()
    out.parts.append(out.z.flush())
    return b"".join(out.parts)


def loaded_pickles(blob: bytes, unpickler: Callable[[Any], pickle.Unpickler] | None = None) -> list[Any]:
    """The items of ``compressed_pickle`` (a fresh Unpickler for each: the pickler's memo restarted too)."""
    f = io.BytesIO(zlib.decompress(blob))
    make = unpickler or pickle.Unpickler
    return [make(f).load() for _ in range(pickle.load(f))]


class _SnapshotPickler(pickle.Pickler):
    """Pickles a scan's distinct Parameters first (``plain`` items: their count, then chunks of the table), then
    the header and the exams (in groups) with their Parameters as positions in that table: series keep sharing
    them, though the memo is cleared after every item."""

    def __init__(self, file: Any, positions: dict[int, int], plain: int) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.positions, self.plain = positions, plain

    def next_item(self) -> None:
        self.plain -= 1

    def persistent_id(self, obj: Any) -> int | None:
        return self.positions.get(id(obj)) if self.plain <= 0 and obj.__class__ is Parameter else None


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, table: list[Parameter]) -> None:
        super().__init__(file)
        self.table = table

    def persistent_load(self, pid: int) -> Parameter:
        return self.table[pid]


_TABLE_CHUNK = 4096          # Parameters per pickle of the table
_EXAM_GROUP = 64             # exams per pickle


def snapshot_blob(result: Any) -> bytes:
    """The compressed snapshot of a scan result (see ``_SnapshotPickler``)."""
    positions: dict[int, int] = {}
    table: list[Parameter] = []
    for acq in result.acquisitions():
        for p in acq.params.values():
            if positions.setdefault(id(p), len(table)) == len(table):
                table.append(p)
    chunks = [table[i:i + _TABLE_CHUNK] for i in range(0, len(table), _TABLE_CHUNK)]
    header = dataclasses.replace(result, exams=[])
    exams = [result.exams[i:i + _EXAM_GROUP] for i in range(0, len(result.exams), _EXAM_GROUP)]
    return compressed_pickle([len(chunks), *chunks, header, *exams],
                             lambda out: _SnapshotPickler(out, positions, 1 + len(chunks)))


def snapshot_from(blob: bytes) -> Any:
    """The scan result of ``snapshot_blob``."""
    f = io.BytesIO(zlib.decompress(blob))
    n, chunks = pickle.load(f), pickle.load(f)
    table: list[Parameter] = []
    for _ in range(chunks):
        table.extend(pickle.load(f))
    header = pickle.load(f)
    header.exams = [e for _ in range(n - 2 - chunks) for e in _SnapshotUnpickler(f, table).load()]
    return header


class _Hashing:
    """A write-only file that only hashes what is written."""

    def __init__(self) -> None:
        self.h = hashlib.blake2b(digest_size=16)

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return len(data)


class _ContentPickler(pickle.Pickler):
    """Pickles for a digest of what objects hold, not of how they were built: no memo (whether equal values are
    one shared object or several does not change the bytes) and sets in sorted order (not in hash order)."""

    def __init__(self, file: Any) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.fast = True

    def reducer_override(self, obj: Any) -> Any:
        if obj.__class__ is Parameter:   # the most frequent: one call here, not a second for its __reduce__
            return Parameter, (obj.value, obj.source)
        if isinstance(obj, Pickled):
            values = tuple(map(obj.__getattribute__, field_names(obj.__class__)))
            if any(v.__class__ is set for v in values):   # an Acquisition's roles
                values = tuple(map(_ordered, values))
            return obj.__class__, values
        return NotImplemented


def _ordered(value: Any) -> Any:
    if value.__class__ is set:
        if not value:
            return "\0set"
        try:
            return "\0set", sorted(value)
        except TypeError:   # not comparable: hash order (a digest that differs is only a cache miss)
            return value
    return value


def content_digest(*objs: Any) -> bytes:
    """A digest of what ``objs`` hold (model objects, plain data): equal whenever they are equal, however they
    were built (read now or merged from stored summaries); a value that cannot be put in order (never expected)
    may only make two equal contents differ."""
    out = _Hashing()
    p = _ContentPickler(out)
    for obj in objs:
        p.dump(obj)
    return out.h.digest()


def scan_content_digest(result: Any) -> bytes:
    """``content_digest`` of a whole scan result (header, then exam by exam: one pickle each stays small)."""
    return content_digest(dataclasses.replace(result, exams=[], digest=None), *result.exams)
