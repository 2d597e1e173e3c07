"""Text from headers, sidecars, summaries and folder names made safe where it reaches a terminal or a sheet.

Such text is written by others: an ESC sequence in a SeriesDescription can clear the screen, move the
cursor or paint a fake green verdict; rich markup in a site name breaks the console; a TSV cell starting
with ``=`` is a formula to a spreadsheet. Here, in one place: C0/C1 control characters (and Unicode bidi
overrides) are replaced, rich markup is escaped, and TSV cells are defused. Consoles made by
``safe_console`` clean every piece of text they print, whatever renderable carries it, while keeping their
own styling.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from rich.console import Console
from rich.markup import escape
from rich.segment import Segment

# C0 except tab and newline, DEL, C1, line/paragraph separators, bidi embeddings/overrides/isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
REPLACEMENT = "\ufffd"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def clean(text: Any) -> str:
    """``text`` as a string with control characters replaced by U+FFFD (visible, never interpreted)."""
    return _CONTROL.sub(REPLACEMENT, text if isinstance(text, str) else str(text))


def markup(text: Any) -> str:
    """``text`` cleaned and escaped for rich markup (a site named "[/bold]" is printed, not parsed)."""
    return escape(clean(text))


def tsv_cell(value: Any) -> str:
    """One TSV cell: cleaned, tabs and line breaks as spaces, and a leading = + - @ prefixed with an
    apostrophe unless the cell is a plain number (spreadsheets then show text, never run a formula)."""
    text = "" if value is None else str(value)
    text = clean(text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    if text.startswith(_FORMULA) and not _NUMBER.match(text):
        return "'" + text
    return text


class SafeConsole(Console):
    """A rich Console that cleans the text of every segment it writes (its own styles and controls kept)."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            seg if seg.control else Segment(clean(seg.text), seg.style, seg.control) for seg in buffer)


def safe_console(**kwargs: Any) -> Console:
    """A SafeConsole (same arguments as rich's Console)."""
    return SafeConsole(**kwargs)
