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


LOGS = """\
import sys
from protocheck.cli import main
main(["check", sys.argv[1]])
assert "logging" not in sys.modules, "a check that logs nothing imports logging"
from protocheck.logs import logger
logger("protocheck.sites").warning("first \\x1b[2J line")
"""


def test_logging_is_imported_only_when_a_logger_is_made_and_its_lines_still_reach_stderr(tmp_path):
    """The handler the command line asks for comes with the first logger (cleaned lines, no prefix)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    import os
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    subprocess.run([sys.executable, "-m", "protocheck", "check", str(empty)], capture_output=True, env=env)
    done = subprocess.run([sys.executable, "-c", LOGS, str(empty)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr   # the second check: answered from the index, nothing read
    assert done.stderr.splitlines()[-1] == "first \ufffd[2J line"


def test_every_protocheck_logger_comes_from_protocheck_logs():
    """A module calling logging.getLogger itself would log without the command line's handler."""
    from pathlib import Path
    package = Path(__file__).resolve().parents[1] / "protocheck"
    direct = [str(p) for p in package.rglob("*.py") if 'getLogger("protocheck.' in p.read_text(encoding="utf-8")]
    assert direct == []
