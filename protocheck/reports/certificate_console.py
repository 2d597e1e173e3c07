"""``protocheck qualify`` for people: the verdict per sequence and the parameter-by-parameter diff."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

VERDICT_STYLE = {
    "qualified": ("QUALIFIED", "bold green"),
    "qualified_with_conditions": ("QUALIFIED WITH CONDITIONS", "bold yellow"),
    "not_qualified": ("NOT QUALIFIED", "bold red"),
    "not_tested": ("not tested (optional)", "dim"),
}


def _diff_table(cert: dict[str, Any]) -> Table:
    table = Table(title="Parameter-by-parameter differences", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False)
    for col in ("Sequence", "Parameter", "Expected", "Found", "Severity", "Status"):
        table.add_column(col, overflow="fold")
    for seq in cert.get("sequences", []):
        for row in seq.get("diff", []):
            if row.get("status") == "pass":
                continue
            table.add_row(escape(seq["id"]), escape(str(row.get("parameter") or row.get("check_id") or "")),
                          escape(str(row.get("expected") or "")), escape(str(row.get("found") or "unknown")),
                          escape(str(row.get("severity") or "")), escape(str(row.get("status") or "")))
    return table


def series_name(series: dict[str, Any] | None) -> str:
    """"#5 3D Ax T1 MP-RAGE_R22": the test series a sequence was judged on, or "—" when none was."""
    if not series:
        return "—"
    num = series.get("series_number")
    return ((f"#{num} " if num is not None else "") + str(series.get("description") or series.get("id") or "")).strip()


def render_certificate_console(cert: dict[str, Any], console: Console | None = None) -> None:
    """Print the qualification verdict, the per-sequence verdicts and what differs."""
    console = console or Console()
    text, style = VERDICT_STYLE.get(cert["verdict"], (cert["verdict"], "bold"))
    proto = cert.get("protocol", {})
    console.print(f"[{style}]{text}[/] — site {escape(cert['site'])} against {escape(str(proto.get('name')))} "
                  f"{escape(str(proto.get('version')))} (certificate {cert.get('certificate_id', '')})")
    for sc in cert.get("scanners", []):
        console.print("Scanner: " + escape(" ".join(str(sc.get(k)) for k in ("manufacturer", "model") if sc.get(k)))
                      + f", {sc.get('field_strength') or '?'} T, software {escape(str(sc.get('software') or '?'))}, "
                      f"serial number {escape(str(sc.get('serial') or 'unknown'))}", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for col in ("Sequence", "Requirement", "Verdict", "Series judged", "Variant", "Why"):
        table.add_column(col, overflow="fold")
    for seq in cert.get("sequences", []):
        label, sstyle = VERDICT_STYLE.get(seq["verdict"], (seq["verdict"], ""))
        table.add_row(escape(seq["id"]), seq.get("requirement", ""), f"[{sstyle}]{label}[/]",
                      escape(series_name(seq.get("series"))), escape(seq.get("variant") or "—"),
                      escape("; ".join(seq.get("reasons", []))))
    console.print(table)
    console.print(_diff_table(cert))
    for cond in cert.get("conditions", []):
        console.print(f"[yellow]condition[/]: {escape(cond)}")
    console.print(f"Protocol sha256 {proto.get('sha256', '')}; inputs sha256 {cert.get('inputs_sha256', '')}; "
                  f"protocheck {cert.get('tool', {}).get('version', '')}; issued {cert.get('issued', '')}")
