"""pydicom, imported without `requests`: import this before pydicom in the modules a scan imports first.

pydicom imports `requests`, when installed, only to download its own test files (it falls back to urllib).
That import (requests, urllib3, charset_normalizer: about 0.1 s) would come before any worker of an archive
scan can start, so it is hidden while pydicom is imported, and importable again as soon as it is done.
From the command line (``protocheck.LEAN_PYDICOM``, set by its entry point), NumPy is hidden too: pydicom
imports it only for its pixel handlers (another ~0.1 s of start-up), and protocheck never decodes pixels. A
program that imports protocheck as a library keeps pydicom whole.
"""
from __future__ import annotations

import sys
import warnings

import protocheck

if "pydicom" not in sys.modules:
    _HIDDEN = [name for name in ("requests", "numpy") if name not in sys.modules
               and (name == "requests" or protocheck.LEAN_PYDICOM)]
    for _name in _HIDDEN:
        sys.modules[_name] = None   # type: ignore[assignment]  # "import requests" raises ImportError
    try:
        import pydicom  # noqa: F401
    finally:
        for _name in _HIDDEN:
            if _name in sys.modules and sys.modules[_name] is None:
                del sys.modules[_name]

# pydicom reports what it repairs while parsing (implicit VR found where explicit was declared, bad values...)
# as Python warnings; a header is judged by protocheck (skipped with a reason, or its value left unknown), so
# those warnings never reach stderr raw.
warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
