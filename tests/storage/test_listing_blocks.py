"""Index blocks cut and keyed for a whole folder at once (``storage/listing.py``): the very blocks and keys of the
block-by-block form (``cut_blocks`` / ``keyed_blocks`` against a plain loop and ``listing_bytes``)."""
from __future__ import annotations

import hashlib
import random
import zlib

import pytest

from protocheck.storage.listing import block_key, cut_blocks, keyed_blocks, listing_bytes


def _reference(files: list[tuple[str, int, int]], size: int) -> list[list[tuple[str, int, int]]]:
    """The cut one file at a time: a block ends after a name hashing to 0 modulo size, or at 4 * size files."""
    out: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []
    for f in files:
        cur.append(f)
        if zlib.crc32(f[0].encode("utf-8", "surrogateescape")) % size == 0 or len(cur) >= 4 * size:
            out.append(cur)
            cur = []
    return out + [cur] if cur else out


def _names(rng: random.Random, n: int) -> list[str]:
    pick = ["IM%05d", "é-%d\udcff", "ü%d.dcm", "%d"]
    return [rng.choice(pick) % i for i in range(n)]


@pytest.mark.parametrize("size", [1, 2, 16])
def test_blocks_and_keys_are_the_block_by_block_ones(size):
    rng = random.Random(size)
    for trial in range(400):
        names = _names(rng, rng.choice([0, 1, 2, 15, 16, 64, 65, 200, 700]))
        if trial % 3 == 0:   # long runs without a name that ends a block: cut at 4 * size
            names = [n for n in names if zlib.crc32(n.encode("utf-8", "surrogateescape")) % size] or names
        files = [(n, rng.randrange(10**9), rng.randrange(-2**63, 2**63)) for n in names]
        want = _reference(files, size)
        assert cut_blocks(files, size) == want
        got = keyed_blocks(files, size)
        assert [b for b, _ in got] == want
        assert [k for _, k in got] == [hashlib.blake2b(listing_bytes(b), digest_size=16).digest() for b in want]


def test_a_time_beyond_2262_keys_each_block_exactly():
    files = [(f"IM{i}", i, 10**30 if i == 5 else i) for i in range(100)]
    assert keyed_blocks(files, 16) == [(b, block_key(b)) for b in _reference(files, 16)]
    assert keyed_blocks([], 16) == [] and cut_blocks([], 16) == []
