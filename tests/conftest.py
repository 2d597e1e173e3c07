"""Shared fixtures. Real files are read in place from ``../shared`` (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    env = os.environ.get("PROTOCHECK_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared", REPO / ".." / ".." / "shared"]
    for c in candidates:
        if (c / "data" / "dicom").is_dir():
            return c.resolve()
    return None


SHARED = _find_shared()


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``../shared`` folder with the real DICOM/BIDS data; skips (with the reason) where absent."""
    if SHARED is None:
        pytest.skip("../shared (real DICOM and BIDS test data) not found beside the repository; "
                    "set PROTOCHECK_SHARED to its path to run this test")
    return SHARED


@pytest.fixture(scope="session")
def dicom_root(shared: Path) -> Path:
    return shared / "data" / "dicom"


@pytest.fixture(scope="session")
def dicom_ref_root(shared: Path) -> Path:
    return shared / "data" / "dicom_ref"


@pytest.fixture(scope="session")
def spine_generic(shared: Path) -> Path:
    return shared / "data" / "bids" / "spine-generic-multi-subject"


@pytest.fixture(scope="session", autouse=True)
def _own_config_dir(tmp_path_factory: pytest.TempPathFactory):
    """The tests' own user config folder (the installation's pseudonym and cache secrets go there)."""
    old = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if old is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = old
