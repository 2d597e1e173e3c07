"""Render many exams' console sections on every core: rich lays text out in pure Python (~4 ms an exam with plain
fitted tables, ~10 ms with colour), which a first check of a large archive pays for every exam.

Forked processes inherit the console and the exams (nothing is pickled but the texts coming back); each renders a
contiguous share of the exams into its own copy of the console. Without fork (Windows, macOS' default), with
one core or few exams, the sections are rendered here, one after the other: the text is the same either way.
"""
from __future__ import annotations

import os
from typing import Any, Callable

MIN_EXAMS = 128   # below this, starting processes costs more than it saves (fitted tables render ~4 ms an exam)
_STATE: tuple[Any, Callable[[Any, dict[str, Any]], str], list[dict[str, Any]]] | None = None


def render_sections(console: Any, render_one: Callable[[Any, dict[str, Any]], str],
                    exams: list[dict[str, Any]]) -> list[str]:
    """The text ``render_one(console, exam)`` gives for each exam (what it would print), in order."""
    workers = _workers(len(exams))
    if workers > 1:
        texts = _in_processes(console, render_one, exams, workers)
        if texts is not None:
            return texts
    return [render_one(console, exam) for exam in exams]


def _workers(n_exams: int) -> int:
    """Processes worth starting: one per usable core, none for a few exams or where fork is unavailable."""
    import multiprocessing
    if n_exams < MIN_EXAMS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, n_exams // (MIN_EXAMS // 2)))


def _in_processes(console: Any, render_one: Callable[[Any, dict[str, Any]], str], exams: list[dict[str, Any]],
                  workers: int) -> list[str] | None:
    """The sections rendered by ``workers`` forked processes; None if the processes could not run."""
    global _STATE
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    step = -(-len(exams) // workers)
    spans = [(i, min(i + step, len(exams))) for i in range(0, len(exams), step)]
    _STATE = (console, render_one, exams)
    try:
        with ProcessPoolExecutor(len(spans), mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_render_span, spans))
    except (OSError, RuntimeError, ImportError):   # no process could start (limits, a broken pool): here
        return None
    finally:
        _STATE = None
    return [text for part in parts for text in part]


def _render_span(span: tuple[int, int]) -> list[str]:
    """In a forked process: the sections of exams[start:end]."""
    assert _STATE is not None
    console, render_one, exams = _STATE
    return [render_one(console, exam) for exam in exams[span[0]:span[1]]]
