"""Console layout that never breaks a word: column widths fitted to the longest word, or a stacked layout.

rich shrinks a table that is too wide by cutting its widest columns, whatever the words in them, which splits
"DiffusionDirectionsPerShell" or "Severity" mid-token at 80 columns. Here a table is laid out only when every
column can hold its longest word; otherwise the caller stacks the same content as label/value lines.
Piped output takes its width from ``COLUMNS`` (else a default), a terminal its own width.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from protocheck.reports.textsafe import SafeConsole

_GAP = 3          # SIMPLE_HEAD without edges: one padding cell each side of a one-cell divider


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


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _longest_line(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def fit_widths(headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int,
               whole: Sequence[int] = ()) -> list[int] | None:
    """Column widths that fit ``width`` with no word cut, or None when the longest words do not fit.

    Every column gets its longest word (header included; the columns in ``whole`` their longest cell); the
    room left goes to the columns whose text is longer than that, in proportion to what they lack.
    """
    cols = list(zip(headers, *rows)) if rows else [(h,) for h in headers]
    texts = [[_plain(c) for c in col] for col in cols]
    mins = [max((_longest_line if i in whole else _longest_word)(t) for t in col) for i, col in enumerate(texts)]
    maxs = [max(max(_longest_line(t) for t in col), m) for col, m in zip(texts, mins)]
    room = width - sum(mins) - _GAP * (len(headers) - 1)
    if room < 0:
        return None
    lack = [mx - mn for mn, mx in zip(mins, maxs)]
    total = sum(lack)
    if total <= room:
        return maxs
    widths = [mn + (room * lk) // total for mn, lk in zip(mins, lack)]
    spare = width - sum(widths) - _GAP * (len(headers) - 1)
    for i in sorted(range(len(widths)), key=lambda i: widths[i] - maxs[i]):
        if spare <= 0:
            break
        if widths[i] < maxs[i]:
            widths[i] += 1
            spare -= 1
    return widths


def fitted_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], width: int,
                 title: str | None = None, whole: Sequence[int] = ()) -> Table | None:
    """A table whose columns hold their longest word at ``width``, or None when they cannot."""
    widths = fit_widths(headers, rows, width, whole)
    if widths is None:
        return None
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title, title_justify="left",
                  title_style="bold")
    for head, w in zip(headers, widths):
        table.add_column(head, width=w, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def stacked(items: Sequence[tuple[Any, Any, Sequence[tuple[str, Any]]]], lead_width: int) -> Table:
    """A stacked layout: per item, its lead (e.g. a status) beside a headline and "label  value" lines."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=lead_width, no_wrap=True)
    grid.add_column()
    for lead, headline, lines in items:
        inner = Table.grid(padding=(0, 1))
        label_w = max((cell_len(label) for label, _ in lines), default=0)
        inner.add_column(width=label_w, no_wrap=True, style="dim")
        inner.add_column(overflow="fold")
        for label, value in lines:
            inner.add_row(label, value)
        grid.add_row(lead, Group(headline, inner) if lines else headline)
    return grid


def make_console(file: Any = None, width: int | None = None, default: int = 130) -> Console:
    """A console for a report: the terminal's width, else ``COLUMNS`` (or ``default``) columns when piped; text
    is cleaned of control characters as it is printed (``textsafe.SafeConsole``)."""
    return SafeConsole(file=file, width=console_width(file, width, default), highlight=False, emoji=False)
