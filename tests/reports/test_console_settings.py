"""A report console's settings known without rich (reports.console_settings): those of the console made."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest

from protocheck.reports.console import make_console
from protocheck.reports.console_settings import piped_settings, settings_of

VARIABLES = ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TERM", "COLORTERM", "LINES")
ENVIRONMENTS = [
    {},
    {"COLUMNS": "80"},
    {"COLUMNS": "0"},
    {"COLUMNS": "wide"},
    {"LINES": "40", "COLUMNS": "200"},
    {"NO_COLOR": "1"},
    {"NO_COLOR": ""},
    {"FORCE_COLOR": "1"},
    {"FORCE_COLOR": ""},
    {"FORCE_COLOR": "1", "TERM": "xterm-256color"},
    {"FORCE_COLOR": "1", "COLORTERM": "truecolor", "NO_COLOR": "1"},
    {"TTY_COMPATIBLE": "1"},
    {"TTY_COMPATIBLE": "0"},
    {"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"},
    {"TERM": "dumb"},
]


class _Pipe(io.StringIO):
    """A text stream that is not a terminal and names its encoding (as a pipe's stdout does)."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:   # type: ignore[override]
        return self._encoding


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda e: ",".join(f"{k}={v}" for k, v in e.items()) or "none")
@pytest.mark.parametrize("stdout", ["UTF-8", "latin-1", None])
def test_settings_without_rich_are_those_of_the_console(env, stdout, monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if stdout is None:   # -o FILE: the console writes into a StringIO
        file = io.StringIO()
        fast = piped_settings(file)
        made = make_console(file)
    else:
        monkeypatch.setattr(sys, "stdout", _Pipe(stdout))
        fast = piped_settings(None)
        made = make_console(None)
    if env.get("FORCE_COLOR") or env.get("TTY_COMPATIBLE") == "1":
        assert fast is None   # rich may take it for a terminal: the console is made
        assert made.is_terminal or env.get("TTY_COMPATIBLE") == "0"
    else:
        assert fast == settings_of(made)
        assert fast[0] == (int(env["COLUMNS"]) if env.get("COLUMNS", "").isdigit() and env["COLUMNS"] != "0"
                           else 130)


def test_a_terminal_has_no_settings_without_rich(monkeypatch):
    class _Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", _Tty())
    assert piped_settings(None) is None
    assert piped_settings(io.StringIO()) is not None   # -o FILE on a terminal: the file is plain text


CHECK = """\
import sys
from protocheck.cli import main
code = main(["check", sys.argv[1], *sys.argv[2:]])
print("MODULES", "rich" in sys.modules, "protocheck.protocol.model" in sys.modules, file=sys.stderr)
raise SystemExit(code)
"""


@pytest.mark.parametrize("fmt", ["console", "json", "tsv", "html"])
def test_a_report_answered_from_the_cache_loads_neither_rich_nor_the_protocol(fmt, tmp_path, dicom_root):
    """The stored report's key needs the protocol's identity and the console's settings, not the objects: the
    second run prints the very bytes of the first without importing either."""
    exam = str(dicom_root / "dcm_qa_ge")
    runs = [subprocess.run([sys.executable, "-c", CHECK, exam, "--format", fmt], capture_output=True,
                           env={**_env(), "XDG_CACHE_HOME": str(tmp_path)}) for _ in range(2)]
    assert runs[0].returncode == runs[1].returncode in (0, 1), runs[1].stderr
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout
    first = b"MODULES True True" if fmt == "console" else b" True\n"
    assert first in runs[0].stderr                      # the first run rendered its report
    assert b"MODULES False False" in runs[1].stderr    # the second wrote it from the report cache


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k not in VARIABLES}


@pytest.mark.parametrize("cell", ["plain words", "3.0 ms", "a [bold]b[/bold]", "x:smile:y", "tab\there", "bell\x07",
                                  "cr\rlf", "nbsp\xa0x", "é ✔ ─", "", "[not markup", "a: b", 42, None])
def test_a_cells_plain_text_is_what_rich_makes_of_it(cell):
    from rich.text import Text

    from protocheck.reports.console_layout import _plain
    text = str(cell)
    try:
        expected = Text.from_markup(text, emoji=":" in text).plain
    except Exception:  # noqa: BLE001 - rich refuses it: so must _plain
        with pytest.raises(Exception):
            _plain(cell)
        return
    assert _plain(cell) == expected
