"""Console rendering of the multicentre audit with rich (colours on a terminal, plain text otherwise)."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from protocheck.checks.audit import AuditResult, MatrixCell

_SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", None: ""}
_STATUS_STYLE = {"ok": "green", "differs": "bold red", "vendor-expected": "cyan", "cannot_verify": "magenta"}


def _cell_text(c: MatrixCell | None) -> Text:
    if c is None or c.total == 0:
        return Text("–", style="dim")
    style = "green" if c.compliant == c.total else ("red" if c.deviating or c.missing else "yellow")
    parts = [f"{c.compliant}/{c.total} ok"]
    parts += [f"{n} {w}" for n, w in ((c.deviating, "dev"), (c.cannot_verify, "?"), (c.missing, "miss")) if n]
    return Text(" · ".join(parts), style=style)


def _matrix(audit: AuditResult) -> Table:
    t = Table(title="Compliance matrix (sessions per site × sequence)", title_justify="left")
    t.add_column("site")
    for seq in audit.sequences:
        t.add_column(seq)
    cells = {(c.site, c.sequence): c for c in audit.matrix}
    for site in audit.sites:
        t.add_row(site, *[_cell_text(cells.get((site, q))) for q in audit.sequences])
    return t


def _inventory(audit: AuditResult) -> Table:
    t = Table(title="Scanner inventory", title_justify="left")
    for col in ("site", "vendor", "model", "software", "T", "coil", "serial", "first", "last", "sessions"):
        t.add_column(col)
    for e in audit.inventory:
        t.add_row(e.site, e.vendor or "?", e.model or "?", e.software or "?",
                  "?" if e.field_strength is None else f"{e.field_strength:g}", e.coil or "?", e.serial or "?",
                  e.first_seen or "?", e.last_seen or "?", str(e.sessions))
    return t


def _harmonization(audit: AuditResult) -> Table:
    t = Table(title="Cross-site harmonization (must-match parameters)", title_justify="left")
    for col in ("sequence", "parameter", "expected", "consensus", "site", "vendor", "values", "status"):
        t.add_column(col)
    for h in audit.harmonization:
        for r in h.sites:
            values = ", ".join(f"{v} ({n})" for v, n in sorted(r.values.items()))
            status = r.status + (f" ({r.variant})" if r.variant else "")
            t.add_row(h.sequence, h.parameter, h.expected or "", h.consensus or "", r.site, r.vendor or "?",
                      values, Text(status, style=_STATUS_STYLE.get(r.status, "")))
    return t


def _drift(audit: AuditResult) -> Table:
    t = Table(title="Longitudinal drift", title_justify="left")
    for col in ("site", "scanner", "changed", "from", "to", "first session", "straddling subjects"):
        t.add_column(col)
    for e in audit.drift:
        t.add_row(e.site, e.scanner, Text(e.attribute, style=_SEV_STYLE[e.severity]), e.before, e.after, e.session,
                  ", ".join(e.straddling) or "none")
    return t


def _completeness(audit: AuditResult) -> Table:
    t = Table(title="Completeness (incomplete sessions and repeats)", title_justify="left")
    for col in ("site", "subject", "visit", "month", "missing required", "missing recommended", "repeats"):
        t.add_column(col)
    for r in audit.completeness:
        if r.complete and not r.missing_recommended and not r.repeats:
            continue
        t.add_row(r.site, r.subject, r.visit, r.month or "?", Text(", ".join(r.missing_required), style="red"),
                  Text(", ".join(r.missing_recommended), style="yellow"),
                  ", ".join(f"{k}×{n}" for k, n in r.repeats.items()))
    return t


def render_audit(audit: AuditResult, file: IO[str] | None = None, *, color: bool | None = None,
                 width: int | None = None) -> None:
    """Print the audit: matrix, inventory, harmonization, drift, completeness and findings."""
    console = Console(file=file, force_terminal=color, no_color=color is False, width=width,
                      highlight=False, soft_wrap=False)
    n_sessions = len(audit.sessions)
    console.print(Text(f"protocheck audit — protocol {audit.protocol_name} {audit.protocol_version}: "
                       f"{len(audit.sites)} sites, {n_sessions} sessions", style="bold"))
    for table in (_matrix(audit), _inventory(audit), _harmonization(audit), _drift(audit), _completeness(audit)):
        console.print(table)
    problems = [f for f in audit.findings if f.severity in ("error", "warning")]
    console.print(Text(f"Findings: {len(problems)} (errors {sum(f.severity == 'error' for f in problems)}, "
                       f"warnings {sum(f.severity == 'warning' for f in problems)})", style="bold"))
    for f in audit.findings:
        console.print(Text(f"[{f.severity}] {f.kind}: {f.message}", style=_SEV_STYLE.get(f.severity, "")))
