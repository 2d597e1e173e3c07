"""The one Tolerance of every rule, the kind -> evaluator registry and the typed rules the loader builds."""
from __future__ import annotations

import pytest

from protocheck.model import Acquisition
from protocheck.protocol import load_protocol_text
from protocheck.protocol import evaluators
from protocheck.protocol.model import CONSTRAINT_KINDS, Kind
from protocheck.protocol.rules import evaluate_constraint
from protocheck.protocol.tolerance import BETWEEN_SCANNERS_DEFAULT, CONSISTENCY_DEFAULT, EXACT, Tolerance
from protocheck.results import Severity


def test_absolute_and_relative_allowances():
    assert Tolerance(absolute=0.1).allows(2.05, 2.0) and not Tolerance(absolute=0.1).allows(2.2, 2.0)
    assert Tolerance(relative=0.05).allows(2.09, 2.0) and not Tolerance(relative=0.05).allows(2.11, 2.0)
    # relative to the nominal (compliance) or to the larger of two peers (between sites): 1.0 vs 1.0101
    assert not Tolerance(relative=0.01).allows(1.0101, 1.0)
    assert Tolerance(relative=0.01).allows_pair(1.0101, 1.0) == Tolerance(relative=0.01).allows_pair(1.0, 1.0101)


def test_defaults_keep_the_former_arithmetic():
    # equality without a tolerance: 1e-6 relative, at least 1e-6 (former rules._allowance)
    assert EXACT.allows(1000.0009, 1000.0) and not EXACT.allows(1000.0011, 1000.0)
    assert EXACT.allows(0.0000009, 0.0) and not EXACT.allows(0.0000011, 0.0)
    assert CONSISTENCY_DEFAULT == Tolerance(relative=0.005)
    assert BETWEEN_SCANNERS_DEFAULT == Tolerance(relative=0.01)


def test_text_with_and_without_unit():
    assert Tolerance(absolute=0.0001).text("ms", 1000.0) == "± 0.1 ms"
    assert str(Tolerance(relative=0.05)) == "± 5 %"
    assert str(Tolerance(absolute=1)) == "± 1"


def test_every_kind_but_min_count_has_an_evaluator():
    assert set(evaluators.EVALUATORS) == set(CONSTRAINT_KINDS) - {Kind.MIN_COUNT}
    assert evaluators.test_value("range", {"min": 1, "max": 2}, 1.5) and evaluators.test_value(Kind.RANGE, {"min": 1, "max": 2}, [1, 2])
    with pytest.raises(ValueError):
        evaluators.test_value("min_count", 30, {1000: 30})


_PROTOCOL = """
name: t
version: "1"
title: t
sequences:
  - id: t1
    requirement: required
    identify: {all: [{parameter: Modality, equals: MR}]}
    constraints:
      - {id: tr, parameter: RepetitionTime, nominal: 2.3, tolerance: {relative: 0.1}, severity: error}
"""


def test_rules_are_typed_at_load_and_findings_carry_the_value():
    protocol = load_protocol_text(_PROTOCOL)
    seq = protocol.sequences[0]
    c = seq.constraints[0]
    assert c.kind is Kind.NOMINAL and c.severity is Severity.ERROR and c.tolerance == Tolerance(relative=0.1)
    assert f"{c.kind}/{c.severity}" == "nominal/error"   # enums print as their text
    acq = Acquisition("s1")
    acq.set("RepetitionTime", 2.6, "tag")
    finding = evaluate_constraint(c, acq, seq)
    assert finding.value == 2.6 and finding.found == "2600 ms" and finding.status.value == "fail"
