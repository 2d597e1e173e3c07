"""What a check imports before reading its inputs, and what it imports while workers read (start-up)."""
from __future__ import annotations

import subprocess
import sys

CODE = """\
import sys
import protocheck.cli_run
from protocheck.cli_progress import Meanwhile
assert "rich" not in sys.modules and "protocheck.protocol.model" not in sys.modules, "imported before the scan"

class Ahead:
    polled = 0
    def poll(self):
        self.polled += 1

ahead = Ahead()
meanwhile = Meanwhile(ahead, "console")
meanwhile(10, 1, "a")   # a re-check answered from the index calls it once: nothing imported
assert "rich.console" not in sys.modules and "protocheck.reports.console" not in sys.modules
meanwhile(2000, 5, "b")   # workers read an archive: the report's modules, now
assert {"rich.console", "protocheck.reports.console", "protocheck.checks.compliance"} <= set(sys.modules)
assert ahead.polled == 2
"""


def test_report_modules_are_imported_while_workers_read():
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


AHEAD = """\
import os, sys, tempfile
from protocheck.protocol.ahead import ProtocolAhead
folder = tempfile.mkdtemp()
ahead = ProtocolAhead("als-brain-3t", __import__("pathlib").Path(folder))
assert ahead.pending == hasattr(os, "fork")
assert "protocheck.protocol.model" not in sys.modules and "yaml" not in sys.modules   # parsed in the child
protocol = ahead.result()
assert protocol.name == "als-brain-3t" and "yaml" not in sys.modules, sorted(sys.modules)
"""


def test_a_first_run_parses_its_protocol_in_a_child_only():
    done = subprocess.run([sys.executable, "-c", AHEAD], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


SETTLE = """\
import gc, protocheck
from protocheck.cli_progress import settle
settle()
assert gc.get_freeze_count() == 0   # a library user's process: its collector untouched
protocheck.LEAN_PYDICOM = True      # the command's own process
settle()
assert gc.get_freeze_count() > 1000
"""


def test_only_the_commands_own_process_freezes_what_lives_to_its_end():
    done = subprocess.run([sys.executable, "-c", SETTLE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
