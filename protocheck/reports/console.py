"""The console check report for people: a rich table per exam, deviations with advice, a verdict.

It renders the dict of :func:`protocheck.reports.json_report.report_to_dict`, so the console and the JSON
report never disagree. On a terminal it uses colour; piped, rich writes plain text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from protocheck.results import count_category, count_findings, counts_text, sequence_tone
from protocheck.reports.console_layout import fitted_table, stacked
from protocheck.reports.console_layout import make_console as _make_console
from protocheck.reports.parallel_sections import render_sections
from protocheck.reports.plain_text import TextWriter

# Status words and symbols by tone (results.sequence_tone): requirement and severity decide the colour.
TONE_STYLE = {"ok": "green", "warn": "yellow", "err": "red", "unk": "magenta", "na": "bright_black"}
STATUS_WORD = {"compliant": "✔ compliant", "deviating": "✘ deviating", "cannot_verify": "? cannot verify",
               "missing": "✘ missing", "absent_optional": "– not acquired"}
MISSING_WORD = {"err": "✘ missing", "warn": "! missing", "na": "– not acquired"}
CATEGORY_STYLE = {"error": ("✘ error", "bold red"), "warning": ("! warning", "yellow"),
                  "info": ("· info", "cyan"), "cannot_verify": ("? cannot verify", "magenta")}
VERDICT_TEXT = {
    "compliant": ("COMPLIANT", "bold green"),
    "warnings": ("COMPLIANT WITH WARNINGS", "bold yellow"),
    "deviations": ("DEVIATIONS", "bold red"),
    "no-exams": ("NOTHING CHECKED", "bold red"),
}
WIDE = 110       # below this many columns the findings are stacked, one block per finding
MAX_SKIPPED_LISTED = 20


def _series_label(exam: dict[str, Any], series_id: str) -> str:
    for s in exam["series"]:
        if s["id"] == series_id:
            num = f"#{s['series_number']} " if s.get("series_number") is not None else ""
            return f"{num}{s['description'] or s['folder'] or series_id}"
    return series_id


def _exam_title(exam: dict[str, Any]) -> str:
    parts = [f"subject {exam['subject']}"]
    if exam.get("site") and exam["site"] != "unknown":
        parts.append(f"site {exam['site']}")
    if exam.get("visit"):
        parts.append(f"visit {exam['visit']}")
    vendor = " ".join(x for x in (exam.get("manufacturer"), _first_model(exam)) if x)
    if vendor:
        parts.append(vendor)
    parts.append(f"{len(exam['series'])} series")
    if exam.get("folder"):
        parts.append(f"in {exam['folder']}")
    return "Exam: " + " · ".join(parts)


def _first_model(exam: dict[str, Any]) -> str | None:
    return next((s["model"] for s in exam["series"] if s.get("model")), None)


def short_description(seq: dict[str, Any]) -> str:
    """The sequence's description up to its first parenthesis, with its id: "3D T1-weighted [t1w]"."""
    text = (seq.get("description") or "").split(" (")[0].strip()
    return f"{text} [{seq['id']}]" if text else seq["id"]


def make_console(file: Any = None, width: int | None = None) -> Console:
    """A console for the report: the terminal's width, else ``COLUMNS`` (or 130) columns of plain text when piped."""
    return _make_console(file, width, default=130)


def _status_cell(seq: dict[str, Any]) -> Text:
    """The sequence's status word, its symbol and colour following requirement and severity."""
    tone = sequence_tone(seq["status"], seq["requirement"], seq["findings"])
    word = MISSING_WORD[tone] if seq["status"] == "missing" else STATUS_WORD.get(seq["status"], seq["status"])
    if seq["status"] == "deviating" and tone == "warn":
        word = "! warnings"
    return Text(word, style=TONE_STYLE.get(tone, ""))


def _sequence_rows(exam: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for seq in exam["sequences"]:
        series = ", ".join(_series_label(exam, s) for s in seq["series"]) or "—"
        absent = seq["status"] in ("missing", "absent_optional")
        rows.append([Text(short_description(seq)), Text(seq["requirement"]), _status_cell(seq), Text(series),
                     Text("—" if absent else _check_counts(seq["findings"]))])
    return rows


def _sequence_table(exam: dict[str, Any], width: int) -> Any:
    """The sequences as a table when it fits without cutting a word, else stacked under their status."""
    rows = _sequence_rows(exam)
    table = fitted_table(("Sequence", "Requirement", "Status", "Series", "Checks"), rows, width,
                         whole=(2,)) if width >= WIDE else None
    if table is not None:
        return table
    items = [(status, Text.assemble((name.plain, "bold"), f" · {req.plain}"),
              [("series", series), ("checks", checks)] if checks.plain != "—" else [])
             for name, req, status, series, checks in rows]
    return stacked(items, max(cell_len(r[2].plain) for r in rows) if rows else 1)


def _all_findings(exam: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for s in exam["sequences"] for f in s["findings"]] + list(exam["findings"])


def _is_quiet_info(f: dict[str, Any]) -> bool:
    """Info-level 'cannot verify' items: summarised in one line instead of one row each."""
    return f["status"] == "cannot_verify" and f["severity"] == "info"


def _check_counts(findings: list[dict[str, Any]]) -> str:
    """"9 ok, 2 failed, 1 cannot verify, 1 info" from the shared counts (results.count_findings)."""
    c = count_findings(findings)
    text = f"{c['pass']} ok"
    for n, word in ((c["error"] + c["warning"], "failed"), (c["cannot_verify"], "cannot verify"),
                    (c["info"], "info")):
        if n:
            text += f", {n} {word}"
    return text


def _problem_findings(exam: dict[str, Any]) -> list[dict[str, Any]]:
    out = [f for f in _all_findings(exam) if f["status"] not in ("pass", "not_applicable")
           and not _is_quiet_info(f)]
    order = {"error": 0, "warning": 1, "cannot_verify": 2, "info": 3}
    return sorted(out, key=lambda f: (order.get(count_category(f["status"], f["severity"]), 4), f["sequence"],
                                      f["check_id"]))


def _unverifiable_info_line(exam: dict[str, Any]) -> str | None:
    names = Counter(f["parameter"] or f["check_id"] for f in _all_findings(exam) if _is_quiet_info(f))
    if not names:
        return None
    return ("Not verifiable (information only, the value is absent from the headers): " +
            ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in sorted(names.items())))


def _finding_cells(exam: dict[str, Any], f: dict[str, Any]) -> list[Text]:
    """Result, sequence, series, parameter, expected, found, what to do: plain texts (no markup)."""
    word, style = CATEGORY_STYLE.get(count_category(f["status"], f["severity"]), (f["severity"], ""))
    what = f["parameter"] or f["check_id"]
    found = f["found"] if f["found"] is not None else "unknown"
    if f["status"] == "missing":
        what, found = "series", "none found"
    elif f["status"] == "cannot_verify":
        found = f"unknown ({found})" if f["found"] else "unknown"
    series = _series_label(exam, f["series"]) if f.get("series") else "—"
    advice = f.get("advice") or f.get("message") or ""
    return [Text(word, style=style), Text(f["sequence"]), Text(series), Text(what), Text(f["expected"] or ""),
            Text(str(found)), Text(advice)]


def _findings_table(exam: dict[str, Any], findings: list[dict[str, Any]], width: int) -> Any:
    """Findings as a table on wide terminals, else one stacked block per finding; no word is ever cut."""
    rows = [_finding_cells(exam, f) for f in findings]
    title = "Findings"
    if width >= WIDE:
        table = fitted_table(("Result", "Sequence", "Series", "Parameter", "Expected", "Found", "What to do"),
                             rows, width, title=title, whole=(0,))
        if table is not None:
            return table
    items = [(result, Text.assemble((f"{seq.plain} · {what.plain}", "bold"), f"  {series.plain}"),
              [("expected", expected), ("found", found), ("to do", advice)])
             for result, seq, series, what, expected, found, advice in rows]
    return Group(Text(title, style="bold"), stacked(items, max(cell_len(r[0].plain) for r in rows)))


def _other_series(console: Console, exam: dict[str, Any], verbose: bool) -> None:
    if exam["unmatched"]:
        console.print("Series that match no protocol sequence (not checked):")
        for m in exam["unmatched"]:
            why = "; ".join(m["reasons"]) if m["reasons"] else "no sequence's identification criteria hold"
            console.print(f"  • {escape(_series_label(exam, m['series']))}: {escape(why)}")
    if exam["support"]:
        console.print("Localizers, derived maps and non-image objects (listed, not checked):")
        for m in exam["support"]:
            why = "; ".join(m["reasons"]) or "support series"
            console.print(f"  • {escape(_series_label(exam, m['series']))}: {escape(why)}")
    ambiguous = [m for m in exam["matches"] if m["ambiguous_with"]]
    for m in ambiguous:
        console.print(f"[yellow]Ambiguous match[/]: {escape(_series_label(exam, m['series']))} fits "
                      f"{m['sequence']} and {', '.join(m['ambiguous_with'])} equally; it was checked as "
                      f"{m['sequence']}. Rename the series or tighten the protocol's identify rules.")
    if verbose:
        for f in (f for f in _all_findings(exam) if f["status"] == "pass"):
            console.print(f"  [green]ok[/] {escape(f['message'])}")
        for m in exam["matches"]:
            console.print(f"  matched {escape(_series_label(exam, m['series']))} → {m['sequence']}"
                          f"{' (' + m['variant'] + ' variant)' if m.get('variant') else ''}: "
                          f"{escape('; '.join(m['reasons']))}")


def _skipped(console: Console, report: dict[str, Any], verbose: bool) -> None:
    skipped = report["skipped"]
    if not skipped:
        return
    kinds = Counter(s["kind"] for s in skipped)
    console.print(f"\nFiles not used: {len(skipped)} (" +
                  ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")")
    listed = skipped if verbose else skipped[:MAX_SKIPPED_LISTED]
    for s in listed:
        console.print(f"  • {escape(s['path'])}: {escape(s['reason'])}")
    if len(listed) < len(skipped):
        console.print(f"  … and {len(skipped) - len(listed)} more (--verbose lists all; --format json has all)")


def site_summary_table(report: dict[str, Any], width: int = 130) -> Table:
    """Sessions per site that comply with each sequence ("ok/total"), and the totals per sequence."""
    seq_ids: list[str] = []
    cells: dict[tuple[str, str], Counter] = {}
    sites: dict[str, int] = Counter()
    for exam in report["exams"]:
        site = exam.get("site") or "unknown"
        sites[site] += 1
        for seq in exam["sequences"]:
            if seq["id"] not in seq_ids:
                seq_ids.append(seq["id"])
            for key in ((site, seq["id"]), ("all sites", seq["id"])):
                cells.setdefault(key, Counter())[seq["status"]] += 1
    rows = []
    for site in sorted(sites) + ["all sites"]:
        n = sites[site] if site in sites else sum(sites.values())
        rows.append([Text(site, style="bold" if site == "all sites" else ""), Text(str(n))]
                    + [Text.from_markup(_summary_cell(cells.get((site, sid), Counter()), n), emoji=False)   # no code
                       for sid in seq_ids])
    title = ("Sessions compliant per site and sequence (compliant/sessions; ✘ deviating, ? cannot verify, "
             "– missing, · optional and not acquired)")
    headers = ["Site", "Sessions", *seq_ids]
    table = fitted_table(headers, rows, width, title=title) or fitted_table(headers, rows, 1 << 16, title=title)
    assert table is not None   # every column fits in 65,536 characters
    return table


def _summary_cell(c: Counter, n: int) -> str:
    text = f"{c.get('compliant', 0)}/{n}"
    marks = [(c.get("deviating", 0), "✘", "red"), (c.get("cannot_verify", 0), "?", "yellow"),
             (c.get("missing", 0), "–", "red"), (c.get("absent_optional", 0), "·", "dim")]
    extra = " ".join(f"[{style}]{mark}{k}[/]" for k, mark, style in marks if k)
    return f"{text} {extra}".strip()


def verdict_line(report: dict[str, Any]) -> str:
    """One plain line: the overall verdict, the shared counts and the exit code (also what --quiet prints)."""
    text, _ = VERDICT_TEXT.get(report["verdict"], (report["verdict"], ""))
    counts = report.get("summary", {}).get("counts") or count_findings(
        f for e in report["exams"] for f in _all_findings(e))
    n = len(report["exams"])
    return (f"Verdict: {text} — {n} exam{'s' if n != 1 else ''}, {counts_text(counts)} "
            f"(exit code {report['exit_code']})")


def _exam_header(console: Console, exam: dict[str, Any]) -> None:
    """The exam's verdict and title, wrapped at words (never cut), over a rule."""
    text, style = VERDICT_TEXT[exam["verdict"]]
    console.print()
    console.print(Text.assemble((text, style), "  ", _exam_title(exam)))
    counts = exam.get("counts") or count_findings(_all_findings(exam))
    console.print(Text(counts_text(counts), style="dim"))
    console.rule(style="dim")


def render_console(report: dict[str, Any], console: Console | None = None, quiet: bool = False,
                   verbose: bool = False) -> None:
    """Print the check report for a person; ``quiet`` prints only one verdict line per exam."""
    console = console or make_console()
    if quiet:
        for exam in report["exams"]:
            text, style = VERDICT_TEXT[exam["verdict"]]
            console.print(Text.assemble((text, style), " ", _exam_title(exam)))
        console.print(verdict_line(report), highlight=False)
        return
    _report_head(console, report)
    for exam in report["exams"]:
        _exam_section(console, exam, verbose)
    _report_tail(console, report, verbose)


def render_console_text(report: dict[str, Any], console: Console, quiet: bool = False, verbose: bool = False,
                        sections: Any = None) -> str:
    """The report as ``console`` would print it, as text; ``sections`` (``get(exam)`` -> text or None,
    ``put(exam, text)``) keeps each exam's section, so a re-check renders only the exams that changed. The
    pieces are captured one after the other: their concatenation is the text of one capture (tested)."""
    if quiet:
        with console.capture() as whole:
            render_console(report, console, quiet=quiet, verbose=verbose)
        return whole.get()
    with console.capture() as head:
        _report_head(console, report)
    texts = [None if sections is None else sections.get(exam) for exam in report["exams"]]
    todo = [exam for exam, text in zip(report["exams"], texts) if text is None]
    fresh = iter(render_sections(console, lambda c, exam: _exam_text(c, exam, verbose), todo))
    parts = [head.get()]
    for exam, text in zip(report["exams"], texts):
        if text is None:
            text = next(fresh)
            if sections is not None:
                sections.put(exam, text)
        parts.append(text)
    with console.capture() as tail:
        _report_tail(console, report, verbose)
    return "".join(parts) + tail.get()


def _report_head(console: Console, report: dict[str, Any]) -> None:
    proto = report["protocol"]
    console.print(Text.assemble(("protocheck " + str(report["tool"]["version"]), "bold"), " · protocol ",
                                (str(proto["name"]), "bold"), " ", str(proto["version"])))


def _exam_text(console: Console, exam: dict[str, Any], verbose: bool) -> str:
    """The text ``_exam_section`` prints (written directly where the console shows plain text only)."""
    writer = TextWriter(console)
    _exam_section(writer, exam, verbose)   # type: ignore[arg-type]  # a console for what the section uses
    return writer.text()


def _exam_section(console: Console, exam: dict[str, Any], verbose: bool) -> None:
    """One exam: header, sequence table, problems, the unverifiable line, the other series."""
    width = console.width
    _exam_header(console, exam)
    console.print(_sequence_table(exam, width))
    problems = _problem_findings(exam)
    if problems:
        console.print()
        console.print(_findings_table(exam, problems, width))
    info = _unverifiable_info_line(exam)
    if info:
        console.print(Text(info, style="dim"))
    console.print()
    _other_series(console, exam, verbose)


def _report_tail(console: Console, report: dict[str, Any], verbose: bool) -> None:
    if len(report["exams"]) > 1:
        console.print()
        console.print(site_summary_table(report, console.width))
    if not report["exams"]:
        console.print("[bold red]No MR exam was found in the input.[/] Check the path; " +
                      ("the files listed below were not usable." if report["skipped"] else "it holds no file."))
    _skipped(console, report, verbose)
    _, style = VERDICT_TEXT.get(report["verdict"], ("", ""))
    console.print()
    console.print(Text(verdict_line(report), style=style))
