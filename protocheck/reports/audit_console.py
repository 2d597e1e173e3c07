"""Console rendering of the multicentre audit with rich (colours on a terminal, plain text otherwise).

Order is the coordinator's reading order: header (sites, sessions, scanner models), site-level findings
(worst first), the site × sequence matrix, then harmonization, inventory, drift and completeness, each listing
only what is flagged. Piped output uses 160 columns (or ``COLUMNS``) so nothing is truncated to 80.
"""

from __future__ import annotations

from typing import IO, Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from protocheck.checks.audit import AuditResult, MatrixCell
from protocheck.checks.results import count_findings, counts_text, sequence_tone
from protocheck.checks.inventory import scanner_models
from protocheck.checks.site_findings import SiteFinding
from protocheck.reports.audit_console_sections import SEV_STYLE, print_sections
from protocheck.reports.console import TONE_STYLE
from protocheck.reports.console_layout import console_width as _console_width
from protocheck.reports.textsafe import SafeConsole

PIPE_WIDTH = 160
LEGEND = ("legend: compliant/sessions; ✘n deviating, ?n cannot verify, –n missing, ○n optional sequence not "
          "acquired (○ alone: never); green all compliant, red an error or a required sequence missing, yellow "
          "warnings only or a recommended sequence missing, magenta could not verify")


def cell_text(c: MatrixCell | None, requirement: str = "required", worst: str | None = None) -> Text:
    """Compact matrix cell: "5/5" (green), "0/5 ✘5", "3/5 ?2", "4/5 –1"; "○" optional sequence never acquired.

    The colour follows requirement and severity as everywhere (``checks.results.sequence_tone``): red for an
    error or a missing required sequence, yellow for warnings only or a missing recommended one, magenta when
    values could not be verified, green when every session complies.
    """
    if c is None or c.total == 0:
        return Text("·", style="dim")
    present = c.total - c.absent_optional          # optional sequences not acquired are not failures
    if present == 0:
        return Text("○", style="dim")
    parts = [f"{c.compliant}/{present}"]
    parts += [f"{mark}{n}" for mark, n in (("✘", c.deviating), ("?", c.cannot_verify), ("–", c.missing),
                                           ("○", c.absent_optional)) if n]
    tones = set()
    if c.deviating:
        tones.add("err" if worst in (None, "error") else "warn")
    if c.missing:
        tones.add(sequence_tone("missing", requirement))
    if c.cannot_verify:
        tones.add("unk")
    tone = next((t for t in ("err", "warn", "unk") if t in tones), "ok")
    return Text(" ".join(parts), style=TONE_STYLE[tone])


def _worst(audit: AuditResult) -> dict[tuple[str, str], str]:
    """(site, sequence) -> the worst severity of the deviations found there."""
    rank = {"error": 3, "warning": 2, "info": 1}
    out: dict[tuple[str, str], str] = {}
    for f in audit.findings:
        if f.kind == "compliance" and f.status == "fail" and f.sequence:
            key = (f.site, f.sequence)
            if rank.get(f.severity, 0) > rank.get(out.get(key, ""), 0):
                out[key] = f.severity
    return out


def _matrix(audit: AuditResult) -> Table:
    t = Table(title="Compliance matrix (sessions per site × sequence)", title_justify="left", title_style="bold",
              box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, caption=LEGEND, caption_justify="left")
    t.add_column("site", no_wrap=True)
    for seq in audit.sequences:
        t.add_column(seq, no_wrap=True, min_width=len(seq))
    cells = {(c.site, c.sequence): c for c in audit.matrix}
    worst = _worst(audit)
    for site in audit.sites:
        t.add_row(site, *[cell_text(cells.get((site, q)), audit.requirements.get(q, "required"),
                                    worst.get((site, q))) for q in audit.sequences])
    return t


def site_finding_line(f: SiteFinding, site_w: int = 14, what_w: int = 34) -> Text:
    """One line: severity, site, kind, sequence/parameter, expected, found, sessions affected, note."""
    line = Text(f"  {f.severity:<8}", style=SEV_STYLE.get(f.severity, ""))
    what = " ".join(p for p in (f.sequence, f.parameter) if p)
    line.append(f"{f.site:<{site_w}} {f.kind.replace('_', ' '):<14}{what:<{what_w}} ")
    if f.kind == "missing":
        line.append(f"{f.detail} sequence missing")
    elif f.kind == "cannot_verify":
        line.append("value unknown (absent from headers/sidecars)")
    elif f.kind == "drift" and f.detail.startswith("from "):       # a dated, lasting change
        line.append(f"changed {f.expected} → {f.found}")
    elif f.kind == "drift":                                          # an excursion, or undated sessions that differ
        line.append(f"usual {f.expected}; other {f.found}")
    elif f.kind == "longitudinal":
        line.append(f.detail)
    else:
        line.append(f"expected {f.expected or '?'}; found {f.found or '?'}")
    line.append(f"; {f.sessions}/{f.site_sessions} sessions", style="bold")
    if f.vendor_expected:
        line.append("; vendor-expected", style="cyan")
    if f.detail and f.kind not in ("missing", "cannot_verify", "longitudinal"):
        line.append(f"; {f.detail}", style="dim")
    return line


def _site_findings(audit: AuditResult) -> Group:
    shown = [f for f in audit.site_findings if not f.vendor_expected]
    sites = len({f.site for f in shown})
    parts: list[Any] = [Text(f"Site-level findings: {len(shown)} on {sites} of {len(audit.sites)} sites "
                             "(worst first, then site)", style="bold")]
    if not shown:
        parts.append(Text("  none: every site follows the protocol and the other sites", style="green"))
    site_w = max([len(f.site) for f in shown] + [4]) + 1
    what_w = min(40, max([len(" ".join(p for p in (f.sequence, f.parameter) if p)) for f in shown
                          if f.kind != "cannot_verify"] + [8]) + 1)
    parts.extend(site_finding_line(f, site_w, what_w) for f in shown)
    vendor = [f for f in audit.site_findings if f.vendor_expected]
    if vendor:
        parts.append(Text(f"  + {len(vendor)} vendor-expected difference(s) allowed by per-vendor protocol variants"
                          f" ({', '.join(sorted({f.site for f in vendor}))}); see harmonization", style="cyan"))
    return Group(*parts)


def _header(audit: AuditResult) -> list[Text]:
    models = scanner_models(audit.scanners)
    counts = count_findings(audit.site_findings)         # the rows listed below, counted as every report does
    head = Text(f"protocheck audit — protocol {audit.protocol_name} {audit.protocol_version}", style="bold")
    line = Text(f"{len(audit.sites)} sites, {len(audit.sessions)} sessions, {len(models)} scanner models "
                "(vendor + model)", style="bold")
    flagged = len({f.site for f in audit.site_findings if not f.vendor_expected})
    verdict = Text(f"{flagged} of {len(audit.sites)} sites flagged; site-level findings: {counts_text(counts)}",
                   style="bold red" if counts["error"] else ("yellow" if counts["warning"] else "green"))
    return [head, line, verdict]


def console_width(file: IO[str] | None, width: int | None) -> int | None:
    """The width to render at: given, else the terminal's, else ``COLUMNS`` or 160 when piped."""
    return _console_width(file, width, PIPE_WIDTH)


def render_audit(audit: AuditResult, file: IO[str] | None = None, *, color: bool | None = None,
                 width: int | None = None) -> None:
    """Print the audit: header, site-level findings, matrix, harmonization, inventory, drift, completeness."""
    console = SafeConsole(file=file, force_terminal=color, no_color=color is False,   # no markup is used here:
                          width=console_width(file, width), highlight=False, soft_wrap=False, emoji=False,
                          markup=False)   # site names are printed as they are
    for line in _header(audit):
        console.print(line)
    console.print()
    console.print(_site_findings(audit))
    console.print()
    console.print(_matrix(audit))
    print_sections(console, audit)
