"""``protocheck inspect`` for people: one table per series with its normalized parameters."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from protocheck.model import ScanResult

IDENTITY = ("SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "folder", "source", "files", "roles",
            "notes", "provenance", "path")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and len(value) > 12:
        head = ", ".join(_fmt(v) for v in value[:12])
        return f"[{head}, … ({len(value)} values)]"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def render_inspect(series: list[dict[str, Any]], scan: ScanResult, console: Console,
                   provenance: bool = False) -> None:
    """Print every series read, its parameters and (optionally) where each came from."""
    for s in series:
        num = f"#{s['SeriesNumber']} " if s.get("SeriesNumber") is not None else ""
        title = f"{num}{s.get('SeriesDescription') or ''}  ({s.get('folder') or s.get('path') or ''})"
        table = Table(title=escape(title), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
        table.add_column("Parameter")
        table.add_column("Value", overflow="fold")
        if provenance:
            table.add_column("From", overflow="fold", style="dim")
        for name, value in s.items():
            if name in IDENTITY:
                continue
            row = [name, escape(_fmt(value))]
            if provenance:
                row.append(escape(s.get("provenance", {}).get(name, "")))
            table.add_row(*row)
        console.print(table)
        if s.get("roles"):
            console.print(f"  roles: {', '.join(s['roles'])}")
        for note in s.get("notes", []):
            console.print(f"  note: {escape(note)}")
    if scan.skipped:
        console.print(f"\n{len(scan.skipped)} file(s) not used:")
        for sk in scan.skipped[:50]:
            console.print(f"  • {escape(sk.path)}: {escape(sk.reason)}")
