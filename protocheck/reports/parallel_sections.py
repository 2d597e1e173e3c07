"""Render many exams' console sections on every core: rich lays text out in pure Python (~1.5 ms an exam with plain
fitted tables, ~10 ms with colour), which a first check of an archive pays for every exam.

Forked children inherit the console and the exams (nothing is pickled but the texts coming back through a pipe);
each renders a contiguous share of the exams while this process renders the first one, then what a child slowed
down has not written yet, from the end of its share. Without fork (Windows), with one core or few exams, the
sections are rendered here, one after the other: the text is the same either way.
"""
from __future__ import annotations

import marshal
import os
import time
from typing import Any, Callable

from protocheck.forked import fork_writer

MIN_EXAMS = 8   # below this, a forked process costs more than it saves (plain fitted tables: ~1.5 ms an exam)


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
    if n_exams < MIN_EXAMS or not hasattr(os, "fork"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, n_exams // (MIN_EXAMS // 2)))


def _in_processes(console: Any, render_one: Callable[[Any, dict[str, Any]], str], exams: list[dict[str, Any]],
                  workers: int) -> list[str] | None:
    """The sections rendered by ``workers`` processes: forked children render every share but the first, which
    this process renders meanwhile, then a child's share from its end for as long as the child has not written it
    (``_meanwhile``); a share whose child could not start or failed is rendered here."""
    step = -(-len(exams) // workers)
    spans = [(i, min(i + step, len(exams))) for i in range(0, len(exams), step)]
    children: list[tuple[tuple[int, int], int, int] | tuple[tuple[int, int], None, None]] = []
    for start, end in spans[1:]:
        try:
            children.append(((start, end), *_fork(console, render_one, exams[start:end])))
        except OSError:   # no process could start (limits): rendered here
            children.append(((start, end), None, None))
    began = time.monotonic()
    texts = [render_one(console, exam) for exam in exams[spans[0][0]:spans[0][1]]]
    patience = 5.0 + 10 * (time.monotonic() - began)   # a child's share is no larger than this one
    for (start, end), pid, fd in children:
        share, own, got = exams[start:end], {}, None
        if pid is not None and fd is not None:
            own = _meanwhile(console, render_one, share, fd)
            if len(own) < len(share):
                got = _collect(pid, fd, len(share), patience)
            else:   # all rendered here: the child is not waited for
                _stop(pid, fd)
        texts.extend(got if got is not None else
                     [own[i] if i in own else render_one(console, exam) for i, exam in enumerate(share)])
    return texts


def _meanwhile(console: Any, render_one: Callable[[Any, dict[str, Any]], str], share: list[dict[str, Any]],
               fd: int) -> dict[int, str]:
    """The sections of a child's ``share`` rendered here, from its end, for as long as the child has written nothing
    (it writes once, when done): a child slowed down (a busy machine, pages copied after the fork) keeps this
    process rendering instead of waiting; the same text either way. Position in ``share`` -> text."""
    import select

    own: dict[int, str] = {}
    for i in range(len(share) - 1, -1, -1):
        if select.select([fd], [], [], 0)[0]:
            break
        own[i] = render_one(console, share[i])
    return own


def _stop(pid: int, fd: int) -> None:
    """Stop a child whose whole share was rendered here meanwhile."""
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fork(console: Any, render_one: Callable[[Any, dict[str, Any]], str],
          exams: list[dict[str, Any]]) -> tuple[int, int]:
    """A forked child rendering ``exams``, its texts coming back through a pipe: (its pid, the pipe's end)."""
    return fork_writer(lambda: marshal.dumps([render_one(console, exam) for exam in exams]))


def _collect(pid: int, fd: int, count: int, patience: float) -> list[str] | None:
    """The ``count`` texts a forked child wrote to ``fd``; None if it failed, or took ``patience`` seconds more
    (a child stuck, e.g. on a lock held by another thread when it was forked: stopped, its share done here)."""
    import select
    import signal

    deadline = time.monotonic() + patience
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        texts = marshal.loads(b"".join(chunks)) if os.waitstatus_to_exitcode(status) == 0 else None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    finally:
        os.close(fd)
    ok = isinstance(texts, list) and len(texts) == count and all(isinstance(t, str) for t in texts)
    return texts if ok else None
