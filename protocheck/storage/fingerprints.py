"""Hashes of the code between a scan and its results: a cache keyed by them is never reused by other code.

Its own light module: the report cache's key needs the checks' fingerprint on every re-check, and importing the
check cache for it (results, snapshot) cost a re-check answered from the report cache ~3 ms for nothing else.
"""
from __future__ import annotations

import functools
from pathlib import Path

from protocheck.resources import code_digest

CHECKS_SCHEMA = 1   # the check cache's format (storage/check_cache.py)


@functools.cache
def checks_code() -> bytes:
    """Hash of the code that turns a scan into results (checks, protocol, model, results, units: the texts of
    findings): a new version never reuses."""
    here = Path(__file__).resolve().parent.parent
    return code_digest(f"schema{CHECKS_SCHEMA}", [here / "model.py", here / "results.py", here / "units.py",
                                                  *sorted((here / "checks").glob("*.py")),
                                                  *sorted((here / "protocol").glob("*.py"))])
