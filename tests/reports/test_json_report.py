"""The JSON report's text (C-encoded leaves, streamed exams) carries exactly what json.dumps(indent=2) carried."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from protocheck.checks.compliance import check_scan
from protocheck.cli import main
from protocheck.protocol.loader import load_protocol
from protocheck.reports.json_report import json_chunks, render_json, report_to_dict
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

REPO = Path(__file__).resolve().parents[2]


def _same(report: dict, text: str) -> None:
    assert text.endswith("}\n")
    assert json.loads(text) == json.loads(json.dumps(report, indent=2, ensure_ascii=False))


@pytest.fixture(scope="module")
def shared_scan(dicom_root):
    result = scan([str(dicom_root)], ScanOptions(workers=1))
    return result, check_scan(result, load_protocol("als-brain-3t"))


def test_report_of_the_shared_dicom_data_has_the_content_of_json_dumps(shared_scan):
    result, findings = shared_scan
    report = report_to_dict(findings, result, load_protocol("als-brain-3t"), include_identifiers=True)
    assert len(report["exams"]) > 20
    _same(report, render_json(report))


def test_lazy_report_streamed_equals_the_whole_report(shared_scan):
    result, findings = shared_scan
    whole = report_to_dict(findings, result, None)
    lazy = report_to_dict(findings, result, None, lazy=True)
    assert not isinstance(lazy["exams"], list), "exams are built while they are written"
    text = render_json(lazy)
    assert text == render_json(whole)
    _same(whole, text)


@pytest.mark.parametrize("value", [
    {}, [], {"a": {}, "b": [], "c": [[]], "d": {"e": {"f": {"g": {"h": [1, {"i": []}]}}}}},
    {"naïve ✓": "Zürich \u2028 \x00 \x1f \"quoted\" \\ back", "n": None, "t": True, "f": False},
    {"floats": [0.1, -0.0, 1e16, 1.5e-7, 123456789.123456], "ints": [0, -1, 2 ** 70]},
    [[[[[["deep"]]]]]], {"k": [{"x": 1}, {"y": [2, 3]}, "s", 4.5, None]},
])
def test_awkward_values_keep_their_content(value):
    text = "".join(json_chunks(value))
    assert json.loads(text) == value
    assert json.dumps(json.loads(text), indent=2) == json.dumps(value, indent=2)


def test_nan_is_written_as_json_dumps_writes_it():
    text = "".join(json_chunks({"x": [math.nan, math.inf]}))
    assert text.replace(" ", "").replace("\n", "") == json.dumps({"x": [math.nan, math.inf]}).replace(" ", "")


def test_cli_json_report_to_file_is_valid_and_complete(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["check", "--format", "json", "-o", str(out), str(REPO / "sample_headers" / "exam")])
    assert code == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["exams"]) == 1 and report["exams"][0]["sequences"]
    assert main(["check", "--format", "json", str(REPO / "sample_headers" / "exam")]) == 1
    assert json.loads(capsys.readouterr().out) == report


def test_cli_json_streamed_then_served_from_the_report_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    exam = str(REPO / "sample_headers" / "exam")
    assert main(["check", "--format", "json", exam]) == 1
    first = capsys.readouterr().out
    assert main(["check", "--format", "json", exam]) == 1      # the stored (compressed) text, unchanged
    assert capsys.readouterr().out == first
    assert main(["check", "--format", "json", "-o", str(tmp_path / "r.json"), exam]) == 1
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == first
    assert json.loads(first)["exams"][0]["sequences"]
