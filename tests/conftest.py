"""Shared fixtures. Real files are read in place from ``../shared`` (never copied into the repo)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# The command line keeps its incremental index in the user's cache folder by default: no test may write into the
# real one (subprocesses inherit this too); each test gets its own below, so no test sees another's index.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="protocheck-test-cache-")


@pytest.fixture(autouse=True)
def _own_user_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user cache folder per test (outside the test's tmp_path, which is often the input)."""
    home = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


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
