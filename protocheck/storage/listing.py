"""A folder listing as bytes to hash: the key of the index's folders and of the tree digest."""
from __future__ import annotations

import hashlib
from array import array


def listing_bytes(files: list[tuple[str, int, int]]) -> bytes:
    """A folder listing ((name, size, mtime_ns) per file) as bytes to hash: the names, then sizes and times as
    64-bit ints (several times faster than repr on an archive's millions of files)."""
    if not files:
        return b"\0"
    names, sizes, mtimes = zip(*files)
    try:
        numbers = array("q", sizes).tobytes() + array("q", mtimes).tobytes()
    except OverflowError:   # a time beyond the year 2262: the slow exact form
        numbers = repr((sizes, mtimes)).encode()
    return b"%d\0%s\0%s" % (len(files), "\0".join(names).encode("utf-8", "surrogateescape"), numbers)


def chunk_hash(key: str, files: list[tuple[str, int, int]]) -> bytes:
    """The hash of one folder chunk (its key and listing): ``TreeHash``'s part, and what the chunk's index row was
    stored for (a re-check takes an unchanged chunk's row without listing the folder again)."""
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape") + b"\1" + listing_bytes(files),
                           digest_size=16).digest()
