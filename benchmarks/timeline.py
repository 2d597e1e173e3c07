#!/usr/bin/env python3
"""Where the default command's first run spends its time: a timeline of the main process and of the workers.

    python benchmarks/timeline.py CORPUS [--repeat 5] [--format console|json]

Each round runs ``protocheck check CORPUS`` as the user types it (a fresh ``python -m protocheck``-like process,
a fresh ``XDG_CACHE_HOME``, automatic workers, the report on a pipe) with time stamps (CLOCK_MONOTONIC, the same
clock in every process) taken around the stages of the run, by wrapping functions of the installed package from
outside (nothing in protocheck is changed; a stage whose function is not found is left out). It prints, in ms from
the moment the process was started (interpreter start-up included), when each stage began and ended, the CPU time
of the main process at that moment, and per worker: its first and last task, the time inside tasks and the CPU
time it used there. The median of the rounds comes last.

The stages: the command starts (``main``), the scan (``scan_tree``) and its head (index opened, reading modules
imported, the first 2,000 files listed: until ``_run``), the worker pool started (``Pools.get``), the workers'
tasks (``blockfold.fold_blocks``), the pool closed, the result finished and stored in the index, the checks
(``check_scan``), the report dict and its rendering, the report stored, the command's end. Work done in the main
process before the first task and after the last one is paid in full; the workers' is shared by two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (module, class or "", function, label): stamped on entry ("label>") and on exit ("label<") in the main process
STAGES = [
    ("protocheck.cli_run", "", "run_check", "check"),
    ("protocheck.sources.dicom.parallel", "", "scan_tree", "scan"),
    ("protocheck.sources.dicom.parallel", "", "_open_index", "index open"),
    ("protocheck.sources.dicom.parallel", "", "_run", "scan loop"),
    ("protocheck.sources.dicom.workers", "Pools", "get", "pool"),
    ("protocheck.sources.dicom.workers", "Pools", "close", "pool close"),
    ("protocheck.sources.dicom.collector", "DicomCollector", "finish", "finish"),
    ("protocheck.storage.index", "Index", "store_snapshot", "snapshot"),
    ("protocheck.storage.index", "Index", "close", "index close"),
    ("protocheck.checks.compliance", "", "check_scan", "checks"),
    ("protocheck.reports.json_report", "", "report_to_dict", "report dict"),
    ("protocheck.cli_run", "", "_render_check", "render"),
    ("protocheck.storage.report_cache", "", "store", "report store"),
]

# Run in the measured process: wraps the stages (modules imported lazily are wrapped once imported), then runs the
# command as ``protocheck.cli.entry_point`` does. Stamps go to one file per process (workers are forked).
BOOT = r"""
import builtins, functools, os, sys, time
T0, OUT, STAGES = float(sys.argv[1]), sys.argv[2], __STAGES__
sys.argv = ["protocheck"] + sys.argv[3:]
LOG = []
def stamp(what):
    LOG.append((time.monotonic() - T0, os.getpid(), what, time.process_time()))
def flush():
    with open(os.path.join(OUT, f"{os.getpid()}.jsonl"), "a") as fh:
        fh.writelines(json.dumps(x) + "\n" for x in LOG if x[1] == os.getpid())
    LOG.clear()
import json
def wrap(owner, name, label, worker=False):
    fn = getattr(owner, name)
    @functools.wraps(fn)
    def stamped(*a, **k):
        stamp(label + ">")
        try:
            return fn(*a, **k)
        finally:
            stamp(label + "<")
            if worker:
                flush()
    setattr(owner, name, stamped)
pending = list(STAGES)
def hook():
    for item in list(pending):
        mod, cls, name, label = item
        m = sys.modules.get(mod)
        owner = getattr(m, cls, None) if cls else m
        if owner is not None and name in vars(owner):
            wrap(owner, name, label)
            pending.remove(item)
_import = builtins.__import__
def traced_import(*a, **k):
    got = _import(*a, **k)
    if pending:
        hook()
    return got
builtins.__import__ = traced_import
stamp("start")
import protocheck
protocheck.LEAN_PYDICOM = True
import protocheck.sources.dicom.blockfold as _bf
wrap(_bf, "fold_blocks", "task", worker=True)
from protocheck import cli
hook()
code = cli.main()
stamp("end")
flush()
cli._leave(code)
"""


def one_round(corpus: Path) -> dict:
    """One first run of the default command: per process, its stamps (ms from the process' start)."""
    out = Path(tempfile.mkdtemp(prefix="protocheck-timeline-"))
    home = Path(tempfile.mkdtemp(prefix="protocheck-timeline-xdg-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(home), "COLUMNS": "130"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)   # a user's install has its bytecode compiled
    boot = BOOT.replace("__STAGES__", repr(STAGES))
    try:
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-W", "ignore", "-c", boot, repr(t0), str(out), "check", str(corpus)],
                       cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
        wall = time.monotonic() - t0
        procs: dict[int, list] = {}
        for f in out.glob("*.jsonl"):
            for line in f.read_text().splitlines():
                t, pid, what, cpu = json.loads(line)
                procs.setdefault(pid, []).append((t * 1000, what, cpu * 1000))
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    main = next((p for p, ev in procs.items() if any(w == "start" for _, w, _ in ev)), None)
    return {"wall": wall * 1000, "main": sorted(procs.pop(main, [])), "workers": [sorted(v) for v in procs.values()]}


def summary(r: dict) -> dict[str, float]:
    """The round's figures: each stage's first entry and its first exit (ms), the time and main-process CPU time
    it took, the main process' CPU time at its end,
    the workers' first task and last task's end, and per worker its tasks, time and CPU time in them."""
    got: dict[str, float] = {"wall": r["wall"]}
    cpu_at: dict[str, float] = {}
    for t, what, cpu in r["main"]:
        key, edge = what.rstrip("<>"), what[-1]
        if edge == ">" and f"{key}: begins" not in got:
            got[f"{key}: begins"], cpu_at[key] = t, cpu
        elif edge == "<" and f"{key}: ends" not in got:
            got[f"{key}: ends"], got[f"{key}: main CPU"] = t, cpu
            got[f"{key}: took"], got[f"{key}: CPU in it"] = t - got[f"{key}: begins"], cpu - cpu_at[key]
        elif what in ("start", "end"):
            got[f"{what}: at"], got[f"{what}: main CPU"] = t, cpu
    tasks = [(t, w) for ev in r["workers"] for t, w, _ in ev]
    if tasks:
        got["tasks: begins"] = min(t for t, w in tasks if w == "task>")
        got["tasks: ends"] = max(t for t, w in tasks if w == "task<")
    for i, ev in enumerate(sorted(r["workers"])):
        spans = list(zip(ev[::2], ev[1::2]))
        got[f"worker {i + 1}: tasks"] = len(spans)
        got[f"worker {i + 1}: in tasks"] = sum(b[0] - a[0] for a, b in spans)
        got[f"worker {i + 1}: CPU in tasks"] = sum(b[2] - a[2] for a, b in spans)
    return got


def _rows(rounds: list[dict[str, float]]) -> list[tuple[str, list[str], list[float | None]]]:
    """Per stage (in the order it begins, workers last): its columns and their medians over the rounds."""
    def med(key: str) -> float | None:
        vals = [r[key] for r in rounds if key in r]
        return statistics.median(vals) if vals else None
    stages = sorted({k.split(": ")[0] for r in rounds for k in r if ": " in k},
                    key=lambda s: (s.startswith("worker"), med(f"{s}: begins") or med(f"{s}: at") or 0, s))
    out = []
    for stage in stages:
        cols = [c for c in ("at", "begins", "ends", "took", "CPU in it", "main CPU", "tasks", "in tasks",
                                  "CPU in tasks")
                if any(f"{stage}: {c}" in r for r in rounds)]
        out.append((stage, cols, [med(f"{stage}: {c}") for c in cols]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--format", choices=("console", "json"), default="console")
    args = ap.parse_args()
    rounds = [summary(one_round(args.corpus)) for _ in range(max(1, args.repeat))]
    if args.format == "json":
        print(json.dumps({"rounds": rounds, "load": os.getloadavg()}, indent=1))
        return
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; ms from the process' start (interpreter "
          f"start-up included), median of {len(rounds)} rounds; wall "
          + ", ".join(f"{r['wall']:.0f}" for r in rounds) + " ms")
    for stage, cols, vals in _rows(rounds):
        print(f"  {stage:14s} " + "  ".join(f"{c} {v:.1f}" for c, v in zip(cols, vals) if v is not None))


if __name__ == "__main__":
    main()
