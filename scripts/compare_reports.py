"""Build the JSON reports of the shared data with two versions of protocheck and diff them.

Usage: python scripts/compare_reports.py BEFORE AFTER [--shared DIR] [--python PY] [--only NAME...]

BEFORE and AFTER are worktree folders or commits (a commit gets a temporary detached worktree, removed at the
end). Each report is built with ``PYTHONPATH=<tree>`` (so the tree's own package is imported, whatever is
installed) and ``--no-cache``; the generation date is the only field blanked before comparing. Prints one line
per report (identical / differs, with a unified diff of the first differences) and exits 1 if any differs.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPORTS: dict[str, list[str]] = {   # name -> protocheck arguments (paths relative to the shared folder)
    "dicom": ["check", "{shared}/data/dicom"],
    "ds000030": ["check", "{shared}/data/bids/ds000030"],
    "ds002345": ["check", "{shared}/data/bids/ds002345"],
    "ds001": ["check", "{shared}/data/bids/bids-examples/ds001"],
    "spine-generic-audit": ["audit", "{shared}/data/bids/spine-generic-multi-subject"],
}
VOLATILE = ("generated",)   # the generation date: the only field that may differ


def _tree(ref: str, tmp: Path) -> Path:
    """A folder holding ``ref``: the folder itself, or a temporary worktree of the commit."""
    if os.path.isdir(ref):
        return Path(ref).resolve()
    out = tmp / ref.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", str(out), ref], check=True, capture_output=True)
    return out


_VOLATILE_RX = re.compile(r'("(?:%s)"\s*:\s*)"[^"]*"' % "|".join(VOLATILE))


def _blank(text: str) -> str:
    """The report text, byte for byte, with the value of every volatile field blanked."""
    return _VOLATILE_RX.sub(r'\1"<blanked>"', text)


def build(tree: Path, args: list[str], python: str) -> tuple[str, int]:
    """(report text with volatile fields blanked, exit code) of ``protocheck ARGS --format json --no-cache``."""
    env = dict(os.environ, PYTHONPATH=str(tree), NO_COLOR="1")
    proc = subprocess.run([python, "-m", "protocheck", *args, "--format", "json", "--no-cache"], env=env,
                          capture_output=True, text=True, cwd=str(tree), timeout=1800)
    try:
        json.loads(proc.stdout)
    except json.JSONDecodeError:
        return f"<not JSON, exit {proc.returncode}>\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}", proc.returncode
    return _blank(proc.stdout), proc.returncode


def main(argv: list[str] | None = None) -> int:
    """Compare every report; 0 when all are identical (volatile fields aside), else 1."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--only", nargs="*", default=None, help="report names to build (default: all)")
    opts = ap.parse_args(argv)
    shared = str(Path(opts.shared).resolve())
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        made: list[Path] = []
        trees = []
        for ref in (opts.before, opts.after):
            tree = _tree(ref, Path(tmp))
            trees.append(tree)
            if not os.path.isdir(ref):
                made.append(tree)
        try:
            for name, template in REPORTS.items():
                if opts.only and name not in opts.only:
                    continue
                args = [a.format(shared=shared) for a in template]
                (a, ca), (b, cb) = (build(t, args, opts.python) for t in trees)
                if a == b and ca == cb:
                    print(f"{name}: identical ({len(a):,} characters, exit {ca})")
                    continue
                status = 1
                print(f"{name}: DIFFERS (exit {ca} -> {cb})")
                diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "before", "after", lineterm="", n=1)
                for line in list(diff)[:60]:
                    print("  " + line)
        finally:
            for tree in made:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], capture_output=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
