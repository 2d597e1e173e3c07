"""Compact per-series sets and shared parameters: memory follows the number of series, and stays small per series.

An archive of a million files can hold tens of thousands of series; each keeps, until the scan ends, the SOP
instance hashes, instance numbers and slice positions of its files. Python sets of ints cost ~70-90 bytes per
member; these open-addressing tables over ``array('Q')`` cost 12-24. Parameters that recur from series to
series (the same protocol at the same site) are shared: one ``Parameter`` object, not one per series.
"""
from __future__ import annotations

import sys
from array import array
from itertools import chain
from typing import Any, Iterator

from protocheck.model import Acquisition, Parameter

_EMPTY = 0
_OFFSET = 1 << 63        # IntSet stores v + 2**63: every int in [-2**63 + 1, 2**63) maps to a non-zero slot value
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: packed positions differ in high bits only (sagittal slices)
_MASK64 = (1 << 64) - 1


class HashSet:
    """A compact set of 64-bit hashes (open addressing over array('Q')): 12-24 bytes per member, not ~70.

    ``add_new`` says whether the member is new; 0 is stored as 1 (a 2**-64 collision is acceptable for hashes).
    """

    __slots__ = ("table", "n", "bits", "parts", "more")

    def __init__(self) -> None:
        self.table = array("Q", bytes(8 * 8))
        self.n, self.bits = 0, 3
        self.parts: list[array] | None = None   # tables joined by ``join`` (not yet in ``table``)
        self.more = 0                            # their members

    def add_new(self, h: int) -> bool:
        """Add ``h`` (0 <= h < 2**64); False if it was already there."""
        if self.parts:
            self._settle()
        h = h or 1
        t, mask = self.table, len(self.table) - 1
        i = ((h * _MIX) & _MASK64) >> (64 - self.bits)
        while True:
            v = t[i]
            if v == _EMPTY:
                break
            if v == h:
                return False
            i = (i + 1) & mask
        t[i] = h
        self.n += 1
        if 3 * self.n > 2 * len(t):   # load at most 2/3: short probes, 12-24 bytes per member
            self._grow()
        return True

    def _grow(self) -> None:
        old = self.table
        self.bits += 1
        self.table = array("Q", bytes(8 * (1 << self.bits)))
        self.n = 0
        for v in old:
            if v:
                self.add_new(v)

    def _settle(self) -> None:
        """Put the joined tables' members into the table (a member added after a join must be checked)."""
        parts, self.parts, self.more = self.parts, None, 0
        for part in parts or ():
            for v in part:
                if v:
                    self.add_new(v)

    def _arrays(self) -> list[array]:
        return [self.table, *self.parts] if self.parts else [self.table]

    def _stored(self) -> Iterator[int]:
        return (v for t in self._arrays() for v in t if v)

    def isdisjoint(self, other: "HashSet") -> bool:
        """True when no stored value of ``other`` is stored here (the smaller one as a set: C-level)."""
        small, big = (self, other) if len(self) <= len(other) else (other, self)
        values = set(small.table)
        for part in small.parts or ():
            values.update(part)
        values.discard(_EMPTY)
        return values.isdisjoint(chain.from_iterable(big.parts)) and values.isdisjoint(big.table) if big.parts \
            else values.isdisjoint(big.table)

    def absorb(self, other: "HashSet") -> None:
        """Add every stored value of ``other`` (of the same class) here."""
        for v in other._stored():
            self.add_new(v)

    def join(self, other: "HashSet") -> None:
        """Take ``other``'s members, known to be none of these (``isdisjoint``), without a loop over them: its
        tables are kept beside this one (C-level checks see them; a later ``add_new`` settles them in)."""
        if len(other):
            self.parts = [*(self.parts or ()), *other._arrays()]
            self.more += len(other)

    def __len__(self) -> int:
        return self.n + self.more

    def __bool__(self) -> bool:
        return len(self) > 0


class IntSet(HashSet):
    """A compact exact set of ints (instance numbers, packed slice positions); anything else a set also holds,
    in a plain Python set beside the table (created only when needed)."""

    __slots__ = ("other",)

    def __init__(self) -> None:
        super().__init__()
        self.other: set | None = None

    def add(self, v: Any) -> None:
        """Add ``v`` (an int in range goes to the table, anything else to the side set)."""
        if v.__class__ is int and -_OFFSET < v < _OFFSET:
            self.add_new(v + _OFFSET)
        else:
            if self.other is None:
                self.other = set()
            self.other.add(v)

    def update(self, values: Any) -> None:
        for v in values:
            self.add(v)

    def union(self, other: "IntSet") -> None:
        """Add ``other``'s members (some may be here already) without a loop over them: its tables are kept
        beside this one, and counted or listed once without duplicates (C-level) when asked."""
        if other.n or other.parts:
            self.parts = [*(self.parts or ()), *other._arrays()]
        if other.other:
            self.other = (self.other or set()) | other.other

    def _distinct(self) -> Any:
        if not self.parts:
            return self._stored()
        values = set(self.table)
        for part in self.parts:
            values.update(part)
        values.discard(_EMPTY)
        return values

    def __iter__(self) -> Iterator[Any]:
        for v in self._distinct():
            yield v - _OFFSET
        if self.other:
            yield from self.other

    def __len__(self) -> int:
        n = len(self._distinct()) if self.parts else self.n
        return n + (len(self.other) if self.other else 0)

    def __bool__(self) -> bool:
        return len(self) > 0


class DenseIntSet:
    """Distinct ints that mostly fill a range (instance numbers 1..N) as a bitmap: N/8 bytes. When the range
    grows much wider than the members need, they move to an IntSet (still exact)."""

    __slots__ = ("lo", "bits", "n", "sparse")

    def __init__(self) -> None:
        self.lo, self.bits, self.n = 0, bytearray(), 0
        self.sparse: IntSet | None = None

    def add(self, v: Any) -> None:
        """Add ``v``; a non-int or a too sparse range switches to the IntSet."""
        if self.sparse is None and v.__class__ is int:
            i = v - self.lo
            if (0 <= i < len(self.bits) << 3) or self._room(v):
                i = v - self.lo
                byte, bit = i >> 3, 1 << (i & 7)
                if not self.bits[byte] & bit:
                    self.bits[byte] |= bit
                    self.n += 1
                return
        if self.sparse is None:
            sparse = IntSet()
            sparse.update(self)
            self.sparse, self.bits = sparse, bytearray()
        self.sparse.add(v)

    def _room(self, v: int) -> bool:
        """Make the bitmap cover ``v`` (growing it at least twofold); False if it would be too sparse."""
        size = len(self.bits) << 3
        if not size:
            self.lo, self.bits = v & ~7, bytearray(8)
            return True
        if self.lo <= v < self.lo + size:
            return True
        lo, hi = min(self.lo, v & ~7), max(self.lo + size, (v | 7) + 1)
        if (hi - lo) >> 3 > 16 * self.n + 1024:   # an IntSet costs 12-24 bytes per member
            return False
        extra = max(hi - lo, 2 * size) - (hi - lo)
        if v < self.lo:
            lo = (lo - extra) & ~7
        else:
            hi += extra
        self.bits = bytearray((self.lo - lo) >> 3) + self.bits + bytearray((hi - self.lo - size) >> 3)
        self.lo = lo
        return True

    def union(self, other: "DenseIntSet") -> None:
        """Add ``other``'s members: two bitmaps are joined as two big ints (C-level), anything else one by one."""
        if not other.n and other.sparse is None:
            return
        if self.sparse is None and other.sparse is None and not self.n:
            self.lo, self.bits, self.n = other.lo, bytearray(other.bits), other.n
            return
        if self.sparse is not None or other.sparse is not None:
            for v in other:
                self.add(v)
            return
        lo = min(self.lo, other.lo)
        hi = max(self.lo + (len(self.bits) << 3), other.lo + (len(other.bits) << 3))
        if (hi - lo) >> 3 > 16 * (self.n + other.n) + 1024:   # too sparse: never build a huge joint bitmap
            for v in other:
                self.add(v)
            return
        joined = (int.from_bytes(self.bits, "little") << (self.lo - lo)) | \
            (int.from_bytes(other.bits, "little") << (other.lo - lo))
        n = joined.bit_count()
        if (hi - lo) >> 3 > 16 * n + 1024:   # as sparse as ``_room`` refuses: one by one (to an IntSet)
            for v in other:
                self.add(v)
            return
        self.lo, self.bits, self.n = lo, bytearray(joined.to_bytes((hi - lo) >> 3, "little")), n

    def __iter__(self) -> Iterator[Any]:
        if self.sparse is not None:
            yield from self.sparse
            return
        lo = self.lo
        for byte, b in enumerate(self.bits):
            if b:
                for bit in range(8):
                    if b >> bit & 1:
                        yield lo + (byte << 3) + bit

    def __len__(self) -> int:
        return self.n if self.sparse is None else len(self.sparse)

    def __bool__(self) -> bool:
        return len(self) > 0


_POS_BITS = 21                  # per axis: 0.01 mm units within +-10.48 m fit in 63 bits
_POS_OFFSET = 1 << (_POS_BITS - 1)
_POS_MASK = (1 << _POS_BITS) - 1


def pack_position(p: tuple) -> Any:
    """A position rounded to 0.01 mm as one int below 2**63 (an IntSet member); otherwise the tuple itself.

    Exact: round(c * 100) recovers the hundredths of a value rounded to 2 decimals, and k / 100 gives back the
    same float. Out of range (beyond 10 m from the isocentre), not finite or not numeric: kept as given.
    """
    try:
        x, y, z = (round(c * 100) + _POS_OFFSET for c in p)
    except (TypeError, ValueError, OverflowError):
        return p
    if not (0 <= x <= _POS_MASK and 0 <= y <= _POS_MASK and 0 <= z <= _POS_MASK):
        return p
    return (x << (2 * _POS_BITS)) | (y << _POS_BITS) | z


def unpack_position(k: Any) -> tuple:
    """The position of ``pack_position`` (a tuple that was kept as given comes back unchanged)."""
    if not isinstance(k, int):
        return k
    return (((k >> (2 * _POS_BITS)) - _POS_OFFSET) / 100, (((k >> _POS_BITS) & _POS_MASK) - _POS_OFFSET) / 100,
            ((k & _POS_MASK) - _POS_OFFSET) / 100)


class SharedParameters:
    """One Parameter object per distinct (value, source) across a scan's series, and interned names."""

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[tuple, Parameter] = {}

    def share(self, acq: Acquisition) -> None:
        """Replace ``acq``'s parameters by shared equal ones (values are never changed in place)."""
        known = self.known
        params = {}
        for name, p in acq.params.items():
            key = _key(p)
            if key is not None:
                p = known.setdefault(key, p)
            params[sys.intern(name)] = p
        acq.params = params


_SCALARS = (str, int, float, bool)


def _key(p: Parameter) -> tuple | None:
    """A hashable key that tells equal values of different types apart (1, 1.0 and True); None: not shared."""
    v = p.value
    cls = v.__class__
    if cls in _SCALARS or v is None:
        return (cls, v, p.source)
    if cls is list and all(e.__class__ in _SCALARS for e in v):
        return (cls, tuple((e.__class__, e) for e in v), p.source)
    return None
