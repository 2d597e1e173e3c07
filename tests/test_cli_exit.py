"""The command ends without freeing every object (cli._leave): its output, files and exit code are complete."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from protocheck.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "sample_headers" / "exam"


def test_the_command_prints_writes_and_exits_as_main_returns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "130")
    expected = main(["check", str(SAMPLE), "--no-cache"])
    printed = capsys.readouterr().out
    done = subprocess.run([sys.executable, "-m", "protocheck", "check", str(SAMPLE), "--no-cache"],
                          capture_output=True, text=True)
    assert done.returncode == expected and done.stdout == printed and printed.rstrip().endswith(")")
    report = tmp_path / "r.json"
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
            "sys.argv = ['protocheck', 'check', sys.argv[1], '--no-cache', '--format', 'json', '-o', sys.argv[2]]\n"
            "from protocheck.cli import entry_point\n"
            "entry_point()\n")
    done = subprocess.run([sys.executable, "-c", code, str(SAMPLE), str(report)], capture_output=True, text=True,
                          env=dict(os.environ))
    assert done.returncode == expected and "exit handler ran" in done.stderr
    assert report.read_text(encoding="utf-8").rstrip().endswith("}")
