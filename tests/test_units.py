"""One display unit per quantity in every report (protocheck.units)."""

from __future__ import annotations

import pytest

from protocheck.reports.audit_json import audit_to_json
from protocheck.units import fmt_value
from protocheck.units import display_unit, leading_number, quantity_text

from tests.checks.test_audit import audit, protocol  # noqa: F401  (fixtures)


@pytest.mark.parametrize("param, value, text", [
    ("EchoTime", 0.035, "35 ms"), ("EchoTime", 0.00298, "2.98 ms"), ("RepetitionTime", 2.3, "2300 ms"),
    ("InversionTime", 0.9, "900 ms"), ("FlipAngle", 9, "9 °"), ("VoxelSize", [1.0, 1.0, 1.2], "1 × 1 × 1.2 mm"),
    ("DiffusionBValues", 1000, "1000 s/mm²"), ("Duration", 420.0, "420 s"), ("NumberOfVolumes", 30, "30"),
])
def test_quantity_text_has_one_unit_per_quantity(param, value, text):
    assert quantity_text(param, value) == text


def test_rules_and_units_agree_whatever_the_magnitude():
    """TR 0.8 s and TR 2.3 s are both in ms (never "800 ms" beside "2.3 s"); the rules' texts use the same unit."""
    assert display_unit("RepetitionTime") == ("ms", 1000.0)
    assert fmt_value("RepetitionTime", 0.8).endswith(" ms") and fmt_value("RepetitionTime", 2.3).endswith(" ms")
    assert fmt_value("EchoTime", 0.035) == quantity_text("EchoTime", 0.035)


def test_leading_number():
    assert leading_number("35 ms") == 35.0 and leading_number("2300 ms") == 2300.0
    assert leading_number("1 × 1 × 1 mm") is None and leading_number("GR\\IR") is None


def test_audit_values_are_in_display_units(audit):  # noqa: F811
    """Harmonization consensus, site values and drift are shown in the same unit as the check report."""
    doc = audit_to_json(audit)
    tr = next(h for h in doc["harmonization"] if h["parameter"] == "RepetitionTime")
    assert tr["consensus"].endswith(" ms")
    assert all(k.endswith(" ms") for s in tr["sites"] for k in s["values"] if k != "unknown")
