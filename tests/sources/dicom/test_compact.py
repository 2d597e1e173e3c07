"""Compact per-series sets behave exactly as Python sets; shared parameters keep every value and type."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocheck.model import Acquisition
from protocheck.sources.dicom.collector import _h64
from protocheck.sources.dicom.compact import (
    DenseIntSet, HashSet, IntSet, SharedParameters, pack_position, unpack_position,
)

_members = st.one_of(st.integers(-300, 300), st.integers(-2**64, 2**64), st.integers(10**6, 10**6 + 50),
                     st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(_members, max_size=400))
def test_int_sets_hold_what_a_set_holds(values):
    for cls in (IntSet, DenseIntSet):
        s = cls()
        for v in values:
            s.add(v)
        assert len(s) == len(set(values)), cls
        assert sorted(s, key=repr) == sorted(set(values), key=repr), cls
        assert bool(s) == bool(values)


def test_dense_set_stays_a_bitmap_for_instance_numbers_and_gives_up_on_a_sparse_range():
    s = DenseIntSet()
    for v in range(5000, 0, -1):   # descending: grows downwards
        s.add(v)
    s.add(17)
    assert s.sparse is None and len(s.bits) < 5000 // 4 and len(s) == 5000
    assert (min(s), max(s)) == (1, 5000)
    s.add(10**12)                  # one far-away member: exact, in an IntSet
    assert s.sparse is not None and len(s) == 5001 and max(s) == 10**12


def test_hash_set_finds_duplicates_and_grows():
    hs = HashSet()
    uids = [f"1.2.3.{i}" for i in range(5000)]
    assert all(hs.add_new(_h64(u)) for u in uids)
    assert len(hs) == 5000
    assert not any(hs.add_new(_h64(u)) for u in uids[::7])
    assert hs.add_new(0) and not hs.add_new(0)   # 0 is a valid member too


@given(st.tuples(*[st.floats(-10_000, 10_000).map(lambda x: round(x, 2))] * 3))
def test_positions_pack_exactly_to_one_int(p):
    k = pack_position(p)
    assert isinstance(k, int) and 0 <= k < 2**63
    assert unpack_position(k) == p


def test_positions_out_of_range_or_not_finite_are_kept_as_given():
    for p in [(20_000.0, 0.0, 0.0), (float("nan"), 0.0, 0.0), ("a", 1, 2), (1.0, 2.0)]:
        assert pack_position(p) is p
        assert unpack_position(p) is p


def test_shared_parameters_share_equal_values_and_keep_types_apart():
    shared = SharedParameters()
    acqs = []
    for value in (1, 1.0, True, "1", [1, 2], [1.0, 2], {"a": 1}, [1, 2]):
        acq = Acquisition(key=f"k{len(acqs)}")
        acq.set("Value", value, "DICOM (0018,0080) RepetitionTime")
        acq.set("Other", "GE", "DICOM (0008,0070) Manufacturer")
        shared.share(acq)
        acqs.append(acq)
    values = [a.get("Value") for a in acqs]
    assert [type(v) for v in values] == [int, float, bool, str, list, list, dict, list]
    assert values == [1, 1.0, True, "1", [1, 2], [1.0, 2], {"a": 1}, [1, 2]]
    assert acqs[4].params["Value"] is acqs[7].params["Value"]          # equal lists: one object
    assert acqs[0].params["Value"] is not acqs[1].params["Value"]      # 1 and 1.0 stay apart
    assert len({id(a.params["Other"]) for a in acqs}) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=200), st.lists(st.integers(0, 2**64 - 1), max_size=200))
def test_hash_sets_are_disjoint_and_absorb_as_sets_do(a, b):
    # a block's partial series is joined to the series by union, refused when a SOP instance is in both
    sa, sb = HashSet(), HashSet()
    for v in a:
        sa.add_new(v)
    for v in b:
        sb.add_new(v)
    norm = lambda xs: {x or 1 for x in xs}   # noqa: E731 - 0 is stored as 1
    assert sa.isdisjoint(sb) == sb.isdisjoint(sa) == norm(a).isdisjoint(norm(b))
    sa.absorb(sb)
    assert len(sa) == len(norm(a) | norm(b)) and sorted(sa._stored()) == sorted(norm(a) | norm(b))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_members, max_size=60), max_size=6), st.lists(_members, max_size=20))
def test_joined_int_sets_hold_the_union_and_take_later_members(groups, later):
    # a series' sets after the partial sets of its blocks were joined (merge), then files folded into it
    for cls in (IntSet, DenseIntSet):
        whole = cls()
        for group in groups:
            part = cls()
            for v in group:
                part.add(v)
            whole.union(part)
        union = set().union(*map(set, groups))
        assert len(whole) == len(union) and sorted(whole, key=repr) == sorted(union, key=repr), cls
        for v in later:
            whole.add(v)
        assert sorted(whole, key=repr) == sorted(union | set(later), key=repr) and len(whole) == len(union | set(later))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.integers(1, 2**64 - 1), max_size=80), max_size=6), st.integers(1, 2**64 - 1))
def test_joined_hash_sets_check_and_add_as_one_set(groups, extra):
    whole, seen = HashSet(), set()
    for group in groups:
        part = HashSet()
        for v in group:
            part.add_new(v)
        assert whole.isdisjoint(part) == part.isdisjoint(whole) == seen.isdisjoint(group)
        if seen.isdisjoint(group):
            whole.join(part)
            seen |= group
    assert len(whole) == len(seen) and sorted(whole._stored()) == sorted(seen)
    assert whole.add_new(extra) == (extra not in seen)
    assert len(whole) == len(seen | {extra}) and sorted(whole._stored()) == sorted(seen | {extra})


def test_joining_bitmaps_far_apart_never_builds_a_huge_bitmap():
    """Instance numbers 1 and 2**40 in two blocks (hostile or odd headers): the union must not shift a bitmap by
    2**40 bits (128 GiB) before noticing the range is too sparse (it once did: the test run was OOM-killed)."""
    import tracemalloc
    a, b = DenseIntSet(), DenseIntSet()
    for v in (1, 2, 3):
        a.add(v)
    for v in (2**40, 2**40 + 1):
        b.add(v)
    tracemalloc.start()
    a.union(b)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sorted(a) == [1, 2, 3, 2**40, 2**40 + 1] and len(a) == 5
    assert peak < 1 << 20
