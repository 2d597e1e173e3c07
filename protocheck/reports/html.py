"""Self-contained HTML reports: check report, audit report and site qualification certificate.

The renderers take the plain JSON dicts (``report_to_dict``, ``audit_to_json``, ``Certificate.to_dict``),
never internal classes, so the HTML cannot disagree with the JSON. Output opens offline: no external URL,
inline CSS/JS, a strict Content-Security-Policy, every header/file-name string escaped.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from protocheck.results import count_category, count_findings, counts_text, sequence_tone
from protocheck.reports.html_base import (as_list, badge, esc, get, meta_line, page, status_label, table,
                                          verdict_box)

__all__ = ["render_check_html", "render_audit_html", "render_certificate_html"]

_PROBLEM = {"fail", "missing", "cannot_verify"}
_SEV_RANK = {"error": 4, "warning": 3, "cannot_verify": 2, "info": 1}
_TONE_CLASS = {"ok": "s-ok", "warn": "s-warn", "err": "s-err", "unk": "s-unk", "na": "s-na"}
_VERDICT_TEXT = {
    "compliant": ("COMPLIANT", "Every checked sequence matches the protocol."),
    "warnings": ("USABLE WITH WARNINGS", "No error, but some values differ from the recommended ones "
                                         "(harmonization risk) or could not be verified."),
    "deviations": ("DEVIATIONS", "At least one error-level deviation or a required sequence is missing: "
                                 "fix before the next participant."),
    "no-exams": ("NOTHING CHECKED", "No exam was found in the inputs."),
}


def protocol_line(proto: Any) -> str:
    """"name version" of a protocol dict."""
    name, version = get(proto, "name", default="?"), get(proto, "version", default="")
    return f"{name} {version}".strip()


def finding_rows(findings: list[dict[str, Any]], series_names: dict[str, str], context: str = "") -> list[list[str]]:
    """Table rows (safe HTML) of the problem findings: where, expected, found, severity, advice."""
    rows = []
    for f in findings:
        if get(f, "status", default="") not in _PROBLEM:
            continue
        series = get(f, "series")
        sev = count_category(get(f, "status", default=""), get(f, "severity", default=""))
        why = get(f, "message", default="")
        extra = " · ".join(x for x in (get(f, "rationale"), get(f, "source") and f"source: {f['source']}") if x)
        rows.append([
            esc(context), esc(get(f, "sequence", default="")),
            esc(series_names.get(series, series) if series else "—"),
            f'<span class="mono">{esc(get(f, "parameter", default="") or get(f, "check_id", default=""))}</span>',
            esc(get(f, "expected", default="")),
            esc(get(f, "found")) if get(f, "found") is not None else '<span class="muted">unknown</span>',
            f'<span data-sort="{_SEV_RANK.get(sev, 0)}">{badge(sev)}</span>'
            + (f' {badge(get(f, "status"))}' if get(f, "status") == "missing" else ""),
            esc(why) + (f'<br><span class="small muted">{esc(extra)}</span>' if extra else ""),
            esc(get(f, "advice", default="")),
        ])
    return rows


FINDING_HEADERS = ["Exam", "Sequence", "Series", "Parameter", "Expected", "Found", "Severity", "Why", "Advice"]


def _series_names(exam: dict[str, Any]) -> dict[str, str]:
    names = {}
    for s in as_list(get(exam, "series")):
        num = get(s, "series_number")
        names[get(s, "id", default="")] = (f"#{num} " if num is not None else "") + str(get(s, "description", default=""))
    return names


def _exam_label(exam: dict[str, Any]) -> str:
    parts = [get(exam, "site"), get(exam, "subject"), get(exam, "session") or get(exam, "visit")]
    return " / ".join(str(p) for p in parts if p) or str(get(exam, "exam_id", default="exam"))


def _check_matrix(exams: list[dict[str, Any]]) -> str:
    seq_ids: list[str] = []
    for e in exams:
        for s in as_list(get(e, "sequences")):
            if get(s, "id") not in seq_ids:
                seq_ids.append(get(s, "id"))
    head = "".join(f'<th class="colh">{esc(s)}</th>' for s in seq_ids)
    rows = []
    for e in exams:
        by_id = {get(s, "id"): s for s in as_list(get(e, "sequences"))}
        cells = []
        for sid in seq_ids:
            seq = by_id.get(sid) or {}
            st = get(seq, "status", default="none")
            tone = sequence_tone(st, str(get(seq, "requirement", default="")), as_list(get(seq, "findings")))
            short = _short_status(st)
            if tone == "warn":
                short = "! missing" if st == "missing" else "! warnings"
            cls = _TONE_CLASS[tone] if seq else _cls(st)
            cells.append(f'<td class="cell {cls}" title="{esc(sid)}: {esc(status_label(st))}">'
                         f'{esc(short)}</td>')
        rows.append(f'<tr><th class="rowh">{esc(_exam_label(e))}</th>'
                    f'<td>{badge(get(e, "verdict"))}</td>{"".join(cells)}</tr>')
    return (f'<table class="matrix sortable filterable" id="matrix"><thead><tr><th>Exam</th><th>Verdict</th>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table>' + _matrix_legend())


def _cls(status: str) -> str:
    from protocheck.reports.html_base import status_class
    return status_class(status)


def _short_status(status: str) -> str:
    return {"compliant": "✓ ok", "deviating": "✗ deviates", "missing": "✗ missing", "cannot_verify": "? unknown",
            "absent_optional": "– optional", "none": "–", "warnings": "! warnings", "qualified": "✓ qualified",
            "qualified_with_conditions": "! conditions", "not_qualified": "✗ not qualified"}.get(
                str(status), status_label(status))


def _matrix_legend() -> str:
    return ('<p class="legend">' + badge("compliant", "✓ compliant")
            + badge("warnings", "! warnings only, or recommended sequence missing")
            + badge("deviating", "✗ error, or required sequence missing")
            + badge("cannot_verify", "? could not verify")
            + badge("absent_optional", "– optional, absent") + "</p>")


def _inventory_from_exams(exams: list[dict[str, Any]]) -> str:
    counts: Counter[tuple[str, str, str]] = Counter()
    for e in exams:
        for s in as_list(get(e, "series")):
            counts[(str(get(e, "site", default="") or ""), str(get(s, "manufacturer", default="?")),
                    str(get(s, "model", default="?")))] += 1
    rows = [[esc(site or "—"), esc(man), esc(model), str(n)] for (site, man, model), n in sorted(counts.items())]
    return table(["Site", "Manufacturer", "Model", "Series"], rows, numeric=(3,), table_id="inventory")


def _exam_series_table(exam: dict[str, Any]) -> str:
    matched = {get(m, "series"): m for m in as_list(get(exam, "matches"))}
    support = {get(m, "series"): m for m in as_list(get(exam, "support"))}
    rows = []
    for s in as_list(get(exam, "series")):
        sid = get(s, "id", default="")
        m = matched.get(sid)
        if m:
            use = f'{esc(get(m, "sequence"))}' + (f' <span class="muted">({esc(get(m, "variant"))})</span>'
                                                  if get(m, "variant") else "")
        elif sid in support or get(s, "roles"):
            use = f'<span class="muted">support: {esc(", ".join(as_list(get(s, "roles"))) or "not checked")}</span>'
        else:
            use = '<span class="muted">matched no protocol sequence</span>'
        notes = "; ".join(str(get(n, "message", default="")) for n in as_list(get(s, "notes")))
        rows.append([esc(get(s, "series_number")), esc(get(s, "description")), use,
                     esc(get(s, "manufacturer")), esc(get(s, "model")), esc(get(s, "files")), esc(notes)])
    return table(["#", "Series description", "Used as", "Manufacturer", "Model", "Files", "Notes"], rows,
                 numeric=(0, 5))


def render_check_html(report: dict[str, Any]) -> str:
    """The check report (dict of ``report_to_dict``) as one self-contained HTML page."""
    report = report if isinstance(report, dict) else {}
    exams = [e for e in as_list(get(report, "exams")) if isinstance(e, dict)]
    verdict = str(get(report, "verdict", default="no-exams"))
    head, text = _VERDICT_TEXT.get(verdict, (verdict.upper(), ""))
    summary = get(report, "summary", default={})
    problems = [(e, f) for e in exams for f in _exam_findings(e) if get(f, "status") in _PROBLEM]
    counts = get(summary, "counts") or count_findings(f for e in exams for f in _exam_findings(e))
    lines = [text, f"{len(exams)} exam(s), {get(summary, 'series', default=0)} series; "
                   f"{counts_text(counts)}. Exit code {get(report, 'exit_code', default='?')}."]
    body = [verdict_box(verdict, head, lines),
            '<nav class="toc"><a href="#matrix-h">Matrix</a><a href="#deviations">Deviations</a>'
            '<a href="#series-h">Series</a><a href="#inventory-h">Scanners</a><a href="#skipped">Skipped files</a></nav>',
            '<h2 id="matrix-h">Exam × sequence</h2>', _check_matrix(exams) if exams else '<p class="muted">None.</p>',
            f'<h2 id="deviations">Deviations ({len(problems)})</h2>']
    rows = []
    for e in exams:
        rows += finding_rows(_exam_findings(e), _series_names(e), _exam_label(e))
    body.append(table(FINDING_HEADERS, rows, table_id="findings"))
    body.append('<h2 id="series-h">Series per exam</h2>')
    for e in exams:
        body.append(f'<h3>{esc(_exam_label(e))} {badge(get(e, "verdict"))}</h3>'
                    + meta_line([("folder", get(e, "folder")), ("manufacturer", get(e, "manufacturer"))])
                    + _exam_series_table(e))
    body.append('<h2 id="inventory-h">Scanner inventory</h2>' + _inventory_from_exams(exams))
    skipped = as_list(get(report, "skipped"))
    body.append(f'<h2 id="skipped">Skipped files ({len(skipped)})</h2>')
    body.append(table(["Path", "Kind", "Reason"], ([f'<span class="mono">{esc(get(s, "path"))}</span>',
                                                     esc(get(s, "kind")), esc(get(s, "reason"))]
                                                    for s in skipped[:5000])))
    sub = meta_line([("protocol", protocol_line(get(report, "protocol"))),
                     ("protocol hash", (get(get(report, "protocol"), "hash") or "")[:16]),
                     ("generated", get(report, "generated")), ("inputs", ", ".join(map(str, as_list(get(report, "inputs")))))])
    title = f"protocheck check — {protocol_line(get(report, 'protocol'))}"
    return page(title, "\n".join(body), data={"verdict": verdict, "exams": len(exams)}, subtitle=sub)


def _exam_findings(exam: dict[str, Any]) -> list[dict[str, Any]]:
    out = [f for f in as_list(get(exam, "findings")) if isinstance(f, dict)]
    for s in as_list(get(exam, "sequences")):
        out += [f for f in as_list(get(s, "findings")) if isinstance(f, dict)]
    return out


def render_audit_html(audit: dict[str, Any]) -> str:
    """The multi-site audit (dict of ``audit_to_json``) as one self-contained HTML page."""
    from protocheck.reports.html_audit import render_audit
    return render_audit(audit if isinstance(audit, dict) else {})


def render_certificate_html(cert: dict[str, Any]) -> str:
    """A site qualification certificate (dict of ``Certificate.to_dict``) as one self-contained HTML page."""
    from protocheck.reports.html_cert import render_certificate
    return render_certificate(cert if isinstance(cert, dict) else {})
