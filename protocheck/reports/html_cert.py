"""The site qualification certificate as one self-contained HTML page (renders ``Certificate.to_dict``)."""

from __future__ import annotations

from typing import Any

from protocheck.reports.certificate_console import series_name
from protocheck.reports.html_base import as_list, badge, esc, fmt, get, meta_line, page, table, verdict_box

_HEAD = {"qualified": "QUALIFIED", "qualified_with_conditions": "QUALIFIED WITH CONDITIONS",
         "not_qualified": "NOT QUALIFIED"}
_TEXT = {"qualified": "The test scans meet every rule of the protocol for this site's scanner(s).",
         "qualified_with_conditions": "No error-level deviation; the conditions below (warnings, values that "
                                      "could not be verified) must be addressed or accepted by the trial.",
         "not_qualified": "At least one required sequence is missing or deviates at error level: "
                          "correct the protocol on the scanner and submit new test scans."}
_SEV = {"error": 3, "warning": 2, "info": 1}


def _diff_table(seq: dict[str, Any]) -> str:
    rows = []
    for d in as_list(get(seq, "diff")):
        status = get(d, "status", default="")
        sev = get(d, "severity", default="")
        shown = status if status != "fail" else sev
        rows.append([f'<span class="mono">{esc(get(d, "parameter") or get(d, "check_id"))}</span>',
                     esc(get(d, "expected")),
                     esc(get(d, "found")) if get(d, "found") is not None else '<span class="muted">unknown</span>',
                     f'<span data-sort="{_SEV.get(sev, 0) if status != "pass" else 0}">{badge(shown, status.replace("_", " ") if status != "fail" else sev)}</span>',
                     esc(get(d, "advice") or (get(d, "message") if status != "pass" else "")),
                     f'<span class="small muted">{esc(get(d, "provenance"))}</span>'])
    return table(["Parameter", "Expected", "Found", "Result", "Advice", "Read from"], rows, cls="sortable")


def _sequences(cert: dict[str, Any]) -> tuple[str, str]:
    summary, details = [], []
    for s in as_list(get(cert, "sequences")):
        series = get(s, "series") or {}
        name = series_name(series) if series else ""
        variants = as_list(get(s, "variants"))
        variant_txt = (get(s, "variant") or "base values") + (f" (of: {', '.join(map(str, variants))})" if variants else "")
        summary.append([esc(get(s, "id")), esc(get(s, "requirement")), badge(get(s, "verdict")),
                        esc(name or "—"), esc(variant_txt if variants else "—"),
                        esc(" ".join(r for r in map(str, as_list(get(s, "reasons"))) if not r.startswith("Vendor variant")))])
        others = as_list(get(s, "other_series"))
        other_txt = ("<p class=\"small muted\">Other test series: " + esc(", ".join(
            f"{get(o, 'description')} ({str(get(o, 'verdict', default='')).replace('_', ' ')})" for o in others)) + "</p>"
                     if others else "")
        details.append(f'<h3 id="seq-{esc(get(s, "id"))}">{esc(get(s, "id"))} — {esc(get(s, "description"))} '
                       f'{badge(get(s, "verdict"))}</h3>'
                       + meta_line([("series", name), ("vendor variant", variant_txt if variants else None)])
                       + other_txt + _diff_table(s))
    tbl = table(["Sequence", "Requirement", "Verdict", "Series judged", "Vendor variant", "Why"], summary,
                table_id="sequences")
    return tbl, "".join(details)


def render_certificate(cert: dict[str, Any]) -> str:
    """The certificate page: verdict, conditions, per-sequence verdicts and diffs, reproducibility block."""
    verdict = str(get(cert, "verdict", default="not_qualified"))
    proto = get(cert, "protocol", default={})
    site = get(cert, "site", default="?")
    lines = [f"Site {site} against {get(proto, 'name', default='?')} {get(proto, 'version', default='')}.",
             _TEXT.get(verdict, "")]
    conditions = as_list(get(cert, "conditions"))
    summary, details = _sequences(cert)
    scanners = [[esc(get(s, "manufacturer")), esc(get(s, "model")), esc(fmt(get(s, "software"))),
                 esc(get(s, "field_strength")), f'<span class="mono">{esc(get(s, "serial") or "unknown")}</span>']
                for s in as_list(get(cert, "scanners"))]
    repro = [("Certificate id", get(cert, "certificate_id")), ("Issued", get(cert, "issued")),
             ("Protocol", f"{get(proto, 'name', default='')} {get(proto, 'version', default='')}"),
             ("Protocol sha256", get(proto, "sha256")), ("protocheck version", get(get(cert, "tool"), "version")),
             ("Inputs sha256 (normalized headers)", get(cert, "inputs_sha256")),
             ("Test exams / series", f"{get(cert, 'exams', default=0)} / {get(cert, 'series', default=0)}"),
             ("Months of the test exams", ", ".join(map(str, as_list(get(cert, "months")))) or "—")]
    body = [verdict_box(verdict, _HEAD.get(verdict, verdict.upper()), lines)]
    if conditions:
        body.append('<h2 id="conditions">Conditions</h2><ul>' + "".join(f"<li>{esc(c)}</li>" for c in conditions) + "</ul>")
    body += ['<h2 id="sequences-h">Sequences</h2>', summary,
             '<h2>Scanner(s) tested</h2>',
             table(["Manufacturer", "Model", "Software", "Field (T)", "Serial number"], scanners, cls=""),
             '<h2>Parameter-by-parameter comparison</h2>', details,
             '<h2 id="reproducibility">Reproducibility</h2>',
             table(["Item", "Value"], ([esc(k), f'<span class="mono">{esc(v)}</span>'] for k, v in repro), cls="")]
    return page(f"Site qualification certificate — {site}", "\n".join(body),
                data={"verdict": verdict, "certificate_id": get(cert, "certificate_id")},
                subtitle=meta_line([("protocol", f"{get(proto, 'name', default='')} {get(proto, 'version', default='')}"),
                                    ("issued", get(cert, "issued"))]))
