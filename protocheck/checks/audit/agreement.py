"""Agreement of parameter values: between sites (within the protocol's tolerance), with a protocol's nominal,
and the consensus of sites; shared by the harmonization, drift and longitudinal checks."""

from __future__ import annotations

from collections import Counter
from typing import Any

from protocheck.checks.audit.types import is_numeric, is_sequence, shown_value, value_text
from protocheck.protocol.tolerance import BETWEEN_SCANNERS_DEFAULT, Tolerance


def agree(a: Any, b: Any, constraint: Any = None) -> bool:
    """True when two values are the same within the protocol's tolerance (or 1 % float noise)."""
    if a is None or b is None:
        return a is b
    if is_sequence(a) and is_sequence(b):
        a, b = list(a), list(b)
        return len(a) == len(b) and all(agree(x, y, constraint) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if getattr(constraint, "kind", None) == "min_count":      # directions: the count at the protocol's shell
            return _count_at_shell(a, constraint) == _count_at_shell(b, constraint)   # (the b-value rule judges b)
        return value_text(a) == value_text(b)
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return value_text(a) == value_text(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    tolerance: Tolerance = getattr(constraint, "tolerance", None) or BETWEEN_SCANNERS_DEFAULT
    return tolerance.allows_pair(fa, fb)


def fits_nominal(value: Any, c: Any) -> bool | None:
    """Whether a value is the constraint's nominal (exactly, within its tolerance); None without a nominal.

    Stricter than the constraint for ``min_count``: 64 directions pass "≥ 30" but are not the nominal 30.
    """
    if c is None or value is None:
        return None
    kind, spec = getattr(c, "kind", None), getattr(c, "value", None)
    if kind in ("nominal", "equals"):
        return agree(value, spec, c)
    if kind == "each" and isinstance(spec, dict) and "nominal" in spec and is_sequence(value):
        return all(agree(v, spec["nominal"], c) for v in value)   # c.tolerance: the each's tolerance
    if kind == "min_count" and isinstance(value, dict) and spec is not None and is_numeric(spec):
        return _count_at_shell(value, c) == int(spec)
    return None


def _count_at_shell(value: dict, c: Any) -> int | None:
    """The largest direction count of a shell within the constraint's shell tolerance (None: no such shell)."""
    shell = float(getattr(c, "shell", None) or 0)
    tol = c.shell_tolerance if getattr(c, "shell_tolerance", None) is not None else 0.1 * shell
    counts = [int(n) for b, n in value.items() if is_numeric(b) and is_numeric(n) and abs(float(b) - shell) <= tol]
    return max(counts) if counts else None


def nominal_text(c: Any) -> str | None:
    """The nominal a ``fits_nominal`` test compares with, in words (None without a nominal)."""
    kind, spec = getattr(c, "kind", None), getattr(c, "value", None)
    if kind == "min_count":
        return f"{spec} directions at b={value_text(float(c.shell or 0))}"
    if kind == "each" and isinstance(spec, dict) and "nominal" in spec:
        return shown_value(c.parameter, spec["nominal"])
    if kind in ("nominal", "equals"):
        return shown_value(c.parameter, spec)
    return None


def consensus(votes: list[Any], constraint: Any) -> Any:
    """The value most sites agree with (one vote per site); None on a tie or without votes."""
    if not votes:
        return None
    support = [(sum(agree(v, w, constraint) for w in votes), i) for i, v in enumerate(votes)]
    best = max(n for n, _ in support)
    winners = [votes[i] for n, i in support if n == best]
    if any(not agree(winners[0], w, constraint) for w in winners[1:]):
        return None
    texts = Counter(value_text(w) for w in winners)      # agreeing values may differ in form: show the commonest
    return next(w for w in winners if value_text(w) == texts.most_common(1)[0][0])


def expectation_text(c: Any) -> str | None:
    """The protocol's expectation in words with units (the rule engine's text), or a plain fallback."""
    if c is None:
        return None
    try:
        from protocheck.protocol.rules import expected_text
        return expected_text(c)
    except Exception:  # noqa: BLE001 - a display nicety: fall back to the plain text below
        pass
    if c.kind == "nominal":
        return f"{value_text(c.value)} {c.tolerance}" if c.tolerance else value_text(c.value)
    if c.kind == "range" and isinstance(c.value, dict):
        return f"{c.value.get('min', '')}–{c.value.get('max', '')}"
    if c.kind == "one_of":
        return " or ".join(value_text(v) for v in c.value)
    if c.kind in ("equals", "contains", "matches", "each"):
        return f"{c.kind} {value_text(c.value)}" if c.kind != "equals" else value_text(c.value)
    return c.kind
