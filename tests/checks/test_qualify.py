"""Site qualification on real headers.

Three candidate "sites" are real header-only series of ../shared/data/dicom, read in place, judged against a
small protocol written here (one required 3D T1w with Siemens/GE/Philips variants, one optional rs-fMRI):
- GE SIGNA Pioneer 3D MP-RAGE (dcm_qa_ge)                 -> qualified (GE variant);
- Siemens XA30 T1w tfl at 2 mm (dcm_qa_xa30)               -> qualified with conditions (voxel-size warning);
- Siemens E11 resting-state fMRI only (dcm_qa_stc)          -> not qualified (required T1w missing).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import jsonschema
import pytest

from protocheck.checks.qualify import CONDITIONS, NOT_QUALIFIED, QUALIFIED, inputs_hash, qualify
from protocheck.errors import InputError
from protocheck.model import ScanResult
from protocheck.protocol.loader import load_protocol_text
from protocheck.reports.html import render_certificate_html
from protocheck.resources import load_schema
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

PROTOCOL = """
name: test-qualify
version: "0.1.0"
title: Small T1w qualification protocol (test)
sequences:
  - id: t1w
    description: 3D T1-weighted
    requirement: required
    identify:
      all: [{parameter: MRAcquisitionType, equals: "3D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)t1|mprage"}]
    constraints:
      - {id: field-strength, parameter: MagneticFieldStrength, nominal: 3, tolerance: {absolute: 0.1}, severity: error}
      - {id: voxel-size, parameter: VoxelSize, each: {max: 1.2}, severity: warning, advice: Set 1.0 mm isotropic}
      - {id: flip-angle, parameter: FlipAngle, range: {min: 7, max: 10}, severity: error}
      - {id: repetition-time, parameter: RepetitionTime, range: {min: 1.5, max: 2.5}, severity: error}
    variants:
      - name: Siemens
        when: {Manufacturer: "(?i)siemens"}
        constraints:
          - {id: inversion-time, parameter: InversionTime, nominal: 0.9, tolerance: {absolute: 0.05}, severity: error}
      - name: GE
        when: {Manufacturer: "(?i)^ge"}
        constraints:
          - {id: repetition-time, parameter: RepetitionTime, range: {min: 1.5, max: 2.5}, severity: error}
      - name: Philips
        when: {Manufacturer: "(?i)philips"}
        remove: [repetition-time]
  - id: rsfmri
    description: Resting-state fMRI
    requirement: optional
    identify:
      all: [{parameter: MRAcquisitionType, equals: "2D"}]
      any: [{parameter: SeriesDescription, matches: "(?i)rest|fmri"}]
    constraints:
      - {id: tr, parameter: RepetitionTime, range: {min: 0.5, max: 3}, severity: warning}
"""

SITES = {
    "ge-site": ("dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", QUALIFIED, "GE"),
    "siemens-site": ("dcm_qa_xa30/5_anat-T1w_acq-tfl", CONDITIONS, "Siemens"),
    "fmri-only-site": ("dcm_qa_stc/Siemens/E11/7_Rest_fMRI_AP", NOT_QUALIFIED, None),
}


@pytest.fixture(scope="module")
def protocol():
    return load_protocol_text(PROTOCOL, "test-qualify.yaml")


@pytest.fixture(scope="module")
def scans(dicom_root: Path) -> dict[str, ScanResult]:
    return {site: scan([dicom_root / folder], ScanOptions()) for site, (folder, _, _) in SITES.items()}


@pytest.mark.parametrize("site", sorted(SITES))
def test_real_sites_get_the_expected_verdict(site: str, scans: dict[str, ScanResult], protocol) -> None:
    _, verdict, variant = SITES[site]
    cert = qualify(scans[site], protocol, site, today=_dt.date(2025, 1, 2))
    doc = cert.to_dict()
    jsonschema.validate(doc, load_schema("certificate"))
    assert doc["verdict"] == verdict
    assert doc["exit_code"] == (1 if verdict == NOT_QUALIFIED else 0)
    t1w = next(s for s in doc["sequences"] if s["id"] == "t1w")
    assert t1w["verdict"] == verdict
    assert t1w["variants"] == ["Siemens", "GE", "Philips"]
    assert t1w["variant"] == variant
    assert doc["protocol"] == {"name": "test-qualify", "version": "0.1.0", "sha256": protocol.sha256,
                               "title": "Small T1w qualification protocol (test)"}
    assert len(protocol.sha256) == 64 and doc["issued"] == "2025-01-02"
    assert doc["inputs_sha256"] == inputs_hash(scans[site])


def test_diff_lists_every_parameter_and_conditions_name_the_fix(scans: dict[str, ScanResult], protocol) -> None:
    doc = qualify(scans["siemens-site"], protocol, "siemens-site").to_dict()
    t1w = next(s for s in doc["sequences"] if s["id"] == "t1w")
    by_param = {d["parameter"]: d for d in t1w["diff"]}
    assert set(by_param) >= {"MagneticFieldStrength", "VoxelSize", "FlipAngle", "RepetitionTime", "InversionTime"}
    assert by_param["VoxelSize"]["status"] == "fail" and by_param["VoxelSize"]["severity"] == "warning"
    assert by_param["VoxelSize"]["advice"] == "Set 1.0 mm isotropic"
    assert by_param["InversionTime"]["status"] == "pass"
    assert any("VoxelSize" in c for c in doc["conditions"])
    rs = next(s for s in doc["sequences"] if s["id"] == "rsfmri")
    assert rs["verdict"] == "not_tested"


def test_missing_required_sequence_says_so(scans: dict[str, ScanResult], protocol) -> None:
    doc = qualify(scans["fmri-only-site"], protocol, "fmri-only-site").to_dict()
    t1w = next(s for s in doc["sequences"] if s["id"] == "t1w")
    assert t1w["series"] is None and "No test series matched" in t1w["reasons"][0]
    rs = next(s for s in doc["sequences"] if s["id"] == "rsfmri")
    assert rs["verdict"] == QUALIFIED and rs["series"]["description"] == "Rest_fMRI_AP"


def test_certificate_is_reproducible_and_carries_no_identifiers(scans: dict[str, ScanResult], protocol) -> None:
    day = _dt.date(2025, 1, 2)
    a = qualify(scans["ge-site"], protocol, "ge-site", today=day).to_dict()
    b = qualify(scan([Path(scans["ge-site"].roots[0])], ScanOptions()), protocol, "ge-site", today=day).to_dict()
    assert a == b
    other = qualify(scans["siemens-site"], protocol, "ge-site", today=day).to_dict()
    assert other["inputs_sha256"] != a["inputs_sha256"] and other["certificate_id"] != a["certificate_id"]
    text = repr(a) + render_certificate_html(a)
    for acq in scans["ge-site"].acquisitions():
        assert acq.key not in text            # series UIDs only as hashes
    for exam in scans["ge-site"].exams:
        assert exam.key not in text
        if exam.date:
            assert exam.date.strftime("%Y%m%d") not in text and exam.date.isoformat() not in text


def test_certificate_html_of_a_real_site(scans: dict[str, ScanResult], protocol) -> None:
    html = render_certificate_html(qualify(scans["siemens-site"], protocol, "siemens-site").to_dict())
    assert "QUALIFIED WITH CONDITIONS" in html and "anat-T1w_acq-tfl" in html
    assert "Siemens (of: Siemens, GE, Philips)" in html


def test_nothing_to_judge_is_an_input_error(protocol) -> None:
    with pytest.raises(InputError, match="no MR exam"):
        qualify(ScanResult(roots=["/nowhere"]), protocol, "x")


def test_serial_number_and_series_judged_in_every_format(protocol) -> None:
    """The certificate names the scanner qualified (serial number) and the series each sequence was judged on."""
    import io

    from rich.console import Console

    from protocheck.reports.certificate_console import render_certificate_console

    sample = Path(__file__).resolve().parents[2] / "sample_headers" / "exam"
    doc = qualify(scan([sample], ScanOptions()), protocol, "demo").to_dict()
    jsonschema.validate(doc, load_schema("certificate"))
    assert "0000000000orange" in {s["serial"] for s in doc["scanners"]}          # GE DeviceSerialNumber
    t1w = next(s for s in doc["sequences"] if s["id"] == "t1w")
    assert t1w["series"]["series_number"] == 5 and t1w["series"]["description"] == "3D Ax T1 MP-RAGE_R22"
    buf = io.StringIO()
    render_certificate_console(doc, Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    assert "serial number 0000000000orange" in out and "#5 3D Ax T1 MP-RAGE_R22" in out
    html = render_certificate_html(doc)
    assert "Serial number" in html and "0000000000orange" in html and "#5 3D Ax T1 MP-RAGE_R22" in html
