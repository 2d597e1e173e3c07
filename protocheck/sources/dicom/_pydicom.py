"""pydicom, imported without `requests`: import this before pydicom in the modules a scan imports first.

pydicom imports `requests`, when installed, only to download its own test files (it falls back to urllib).
That import (requests, urllib3, charset_normalizer: about 0.1 s) would come before any worker of an archive
scan can start, so it is hidden while pydicom is imported, and importable again as soon as it is done.
From the command line (``protocheck.LEAN_PYDICOM``, set by its entry point), NumPy is hidden too: pydicom
imports it only for its pixel handlers (another ~0.1 s of start-up), and protocheck never decodes pixels; and
the modules pydicom imports only for what protocheck never asks of it (``LAZY``: downloading test files, its
example datasets, new UIDs) are loaded on first use instead (another ~13 ms), and pydicom's version is read from its
dist-info rather than through ``importlib.metadata`` (``_Metadata``: ~12 ms). A program that imports protocheck
as a library keeps pydicom whole.
"""
from __future__ import annotations

import sys
import types
import warnings
from typing import Any

import protocheck

# Imported by pydicom for what protocheck never uses: urllib.request (http.client, email, ssl...: ~7 ms) only to
# download test files, pydicom.examples (~4 ms: looks up a dozen test files) only for the examples of its
# documentation, uuid (and platform: ~2 ms) only to generate UIDs. Each is a module object at once, executed on
# its first attribute access: a pydicom version that uses one while it is imported only loads it then.
LAZY = frozenset({"urllib.request", "pydicom.examples", "uuid"})


class _LazyFinder:
    """A meta path finder that gives the ``LAZY`` modules lazy loaders (``importlib.util.LazyLoader``)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in LAZY or name in sys.modules:
            return None
        import importlib.util
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None   # a namespace package or an old-style loader: imported as usual
            spec.loader = importlib.util.LazyLoader(spec.loader)
            return spec
        return None


class _Metadata(types.ModuleType):
    """Stands for ``importlib.metadata`` while pydicom is imported: ``pydicom._version`` only asks it for pydicom's
    own version, read here from pydicom's dist-info; the real module (email, zipfile, csv, socket...: ~12 ms of
    start-up) is imported for anything else."""

    def __init__(self, pydicom_version: str) -> None:
        super().__init__("importlib.metadata")
        self.pydicom_version = pydicom_version

    def version(self, name: str) -> str:
        """The installed version of ``name``, as ``importlib.metadata.version`` gives it."""
        return self.pydicom_version if name == "pydicom" else self.__getattr__("version")(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):   # what the import system looks up (__path__...): a plain module's answer
            raise AttributeError(name)
        if sys.modules.get("importlib.metadata") is self:
            del sys.modules["importlib.metadata"]
        import importlib.metadata
        return getattr(importlib.metadata, name)


def _metadata_stub() -> _Metadata | None:
    """A ``_Metadata`` with the version in the only pydicom dist-info beside the pydicom package about to be
    imported; None where that is not certain (no such folder or several, an editable install...)."""
    import importlib.util
    from pathlib import Path
    try:
        spec = importlib.util.find_spec("pydicom")
        if spec is None or not spec.origin:
            return None
        infos = list(Path(spec.origin).parent.parent.glob("pydicom-*.dist-info"))
        if len(infos) != 1:
            return None
        with open(infos[0] / "METADATA", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Version:"):
                    return _Metadata(line.split(":", 1)[1].strip())
                if not line.strip():   # the end of the headers
                    return None
    except (OSError, ValueError, ImportError):
        return None
    return None


if "pydicom" not in sys.modules:
    _HIDDEN = [name for name in ("requests", "numpy") if name not in sys.modules
               and (name == "requests" or protocheck.LEAN_PYDICOM)]
    for _name in _HIDDEN:
        sys.modules[_name] = None   # type: ignore[assignment]  # "import requests" raises ImportError
    _finder = _LazyFinder() if protocheck.LEAN_PYDICOM else None
    _stub = _metadata_stub() if protocheck.LEAN_PYDICOM and "importlib.metadata" not in sys.modules else None
    if _finder is not None:
        sys.meta_path.insert(0, _finder)
    if _stub is not None:
        sys.modules["importlib.metadata"] = _stub
    try:
        import pydicom  # noqa: F401
    finally:
        if _finder is not None:
            sys.meta_path.remove(_finder)
        if _stub is not None and sys.modules.get("importlib.metadata") is _stub:
            del sys.modules["importlib.metadata"]
        for _name in _HIDDEN:
            if _name in sys.modules and sys.modules[_name] is None:
                del sys.modules[_name]

# pydicom reports what it repairs while parsing (implicit VR found where explicit was declared, bad values...)
# as Python warnings; a header is judged by protocheck (skipped with a reason, or its value left unknown), so
# those warnings never reach stderr raw.
warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
