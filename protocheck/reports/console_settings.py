"""What a report console's output depends on (width, colours, terminal, encoding), known without importing rich.

The stored-report key of a console check holds the settings of the console that would print it. Making that
console imports rich (~20 ms), which a re-check answered from the report cache never uses otherwise. Where the
answer is certain, ``piped_settings`` gives the settings ``settings_of(make_console(file))`` gives, from the same
inputs rich reads (the stream, ``COLUMNS``, ``NO_COLOR``, ``FORCE_COLOR``, ``TTY_COMPATIBLE``): output piped or
to a file, on a platform other than Windows, outside Jupyter, with no variable that makes rich take it for a
terminal. Anywhere else it gives None and the console is made (tests compare both over those variables).
"""
from __future__ import annotations

import builtins
import os
import sys
from typing import IO, Any


def console_width(file: IO[str] | None, width: int | None, default: int) -> int | None:
    """The width to render at: given, else the terminal's (None), else ``COLUMNS`` or ``default`` when piped."""
    if width:
        return width
    stream = file if file is not None else sys.stdout
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError, OSError):
        pass
    cols = os.environ.get("COLUMNS", "").strip()
    return int(cols) if cols.isdigit() and int(cols) > 0 else default


def settings_of(console: Any) -> tuple[Any, ...]:
    """The settings of a rich console that decide the text it prints."""
    return (console.width, console.color_system, console.is_terminal, console.encoding, console.no_color)


def piped_settings(file: IO[str] | None, default: int = 130) -> tuple[Any, ...] | None:
    """``settings_of(make_console(file))`` for a console that surely prints plain text to a pipe or a file, else
    None (a terminal, Windows, Jupyter, a variable that forces a terminal: make the console)."""
    if sys.platform == "win32" or hasattr(builtins, "get_ipython"):
        return None
    env = os.environ
    if env.get("TTY_COMPATIBLE", "") == "1" or env.get("FORCE_COLOR", "") != "":
        return None
    stream = file if file is not None else sys.stdout
    stream = getattr(stream, "rich_proxied_file", stream)
    if stream is None:
        return None
    width = console_width(file, None, default)
    if width is None:
        return None
    encoding = (getattr(stream, "encoding", "utf-8") or "utf-8").lower()
    return (width, None, False, encoding, env.get("NO_COLOR", "") != "")
