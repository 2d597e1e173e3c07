"""Console layout that never breaks a word: column widths fitted to the longest word, or a stacked layout.

rich shrinks a table that is too wide by cutting its widest columns, whatever the words in them, which splits
"DiffusionDirectionsPerShell" or "Severity" mid-token at 80 columns. Here a table is laid out only when every
column can hold its longest word; otherwise the caller stacks the same content as label/value lines.
Piped output takes its width from ``COLUMNS`` (else a default), a terminal its own width.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from protocheck.reports.console_settings import console_width  # noqa: F401  (re-exported)
from protocheck.reports.textsafe import SafeConsole

try:   # rich's word breaking, applied here to plain strings (fitted tables' cells); else Text.wrap itself
    from rich._wrap import divide_line as _divide_line
except ImportError:  # pragma: no cover - another rich
    _divide_line = None   # type: ignore[assignment]

_GAP = 3          # SIMPLE_HEAD without edges: one padding cell each side of a one-cell divider


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    text = str(cell)   # emoji codes are :name: (no colon, no code: rich's table of codes is not loaded)
    if "[" not in text and ":" not in text and text.isprintable():   # no markup, no emoji, nothing rich strips
        return text
    return Text.from_markup(text, emoji=":" in text).plain


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
    table = FittedTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title, title_justify="left",
                        title_style="bold")
    for head, w in zip(headers, widths):
        table.add_column(head, width=w, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


class FittedTable(Table):
    """A fitted table that lays itself out as plain text, with rich's own line wrapping, where nothing but the
    text shows (no colour, a Unicode console): rich's generic table machinery costs ~10 ms an exam, which a
    first check of an archive pays for every exam. Anywhere else rich renders it; the text is the same (tested)."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = _plain_lines(self, console, options)
        if lines is None:
            yield from super().__rich_console__(console, options)
            return
        new_line = Segment.line()
        for line in lines:
            yield Segment(line)
            yield new_line


def _plain_lines(table: Table, console: Console, options: ConsoleOptions) -> list[str] | None:
    """The table's lines as plain text, or None where rich must render it (colour, ASCII, other cells)."""
    if (console.color_system is not None or options.ascii_only or options.legacy_windows or table.width
            or not table.columns or table.caption or table.show_footer or not table.show_header):
        return None
    columns = table.columns
    if any(c.width is None or c.justify != "left" or c.overflow != "fold" or c.no_wrap or c.vertical != "top"
           for c in columns):
        return None
    widths = [int(c.width or 0) for c in columns]
    total = sum(widths) + _GAP * (len(columns) - 1)   # padding 1 each side but the edges, one divider
    if total > options.max_width:
        return None
    if not all(isinstance(getattr(c, "_cells", None), list) for c in columns):   # rich's own layout changed
        return None
    cells = [[Text(str(c.header))] + list(c._cells) for c in columns]
    if not all(isinstance(cell, Text) and _plain_cell(cell) for col in cells for cell in col):
        return None
    out = []
    if table.title:
        title = console.render_str(table.title, highlight=False) if isinstance(table.title, str) else table.title
        out.extend(_wrapped(title, console, total))
    for index, row in enumerate(zip(*cells)):
        parts = [_wrapped(cell, console, w) for cell, w in zip(row, widths)]
        height = max(len(p) for p in parts)
        for p, w in zip(parts, widths):   # the header row is aligned at the bottom, others at the top
            blank = [" " * w] * (height - len(p))
            p[:] = blank + p if index == 0 else p + blank
        out.extend("   ".join(line) for line in zip(*parts))
        if index == 0:
            out.append("─" * total)
    return out


def _plain_cell(cell: Text) -> bool:
    """A Text laid out by the column alone (no justify, overflow or wrap of its own, no tab to expand)."""
    return cell.justify is None and cell.overflow is None and cell.no_wrap is None and "\t" not in cell.plain


def _wrapped(text: Text, console: Console, width: int) -> list[str]:
    """``text`` wrapped into ``width`` cells as rich wraps it (folding long words), each line padded to it."""
    plain = text.plain
    if "\n" not in plain and cell_len(plain) <= width:
        return [plain + " " * (width - cell_len(plain))]
    if _divide_line is None:
        lines = text.wrap(console, width, justify="left", overflow="fold")
        return [line.plain + " " * (width - cell_len(line.plain)) for line in lines] or [" " * width]
    return [piece for line in plain.split("\n") for piece in _wrap_line(line, width)]


def _wrap_line(line: str, width: int) -> list[str]:
    """One line of a cell (no tab: ``_plain_cell``) as ``Text.wrap(justify="left", overflow="fold")`` lays it
    out, on the string alone: rich's word breaks (``divide_line``), then per piece its ``rstrip_end``, its fold
    (``set_cell_size``) and the left justification's padding (the same text, tested, without Text objects)."""
    offsets = _divide_line(line, width, fold=True)
    out = []
    for start, end in zip([0, *offsets], [*offsets, len(line)]):
        piece = line[start:end]
        if len(piece) > width:   # rstrip_end: trailing whitespace beyond the width
            piece = piece[:len(piece) - min(len(piece) - len(piece.rstrip()), len(piece) - width)]
        size = cell_len(piece)
        out.append(set_cell_size(piece, width) if size > width else piece + " " * (width - size))
    return out


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
    columns = console_width(file, width, default)
    console = SafeConsole(file=file, width=columns, highlight=False, emoji=False)
    if columns is not None and not console.legacy_windows:   # piped or a file: the size stays what it is now
        console.size = console.size   # rich would otherwise look up COLUMNS/LINES for every line
    return console
