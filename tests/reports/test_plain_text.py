"""The text a report section writes directly (reports.plain_text) is what the console itself prints."""
from __future__ import annotations

import pytest
from rich.console import Console
from rich.text import Text

from protocheck.reports.console_layout import fitted_table, make_console, stacked
from protocheck.reports.plain_text import TextWriter, plain_console

LONG = "DiffusionDirectionsPerShell " * 7


def _items(width: int) -> list[tuple[tuple, dict]]:
    """(print arguments, keyword arguments): what report sections print, and harder cases."""
    rows = [[Text("✘ error"), Text("dti"), Text(LONG), Text("a\tb"), Text("漢字テキスト " * 4)],
            [Text("! warning"), Text("t1w"), Text("—"), Text("x" * 90), Text("")]]
    table = fitted_table(("Result", "Seq", "Series", "Value", "Wide"), rows, width, title="Findings")
    return [((), {}), ((Text(""),), {}), ((Text("DEVIATIONS  Exam: subject s-1 · " + LONG, style="bold"),), {}),
            ((Text("ends with spaces   " * 9),), {}), ((Text("a\x1b[31mred\x07 \u202e bidi\nsecond line"),), {}),
            (("  • [yellow]Ambiguous[/]: \\[not markup] " + LONG,), {}), (("漢字 " * 60,), {}),
            ((Text("x" * (3 * width + 7)),), {}), ((Text("tab\there " * 20),), {}),
            ((table,), {}) if table is not None else ((Text("no table"),), {}),
            ((stacked([(Text("✘"), Text("head"), [("label", Text(LONG))])], 2),), {}),
            ((Text("styled"),), {"style": "dim"}), (("two", "objects"), {}), (("highlight 12",), {"highlight": True})]


def _both(console, args, kwargs) -> tuple[str, str]:
    """The piece and a dim rule as the TextWriter writes them, and as the console itself prints them."""
    writer = TextWriter(console)
    writer.print(*args, **kwargs)
    writer.rule(style="dim")
    with console.capture() as printed:
        console.print(*args, **kwargs)
        console.rule(style="dim")
    return writer.text(), printed.get()


@pytest.mark.parametrize("width", [20, 80, 110, 130, 200])
def test_writer_text_is_what_the_console_prints(width):
    console = make_console(None, width)
    assert plain_console(console)
    for args, kwargs in _items(width):
        written, printed = _both(console, args, kwargs)
        assert written == printed, (args, kwargs)


def test_the_simple_pieces_are_written_directly():
    writer = TextWriter(make_console(None, 130))
    direct = [writer._plain(args[0] if args else None) is not None for args, kwargs in _items(130)
              if not kwargs and len(args) < 2]
    assert direct == [True] * 10 + [False]   # the stacked grid: printed by the console


class _Ascii:
    encoding = "ascii"

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_a_styled_or_ascii_console_prints_everything_itself():
    coloured = Console(width=100, force_terminal=True, color_system="truecolor")
    for con in (coloured, make_console(_Ascii(), 100)):
        assert not plain_console(con)
        for args, kwargs in _items(100):
            written, printed = _both(con, args, kwargs)
            assert written == printed


def test_table_cells_wrap_on_strings_as_rich_wraps_texts():
    """Fitted tables wrap a cell's string (console_layout._wrap_line) exactly as Text.wrap lays the Text out."""
    import random

    from rich.cells import cell_len

    from protocheck.reports import console_layout
    assert console_layout._divide_line is not None   # the strings' own path (else rich wraps them itself)
    console = make_console(None, 130)
    rng = random.Random(22)
    words = ["a", "ok", "Diffusion", "DiffusionDirectionsPerShell", "漢字", "テキスト漢字", "✘", "—", "x" * 40, "",
             " ", "   ", "(?i)ep_b|epse|diff)", "3.5±0.1", "\u00a0", "e\u0301"]
    cases = ["", " ", "a ", "   lead", "trail   ", "a\n\nb\n", "\nx"]
    for _ in range(400):
        cases.append(rng.choice([" ", "  ", "\n", " \n"]).join(rng.choice(words) for _ in range(rng.randint(1, 12))))
    for plain in cases:
        for width in (1, 2, 3, 5, 8, 13, 21, 40):
            text = Text(plain)
            expected = [line.plain + " " * (width - cell_len(line.plain))
                        for line in text.wrap(console, width, justify="left", overflow="fold")] or [" " * width]
            assert console_layout._wrapped(text, console, width) == expected, (plain, width)
