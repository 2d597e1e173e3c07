"""A folder listing as bytes to hash: the key of the index's folders, of their blocks and of the tree digest."""
from __future__ import annotations

import hashlib
import operator
import zlib
from array import array

_ENCODE = operator.methodcaller("encode", "utf-8", "surrogateescape")


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


def block_key(files: list[tuple[str, int, int]]) -> bytes:
    """The key of one index block: the digest of its listing (every name, size and mtime_ns)."""
    return hashlib.blake2b(listing_bytes(files), digest_size=16).digest()


def block_ends(names: list[bytes], size: int) -> list[int]:
    """Where a folder's blocks end (positions after their last file), from its encoded names in walk order: after
    a file whose name hashes to 0 modulo ``size`` (adding or removing a file moves no other boundary), or at
    4 * ``size`` files."""
    cap, last, ends = 4 * size, 0, []
    crc = zlib.crc32
    for end in [i for i, c in enumerate(map(crc, names), 1) if c % size == 0] + [len(names)]:
        while end - last > cap:
            last += cap
            ends.append(last)
        if end > last:
            ends.append(end)
            last = end
    return ends


def cut_blocks(files: list[tuple[str, int, int]], size: int) -> list[list[tuple[str, int, int]]]:
    """A folder's files in walk order cut into blocks (``block_ends``)."""
    files = files if isinstance(files, list) else list(files)
    ends = block_ends(list(map(_ENCODE, (f[0] for f in files))), size)
    return [files[start:end] for start, end in zip([0, *ends], ends)]


def keyed_blocks(files: list[tuple[str, int, int]],
                 size: int) -> list[tuple[list[tuple[str, int, int]], bytes]]:
    """``cut_blocks`` with each block's ``block_key``, the folder's names encoded and its numbers packed once (a
    re-check cuts and keys every changed folder: per block, only slices are joined and hashed)."""
    files = files if isinstance(files, list) else list(files)
    if not files:
        return []
    names, sizes, mtimes = zip(*files)
    encoded = list(map(_ENCODE, names))
    ends = block_ends(encoded, size)
    try:
        sizes_b, mtimes_b = array("q", sizes).tobytes(), array("q", mtimes).tobytes()
    except OverflowError:   # a time beyond the year 2262: each block's exact form
        return [(files[start:end], block_key(files[start:end])) for start, end in zip([0, *ends], ends)]
    blake2b, out = hashlib.blake2b, []
    for start, end in zip([0, *ends], ends):
        data = b"%d\0%s\0%s%s" % (end - start, b"\0".join(encoded[start:end]), sizes_b[8 * start:8 * end],
                                  mtimes_b[8 * start:8 * end])
        out.append((files[start:end], blake2b(data, digest_size=16).digest()))
    return out
