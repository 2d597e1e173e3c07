"""What a command does while its inputs are read: the progress line on a terminal, and a check's work done meanwhile
(the protocol loaded by a child looked at, the report's modules imported, the collector's way cleared)."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Iterator

from protocheck.sources.options import ScanOptions


@contextlib.contextmanager
def progress_line(options: ScanOptions) -> Iterator[None]:
    """A rich progress line on long scans, only when standard error is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    inner = options.progress   # e.g. a look at the protocol loaded meanwhile (protocol.ahead): called too
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("reading headers…")
        start = time.monotonic()

        def report(files: int, series: int, current: str) -> None:
            if inner is not None:
                inner(files, series, current)
            rate = files / max(time.monotonic() - start, 1e-3)
            progress.update(task, description=f"reading headers: {files:,} files, {series:,} series, "
                                              f"{rate:,.0f} files/s")
        options.progress = report
        yield
    options.progress = inner


class Meanwhile:
    """The scan's progress callback during a check: looks at the protocol loaded by a child (an invalid one stops a
    long scan early) and, once workers read an archive (a second call, 0.1 s in), imports what the report needs
    then rather than after the scan, when the other cores have nothing to do. A re-check answered from the index
    calls it once: nothing imported for a report it may find stored."""

    _CHECK = ("protocheck.checks.compliance", "protocheck.reports.json_report")
    REPORT_MODULES = {"console": (*_CHECK, "protocheck.reports.console", "rich.markup"), "json": _CHECK,
                      "html": (*_CHECK, "protocheck.reports.formats"), "tsv": (*_CHECK, "protocheck.reports.formats")}

    def __init__(self, ahead: Any, fmt: str) -> None:
        self.ahead, self.fmt, self.calls = ahead, fmt, 0

    def __call__(self, files: int, series: int, current: str) -> None:
        self.calls += 1
        if self.calls == 1:
            settle()   # the reading modules, the index, the pool: alive to the end
        if self.calls == 2:
            import importlib
            for name in self.REPORT_MODULES.get(self.fmt, ()):
                importlib.import_module(name)
        self.ahead.poll()


def settle() -> None:
    """In the command's own process (``protocheck.LEAN_PYDICOM``), what is alive now lives to the end (it exits
    without freeing, ``cli._leave``): moved out of the cyclic collector's way (gc.freeze). Its full passes during
    the scan (~25 ms each on 3,300 files) skip it, and forked workers do not copy its pages by touching it."""
    import protocheck
    if protocheck.LEAN_PYDICOM:
        import gc
        gc.freeze()
