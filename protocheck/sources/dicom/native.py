"""The compiled loops of the per-file scan (``_cwalk``, from _cwalk.c, _walk.c, _frames.c, _csa.c when a C compiler
was at hand at install), or None.

fastscan and rawio use them when present and keep their pure-Python code as the reference and the fallback:
both give the same results (tests/sources/dicom/test_cwalk.py). ``PROTOCHECK_PURE_PYTHON=1`` (any value but
"" and "0") forces the pure-Python path; tests switch it by setting ``CWALK`` to None. A module of another
VERSION (left from an older build, e.g. in place by ``pip install -e``) is ignored until rebuilt.
"""
from __future__ import annotations

from types import ModuleType

from protocheck.sources.compiled import load_compiled

VERSION = 2   # _cwalk.c's CWALK_VERSION: the functions and arguments this package calls


def _load() -> ModuleType | None:
    return load_compiled("protocheck.sources.dicom._cwalk", VERSION)


CWALK = _load()
