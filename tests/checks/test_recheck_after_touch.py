"""Re-checks after files were touched: the report is byte for byte that of a run without any cache, whether the
touched files still read the same (checks and report then come from the cache) or really changed."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from protocheck.cli import main
from protocheck.sources.dicom import refold

SERIES = ("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "dcm_qa_ge/01_Ax_DWI_TENSOR_R2")


@pytest.fixture()
def tree(dicom_root: Path, tmp_path: Path) -> Path:
    """Three real GE series (two exams, 207 files: several index blocks per folder) in a tree the test changes."""
    for series in SERIES:
        shutil.copytree(dicom_root / series, tmp_path / "in" / series)
    return tmp_path / "in"


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def _touch(files: list[Path], step: int = 10**9) -> None:
    for f in files:
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + step))


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture()
def reused(monkeypatch) -> list[bool]:
    """What each changed block gave: True when its stored summary still held (its files read the same)."""
    out: list[bool] = []
    real = refold.Changed.same   # what both the touched-only check and the usual re-check ask
    monkeypatch.setattr(refold.Changed, "same", staticmethod(lambda *a: out.append(real(*a)) or out[-1]))
    return out


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_touched_files_that_read_the_same_give_the_report_of_a_run_without_cache(tree, capsys, monkeypatch,
                                                                                   evaluated, reused, fmt):
    monkeypatch.setenv("COLUMNS", "120")
    first = _run(capsys, "--format", fmt, str(tree))
    assert evaluated, "the first run checks every exam"
    _touch(_files(tree)[::7])                       # new mtimes, same bytes: read again, same content
    evaluated.clear()
    reused.clear()
    again = _run(capsys, "--format", fmt, str(tree))
    assert evaluated == [], "content read the same: checks come from the cache"
    assert reused and all(reused), "every changed block kept its stored summary"
    fresh = _run(capsys, "--format", fmt, "--no-cache", str(tree))
    assert again == fresh == first
    from protocheck.sources.dicom import parallel
    runs: list[int] = []
    monkeypatch.setattr(parallel, "_run", lambda *a: runs.append(1))
    assert _run(capsys, "--format", fmt, str(tree)) == first and runs == [], \
        "the stored snapshot (kept, under the new listing) answers the next, unchanged re-check"
    if fmt == "json":
        assert json.loads(again[1])["exams"]


def test_a_touched_file_whose_echo_time_changed_gives_the_new_finding(tree, capsys, monkeypatch, evaluated):
    import pydicom

    def echo_time_check(text: str) -> str:
        found = [f for e in json.loads(text)["exams"] for s in e["sequences"] for f in s["findings"]
                 if f["check_id"] == "t1w/echo-time"]
        assert len(found) == 1
        return found[0]["status"]

    first = _run(capsys, "--format", "json", str(tree))
    assert echo_time_check(first[1]) == "pass"
    t1 = tree / SERIES[1]
    for f in sorted(t1.iterdir()):                 # the series' TE: 3.172 ms -> 9 ms (protocol: <= 5 ms)
        ds = pydicom.dcmread(f)
        ds.EchoTime = "9.0"
        ds.save_as(f)
    _touch(sorted(t1.iterdir()))
    _touch(_files(tree)[::11])                      # and others that read the same
    evaluated.clear()
    again = _run(capsys, "--format", "json", str(tree))
    assert evaluated, "a changed exam is checked again"
    assert echo_time_check(again[1]) == "fail"
    assert again == _run(capsys, "--format", "json", "--no-cache", str(tree))
    assert again[1] != first[1]


def test_one_changed_file_among_touched_ones_refolds_its_block_only(tree, capsys, evaluated, reused):
    import pydicom

    first = _run(capsys, "--format", "json", str(tree))
    dwi = sorted((tree / SERIES[0]).iterdir())
    ds = pydicom.dcmread(dwi[20])                   # not the series' first file: a per-file value changes
    ds.InstanceNumber = 999                         # (a gap in the instance numbers: a note in the report)
    ds.save_as(dwi[20])
    _touch([dwi[20]])
    _touch(_files(tree)[::5])
    evaluated.clear()
    reused.clear()
    again = _run(capsys, "--format", "json", str(tree))
    assert True in reused and False in reused, "the changed file's block is folded again, the others are kept"
    assert evaluated, "its exam is checked again"
    assert again == _run(capsys, "--format", "json", "--no-cache", str(tree))
    assert again[1] != first[1]


def test_content_digest_does_not_depend_on_the_process(dicom_root):
    # string hashes (set order) change from process to process: the digest of the same content must not
    import subprocess
    import sys
    code = ("import sys; from protocheck.sources import scan; from protocheck.sources.options import ScanOptions; "
            "from protocheck.storage.index import scan_content_digest; "
            "print(scan_content_digest(scan([sys.argv[1]], ScanOptions(workers=1))).hex())")
    digests = {subprocess.run([sys.executable, "-c", code, str(dicom_root / "dcm_qa_ge")], capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": seed}, check=True).stdout
               for seed in ("1", "2", "3")}
    assert len(digests) == 1 and len(digests.pop().strip()) == 32


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_garbage_collector_paused_by_a_recheck_only_in_the_main_process_and_only_meanwhile(tree, capsys):
    import gc

    from protocheck.sources.dicom import parallel
    _run(capsys, str(tree))
    _touch(_files(tree)[::9])
    _run(capsys, str(tree))
    assert gc.isenabled()
    assert parallel._pause_gc(True) and not gc.isenabled()
    try:
        pid = os.fork()
        if pid == 0:   # a worker forked meanwhile collects as usual
            os._exit(0 if gc.isenabled() else 1)
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        parallel._resume_gc()
    assert gc.isenabled() and not parallel._pause_gc(False)
