"""rawio.Shape: an undefined-length sequence with the same headers at the same offsets ends where the first does."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocheck.sources.dicom import rawio

UNDEF = 0xFFFFFFFF


def _el(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in rawio.LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def _sq(group: int, elem: int, *items: bytes, defined_items: bool = False) -> bytes:
    body = b"".join((struct.pack("<HHI", 0xFFFE, 0xE000, len(i)) + i) if defined_items else
                    (struct.pack("<HHI", 0xFFFE, 0xE000, UNDEF) + i + struct.pack("<HHI", 0xFFFE, 0xE00D, 0))
                    for i in items)
    return struct.pack("<HH2sHI", group, elem, b"SQ", 0, UNDEF) + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _frame_child(value: bytes = b"1.5 ", number: bytes = b"12") -> bytes:
    inner = _sq(0x0021, 0x1002, _el(0x0021, 0x1003, b"IS", number), defined_items=True)
    return _sq(0x0021, 0x11FE, _el(0x0021, 0x1001, b"DS", value) + inner + _el(0x0021, 0x1004, b"OB", b"\0\1"))


def _walk_end(data: bytes) -> int | None:
    try:
        return rawio.skip_undefined_sq(rawio.BytesReader(data), 12)
    except rawio.FastPathUnavailable:
        return None


def test_changed_values_keep_the_shape_changed_lengths_do_not():
    shape = rawio.Shape(_frame_child())
    assert shape.size == len(_frame_child())
    assert shape.same(b"xx" + _frame_child(b"2.5 ", b"99"), 2)      # values differ, headers the same
    assert not shape.same(_frame_child(b"12.5", b"9 ")[:-1], 0)     # cut short
    assert not shape.same(_frame_child(b"2.25  "), 0)               # a longer value moves every later header


def test_only_undefined_length_sequences_have_a_shape():
    with pytest.raises(rawio.FastPathUnavailable):
        rawio.Shape(_el(0x0020, 0x0013, b"IS", b"1 "))
    with pytest.raises(rawio.FastPathUnavailable):
        rawio.Shape(_frame_child()[:-8])   # no sequence delimiter


@settings(max_examples=500, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=3))
def test_same_shape_means_the_walk_ends_at_the_same_offset(flips):
    original = _frame_child()
    changed = bytearray(original)
    for at, byte in flips:
        if at < len(changed):
            changed[at] = byte
    changed = bytes(changed)
    if rawio.Shape(original).same(changed, 0):
        assert _walk_end(changed) == len(original)
