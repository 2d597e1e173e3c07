"""The optional compiled modules (built from C at install when a compiler is at hand): the walk's folder listing
(``_clist``) and the per-file scan's loops (``dicom._cwalk``). The Python code stays the reference and fallback."""
from __future__ import annotations

import importlib
import os
from types import ModuleType


def load_compiled(name: str, version: int) -> ModuleType | None:
    """The compiled module ``name``, or None: not built, of another version than the Python code calls (left from
    an older build), or ``PROTOCHECK_PURE_PYTHON`` set (not "" or "0")."""
    if os.environ.get("PROTOCHECK_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module if getattr(module, "VERSION", None) == version else None
