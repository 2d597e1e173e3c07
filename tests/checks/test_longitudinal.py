"""Longitudinal rules over real headers: a subject's follow-ups on upgraded software and on another scanner.

The visits are built from real spine-generic sidecars (dcm2niix output of real scanner headers), copied into a
small BIDS dataset with sessions: subject 01 is scanned at baseline on the UC Davis Vida with software XA11
(sub-ucdavis07), at follow-up 1 on the same Vida upgraded to XA20 (sub-ucdavis06), and at follow-up 2 on
another Siemens Prisma (sub-barcelona01); subject 02 has two visits with identical headers (sub-ucdavis04).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from protocheck.checks.audit import build_audit
from protocheck.checks.compliance import check_scan
from protocheck.protocol import load_protocol
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

VISITS = {("01", "01"): "ucdavis07", ("01", "02"): "ucdavis06", ("01", "03"): "barcelona01",
          ("02", "01"): "ucdavis04", ("02", "02"): "ucdavis04"}


def _copy_visit(src: Path, dest: Path, subject: str, session: str, source: str) -> None:
    """Copy one spine-generic subject's anat/dwi files as sub-<subject>/ses-<session> (names renamed)."""
    for folder in ("anat", "dwi"):
        out = dest / f"sub-{subject}" / f"ses-{session}" / folder
        out.mkdir(parents=True)
        for f in sorted((src / f"sub-{source}" / folder).iterdir()):
            name = f.name.replace(f"sub-{source}", f"sub-{subject}_ses-{session}")
            shutil.copyfile(f, out / name)


@pytest.fixture(scope="module")
def audit(spine_generic: Path, tmp_path_factory: pytest.TempPathFactory):
    if not spine_generic.is_dir():
        pytest.skip("spine-generic data not available")
    root = tmp_path_factory.mktemp("longitudinal")
    (root / "dataset_description.json").write_text(json.dumps({"Name": "longitudinal", "BIDSVersion": "1.8.0"}))
    for (subject, session), source in VISITS.items():
        _copy_visit(spine_generic, root, subject, session, source)
    protocol = load_protocol("als-spinal-cord")
    results = check_scan(scan([root], ScanOptions()), protocol)
    return build_audit(results, protocol)


def test_follow_ups_found_at_subject_and_visit_and_nothing_else(audit):
    found = sorted((f.subject, f.visit, f.check_ids[0], f.severity)
                   for f in audit.findings if f.kind == "longitudinal")
    assert found == [("01", "02", "longitudinal/software", "warning"),
                     ("01", "03", "longitudinal/scanner", "error")]


def test_scanner_change_names_the_software_that_came_with_it(audit):
    scanner = next(f for f in audit.findings if f.check_ids == ["longitudinal/scanner"])
    assert "175872" in scanner.message and "167044" in scanner.message
    assert "software" in scanner.message     # folded into the scanner change, not a separate finding


def test_longitudinal_findings_reach_site_findings(audit):
    lines = [f for f in audit.site_findings if f.kind == "longitudinal"]
    assert sorted(f.severity for f in lines) == ["error", "warning"]
