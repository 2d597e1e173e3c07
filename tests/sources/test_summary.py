"""Federated summaries: no identifiers, schema-validated both ways, audit(summaries) == audit(raw)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from protocheck.checks.audit import build_audit

from protocheck.reports.audit_json import audit_to_json
from protocheck.errors import SourceError
from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions
from protocheck.reports.summary import write_summary
from protocheck.sources.summary import is_summary, load_summary

from tests.checks.test_audit import _study, protocol  # noqa: F401  (fixture)


@pytest.fixture()
def raw(protocol):  # noqa: F811
    from protocheck.checks.compliance import check_exam
    exams = _study()
    for e in exams:
        e.identifiers = {"PatientName": "DOE^JANE", "PatientID": "PID-4711"}
        e.acquisitions[0].acquired_at = dt.datetime(2023, 3, 14, 9, 31)
    return [check_exam(e, protocol) for e in exams]


def _write_sites(raw, protocol, tmp_path):  # noqa: F811
    paths = []
    for site in sorted({r.exam.site for r in raw}):
        path = tmp_path / f"{site}.json"
        write_summary([r for r in raw if r.exam.site == site], ScanResult(n_files_seen=7), path,
                      ScanOptions(pseudonym_key="k"), protocol)
        paths.append(path)
    return paths


def test_summaries_equal_raw_audit(raw, protocol, tmp_path):  # noqa: F811
    paths = _write_sites(raw, protocol, tmp_path)
    loaded = [load_summary(p, ScanOptions()) for p in paths]
    from_results = build_audit([r for s in loaded for r in s.results], protocol)
    assert audit_to_json(from_results) == audit_to_json(build_audit(raw, protocol))
    # re-checking the rebuilt exams gives the same audit too
    from protocheck.checks.compliance import check_exam
    rechecked = build_audit([check_exam(e, protocol) for s in loaded for e in s.exams], protocol)
    assert audit_to_json(rechecked)["findings"] == audit_to_json(from_results)["findings"]


def test_no_identifiers_and_months_only(raw, protocol, tmp_path):  # noqa: F811
    paths = _write_sites(raw, protocol, tmp_path)
    text = "".join(p.read_text() for p in paths)
    for secret in ("DOE", "PID-4711", "2023-03-14", "20230314", "09:31", "A-a1-2023"):
        assert secret not in text
    doc = json.loads(paths[0].read_text())
    assert doc["exams"][0]["month"] == "2023-03" and doc["exams"][0]["visit"] == "v1"
    assert doc["protocol"]["name"] == "tiny-audit" and doc["protocol"]["sha256"]
    assert is_summary(paths[0]) and not is_summary(tmp_path)


def test_parameters_round_trip_with_provenance(raw, protocol, tmp_path):  # noqa: F811
    raw[0].exam.acquisitions[1].set("DiffusionDirectionsPerShell", {1000: 64, 2000: 64}, "derived")
    raw[0].exam.acquisitions[1].set("VoxelSize", (2.0, 2.0, 2.5), "DICOM PixelSpacing")
    path = tmp_path / "one.json"
    write_summary(raw[:1], None, path, ScanOptions(), protocol)
    acq = load_summary(path).exams[0].acquisitions[1]
    assert acq.get("DiffusionDirectionsPerShell") == {1000: 64, 2000: 64}
    assert acq.get("VoxelSize") == (2.0, 2.0, 2.5) and acq.provenance("VoxelSize") == "DICOM PixelSpacing"


def test_invalid_summary_refused_with_place(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "protocheck-summary", "format_version": 1,
                               "protocol": {"name": "x", "version": "1"}, "exams": [{"key": "k"}]}))
    with pytest.raises(SourceError, match=r"bad\.json.*exams/0"):
        load_summary(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "protocheck-summary", ')
    with pytest.raises(SourceError, match="line 1"):
        load_summary(broken)
    with pytest.raises(SourceError, match="cannot read"):
        load_summary(tmp_path / "absent.json")


def test_phi_parameter_refused_on_read(raw, protocol, tmp_path):  # noqa: F811
    path = tmp_path / "s.json"
    write_summary(raw[:1], None, path, ScanOptions(), protocol)
    doc = json.loads(path.read_text())
    doc["exams"][0]["acquisitions"][0]["params"]["PatientName"] = {"value": "DOE^JANE", "source": "x"}
    path.write_text(json.dumps(doc))
    with pytest.raises(SourceError):
        load_summary(path)
