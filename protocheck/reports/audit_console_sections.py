"""Sections of the console audit: harmonization summary, scanner inventory, drift and completeness.

Each section is compact: only flagged rows are listed, the full tables stay in ``--tsv`` and ``--format json``.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from protocheck.checks.audit import AuditResult

SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", None: ""}


def _table(title: str, columns: list[str]) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
              show_edge=False)
    for col in columns:
        t.add_column(col, overflow="fold")
    return t


def _names(sites: list[str], limit: int = 8) -> str:
    return ", ".join(sites[:limit]) + (f" +{len(sites) - limit} more" if len(sites) > limit else "")


def harmonization_summary_line(item: Any) -> Text:
    """One line per (sequence, parameter): expected, consensus, how many sites agree, who differs."""
    sites = sorted({r.site for r in item.sites})
    ok = sorted({r.site for r in item.sites if r.status == "ok"})
    differs = sorted({r.site for r in item.sites if r.status == "differs"})
    vendor: dict[str, list[str]] = {}
    for r in item.sites:
        if r.status == "vendor-expected":
            vendor.setdefault(r.variant or "vendor", []).append(r.site)
    unknown = sorted({r.site for r in item.sites if r.status == "cannot_verify"})
    line = Text(f"  {item.sequence} {item.parameter}: ", style="bold")
    line.append(f"expected {item.expected or '—'}, consensus {item.consensus or '—'}; ")
    line.append(f"{len(ok)}/{len(sites)} sites agree", style="green" if not differs else "")
    if differs:
        line.append(f"; {len(differs)} differ ({_names(differs)})", style="bold red")
    for variant, names in sorted(vendor.items()):
        line.append(f"; vendor-expected ({variant}): {_names(sorted(names))}", style="cyan")
    if unknown:
        line.append(f"; cannot verify: {_names(unknown)}", style="magenta")
    return line


def harmonization(audit: AuditResult) -> Group:
    """Summary line per must-match parameter, then only the flagged site rows."""
    parts: list[Any] = [Text(f"Cross-site harmonization (must-match parameters): {len(audit.harmonization)} "
                             "sequence/parameter pairs; full site × parameter table in --tsv and --format json",
                             style="bold")]
    parts.extend(harmonization_summary_line(h) for h in audit.harmonization)
    t = _table("Flagged harmonization rows (deviating from protocol or from the other sites)",
               ["sequence", "parameter", "site", "vendor", "values (sessions)", "why", "severity"])
    for h in audit.harmonization:
        for r in h.sites:
            if r.status != "differs":
                continue
            values = ", ".join(f"{v} ({n})" for v, n in sorted(r.values.items(), key=lambda kv: -kv[1]))
            t.add_row(h.sequence, h.parameter, r.site, r.vendor or "?", values, "; ".join(r.reasons),
                      Text(r.severity or "", style=SEV_STYLE.get(r.severity, "")))
    if t.row_count:
        parts.append(t)
    else:
        parts.append(Text("  No site differs from the protocol or from the other sites.", style="green"))
    return Group(*parts)


def inventory(audit: AuditResult) -> Table:
    """One row per site × scanner."""
    t = _table("Scanner inventory (one row per site × scanner)",
               ["site", "vendor", "model", "software", "T", "coil", "serial", "first", "last", "sessions"])
    for e in audit.scanners:
        model = (e.model or "?") + ("" if e.model_from_header or not e.model else " *")
        t.add_row(e.site, e.vendor or "?", model, ", ".join(e.software) or "?",
                  "?" if e.field_strength is None else f"{e.field_strength:g}", ", ".join(e.coils) or "?",
                  e.serial or "?", e.first_seen or "?", e.last_seen or "?", str(e.sessions))
    if any(not e.model_from_header and e.model for e in audit.scanners):
        t.caption = "* model named only by participants.tsv, not by an image header"
        t.caption_justify = "left"
    return t


def drift(audit: AuditResult) -> Group:
    """One line per drift event."""
    parts: list[Any] = [Text(f"Longitudinal drift: {len(audit.drift)} event(s) (changes along dates, one-session "
                             "excursions, undated differences)", style="bold")]
    for e in audit.drift:
        line = Text(f"  [{e.severity}] ", style=SEV_STYLE.get(e.severity, ""))
        if e.kind == "differs":
            line.append(f"{e.site}, {e.scanner}: {e.attribute} sessions differ (undated): {e.before}; {e.after}")
        elif e.kind == "excursion":
            line.append(f"{e.site}, {e.scanner}: {e.attribute} {e.after} at {e.session} only (usual {e.before})")
        else:
            line.append(f"{e.site}, {e.scanner}: {e.attribute} {e.before} → {e.after} from {e.session}; straddling "
                        f"subjects: {', '.join(e.straddling) or 'none'}")
        parts.append(line)
    return Group(*parts)


def completeness(audit: AuditResult) -> Group:
    """Incomplete visits only, grouped per site and identical set of missing sequences."""
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for r in audit.completeness:
        if r.missing_required or r.missing_recommended:
            key = (r.site, tuple(r.missing_required), tuple(r.missing_recommended))
            groups.setdefault(key, []).append(f"{r.subject} {r.visit}")
    n = sum(len(v) for v in groups.values())
    repeats = sum(1 for r in audit.completeness if r.repeats)
    parts: list[Any] = [Text(f"Completeness: {n} of {len(audit.completeness)} sessions incomplete"
                             f" ({repeats} with repeated series, listed in completeness.tsv)", style="bold")]
    for (site, req, rec), labels in sorted(groups.items()):
        line = Text(f"  {site} ({len(labels)}: {_names(labels, 6)}): missing ")
        if req:
            line.append("required " + ", ".join(req), style="red")
        if rec:
            line.append(("; " if req else "") + "recommended " + ", ".join(rec), style="yellow")
        parts.append(line)
    return Group(*parts)


def print_sections(console: Console, audit: AuditResult) -> None:
    """Print harmonization, inventory, drift and completeness, separated by blank lines."""
    for part in (harmonization(audit), inventory(audit), drift(audit), completeness(audit)):
        console.print()
        console.print(part)
