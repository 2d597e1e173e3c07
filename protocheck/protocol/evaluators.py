"""The kind -> evaluator registry: whether a known value satisfies one criterion or constraint of each kind.

One function per ``Kind`` (``EVALUATORS``), shared by identification criteria and constraints; a new rule kind is
one function and one registry line here (its words are in ``rules.expected_text``).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from protocheck.protocol.model import Kind
from protocheck.protocol.tolerance import EXACT, Tolerance
from protocheck.units import as_text, is_number, numbers

_TOKEN_SPLIT = re.compile(r"[\\_/,;\s]+")

Evaluator = Callable[[Any, Any, "re.Pattern[str] | None", "Tolerance | None"], bool]


def tokens(value: Any) -> list[str] | tuple[str, ...]:
    """Elements of a list, or tokens of a DICOM multi-value string ('GR\\IR', 'EP_SE'), upper-cased."""
    if isinstance(value, (list, tuple, set)):
        return [str(v).upper() for v in value]
    return _text_tokens(str(value))


@lru_cache(maxsize=4096)
def _text_tokens(text: str) -> tuple[str, ...]:
    """Upper-cased tokens of one string (cached: series repeat the same few values)."""
    return tuple(t.upper() for t in _TOKEN_SPLIT.split(text) if t)


def same(a: Any, b: Any, tol: Tolerance | None = None) -> bool:
    """Equality: numbers within tolerance (else ``EXACT``), strings case-insensitive, lists element-wise."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, tol) for x, y in zip(a, b))
    if is_number(a) and is_number(b):
        return (tol or EXACT).allows(a, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return str(a).strip().upper() == str(b).strip().upper()


def _in_range(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo - 1e-9) and (hi is None or x <= hi + 1e-9)




def _numbers_of(value: Any) -> list[float] | None:
    """The numbers of a list, or of a single number ([x]); None when any item is not a number."""
    return numbers(value) if isinstance(value, (list, tuple)) else ([value] if is_number(value) else None)


def _present(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    return (value is not None) == bool(spec)


def _equals(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    return same(value, spec)


def _one_of(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    return any(same(value, s) for s in spec)


def _contains(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    return str(spec).upper() in tokens(value)


def _matches(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    assert pattern is not None   # compiled by the loader for every "matches"
    return bool(pattern.search(as_text(value)))


def _range(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    nums = _numbers_of(value)
    return nums is not None and bool(nums) and all(_in_range(x, spec.get("min"), spec.get("max")) for x in nums)


def _nominal(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    return same(value, spec, tolerance)


def _each(spec: Any, value: Any, pattern: re.Pattern[str] | None, tolerance: Tolerance | None) -> bool:
    nums = _numbers_of(value)
    if not nums:
        return False
    if "nominal" in spec:
        return all(same(x, spec["nominal"], tolerance) for x in nums)
    return all(_in_range(x, spec.get("min"), spec.get("max")) for x in nums)


# Kind -> evaluator (min_count is judged per shell by protocol.shells, never here).
EVALUATORS: dict[Kind, Evaluator] = {
    Kind.PRESENT: _present, Kind.EQUALS: _equals, Kind.ONE_OF: _one_of, Kind.CONTAINS: _contains,
    Kind.MATCHES: _matches, Kind.RANGE: _range, Kind.NOMINAL: _nominal, Kind.EACH: _each,
}


def test_value(kind: str, spec: Any, value: Any, pattern: re.Pattern[str] | None = None,
               tolerance: Tolerance | None = None) -> bool:
    """Whether a known value satisfies a check of kind ``kind`` (shared by criteria and constraints)."""
    evaluate = EVALUATORS.get(kind)   # type: ignore[call-overload]   # a Kind, or its text (a str enum)
    if evaluate is None:
        raise ValueError(f"unknown check kind {kind}")
    return evaluate(spec, value, pattern, tolerance)
