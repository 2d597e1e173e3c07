"""pydicom, imported without `requests`: import this before pydicom in the modules a scan imports first.

pydicom imports `requests`, when installed, only to download its own test files (it falls back to urllib).
That import (requests, urllib3, charset_normalizer: about 0.1 s) would come before any worker of an archive
scan can start, so it is hidden while pydicom is imported, and importable again as soon as it is done.
"""
from __future__ import annotations

import sys
import warnings

if "pydicom" not in sys.modules and "requests" not in sys.modules:
    sys.modules["requests"] = None   # type: ignore[assignment]  # "import requests" raises ImportError
    try:
        import pydicom  # noqa: F401
    finally:
        if "requests" in sys.modules and sys.modules["requests"] is None:
            del sys.modules["requests"]

# pydicom reports what it repairs while parsing (implicit VR found where explicit was declared, bad values...)
# as Python warnings; a header is judged by protocheck (skipped with a reason, or its value left unknown), so
# those warnings never reach stderr raw.
warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
