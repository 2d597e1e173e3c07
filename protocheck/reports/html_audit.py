"""The multi-site audit as HTML: verdict, site × sequence matrix, findings, inventory, harmonization plots,
drift timeline and completeness. Renders the plain dict of ``protocheck.checks.audit.audit_to_json``.
"""

from __future__ import annotations

from typing import Any

from protocheck.checks.results import count_findings, counts_text
from protocheck.reports.html_audit_sites import site_link, site_sections
from protocheck.reports.html_base import (as_list, badge, esc, fmt, get, meta_line, page, status_class,
                                          table, verdict_box)
from protocheck.reports.html_svg import strip_plot, timeline
from protocheck.units import display_unit, leading_number

_MATRIX_STATES = ("compliant", "deviating", "cannot_verify", "missing", "absent_optional")


def _cell_status(cell: dict[str, Any]) -> str:
    """The colour of a matrix cell: worst state present among its sessions."""
    for state in ("missing", "deviating", "cannot_verify"):
        if (get(cell, state, default=0) or 0) > 0:
            return state
    if (get(cell, "compliant", default=0) or 0) > 0:
        return "compliant"
    return "absent_optional" if get(cell, "absent_optional", default=0) else "none"


def _worst_severity(audit: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(site, sequence) -> worst severity among the audit findings located there."""
    rank = {"error": 3, "warning": 2, "info": 1}
    out: dict[tuple[str, str], str] = {}
    for f in as_list(get(audit, "findings")):
        key = (str(get(f, "site")), str(get(f, "sequence")))
        sev = str(get(f, "severity", default=""))
        if rank.get(sev, 0) > rank.get(out.get(key, ""), 0):
            out[key] = sev
    return out


def _sequence_order(audit: dict[str, Any], cells: list[dict[str, Any]]) -> list[str]:
    seqs = as_list(get(audit, "sequences")) or as_list(get(get(audit, "protocol"), "sequences"))
    return [str(s) for s in seqs] or sorted({str(get(c, "sequence")) for c in cells})


def _matrix(audit: dict[str, Any]) -> str:
    cells = [c for c in as_list(get(audit, "matrix")) if isinstance(c, dict)]
    sites = [str(s) for s in as_list(get(audit, "sites"))] or sorted({str(get(c, "site")) for c in cells})
    seqs = _sequence_order(audit, cells)
    worst = _worst_severity(audit)
    by = {(str(get(c, "site")), str(get(c, "sequence"))): c for c in cells}
    head = "".join(f'<th class="colh">{esc(s)}</th>' for s in seqs)
    rows = []
    for site in sites:
        tds = []
        for seq in seqs:
            c = by.get((site, seq), {})
            st = _cell_status(c)
            if st in ("deviating", "missing") and worst.get((site, seq)) == "warning":
                st = "warnings"     # deviations at warning severity only: usable, harmonization risk
            total = sum(int(get(c, k, default=0) or 0) for k in _MATRIX_STATES)
            ok = int(get(c, "compliant", default=0) or 0)
            detail = ", ".join(f"{k.replace('_', ' ')} {get(c, k)}" for k in _MATRIX_STATES if get(c, k))
            text = f"{ok}/{total}" if total else "–"
            tds.append(f'<td class="cell {status_class(st)}" data-sort="{ok / total if total else -1:.3f}" '
                       f'title="{esc(site)} · {esc(seq)}: {esc(detail or "no session")}">{esc(text)}</td>')
        rows.append(f'<tr><th class="rowh">{site_link(site)}</th>{"".join(tds)}</tr>')
    legend = ('<p class="legend">Cell = sessions compliant / sessions. Colour = worst state: '
              + badge("compliant", "all compliant") + badge("warnings", "warnings only")
              + badge("deviating", "error or missing")
              + badge("cannot_verify", "could not verify") + badge("absent_optional", "optional, absent") + "</p>")
    return (f'<table class="matrix sortable filterable" id="matrix"><thead><tr><th>Site</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>{legend}')


def _findings(audit: dict[str, Any]) -> str:
    rank = {"error": 3, "warning": 2, "info": 1}
    items = sorted((f for f in as_list(get(audit, "findings")) if isinstance(f, dict)),
                   key=lambda f: (-rank.get(str(get(f, "severity")), 0), str(get(f, "site"))))
    rows = [[esc(get(f, "site")), esc(" ".join(str(x) for x in (get(f, "subject"), get(f, "visit")) if x)),
             esc(get(f, "kind")), esc(get(f, "sequence")), f'<span class="mono">{esc(get(f, "parameter"))}</span>',
             f'<span data-sort="{rank.get(str(get(f, "severity")), 0)}">{badge(get(f, "severity"))}</span>',
             esc(get(f, "message"))] for f in items[:20000]]
    return table(["Site", "Session", "Kind", "Sequence", "Parameter", "Severity", "What"], rows, table_id="audit-findings")


def _inventory(audit: dict[str, Any]) -> str:
    rows = [[esc(get(e, "site")), esc(get(e, "vendor")), esc(get(e, "model")), esc(get(e, "software")),
             esc(get(e, "field_strength")), esc(get(e, "coil")), esc(get(e, "serial")),
             esc(get(e, "first_seen")), esc(get(e, "last_seen")), esc(get(e, "sessions"))]
            for e in as_list(get(audit, "inventory", "scanners")) if isinstance(e, dict)]
    return table(["Site", "Vendor", "Model", "Software", "Field (T)", "Coil", "Serial", "First", "Last", "Sessions"],
                 rows, numeric=(9,), table_id="inventory")


def _value(text: Any) -> Any:
    """A harmonization value text ("2300 ms") back to its number when it is one (so the plot gets a numeric
    axis in the value's display unit), else the text."""
    number = leading_number(text)
    return number if number is not None else str(text)


def _harmonization(audit: dict[str, Any]) -> tuple[str, str]:
    """(plots, table) of the must-match parameters: values per site, one row per vendor."""
    plots, quiet, rows = [], [], []
    items = [i for i in as_list(get(audit, "harmonization")) if isinstance(i, dict)]
    items.sort(key=lambda i: not any(get(sv, "status") == "differs" for sv in as_list(get(i, "sites"))))
    for item in items:
        seq, param = get(item, "sequence", default=""), get(item, "parameter", default="")
        points, differs, unknown = [], [], []
        for sv in as_list(get(item, "sites")):
            values = get(sv, "values", default={})
            pairs = list(values.items()) if isinstance(values, dict) else [(v, 1) for v in as_list(values)]
            st = str(get(sv, "status", default="ok"))
            if st == "differs":
                differs.append(str(get(sv, "site")))
            for text, n in pairs:
                if text is None or str(text) == "unknown":
                    unknown.append(str(get(sv, "site")))
                    continue
                points.append({"site": get(sv, "site"), "vendor": get(sv, "vendor") or "?", "value": _value(text),
                               "n": n, "flag": st == "differs"})
            rows.append([esc(seq), f'<span class="mono">{esc(param)}</span>', esc(get(sv, "site")),
                         esc(get(sv, "vendor")), esc(get(sv, "variant")),
                         esc("; ".join(f"{k} ({v})" for k, v in values.items()) if isinstance(values, dict)
                             else fmt(values)),
                         esc(get(item, "expected") or get(item, "consensus")),
                         badge({"ok": "ok", "differs": "warnings", "vendor-expected": "info"}.get(st, st),
                               st.replace("-", " ").replace("_", " ")),
                         esc("; ".join(map(str, as_list(get(sv, "reasons")))))])
        svg = strip_plot(f"{seq} · {param}", points, unit=display_unit(str(param))[0])
        if not svg:
            continue
        status = (badge("warnings", f"{len(differs)} site(s) differ") if differs
                  else badge("ok", "consistent"))
        note = f' <span class="small muted">value unknown at {len(set(unknown))} site(s)</span>' if unknown else ""
        cap = (f'<p class="cap"><b>{esc(seq)} · {esc(param)}</b> {status}{note}<br><span class="small muted">'
               f'expected {esc(get(item, "expected") or "n/a")} · consensus {esc(get(item, "consensus") or "n/a")}'
               f'</span></p>')
        (plots if differs else quiet).append(f'<figure class="plot" data-parameter="{esc(param)}">{cap}{svg}</figure>')
    tbl = table(["Sequence", "Parameter", "Site", "Vendor", "Variant", "Values (sessions)", "Expected", "Status", "Why"],
                rows, table_id="harmonization")
    html = ('<div class="plots">' + "".join(plots) + "</div>") if plots else ""
    if quiet:       # consistent parameters: collapsed, the differing ones stay in sight
        html += (f'<details class="consistent"><summary>{len(quiet)} consistent parameter(s): every site agrees'
                 f'</summary><div class="plots">{"".join(quiet)}</div></details>')
    return html, tbl


def _site_summary(audit: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """One row per site (scanner, sessions, complete sessions, errors, warnings, drift events) and each site's
    verdict."""
    sites = [str(s) for s in as_list(get(audit, "sites"))]
    scanners: dict[str, set[str]] = {}
    for e in as_list(get(audit, "inventory")):
        scanners.setdefault(str(get(e, "site")), set()).add(
            " ".join(str(x) for x in (get(e, "vendor"), get(e, "model")) if x))
    counts: dict[str, dict[str, int]] = {}
    for f in as_list(get(audit, "findings")):
        c = counts.setdefault(str(get(f, "site")), {})
        key = "drift" if get(f, "kind") == "drift" else str(get(f, "severity"))
        c[key] = c.get(key, 0) + 1
    sess: dict[str, list[int]] = {}
    for r in as_list(get(audit, "completeness")):
        v = sess.setdefault(str(get(r, "site")), [0, 0])
        v[0] += 1
        v[1] += 0 if get(r, "missing_required") else 1
    rows, verdicts = [], {}
    for site in sites or sorted(counts):
        c, (n, ok) = counts.get(site, {}), sess.get(site, [0, 0])
        verdict = "deviations" if c.get("error") else ("warnings" if c.get("warning") or c.get("drift") else "compliant")
        verdicts[site] = verdict
        rows.append([site_link(site), esc(", ".join(sorted(scanners.get(site, set())))), str(n), str(ok),
                     str(c.get("error", 0)), str(c.get("warning", 0)), str(c.get("drift", 0)),
                     f'<span data-sort="{ {"deviations": 3, "warnings": 2}.get(verdict, 1)}">{badge(verdict)}</span>'])
    return table(["Site", "Scanner", "Sessions", "Complete", "Errors", "Warnings", "Drift", "Status"], rows,
                 numeric=(2, 3, 4, 5, 6), table_id="sites"), verdicts


def _timeline(audit: dict[str, Any]) -> tuple[str, str]:
    """(svg, table) of sessions per site over time, with the drift events."""
    lanes: dict[str, dict[str, Any]] = {}
    for row in as_list(get(audit, "completeness")):
        site = str(get(row, "site", default="?"))
        lane = lanes.setdefault(site, {"site": site, "exams": [], "events": []})
        bad = bool(get(row, "missing_required"))
        label = f"{site} {get(row, 'subject', default='')} {get(row, 'visit', default='')} {get(row, 'month', default='')}"
        lane["exams"].append({"date": get(row, "month"), "status_class": "s-err" if bad else "s-ok",
                              "label": label + (" — missing " + ", ".join(row["missing_required"]) if bad else "")})
    rows = []
    for ev in as_list(get(audit, "drift")):
        site = str(get(ev, "site", default="?"))
        lane = lanes.setdefault(site, {"site": site, "exams": [], "events": []})
        kind = get(ev, "kind", default="change")
        what = (f"{get(ev, 'attribute')}: {get(ev, 'before')} → {get(ev, 'after')}" if kind == "change" else
                f"{get(ev, 'attribute')}: {'sessions differ (undated)' if kind == 'differs' else 'one session'}: "
                f"{get(ev, 'after')} (usual {get(ev, 'before')})")
        lane["events"].append({"date": get(ev, "month"), "label": f"{site} {get(ev, 'month') or ''}: {what}"})
        straddle = as_list(get(ev, "straddling"))
        rows.append([esc(site), esc(get(ev, "scanner")), esc(get(ev, "month")),
                     f'<span class="mono">{esc(get(ev, "attribute"))}</span>'
                     + ("" if kind == "change" else f" ({esc(kind)})"), esc(get(ev, "before")),
                     esc(get(ev, "after")), esc(get(ev, "session")), badge(get(ev, "severity")),
                     esc(f"{len(straddle)}: " + ", ".join(map(str, straddle[:20])) if straddle else "0")])
    svg = timeline(sorted(lanes.values(), key=lambda l: l["site"]))
    tbl = table(["Site", "Scanner", "Month", "What changed", "Before", "After", "First session", "Severity",
                 "Subjects straddling"], rows, table_id="drift")
    return (f'<figure class="plot" id="timeline-plot"><p class="cap">Sessions per site (green complete, red missing a '
            f'required sequence); red triangles: drift events (hover for details; events without a month are only '
            f'in the table).</p>{svg}</figure>' if svg else ""), tbl


def _completeness(audit: dict[str, Any]) -> str:
    rows = [[esc(get(r, "site")), esc(get(r, "subject")), esc(get(r, "visit")), esc(get(r, "month")),
             badge("deviating", "missing: " + ", ".join(map(str, r["missing_required"])))
             if get(r, "missing_required") else badge("compliant", "complete"),
             esc(", ".join(map(str, as_list(get(r, "missing_recommended"))))),
             esc(fmt(get(r, "repeats")) if get(r, "repeats") else "")]
            for r in as_list(get(audit, "completeness")) if isinstance(r, dict)]
    return table(["Site", "Subject", "Visit", "Month", "Required", "Recommended missing", "Repeats"], rows,
                 table_id="completeness")


def _verdict(audit: dict[str, Any]) -> str:
    found = [str(get(f, "severity")) for f in as_list(get(audit, "findings")) if isinstance(f, dict)]
    if "error" in found:
        return "deviations"
    return "warnings" if "warning" in found else "compliant"


def render_audit(audit: dict[str, Any]) -> str:
    """The audit page (see module docstring)."""
    proto = get(audit, "protocol", default={})
    name = get(proto, "name") or get(audit, "protocol_name", default="?")
    version = get(proto, "version") or get(audit, "protocol_version", default="")
    digest = get(proto, "sha256", "hash") or get(audit, "protocol_sha256", default="")
    verdict = str(get(audit, "verdict") or _verdict(audit))
    findings = [f for f in as_list(get(audit, "findings")) if isinstance(f, dict)]
    totals = get(audit, "totals", default={}) or {}
    site_counts = get(totals, "site_findings") or count_findings(as_list(get(audit, "site_findings")))
    session_counts = get(totals, "findings") or count_findings(findings)
    sites = as_list(get(audit, "sites"))
    sessions = as_list(get(audit, "completeness"))
    head = {"compliant": "ALL SITES COMPLIANT", "warnings": "USABLE WITH WARNINGS",
            "deviations": "DEVIATIONS FOUND"}.get(verdict, verdict.upper())
    worst_sites = sorted({str(get(f, "site")) for f in findings if get(f, "severity") == "error"})
    lines = [f"{len(sites)} site(s), {len(sessions)} session(s), {len(as_list(get(audit, 'drift')))} drift "
             f"event(s). Site-level findings: {counts_text(site_counts)}. Per-session findings: "
             f"{counts_text(session_counts)}.",
             ("Sites with errors: " + ", ".join(worst_sites[:15]) + (" …" if len(worst_sites) > 15 else ""))
             if worst_sites else "No site has an error-level finding."]
    plots, harm_table = _harmonization(audit)
    tl_svg, drift_table = _timeline(audit)
    site_table, verdicts = _site_summary(audit)
    seq_ids = _sequence_order(audit, [c for c in as_list(get(audit, "matrix")) if isinstance(c, dict)])
    body = [verdict_box(verdict, head, lines),
            '<nav class="toc"><a href="#matrix-h">Matrix</a><a href="#findings-h">Findings</a>'
            '<a href="#sites-h">Sites</a><a href="#harmonization-h">Harmonization</a><a href="#drift-h">Drift</a>'
            '<a href="#inventory-h">Scanners</a><a href="#completeness-h">Completeness</a></nav>',
            '<h2 id="matrix-h">Site × sequence compliance</h2>', _matrix(audit),
            '<h2 id="sites-h">Sites at a glance</h2>', site_table,
            '<h2 id="site-details-h">Each site: sessions, scanners, findings</h2>'
            '<p class="small muted">Click a site here, in the matrix or in the table above to open it.</p>',
            site_sections(audit, [str(x) for x in sites], seq_ids, verdicts),
            f'<h2 id="findings-h">Findings ({len(findings)})</h2>',
            f'<details{" open" if len(findings) <= 50 else ""}><summary>Every finding (site, session, what)</summary>'
            + _findings(audit) + "</details>",
            '<h2 id="harmonization-h">Harmonization: must-match parameters by site and vendor</h2>',
            plots or '<p class="muted">No must-match parameter.</p>',
            '<details><summary>Table of values per site</summary>' + harm_table + "</details>",
            '<h2 id="drift-h">Timeline and drift events</h2>', tl_svg, drift_table,
            '<h2 id="inventory-h">Scanner inventory</h2>', _inventory(audit),
            '<h2 id="completeness-h">Completeness per session</h2>', _completeness(audit)]
    sub = meta_line([("protocol", f"{name} {version}".strip()), ("protocol sha256", str(digest)[:16]),
                     ("generated", get(audit, "generated")),
                     ("inputs", ", ".join(map(str, as_list(get(audit, "inputs")))))])
    return page(f"protocheck audit — {name} {version}".strip(), "\n".join(body),
                data={"verdict": verdict, "sites": len(sites)}, subtitle=sub)
