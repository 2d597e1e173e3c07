"""Vendor identities from a Manufacturer string: the one table every layer shares (reading, audit, plots).

Neutral (model layer): the DICOM vendor modules pick their module by it, the audit groups scanners by it.
"""
from __future__ import annotations

import re

# (short vendor id, Manufacturer pattern), first match wins.
VENDOR_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("siemens", re.compile(r"(?i)siemens")),
    ("ge", re.compile(r"(?i)^\s*ge\b|general\s*electric|^ge[ _]medical")),
    ("philips", re.compile(r"(?i)philips")),
    ("canon", re.compile(r"(?i)canon|toshiba")),
    ("uih", re.compile(r"(?i)united\s*imaging|^uih")),
)


def vendor_name(manufacturer: str | None) -> str | None:
    """Short vendor id ("siemens", "ge", "philips", "canon", "uih") from a Manufacturer string."""
    if not manufacturer:
        return None
    for name, rx in VENDOR_PATTERNS:
        if rx.search(manufacturer):
            return name
    return None


def vendor_pattern(name: str) -> re.Pattern[str]:
    """The Manufacturer pattern of the vendor ``name`` (the vendor specs of sources/dicom take theirs from here)."""
    return dict(VENDOR_PATTERNS)[name]
