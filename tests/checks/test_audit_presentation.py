"""Audit for coordinators: scanner model identity, site-level findings, flagged-only console sections."""

from __future__ import annotations

import datetime as dt
import io

import jsonschema
import pytest

from protocheck.checks.audit import build_audit, group_sessions

from protocheck.reports.audit_json import audit_to_json
from protocheck.checks.audit.inventory import build_scanners, model_key, scanner_models, vendor_key
from protocheck.model import Acquisition, Exam
from protocheck.reports.audit_console import cell_text, console_width, render_audit
from protocheck.resources import load_schema

from tests.checks.test_audit import audit, protocol  # noqa: F401  (fixtures)


@pytest.mark.parametrize("a, b", [("Achieva_dStream", "Achieva-dStream"), ("Achieva dStream", "ACHIEVA_DSTREAM"),
                                  ("Prisma_fit", "Prisma-fit"), ("Ingenia_Elition_X", "Ingenia-ElitionX")])
def test_model_names_equal_up_to_case_and_separators(a, b):
    assert model_key(a) == model_key(b)


@pytest.mark.parametrize("a, b", [("Ingenia", "Ingenia_CX"), ("Prisma", "Prisma_fit"),
                                  ("DISCOVERY_MR750", "DISCOVERY_MR750w")])
def test_different_models_stay_different(a, b):
    assert model_key(a) != model_key(b)


def test_vendor_key():
    assert vendor_key("SIEMENS") == vendor_key("Siemens Healthineers") == "siemens"
    assert vendor_key("GE MEDICAL SYSTEMS") == vendor_key("GE") == "ge"
    assert vendor_key("Philips Medical Systems") == "philips" and vendor_key(None) == ""


def _session_exam(site: str, subject: str, model: str, source: str, serial: str | None = None) -> Exam:
    a = Acquisition(key=f"{site}-{subject}-t1", description="T1w", series_number=1)
    a.set("Manufacturer", "Philips", "sidecar Manufacturer")
    a.set("ManufacturersModelName", model, source)
    a.set("DeviceSerialNumber", serial, "sidecar DeviceSerialNumber")
    return Exam(key=f"{site}-{subject}", subject=subject, site=site, date=dt.date(2019, 2, 1), acquisitions=[a])


def _sessions(exams: list[Exam]):
    from protocheck.results import ExamResult
    return group_sessions([ExamResult(exam=e, protocol_name="p", protocol_version="1") for e in exams])


def test_scanners_merge_spellings_and_prefer_header():
    fallback = "participants.tsv column manufacturers_model_name (the sidecar lacks ManufacturersModelName)"
    sessions = _sessions([
        _session_exam("ucl", "ucl01", "Achieva-dStream", fallback),            # only participants.tsv names it
        _session_exam("ucl", "ucl02", "Achieva-dStream", fallback),
        _session_exam("vuiis", "vuiis01", "Achieva_dStream", "sidecar ManufacturersModelName", "17240"),
        _session_exam("tokyo", "tokyo01", "Ingenia_CX", "sidecar ManufacturersModelName", "78091"),
        _session_exam("sherbrooke", "sher01", "Ingenia", "sidecar ManufacturersModelName"),
    ])
    scanners = build_scanners(sessions)
    assert [(e.site, e.sessions) for e in scanners] == [("sherbrooke", 1), ("tokyo", 1), ("ucl", 2), ("vuiis", 1)]
    ucl = next(e for e in scanners if e.site == "ucl")
    assert ucl.model == "Achieva_dStream" and not ucl.model_from_header     # header spelling shown
    models = scanner_models(scanners)
    assert [m["model"] for m in models] == ["Achieva_dStream", "Ingenia", "Ingenia_CX"]
    assert models[0]["sites"] == ["ucl", "vuiis"] and models[0]["sessions"] == 3


def test_one_scanner_row_per_site_and_serial(audit):  # noqa: F811
    a = [e for e in audit.scanners if e.site == "A"]
    assert len(a) == 1 and a[0].software == ["syngo MR XA30", "syngo MR XA60"] and a[0].sessions == 4
    assert a[0].first_seen == "2023-03" and a[0].last_seen == "2023-09"
    assert len(audit.inventory) > len(audit.scanners)          # the configuration view keeps both software rows


def test_site_findings_sorted_and_located(audit):  # noqa: F811
    sf = audit.site_findings
    ranks = [{"error": 3, "warning": 2, "info": 1}[f.severity] for f in sf]
    assert ranks == sorted(ranks, reverse=True)
    b = next(f for f in sf if f.site == "B" and f.kind == "compliance")
    assert (b.sequence, b.parameter, b.sessions, b.site_sessions) == ("t1w", "RepetitionTime", 8, 8)
    assert b.severity == "error" and b.expected and "2" in (b.found or "") and "other sites" in b.detail
    assert not any(f.kind == "harmonization" and f.site == "B" for f in sf)     # folded into the compliance line
    d = next(f for f in sf if f.site == "D")
    assert d.vendor_expected and d.severity == "info"
    c = next(f for f in sf if f.site == "C")
    assert (c.kind, c.sequence, c.sessions, c.site_sessions) == ("missing", "dwi", 1, 2)
    a = next(f for f in sf if f.site == "A")
    assert (a.kind, a.parameter, a.expected, a.found) == ("drift", "SoftwareVersions", "syngo MR XA30",
                                                           "syngo MR XA60")


def test_json_has_new_keys_and_validates(audit):  # noqa: F811
    doc = audit_to_json(audit)
    jsonschema.Draft202012Validator(load_schema("audit")).validate(doc)
    assert len(doc["scanner_models"]) == 2 and doc["site_findings"][0]["severity"] == "error"
    for key in ("inventory", "harmonization", "findings", "matrix"):     # backward compatible
        assert key in doc


def _render(audit_result, **kw) -> str:
    buf = io.StringIO()
    render_audit(audit_result, buf, color=False, width=kw.get("width", 160))
    return buf.getvalue()


def test_console_lists_only_flagged_harmonization_rows(audit):  # noqa: F811
    out = _render(audit)
    assert "t1w RepetitionTime: expected" in out and "2/4 sites agree; 1 differ (B)" in out
    assert "vendor-expected (GE): D" in out
    flagged = out.split("Flagged harmonization rows")[1].split("Scanner inventory")[0]
    rows = [line.split() for line in flagged.splitlines() if line.split()[:1] in (["t1w"], ["dwi"])]
    assert rows and all(r[2] == "B" for r in rows)          # A and C (ok) and D (vendor-expected) are not listed
    assert " ok " not in flagged


def test_console_header_and_site_findings_first(audit):  # noqa: F811
    out = _render(audit)
    assert "4 sites, 16 sessions, 2 scanner models (vendor + model)" in out
    assert out.index("Site-level findings") < out.index("Compliance matrix") < out.index("Cross-site harmonization")
    line = next(x for x in out.splitlines() if "RepetitionTime" in x and x.strip().startswith("error"))
    assert " B " in line and "8/8 sessions" in line and "found 2000 ms (8)" in line
    assert "C (1: c1 v2): missing required dwi" in out


def test_matrix_cells_compact_and_full_headers(audit):  # noqa: F811
    from protocheck.checks.audit import MatrixCell
    assert cell_text(MatrixCell("s", "q", compliant=5)).plain == "5/5"
    assert cell_text(MatrixCell("s", "q", deviating=5)).plain == "0/5 ✘5"
    assert cell_text(MatrixCell("s", "q", compliant=3, cannot_verify=1, missing=1)).plain == "3/5 ?1 –1"
    assert cell_text(MatrixCell("s", "q", absent_optional=6)).plain == "○"
    assert cell_text(MatrixCell("s", "q", compliant=4, absent_optional=2)).plain == "4/4 ○2"
    out = _render(audit, width=60)
    header = next(x for x in out.splitlines() if x.startswith("site") and "t1w" in x)
    assert "dwi" in header and "…" not in header
    assert "legend:" in out


def test_piped_width(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert console_width(io.StringIO(), None) == 160
    monkeypatch.setenv("COLUMNS", "220")
    assert console_width(io.StringIO(), None) == 220
    assert console_width(io.StringIO(), 90) == 90


def test_spine_generic_scanner_models(spine_generic):
    """Real multi-site BIDS: 14 models by the headers (participants.tsv lists 13: tokyo's Ingenia is Ingenia_CX)."""
    from protocheck.checks.compliance import check_scan
    from protocheck.protocol.loader import load_protocol
    from protocheck.sources import scan
    from protocheck.sources.options import ScanOptions
    from protocheck.sources.sites import assign_sites
    if not (spine_generic / "participants.tsv").is_file():
        pytest.skip("spine-generic dataset not available")
    protocol = load_protocol("als-spinal-cord")
    scanned = scan([spine_generic], ScanOptions())
    assign_sites(scanned, spine_generic, ScanOptions())
    result = build_audit(check_scan(scanned, protocol), protocol)
    models = {(m["vendor"], m["model"]) for m in scanner_models(result.scanners)}
    assert len(result.sites) == 43 and len(result.sessions) == 267
    assert ("Philips", "Ingenia_CX") in models and ("Philips", "Ingenia") in models
    assert ("Philips", "Achieva_dStream") in models and ("Philips", "Achieva-dStream") not in models
    assert len(models) == 14
    tokyo = [e for e in result.scanners if e.site == "tokyo"]
    assert [e.model for e in tokyo] == ["Ingenia_CX"]
    assert len({e.site for e in result.scanners}) == 43


def test_matrix_colour_follows_requirement_and_severity():
    """A missing recommended sequence or warnings-only deviations are yellow; errors and missing required red."""
    from protocheck.checks.audit import MatrixCell
    red, yellow, magenta, green = "red", "yellow", "magenta", "green"
    assert str(cell_text(MatrixCell("s", "q", compliant=3, missing=1), "required").style) == red
    assert str(cell_text(MatrixCell("s", "q", compliant=3, missing=1), "recommended").style) == yellow
    assert str(cell_text(MatrixCell("s", "q", compliant=3, deviating=1), "required", "warning").style) == yellow
    assert str(cell_text(MatrixCell("s", "q", compliant=3, deviating=1), "required", "error").style) == red
    assert str(cell_text(MatrixCell("s", "q", compliant=3, cannot_verify=1)).style) == magenta
    assert str(cell_text(MatrixCell("s", "q", compliant=4)).style) == green


def test_header_counts_are_those_of_the_rows_listed(audit):  # noqa: F811
    """The header counts the site-level findings listed below it, as every report counts them."""
    from protocheck.results import count_findings
    out = _render(audit)
    counts = count_findings(audit.site_findings)
    assert f"{counts['info']} info" in out.splitlines()[2] and f"{counts['warning']} warning" in out.splitlines()[2]
    listed_info = [x for x in out.splitlines() if x.strip().startswith("info ")]
    vendor = sum(1 for f in audit.site_findings if f.vendor_expected)
    assert counts["info"] == len(listed_info) + vendor       # vendor-expected ones are summarised in one line
