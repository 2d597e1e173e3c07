"""Exams' console sections rendered by forked children (reports.parallel_sections): the serial text, always."""
from __future__ import annotations

import os

import pytest

from protocheck.reports import parallel_sections

EXAMS = [{"n": i, "text": f"exam {i} " + "é" * i + "\udcff" * (i % 2)} for i in range(23)]


def _one(console: object, exam: dict) -> str:
    return f"{console}:{exam['text']}\n"


SERIAL = [_one("c", e) for e in EXAMS]

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here: rendered serially")


@needs_fork
@pytest.mark.parametrize("workers", [2, 3, 5])
def test_children_render_their_shares_in_order(workers):
    assert parallel_sections._in_processes("c", _one, EXAMS, workers) == SERIAL


@needs_fork
def test_a_failing_child_share_is_rendered_here():
    parent = os.getpid()

    def fails_in_children(console: object, exam: dict) -> str:
        if os.getpid() != parent:
            raise RuntimeError("child")
        return _one(console, exam)

    assert parallel_sections._in_processes("c", fails_in_children, EXAMS, 3) == SERIAL


@needs_fork
def test_no_child_can_start(monkeypatch):
    def no_fork() -> int:
        raise OSError("EAGAIN")

    monkeypatch.setattr(os, "fork", no_fork)
    assert parallel_sections.render_sections("c", _one, EXAMS) == SERIAL


def test_few_exams_are_rendered_here(monkeypatch):
    monkeypatch.setattr(parallel_sections, "_in_processes", lambda *a: pytest.fail("forked for a few exams"))
    assert parallel_sections.render_sections("c", _one, EXAMS[:parallel_sections.MIN_EXAMS - 1]) == \
        SERIAL[:parallel_sections.MIN_EXAMS - 1]


@needs_fork
def test_a_stuck_child_is_stopped_and_its_share_rendered_here(monkeypatch):
    import time
    parent = os.getpid()

    def stuck_in_children(console: object, exam: dict) -> str:
        if os.getpid() != parent:
            time.sleep(3600)
        return _one(console, exam)

    collect = parallel_sections._collect
    monkeypatch.setattr(parallel_sections, "_collect", lambda pid, fd, count, patience: collect(pid, fd, count, 0.5))
    assert parallel_sections._in_processes("c", stuck_in_children, EXAMS, 2) == SERIAL


@needs_fork
def test_a_slow_childs_share_is_rendered_here_instead_of_waited_for(monkeypatch):
    import time
    parent, here = os.getpid(), []

    def slow_in_children(console: object, exam: dict) -> str:
        if os.getpid() != parent:
            time.sleep(3600)   # a child that never gets the core: nothing written
        here.append(exam["n"])
        return _one(console, exam)

    monkeypatch.setattr(parallel_sections, "_collect", lambda *a: pytest.fail("waited for the child"))
    assert parallel_sections._in_processes("c", slow_in_children, EXAMS, 2) == SERIAL
    assert sorted(here) == list(range(len(EXAMS))), "every section rendered here, the child's from the end"
    assert here[-1] == 12, "the child's share (12-22) taken from its end"


@needs_fork
def test_a_failed_childs_share_joins_what_was_rendered_here_meanwhile(monkeypatch):
    parent = os.getpid()

    def fails_in_children(console: object, exam: dict) -> str:
        if os.getpid() != parent:
            raise RuntimeError("child")
        return _one(console, exam)

    def two_here(console, render_one, share, fd):   # the share's last two rendered here before the child failed
        return {i: render_one(console, share[i]) for i in (len(share) - 1, len(share) - 2)}

    monkeypatch.setattr(parallel_sections, "_meanwhile", two_here)
    assert parallel_sections._in_processes("c", fails_in_children, EXAMS, 3) == SERIAL
