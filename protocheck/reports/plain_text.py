"""What a console prints, as text, without rich's print machinery where nothing but the text shows.

``console.print`` collects renderables, renders them into segments, splits and crops them into lines and renders
the buffer: ~0.1 ms a call, which a first check of an archive pays some ten times an exam. Where the console shows
no style (no colour, a Unicode encoding, no soft wrap, no hook) the text of a plain ``Text``, a markup string, a
rule without title and a fitted table is the text of their lines as rich wraps them (``Text.wrap``, the table's
own plain layout): that is written here directly. Anything else is printed by the console itself, captured.
The text is the same either way (tests compare both on the shared exams).
"""
from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text

from protocheck.reports.console_layout import FittedTable, _plain_lines
from protocheck.reports.textsafe import SafeConsole, clean


def plain_console(console: Any) -> bool:
    """Whether ``console`` prints nothing but text: no colour, Unicode, wrapped at its width, no hook."""
    return (isinstance(console, SafeConsole) and console.color_system is None and not console.legacy_windows
            and not console.soft_wrap and not console.record and not console._render_hooks
            and console.encoding.lower().startswith("utf"))


class TextWriter:
    """Stands for ``console`` where a report section is printed (``print``, ``rule``, ``width``) and keeps the
    text it would print; ``text()`` gives it."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.width = console.width
        self.plain = plain_console(console)
        self.parts: list[str] = []

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """What ``console.print(*objects, **kwargs)`` prints."""
        text = self._plain(objects[0] if objects else None) if self.plain and not kwargs and len(objects) < 2 \
            else None
        if text is None:
            with self.console.capture() as piece:
                self.console.print(*objects, **kwargs)
            text = piece.get()
        self.parts.append(text)

    def rule(self, title: str = "", **kwargs: Any) -> None:
        """What ``console.rule(title, **kwargs)`` prints (a titleless rule in any style: one line of ─)."""
        if self.plain and not title and set(kwargs) <= {"style"}:
            self.parts.append("─" * self.width + "\n")
            return
        with self.console.capture() as piece:
            self.console.rule(title, **kwargs)
        self.parts.append(piece.get())

    def text(self) -> str:
        """Everything printed so far."""
        return "".join(self.parts)

    def _plain(self, obj: Any) -> str | None:
        """The text of ``obj`` printed alone, or None where the console must print it."""
        if obj is None:
            return "\n"
        if isinstance(obj, str):
            obj = self.console.render_str(obj)
        if type(obj) is Text:
            lines = [line.plain for line in obj.wrap(self.console, self.width, justify="default", overflow="fold",
                                                     tab_size=self.console.tab_size or 8, no_wrap=False)]
        elif type(obj) is FittedTable:
            found = _plain_lines(obj, self.console, self.console.options)
            if found is None:
                return None
            lines = found
        else:
            return None
        if any(cell_len(line) > self.width for line in lines):   # rich would crop it: left to rich
            return None
        return clean("\n".join(lines) + "\n")
