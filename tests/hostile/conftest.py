"""Fixtures for the hostile-input tests: a scan helper and the real series the corpus is built from."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pydicom
import pytest

import hostile_corpus as corpus


def _collector_available() -> bool:
    try:
        from protocheck.sources.dicom import scan_dicom  # noqa: F401
        from protocheck.sources.dicom.collector import DicomCollector  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def scan():
    """scan_dicom(root) with default options, pydicom warnings silenced; skips until the reader exists."""
    if not _collector_available():
        pytest.skip("protocheck.sources.dicom.scan_dicom / DicomCollector not implemented yet")
    from protocheck.sources.dicom import scan_dicom
    from protocheck.sources.options import ScanOptions

    def run(root: Path, **opts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return scan_dicom(root, ScanOptions(**opts))
    return run


@pytest.fixture(scope="session")
def good_files(dicom_root: Path) -> list[Path]:
    return corpus.files_of(dicom_root, corpus.GOOD_SERIES)


@pytest.fixture(scope="session")
def good_uid(good_files: list[Path]) -> str:
    return str(pydicom.dcmread(good_files[0], stop_before_pixels=True).SeriesInstanceUID)


@pytest.fixture(scope="session")
def other_files(dicom_root: Path) -> list[Path]:
    return corpus.files_of(dicom_root, corpus.OTHER_SERIES)


@pytest.fixture(scope="session")
def other_uid(other_files: list[Path]) -> str:
    return str(pydicom.dcmread(other_files[0], stop_before_pixels=True).SeriesInstanceUID)


@pytest.fixture
def case_dir(tmp_path: Path, good_files: list[Path]) -> Path:
    """A folder already holding a copy of the good series (11 files) in ``good/``: the neighbours."""
    root = tmp_path / "exam"
    (root / "good").mkdir(parents=True)
    for f in good_files:
        shutil.copyfile(f, root / "good" / f.name)
    return root


@pytest.fixture
def cli(capsys):
    """Run ``protocheck.cli.main(argv)`` in-process: returns (exit code, stdout, stderr).

    Skips while the CLI (or its FORMATS tuple) does not exist yet, or when a run says a format is not
    implemented yet.
    """
    try:
        from protocheck import cli as cli_mod
    except ImportError as exc:
        pytest.skip(f"protocheck.cli not importable yet ({exc})")
    if not hasattr(cli_mod, "FORMATS"):
        pytest.skip("protocheck.cli has no FORMATS tuple yet (report formats not implemented)")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rc = cli_mod.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        if rc == 2 and "not implemented" in err.lower():
            pytest.skip(f"protocheck {' '.join(map(str, argv[:1]))}: {err.strip()[:200]}")
        return rc, out, err
    run.formats = tuple(cli_mod.FORMATS)
    return run
