"""The console check report for people: a rich table per exam, deviations with advice, a verdict.

It renders the dict of :func:`protocheck.reports.json_report.report_to_dict`, so the console and the JSON
report never disagree. On a terminal it uses colour; piped, rich writes plain text.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from protocheck.reports.textsafe import SafeConsole

STATUS_STYLE = {
    "compliant": ("✔ compliant", "green"), "deviating": ("✘ deviating", "red"),
    "cannot_verify": ("? cannot verify", "yellow"), "missing": ("✘ missing", "red"),
    "absent_optional": ("– not acquired", "dim"),
}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
VERDICT_TEXT = {
    "compliant": ("COMPLIANT", "bold green"),
    "warnings": ("COMPLIANT WITH WARNINGS", "bold yellow"),
    "deviations": ("DEVIATIONS", "bold red"),
    "no-exams": ("NOTHING CHECKED", "bold red"),
}
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


def make_console(file: Any = None) -> Console:
    """A console for the report: the terminal's width, or 130 columns of plain text when piped."""
    probe = SafeConsole(file=file)   # header text is cleaned of control characters as it is printed
    if probe.is_terminal:
        return probe
    return SafeConsole(file=file, width=130)


def _sequence_table(exam: dict[str, Any]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in ("Sequence", "Requirement", "Status", "Series", "Checks"):
        table.add_column(col)
    for seq in exam["sequences"]:
        label, style = STATUS_STYLE.get(seq["status"], (seq["status"], ""))
        series = ", ".join(_series_label(exam, s) for s in seq["series"]) or "—"
        checks = _check_counts(seq["findings"])
        table.add_row(escape(short_description(seq)), seq["requirement"], f"[{style}]{label}[/]",
                      escape(series), checks)
    return table


def _all_findings(exam: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for s in exam["sequences"] for f in s["findings"]] + list(exam["findings"])


def _is_quiet_info(f: dict[str, Any]) -> bool:
    """Info-level 'cannot verify' items: summarised in one line instead of one row each."""
    return f["status"] == "cannot_verify" and f["severity"] == "info"


def _check_counts(findings: list[dict[str, Any]]) -> str:
    """"9 ok, 2 failed, 1 note": failures at info severity are notes, not failures."""
    counts = Counter("note" if f["severity"] == "info" and f["status"] != "pass" else f["status"]
                     for f in findings if f["status"] != "not_applicable")
    text = f"{counts.get('pass', 0)} ok"
    for status, word in (("fail", "failed"), ("cannot_verify", "unverifiable"), ("note", "note")):
        if counts.get(status):
            text += f", {counts[status]} {word}{'s' if status == 'note' and counts[status] > 1 else ''}"
    return text


def _problem_findings(exam: dict[str, Any]) -> list[dict[str, Any]]:
    out = [f for f in _all_findings(exam) if f["status"] not in ("pass", "not_applicable")
           and not _is_quiet_info(f)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: (order.get(f["severity"], 3), f["sequence"], f["check_id"]))


def _unverifiable_info_line(exam: dict[str, Any]) -> str | None:
    names = Counter(f["parameter"] or f["check_id"] for f in _all_findings(exam) if _is_quiet_info(f))
    if not names:
        return None
    return ("Not verifiable (information only, the value is absent from the headers): " +
            ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in sorted(names.items())))


def _findings_table(exam: dict[str, Any], findings: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title_justify="left", expand=True,
                  title="Deviations and values that could not be verified")
    for col, ratio in (("Severity", 2), ("Sequence", 2), ("Series", 4), ("What", 4), ("Expected", 4),
                       ("Found", 4), ("What to do", 7)):
        table.add_column(col, overflow="fold", ratio=ratio)
    for f in findings:
        what = f["parameter"] or f["check_id"]
        found = f["found"] if f["found"] is not None else "unknown"
        if f["status"] == "missing":
            what, found = "series", "none found"
        elif f["status"] == "cannot_verify":
            found = f"unknown ({found})" if f["found"] else "unknown: cannot verify"
        series = _series_label(exam, f["series"]) if f.get("series") else "—"
        advice = f.get("advice") or f.get("message") or ""
        table.add_row(f"[{SEVERITY_STYLE.get(f['severity'], '')}]{f['severity']}[/]", escape(f["sequence"]),
                      escape(series), escape(what), escape(f["expected"] or ""), escape(str(found)),
                      escape(advice))
    return table


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


def site_summary_table(report: dict[str, Any]) -> Table:
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
    table = Table(title="Sessions compliant per site and sequence (compliant/sessions; ✘ deviating, "
                  "? cannot verify, – missing, · optional and not acquired)", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("Site", no_wrap=True, min_width=14)
    table.add_column("Sessions", justify="right")
    for sid in seq_ids:
        table.add_column(sid, justify="right")
    for site in sorted(sites) + ["all sites"]:
        n = sites[site] if site in sites else sum(sites.values())
        row = [escape(site), str(n)]
        for sid in seq_ids:
            row.append(_summary_cell(cells.get((site, sid), Counter()), n))
        table.add_row(*row, style="bold" if site == "all sites" else None)
    return table


def _summary_cell(c: Counter, n: int) -> str:
    text = f"{c.get('compliant', 0)}/{n}"
    marks = [(c.get("deviating", 0), "✘", "red"), (c.get("cannot_verify", 0), "?", "yellow"),
             (c.get("missing", 0), "–", "red"), (c.get("absent_optional", 0), "·", "dim")]
    extra = " ".join(f"[{style}]{mark}{k}[/]" for k, mark, style in marks if k)
    return f"{text} {extra}".strip()


def verdict_line(report: dict[str, Any]) -> str:
    """One plain line: the overall verdict, counts and exit code (also what --quiet prints)."""
    text, _ = VERDICT_TEXT.get(report["verdict"], (report["verdict"], ""))
    sev = Counter(f["severity"] for e in report["exams"] for f in _problem_findings(e)
                  if f["status"] in ("fail", "missing"))
    unverified = sum(1 for e in report["exams"] for f in _problem_findings(e) if f["status"] == "cannot_verify")
    parts = [f"{sev.get('error', 0)} errors", f"{sev.get('warning', 0)} warnings"]
    if unverified:
        parts.append(f"{unverified} not verifiable")
    return (f"Verdict: {text} — {len(report['exams'])} exam(s), " + ", ".join(parts) +
            f" (exit code {report['exit_code']})")


def render_console(report: dict[str, Any], console: Console | None = None, quiet: bool = False,
                   verbose: bool = False) -> None:
    """Print the check report for a person; ``quiet`` prints only one verdict line per exam."""
    console = console or make_console()
    if quiet:
        for exam in report["exams"]:
            text, style = VERDICT_TEXT[exam["verdict"]]
            console.print(f"[{style}]{text}[/] {escape(_exam_title(exam))}")
        console.print(verdict_line(report), highlight=False)
        return
    proto = report["protocol"]
    console.print(f"[bold]protocheck {report['tool']['version']}[/] · protocol "
                  f"[bold]{escape(str(proto['name']))}[/] {escape(str(proto['version']))}")
    for exam in report["exams"]:
        text, style = VERDICT_TEXT[exam["verdict"]]
        console.print()
        console.rule(f"[{style}]{text}[/]  {escape(_exam_title(exam))}", align="left")
        console.print(_sequence_table(exam))
        problems = _problem_findings(exam)
        if problems:
            console.print(_findings_table(exam, problems))
        info = _unverifiable_info_line(exam)
        if info:
            console.print(f"[dim]{escape(info)}[/]")
        _other_series(console, exam, verbose)
    if len(report["exams"]) > 1:
        console.print()
        console.print(site_summary_table(report))
    if not report["exams"]:
        console.print("[bold red]No MR exam was found in the input.[/] Check the path; the files "
                      "listed below were not usable.")
    _skipped(console, report, verbose)
    _, style = VERDICT_TEXT.get(report["verdict"], ("", ""))
    console.print()
    console.print(f"[{style}]{escape(verdict_line(report))}[/]")
