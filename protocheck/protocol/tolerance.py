"""How far a value may lie from another and still count as the same: the one tolerance of every rule.

Compliance (a value against its nominal), consistency between series, harmonization between sites, drift and
longitudinal rules between visits all judge numbers with a ``Tolerance``; the protocol's ``tolerance`` objects
become one at load. Defaults where a protocol gives none are named here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from protocheck.units import fmt_number

SLACK = 1e-9   # float noise added to every declared allowance


@dataclass(frozen=True)
class Tolerance:
    """An allowance: ``absolute`` (in the parameter's stored unit) and/or ``relative`` (a fraction of the
    reference value); the larger applies, plus ``slack``. A protocol declares exactly one of the two."""

    absolute: float | None = None
    relative: float | None = None
    slack: float = SLACK

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any] | None) -> "Tolerance | None":
        """The tolerance of a protocol's ``{"absolute": x}`` / ``{"relative": r}`` object (None for none)."""
        if not spec:
            return None
        return cls(absolute=spec.get("absolute"), relative=spec.get("relative"))

    def allowance(self, reference: float) -> float:
        """The largest difference allowed around ``reference``."""
        absolute = self.absolute if self.absolute is not None else 0.0
        if self.relative is None:
            return absolute + self.slack
        return max(absolute, self.relative * abs(reference)) + self.slack

    def allows(self, value: float, nominal: float) -> bool:
        """Whether ``value`` lies within the tolerance of ``nominal`` (relative to the nominal)."""
        return abs(value - nominal) <= self.allowance(nominal)

    def allows_pair(self, a: float, b: float) -> bool:
        """Whether two peers agree (relative to the larger of the two: the order does not matter)."""
        return abs(a - b) <= self.allowance(max(abs(a), abs(b)))

    def text(self, unit: str = "", scale: float = 1.0) -> str:
        """The tolerance as people read it: "± 0.1 mm", "± 5 %" (``scale``: stored unit to ``unit``)."""
        if self.absolute is not None:
            return f"± {fmt_number(self.absolute, scale)} {unit}".strip()
        return f"± {fmt_number((self.relative or 0.0) * 100)} %"

    def __str__(self) -> str:
        return self.text()


# Two readings of one value (no tolerance declared): equal up to float noise (1e-6 relative, at least 1e-6).
EXACT = Tolerance(absolute=1e-6, relative=1e-6, slack=0.0)
# Series of one exam that must match (consistency rules) when the rule gives no tolerance.
CONSISTENCY_DEFAULT = Tolerance(relative=0.005)
# Values of different scanners and readers (harmonization, drift, longitudinal) with no declared tolerance.
BETWEEN_SCANNERS_DEFAULT = Tolerance(relative=0.01)
