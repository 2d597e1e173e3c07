"""The whole path, command line to exit code, on real files (sample_headers and ../shared)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from protocheck.cli import main
from protocheck.resources import load_schema

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_headers" / "exam"


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["check", "--format", "json", *argv])
    out = capsys.readouterr().out
    report = json.loads(out)
    jsonschema.validate(report, load_schema("report"))
    return code, report


def sequences(report: dict, exam: int = 0) -> dict[str, dict]:
    return {s["id"]: s for s in report["exams"][exam]["sequences"]}


def test_sample_headers_report(capsys):
    code, report = run_json(capsys, str(SAMPLE))
    assert code == 1, "FLAIR is missing and DTI has 6 directions: deviations at error severity"
    assert len(report["exams"]) == 1
    seqs = sequences(report)
    assert seqs["t1w"]["status"] in ("compliant", "deviating")
    assert seqs["t1w"]["series"], "the 3D T1 series must be matched to t1w"
    assert seqs["dti"]["status"] == "deviating"
    assert seqs["flair"]["status"] == "missing"
    dti_fail = [f for f in seqs["dti"]["findings"] if f["status"] == "fail"]
    assert any("Direction" in (f["parameter"] or "") for f in dti_fail)
    support = report["exams"][0]["support"]
    assert any("Localizer" in m["description"] for m in support), "the localizer is listed, not checked"


def test_sample_headers_console_is_readable(capsys):
    code = main(["check", str(SAMPLE)])
    out = capsys.readouterr().out
    assert code == 1
    assert "Verdict: DEVIATIONS" in out
    assert "missing" in out and "FLAIR" in out
    assert "DEMO^PARTICIPANT" not in out and "ALS-DEMO-017" not in out


def test_quiet_prints_only_verdicts(capsys):
    code = main(["check", "--quiet", str(SAMPLE)])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert code == 1
    assert len(lines) == 2 and lines[-1].startswith("Verdict:")


def test_tsv_has_one_row_per_finding(capsys):
    assert main(["check", "--format", "tsv", str(SAMPLE)]) == 1
    rows = capsys.readouterr().out.splitlines()
    header = rows[0].split("\t")
    assert header[:3] == ["exam_id", "subject", "site"]
    assert any("\tflair\t" in r and "\tmissing\t" in r for r in rows[1:])


def test_identifiers_only_with_opt_in(capsys):
    _, report = run_json(capsys, str(SAMPLE))
    assert "ALS-DEMO-017" not in json.dumps(report)
    _, report = run_json(capsys, "--include-identifiers", str(SAMPLE))
    assert "ALS-DEMO-017" in json.dumps(report)


def test_inspect_json_lists_every_series(capsys):
    assert main(["inspect", "--format", "json", "--provenance", str(SAMPLE)]) == 0
    series = json.loads(capsys.readouterr().out)
    assert len(series) == 3
    t1 = next(s for s in series if s["SeriesNumber"] == 5)
    assert t1["folder"] == "05_3D_T1"
    assert t1["MRAcquisitionType"] == "3D"
    assert t1["InversionTime"] == pytest.approx(1.0)
    assert t1["VoxelSize"] == pytest.approx([0.9375, 0.9375, 1.2], abs=1e-3)
    assert "0018,0082" in t1["provenance"]["InversionTime"]
    dwi = next(s for s in series if s["SeriesNumber"] == 1)
    assert dwi["NumberOfB0Volumes"] >= 1
    assert set(dwi["DiffusionShells"]) == {1000}


def test_missing_path_exits_2(capsys, tmp_path):
    assert main(["check", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_empty_folder_exits_2(capsys, tmp_path):
    assert main(["check", str(tmp_path)]) == 2


def test_unknown_protocol_exits_2(capsys):
    assert main(["check", "--protocol", "no-such-protocol", str(SAMPLE)]) == 2
    assert "no-such-protocol" in capsys.readouterr().err


def test_output_inside_input_is_refused(capsys, tmp_path):
    exam = tmp_path / "exam"
    exam.mkdir()
    assert main(["check", "--format", "json", "-o", str(exam / "report.json"), str(exam)]) == 2
    assert "inside the input tree" in capsys.readouterr().err
    assert not (exam / "report.json").exists()


@pytest.mark.parametrize("folder, sequence", [
    ("dcm_qa_xa30/5_anat-T1w_acq-tfl", "t1w"),                 # Siemens XA enhanced T1w
    ("dcm_qa_xa30/10_DWI_dir80_PA", "dti"),                     # Siemens XA enhanced DWI
    ("dcm_qa_sag/4_DWI_SagAPmosaic", "dti"),                    # Siemens E11 classic mosaic DWI
    ("dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "t1w"),               # GE classic
    ("dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax", "dti"),   # Philips classic DWI
    ("dcm_qa_philips_enh/cl/SN1301_458288", "t1w"),             # Philips classic 3D T1
    ("dcm_qa_canon_61/enh/SN3000_343001", "dti"),               # Canon enhanced DWI
])
def test_real_series_matched_and_checked(capsys, dicom_root, folder, sequence):
    code, report = run_json(capsys, str(dicom_root / folder))
    assert code == 1, "single series: required sequences are missing"
    seqs = sequences(report)
    assert seqs[sequence]["series"], f"{folder} must match {sequence}"
    assert seqs[sequence]["status"] in ("compliant", "deviating", "cannot_verify")
    assert any(f["status"] == "pass" for f in seqs[sequence]["findings"]), "some values must be verified"
    missing = {s for s, v in seqs.items() if v["status"] == "missing"}
    assert sequence not in missing


def test_localizer_and_derived_never_matched(capsys, dicom_root):
    paths = [str(dicom_root / p) for p in ("dcm_qa_xa30i/2001_AAHead_Scout", "dcm_qa_xa30/11_DWI_dir80_PA",
                                            "dcm_qa_xa30/13_DWI_dir80_PA")]
    _, report = run_json(capsys, *paths)
    for exam in report["exams"]:
        assert not exam["matches"], "a localizer or a derived map is never a protocol acquisition"
        assert exam["support"], "and it is listed with the reason"


def test_several_exams_get_a_site_summary(capsys, dicom_root):
    code = main(["check", "--site-from", "InstitutionName", str(dicom_root / "dcm_qa_ge/01_Ax_DWI_TENSOR_R2"),
                 str(dicom_root / "dcm_qa_nih/20180918GE/mr_0004")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("Exam: subject") == 2, "two studies are two exams"
    assert "Sessions compliant per site and sequence" in out
    assert "all sites" in out


def test_verbose_lists_passed_checks(capsys):
    main(["check", "-v", str(SAMPLE)])
    out = capsys.readouterr().out
    assert "protocol requires 2.8–3.1 T: OK" in out
    assert "matched #5 3D Ax T1 MP-RAGE_R22 → t1w" in out


def test_site_summaries_feed_the_audit(capsys, tmp_path, dicom_root):
    for site, folder in (("siteA", "dcm_qa_ge"), ("siteB", "dcm_qa_xa30")):
        main(["check", "--quiet", "--site", site, "--summary", str(tmp_path / f"{site}.json"),
              str(dicom_root / folder)])
    capsys.readouterr()
    code = main(["audit", "--format", "json", str(tmp_path / "siteA.json"), str(tmp_path / "siteB.json")])
    audit = json.loads(capsys.readouterr().out)
    assert code == 1
    assert audit["sites"] == ["siteA", "siteB"]



def test_progress_line_on_a_terminal_shows_files_series_and_rate(monkeypatch):
    import rich.progress

    from protocheck import cli_progress
    from protocheck.sources.options import ScanOptions
    shown: list[str] = []
    real_update = rich.progress.Progress.update
    monkeypatch.setattr(rich.progress.Progress, "update",
                        lambda self, task, **kw: shown.append(kw.get("description", "")) or real_update(self, task, **kw))
    monkeypatch.setattr(cli_progress.sys.stderr, "isatty", lambda: True)
    options = ScanOptions()
    with cli_progress.progress_line(options):
        options.progress(12_000, 3, "a/b")
    assert options.progress is None
    assert shown and shown[-1].startswith("reading headers: 12,000 files, 3 series, ") and shown[-1].endswith(" files/s")


def test_output_to_a_fifo_or_device_is_written_into_not_replaced(tmp_path):
    """``-o /dev/null`` (or a FIFO) must never be renamed over: as root that turned /dev/null into a regular file
    for the whole machine. The report is written into the special file, which stays what it was."""
    import stat
    import threading

    from protocheck.outputs import write_atomic
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    write_atomic(fifo, iter(["a report ", "in blocks"]))
    reader.join(10)
    assert got == [b"a report in blocks"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]   # no temporary file left beside it
    write_atomic(os.devnull, "nothing")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
