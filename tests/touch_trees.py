"""Trees for re-check tests (test_touched, test_retimed): two real GE series copied into folders, a spy of what a
re-check reads, touching files (new mtime, same bytes), and re-checks without content stamps."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from protocheck.sources.dicom import parallel, touched

SERIES = ("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22")


@pytest.fixture()
def tree(dicom_root, tmp_path) -> Path:
    """Two real GE series, three folders (one series split over two of them)."""
    root = tmp_path / "in"
    for k, series in enumerate(SERIES):
        for i, f in enumerate(sorted((dicom_root / series).iterdir())[:40]):
            dest = root / f"s{k}" / ("a" if i % 2 or k else "b") / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
    return root


@pytest.fixture()
def spied(monkeypatch) -> dict[str, list]:
    """What each re-check did: the touched-only path's answers, and the files read (by either path)."""
    out: dict[str, list] = {"reuse": [], "reads": []}
    real_reuse, real_read = touched.reuse_snapshot, parallel.read_file

    def reuse(*args):
        out["reuse"].append(real_reuse(*args))
        return out["reuse"][-1]

    def read(rel, *args):
        out["reads"].append(rel)
        return real_read(rel, *args)

    monkeypatch.setattr(touched, "reuse_snapshot", reuse)
    monkeypatch.setattr(touched, "read_file", read)
    monkeypatch.setattr(parallel, "read_file", read)
    return out


@pytest.fixture()
def unstamped(monkeypatch) -> None:
    """No touched file's content stamp holds: each is parsed again (a file without a stamp, or a changed one)."""
    monkeypatch.setattr(touched, "stamp_holds", lambda path, stamp: False)


def touch_files(*files: Path, seconds: int = 1) -> None:
    """New mtimes (``seconds`` later), the same bytes."""
    for f in files:
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


def tree_files(root: Path) -> list[Path]:
    """Every file under ``root``, sorted."""
    return sorted(p for p in root.rglob("*") if p.is_file())
