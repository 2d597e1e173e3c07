"""The compiled loops of the per-file scan (``_cwalk``, from _cwalk.c, _walk.c, _frames.c, _csa.c when a C compiler
was at hand at install), or None.

fastscan and rawio use them when present and keep their pure-Python code as the reference and the fallback:
both give the same results (tests/sources/dicom/test_cwalk.py). ``PROTOCHECK_PURE_PYTHON=1`` (any value but
"" and "0") forces the pure-Python path; tests switch it by setting ``CWALK`` to None. A module of another
VERSION (left from an older build, e.g. in place by ``pip install -e``) is ignored until rebuilt.
"""
from __future__ import annotations

import os
from types import ModuleType

VERSION = 2   # _cwalk.c's CWALK_VERSION: the functions and arguments this package calls


def _load() -> ModuleType | None:
    if os.environ.get("PROTOCHECK_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from protocheck.sources.dicom import _cwalk
    except ImportError:
        return None
    return _cwalk if getattr(_cwalk, "VERSION", None) == VERSION else None


CWALK = _load()
