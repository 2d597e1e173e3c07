"""The audit drops nothing: every error and warning ``check`` reports on spine-generic reaches the audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocheck.checks.audit import build_audit
from protocheck.checks.compliance import check_scan
from protocheck.checks.results import Severity
from protocheck.protocol import load_protocol
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions
from protocheck.sources.sites import assign_sites


@pytest.fixture(scope="module")
def checked(spine_generic: Path):
    if not spine_generic.is_dir():
        pytest.skip("spine-generic data not available")
    options = ScanOptions()
    result = scan([spine_generic], options)
    assign_sites(result, None, options)
    protocol = load_protocol("als-spinal-cord")
    results = check_scan(result, protocol)
    return results, build_audit(results, protocol)


def _check_problems(results) -> set[tuple[str, str, str]]:
    """(site, subject, check id) of every error/warning problem of ``check``."""
    out = set()
    for r in results:
        for f in r.all_findings():
            if f.is_problem and f.severity in (Severity.ERROR, Severity.WARNING):
                out.add((r.exam.site, r.exam.subject, f.check_id, f.severity.value))
    return out


def test_every_check_error_and_warning_reaches_the_audit(checked):
    results, audit = checked
    reported = set()
    for f in audit.findings:
        for cid in f.check_ids:
            reported.add((f.site, f.subject, cid))
    # check's "<seq>/present" (no series matched) is the audit's completeness finding "<seq>/missing"
    expected = {(site, subject, cid.replace("/present", "/missing")) for site, subject, cid, _ in _check_problems(results)}
    missing = expected - reported
    assert not missing, sorted(missing)[:10]


def test_audit_and_check_report_the_same_sites_with_errors(checked):
    results, audit = checked
    check_sites = {site for site, _, _, sev in _check_problems(results) if sev == "error"}
    audit_sites = {f.site for f in audit.site_findings if f.severity == "error"}
    assert {"balgrist", "milan"} <= check_sites          # the MT-pair errors (MT-on TR 39 / 41 ms, MT-off 35 ms)
    assert audit_sites == check_sites


def test_mt_pair_errors_are_in_the_site_findings(checked):
    _, audit = checked
    mt = {(f.site, f.parameter) for f in audit.site_findings if f.kind == "compliance" and f.severity == "error"
          and (f.parameter or "").startswith("mt-pair")}
    assert ("balgrist", "mt-pair: RepetitionTime") in mt and ("milan", "mt-pair: RepetitionTime") in mt
