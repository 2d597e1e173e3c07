"""Fixtures shared by the check tests."""
from __future__ import annotations

import pytest

from protocheck.checks import compliance


@pytest.fixture()
def evaluated(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the exams whose rules were evaluated (an exam answered from the cache is not listed)."""
    seen: list[str] = []
    real = compliance.check_exam
    monkeypatch.setattr(compliance, "check_exam", lambda exam, protocol: seen.append(exam.key) or real(exam, protocol))
    return seen
