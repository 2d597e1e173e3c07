"""The audit page's per-site drill-down: click a site (matrix, site table) to open its sessions, scanners and
findings. Plain ``<details>`` sections reached by an anchor; the page's one inline script opens the target.
"""

from __future__ import annotations

import hashlib
from typing import Any

from protocheck.reports.html_base import as_list, badge, esc, get, table

_SEV = {"error": 4, "warning": 3, "cannot_verify": 2, "info": 1}
_SHORT = {"compliant": "✓ ok", "deviating": "✗ deviates", "cannot_verify": "? unknown", "missing": "✗ missing",
          "absent_optional": "– optional"}


def site_anchor(site: Any) -> str:
    """The HTML id of a site's section: a hash, so that any site name (even hostile) makes a safe id."""
    return "site-" + hashlib.sha256(str(site).encode("utf-8", "replace")).hexdigest()[:10]


def site_link(site: Any) -> str:
    """A link that opens the site's section."""
    return f'<a class="site-link" href="#{site_anchor(site)}">{esc(site)}</a>'


def _sessions(audit: dict[str, Any], site: str, sequences: list[str]) -> str:
    rows = []
    for s in as_list(get(audit, "sessions")):
        if str(get(s, "site")) != site:
            continue
        statuses = get(s, "statuses", default={}) or {}
        rows.append([esc(get(s, "subject")), esc(get(s, "visit")), esc(get(s, "month"))]
                    + [badge(st, _SHORT.get(st, st)) for st in (statuses.get(q, "missing") for q in sequences)])
    return table(["Subject", "Visit", "Month"] + sequences, rows, table_id=f"{site_anchor(site)}-sessions")


def _scanners(audit: dict[str, Any], site: str) -> str:
    rows = [[esc(get(e, "vendor")), esc(get(e, "model")), esc(", ".join(map(str, as_list(get(e, "software"))))),
             esc(get(e, "field_strength")), f'<span class="mono">{esc(get(e, "serial") or "unknown")}</span>',
             esc(get(e, "first_seen")), esc(get(e, "last_seen")), esc(get(e, "sessions"))]
            for e in as_list(get(audit, "scanners")) if str(get(e, "site")) == site]
    return table(["Vendor", "Model", "Software", "Field (T)", "Serial", "First", "Last", "Sessions"], rows,
                 numeric=(7,), table_id=f"{site_anchor(site)}-scanners")


def _findings(audit: dict[str, Any], site: str) -> str:
    rows = []
    for f in as_list(get(audit, "site_findings")):
        if str(get(f, "site")) != site:
            continue
        sev = "cannot_verify" if get(f, "kind") == "cannot_verify" else str(get(f, "severity", default=""))
        rows.append([f'<span data-sort="{_SEV.get(sev, 0)}">{badge(sev)}</span>',
                     esc(str(get(f, "kind", default="")).replace("_", " ")), esc(get(f, "sequence")),
                     f'<span class="mono">{esc(get(f, "parameter"))}</span>', esc(get(f, "expected")),
                     esc(get(f, "found")), esc(f"{get(f, 'sessions', default=0)}/{get(f, 'site_sessions', default=0)}"),
                     esc("vendor-expected" if get(f, "vendor_expected") else get(f, "detail"))])
    return table(["Severity", "Kind", "Sequence", "Parameter", "Expected", "Found", "Sessions", "Note"], rows,
                 table_id=f"{site_anchor(site)}-findings")


def site_sections(audit: dict[str, Any], sites: list[str], sequences: list[str],
                  verdicts: dict[str, str]) -> str:
    """One closed ``<details>`` per site: its scanners, sessions (status per sequence) and findings."""
    out = []
    for site in sites:
        n = sum(1 for s in as_list(get(audit, "sessions")) if str(get(s, "site")) == site)
        out.append(f'<details class="site" id="{site_anchor(site)}"><summary>{esc(site)} '
                   f'{badge(verdicts.get(site, "compliant"))} <span class="small muted">{n} session(s)</span>'
                   f'</summary><div class="site-body"><h3>Scanners</h3>{_scanners(audit, site)}'
                   f'<h3>Findings</h3>{_findings(audit, site)}'
                   f'<h3>Sessions</h3>{_sessions(audit, site, sequences)}</div></details>')
    return "".join(out)
