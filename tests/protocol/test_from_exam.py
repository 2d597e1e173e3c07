"""protocheck protocols new --from-exam: a protocol written from a golden exam passes that exam and fails it once
its TR changes (each shared vendor exam, and the bundled demo exam)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from protocheck.checks.compliance import check_scan
from protocheck.cli import main
from protocheck.protocol.loader import load_protocol
from protocheck.reports.json_report import report_to_dict
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

REPO = Path(__file__).resolve().parents[2]
VENDOR_EXAMS = {   # one exam per vendor among the shared headers (the GE exam's series lie in three folders)
    "Siemens": ["dcm_qa_xa30"],
    "GE": ["dcm_qa_ge/01_Ax_DWI_TENSOR_R2", "dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22"],
    "Philips": ["dcm_qa_philips_enh"],
    "Canon": ["dcm_qa_canon_61/enh"],
}


@pytest.fixture(params=[*VENDOR_EXAMS, "sample_headers"])
def golden(request, dicom_root: Path) -> tuple[str, list[str]]:
    if request.param == "sample_headers":
        return "GE", [str(REPO / "sample_headers" / "exam")]
    return request.param, [str(dicom_root / p) for p in VENDOR_EXAMS[request.param]]


def _new(tmp_path: Path, paths: list[str], *extra: str) -> Path:
    out = tmp_path / "golden.yaml"
    assert main(["protocols", "new", "--from-exam", *paths, "-o", str(out), *extra]) == 0
    return out


def test_the_golden_exam_passes_its_protocol(golden, tmp_path, capsys):
    vendor, paths = golden
    proto_file = _new(tmp_path, paths)
    doc = yaml.safe_load(proto_file.read_text())
    assert doc["sequences"] and all(s["constraints"] for s in doc["sequences"])
    variants = [v["name"] for s in doc["sequences"] for v in s.get("variants", [])]
    assert all(name.lower().startswith(vendor.lower()[:2]) for name in variants)
    assert any(s.get("variants") for s in doc["sequences"]), "vendor-specific values go into the vendor's variant"
    capsys.readouterr()
    code = main(["check", "--no-cache", "--format", "json", "--protocol", str(proto_file), *paths])
    report = json.loads(capsys.readouterr().out)
    problems = [f for e in report["exams"] for s in e["sequences"] for f in s["findings"] if f["status"] != "pass"]
    assert code == 0, problems
    exam, = report["exams"]
    assert {s["status"] for s in exam["sequences"]} == {"compliant"}
    assert len(exam["sequences"]) == len(doc["sequences"])


def test_a_changed_tr_fails(golden, tmp_path):
    _, paths = golden
    protocol = load_protocol(str(_new(tmp_path, paths)))
    result = scan(paths, ScanOptions())
    acq = next(a for a in result.acquisitions() if a.get("RepetitionTime") and not a.roles & {"localizer", "derived"})
    acq.set("RepetitionTime", acq.get("RepetitionTime") * 1.25, "test: TR changed")
    report = report_to_dict(check_scan(result, protocol), result, protocol)
    failed = [f for e in report["exams"] for s in e["sequences"] for f in s["findings"] if f["status"] == "fail"]
    assert report["exit_code"] == 1
    assert [f["parameter"] for f in failed] == ["RepetitionTime"] and failed[0]["severity"] == "error"


def test_without_vendor_variants_everything_is_in_the_base(tmp_path, dicom_root):
    doc = yaml.safe_load(_new(tmp_path, [str(dicom_root / "dcm_qa_canon_61/enh")], "--no-vendor-variants",
                              "--name", "My Golden").read_text())
    assert doc["name"] == "my-golden"
    assert not any(s.get("variants") for s in doc["sequences"])
    assert any(c["parameter"] == "RepetitionTime" for s in doc["sequences"] for c in s["constraints"])


def test_several_exams_are_refused(tmp_path, dicom_root, capsys):
    assert main(["protocols", "new", "--from-exam", str(dicom_root / "dcm_qa_ge"), "-o", str(tmp_path / "p.yaml")]) == 2
    assert "a golden exam is one exam" in capsys.readouterr().err
    assert not (tmp_path / "p.yaml").exists()


def test_an_empty_folder_is_refused(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["protocols", "new", "--from-exam", str(tmp_path / "empty")]) == 2
    assert "no MR exam" in capsys.readouterr().err
