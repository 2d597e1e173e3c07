"""An incomplete series (a truncated file, a missing file) is part of the verdict, with the advice to re-export.

Real GE DWI headers (dcm_qa_ge/01_Ax_DWI_TENSOR_R2, 14 files) are copied to a temporary folder; one file is cut
in half (a transfer that stopped) or removed (an export that lost an image).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from protocheck.checks.compliance import check_scan
from protocheck.results import Severity, Status
from protocheck.protocol.loader import load_protocol
from protocheck.sources import scan

SERIES = "dcm_qa_ge/01_Ax_DWI_TENSOR_R2"


@pytest.fixture
def dwi_copy(dicom_root: Path, tmp_path: Path) -> Path:
    out = tmp_path / "dwi"
    shutil.copytree(dicom_root / SERIES, out)
    for f in out.iterdir():
        f.chmod(0o644)
    return out


def _dti(folder: Path):
    (res,) = check_scan(scan([folder]), load_protocol("als-brain-3t"))
    dti = next(s for s in res.sequences if s.sequence == "dti")
    return res, dti, [f for f in dti.findings if f.check_id == "dti/complete-series"]


def _middle(folder: Path) -> Path:
    return sorted(folder.iterdir(), key=lambda p: int(p.name.rsplit(".", 1)[1]))[6]


def test_complete_series_has_no_such_finding(dwi_copy):
    _, _, found = _dti(dwi_copy)
    assert found == []


def test_truncated_file_is_an_error_with_re_export_advice(dwi_copy):
    cut = _middle(dwi_copy)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    res, dti, (f,) = _dti(dwi_copy)
    assert f.status is Status.FAIL and f.severity is Severity.ERROR
    assert "13 files read" in f.found and cut.name in f.found
    assert "Re-export" in f.advice
    assert dti.status == "deviating" and res.verdict == "deviations"


def test_missing_file_is_a_warning(dwi_copy):
    _middle(dwi_copy).unlink()
    res, dti, (f,) = _dti(dwi_copy)
    assert f.severity is Severity.WARNING and "13 files read" in f.found and "gap" in f.found
    assert "Re-export" in f.advice
    assert dti.status == "deviating"
