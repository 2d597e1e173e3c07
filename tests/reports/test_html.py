"""The HTML renderers on their own (no browser): self-contained, escaped, the parts a reader needs.

The report dicts built here follow ``schemas/report.schema.json`` (check), the audit's JSON and
``schemas/certificate.schema.json``; ``test_html_browser.py`` reuses them in Chromium.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import jsonschema

from protocheck.reports.html import render_audit_html, render_certificate_html, render_check_html
from protocheck.reports.html_base import json_for_script
from protocheck.resources import load_schema

XSS = "<img src=x onerror=alert(1)>"
SCRIPT_BREAK = "</script><script>alert(2)</script>"


def _finding(seq: str, param: str, status: str, severity: str, expected: str, found: str | None,
             series: str | None = "s1") -> dict[str, Any]:
    return {"check_id": f"{seq}/{param.lower()}", "sequence": seq, "status": status, "severity": severity,
            "parameter": param, "series": series, "expected": expected, "found": found,
            "message": f"{param} is {found}, expected {expected}", "advice": f"Set {param} to {expected}",
            "rationale": "comparability across sites", "source": "R16", "provenance": "DICOM (0018,0080)"}


def check_report(hostile: str = XSS) -> dict[str, Any]:
    """A check report dict (schema-valid) with one deviating exam whose series have hostile names."""
    exam = {
        "exam_id": "abc123", "subject": "sub-01", "session": None, "site": "site-a", "visit": "2024-05",
        "folder": "sub-01", "source": "dicom", "manufacturer": "Siemens", "verdict": "deviations",
        "sequences": [
            {"id": "t1w", "description": "3D T1w", "requirement": "required", "status": "deviating",
             "series": ["s1"], "findings": [_finding("t1w", "RepetitionTime", "fail", "error", "2.3 s", "1.8 s"),
                                            _finding("t1w", "FlipAngle", "pass", "error", "9°", "9°")]},
            {"id": "dti", "description": "DTI", "requirement": "required", "status": "missing", "series": [],
             "findings": [_finding("dti", "Sequence", "missing", "error", "a DTI series", None, None)]},
            {"id": "flair", "description": "3D FLAIR", "requirement": "recommended", "status": "compliant",
             "series": ["s2"], "findings": []},
        ],
        "findings": [], "matches": [{"series": "s1", "sequence": "t1w", "reasons": ["3D"], "variant": "Siemens"}],
        "unmatched": [], "support": [],
        "series": [{"id": "s1", "series_number": 2, "description": hostile, "folder": "x", "roles": [], "notes": [],
                    "manufacturer": "Siemens", "model": "Prisma"},
                   {"id": "s2", "series_number": 3, "description": SCRIPT_BREAK, "folder": "y", "roles": [],
                    "notes": [{"code": "n", "message": hostile, "severity": "info"}],
                    "manufacturer": "Siemens", "model": "Prisma"}],
    }
    return {"report_format": "1.0", "tool": {"name": "protocheck", "version": "0.1.0"}, "generated": "2025-01-01",
            "protocol": {"name": "als-test", "version": "1.0.0", "hash": "f" * 64}, "inputs": [hostile],
            "verdict": "deviations", "exit_code": 1,
            "summary": {"exams": 1, "series": 2, "files_seen": 2, "skipped": 1, "findings": {"fail": 1}},
            "exams": [exam], "skipped": [{"path": hostile, "kind": "not-dicom", "reason": "not a DICOM file"}]}


def audit_dict(hostile_site: str = XSS) -> dict[str, Any]:
    """An audit dict: three sites (one hostile name), two vendors, one must-match parameter, one drift event."""
    sites = ["site-a", "site-b", hostile_site]
    matrix = []
    for i, site in enumerate(sites):
        matrix.append({"site": site, "sequence": "t1w", "compliant": 2 - (i == 1), "deviating": int(i == 1),
                       "cannot_verify": 0, "missing": 0, "absent_optional": 0})
        matrix.append({"site": site, "sequence": "dti", "compliant": 1, "deviating": 0, "cannot_verify": 0,
                       "missing": int(i == 2), "absent_optional": 0})
    harm = [{"sequence": "t1w", "parameter": "RepetitionTime", "origin": "protocol must_match", "expected": "2.3 s",
             "consensus": "2.3", "by_vendor": {"Siemens": {"2.3": 3}, "GE": {"2.1": 2}},
             "sites": [{"site": "site-a", "vendor": "Siemens", "variant": None, "values": {"2.3": 2}, "status": "ok"},
                       {"site": "site-b", "vendor": "GE", "variant": "GE", "values": {"2.1": 2}, "status": "differs",
                        "severity": "warning", "reasons": ["2.1 differs from consensus 2.3"]},
                       {"site": hostile_site, "vendor": "Siemens", "variant": None, "values": {"2.3": 1},
                        "status": "ok"}]},
            {"sequence": "t1w", "parameter": "VoxelSize", "origin": "protocol must_match", "expected": "1 × 1 × 1",
             "consensus": "1 × 1 × 1",
             "sites": [{"site": s, "vendor": v, "values": {val: 1}, "status": "ok"}
                       for s, v, val in zip(sites, ["Siemens", "GE", "Siemens"], ["1 × 1 × 1", "1 × 1 × 1.2", "1 × 1 × 1"])]}]
    completeness = [{"site": s, "subject": f"sub-{i}{j}", "visit": f"v{j}", "month": f"2024-0{j + 1}",
                     "missing_required": ["dti"] if (i == 2 and j == 1) else [], "missing_recommended": [],
                     "repeats": {}} for i, s in enumerate(sites) for j in range(2)]
    return {"protocol": {"name": "als-test", "version": "1.0.0", "sha256": "a" * 64}, "sites": sites,
            "sequences": ["t1w", "dti"], "matrix": matrix,
            "inventory": [{"site": s, "vendor": v, "model": "M", "software": "1.0", "field_strength": 3.0,
                           "coil": "HeadNeck_20", "serial": "123", "first_seen": "2024-01", "last_seen": "2024-02",
                           "sessions": 2} for s, v in zip(sites, ["Siemens", "GE", "Siemens"])],
            "harmonization": harm,
            "drift": [{"site": "site-b", "scanner": "GE M 123", "attribute": "SoftwareVersions", "before": "27",
                       "after": "28", "session": "sub-11 v1", "subject": "sub-11", "visit": "v1", "month": "2024-02",
                       "severity": "warning", "straddling": ["sub-10"]}],
            "completeness": completeness,
            "findings": [{"kind": "compliance", "site": "site-b", "severity": "error", "message": "TR deviates",
                          "subject": "sub-10", "visit": "v0", "sequence": "t1w", "parameter": "RepetitionTime"},
                         {"kind": "missing", "site": hostile_site, "severity": "error", "message": hostile_site,
                          "sequence": "dti"},
                         {"kind": "harmonization", "site": "site-a", "severity": "warning", "message": "x"}]}


def certificate_dict() -> dict[str, Any]:
    """A schema-valid certificate dict with conditions and a hostile series name."""
    diff = [{"check_id": "t1w/voxel-size", "parameter": "VoxelSize", "expected": "each ≤ 1.2", "found": "2 × 2 × 2",
             "status": "fail", "severity": "warning", "message": "too coarse", "advice": "Set 1 mm", "source": None,
             "provenance": "DICOM PixelSpacing"},
            {"check_id": "t1w/flip", "parameter": "FlipAngle", "expected": "7–10", "found": "9", "status": "pass",
             "severity": "error", "message": "", "advice": None, "source": None, "provenance": None}]
    return {"certificate_format": "1.0", "certificate_id": "0123456789abcdef",
            "tool": {"name": "protocheck", "version": "0.1.0"}, "site": "site-a", "verdict": "qualified_with_conditions",
            "exit_code": 0, "issued": "2025-01-01",
            "protocol": {"name": "als-test", "version": "1.0.0", "sha256": "b" * 64, "title": "t"},
            "inputs_sha256": "c" * 64, "exams": 1, "series": 1, "months": ["2024-05"],
            "scanners": [{"manufacturer": "Siemens", "model": "Prisma", "software": "XA30", "field_strength": 3.0}],
            "conditions": ["t1w: VoxelSize too coarse"],
            "sequences": [{"id": "t1w", "description": "3D T1w", "requirement": "required",
                           "verdict": "qualified_with_conditions", "reasons": ["VoxelSize: too coarse"],
                           "variants": ["Siemens", "GE"], "variant": "Siemens",
                           "series": {"id": "abc", "description": XSS, "series_number": 5, "variant": "Siemens"},
                           "other_series": [], "diff": diff}]}


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def _assert_self_contained(html: str) -> _Collect:
    parsed = _parse(html)
    assert not re.search(r"(?i)\b(?:https?:)?//[a-z0-9]", html.replace("http://www.w3.org/2000/svg", "")), \
        "no external URL of any kind"
    csp = [a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src 'sha256-" in csp[0]
    assert not any(t in ("img", "iframe", "link", "object", "embed") for t, _ in parsed.tags)
    assert not any(k.startswith("on") for _, a in parsed.tags for k in a), "no inline event handler"
    assert [a.get("type") for t, a in parsed.tags if t == "script"] == ["application/json", None]
    return parsed


def test_check_report_is_self_contained_and_escapes_series_names() -> None:
    report = check_report()
    jsonschema.validate(report, load_schema("report"))
    html = render_check_html(report)
    _assert_self_contained(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert XSS not in html and SCRIPT_BREAK not in html
    assert html.count("</script>") == 2          # only our own two script elements end
    assert 'id="verdict"' in html and "DEVIATIONS" in html
    assert 'id="matrix"' in html and "✗ missing" in html and "✗ deviates" in html
    # the deviation row shows expected, found, severity and advice
    assert "2.3 s" in html and "1.8 s" in html and "Set RepetitionTime to 2.3 s" in html
    assert "@media print" in html


def test_json_in_script_cannot_close_the_element() -> None:
    text = json_for_script({"name": SCRIPT_BREAK, "b": "<!--"})
    assert "</" not in text and "<!--" not in text
    assert json.loads(text) == {"name": SCRIPT_BREAK, "b": "<!--"}


def test_audit_report_has_matrix_plots_timeline_inventory() -> None:
    html = render_audit_html(audit_dict())
    _assert_self_contained(html)
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count('class="strip"') == 2 and html.count('class="timeline"') == 1
    assert html.count('<circle class="dot"') == 6 and html.count('stroke="#cf222e" stroke-width="2"') == 1
    assert html.count('class="drift"') == 1
    assert 'title="site-b · t1w: compliant 1, deviating 1"' in html
    assert "DEVIATIONS FOUND" in html and "HeadNeck_20" in html


def test_audit_renderer_survives_empty_and_odd_input() -> None:
    for bad in ({}, {"matrix": None, "harmonization": [1, "x", None], "drift": "x", "findings": [None]},
                {"harmonization": [{"sites": [{"values": ["a", None]}]}]}):
        html = render_audit_html(bad)
        _assert_self_contained(html)
    assert "<svg" not in render_audit_html({})
    assert "NOTHING CHECKED" in render_check_html({})
    assert "NOT QUALIFIED" in render_certificate_html({})


def test_certificate_page_shows_verdict_diff_and_reproducibility() -> None:
    cert = certificate_dict()
    jsonschema.validate(cert, load_schema("certificate"))
    html = render_certificate_html(cert)
    _assert_self_contained(html)
    assert "QUALIFIED WITH CONDITIONS" in html and "t1w: VoxelSize too coarse" in html
    assert "b" * 64 in html and "c" * 64 in html and "0123456789abcdef" in html
    assert "Siemens (of: Siemens, GE)" in html
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_check_matrix_colours_follow_requirement_and_severity_and_counts_are_shared() -> None:
    """A DTI deviating at warning severity only is yellow (as the legend says), a missing recommended sequence
    yellow, a missing required one red, an optional one grey; the verdict box shows the JSON counts."""
    report = check_report("x")
    exam = report["exams"][0]
    exam["sequences"] += [
        {"id": "dwi", "description": "DTI", "requirement": "required", "status": "deviating", "series": ["s1"],
         "findings": [_finding("dwi", "EchoTime", "fail", "warning", "≤ 110 ms", "123.6 ms")]},
        {"id": "swi", "description": "SWI", "requirement": "recommended", "status": "missing", "series": [],
         "findings": [_finding("swi", "Sequence", "missing", "warning", "a SWI series", None, None)]},
        {"id": "mrs", "description": "MRS", "requirement": "optional", "status": "absent_optional", "series": [],
         "findings": []}]
    report["summary"]["counts"] = {"error": 2, "warning": 2, "info": 0, "cannot_verify": 3, "pass": 1,
                                   "not_applicable": 0}
    page = render_check_html(report)
    cells = dict(re.findall(r'<td class="cell (s-\w+)" title="(\w+):', page)[i][::-1] for i in range(6))
    assert cells == {"t1w": "s-err", "dti": "s-err", "flair": "s-ok", "dwi": "s-warn", "swi": "s-warn",
                     "mrs": "s-na"}
    assert "2 errors, 2 warnings, 0 info, 3 cannot verify" in page
