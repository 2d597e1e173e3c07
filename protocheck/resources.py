"""Locate the files shipped with protocheck: JSON Schemas and built-in protocols.

In a wheel the schemas live in ``protocheck/schemas``; in a source checkout (editable install, tests)
they live in the repository's top-level ``schemas/``. Both are looked up, wheel first.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

_PKG = Path(__file__).resolve().parent


def schema_dir() -> Path:
    """The folder holding ``*.schema.json``."""
    for candidate in (_PKG / "schemas", _PKG.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("protocheck's schemas/ folder is missing from this installation; reinstall protocheck")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/<name>.schema.json``."""
    with open(schema_dir() / f"{name}.schema.json", encoding="utf-8") as fh:
        return json.load(fh)


def builtin_protocol_dir() -> Path:
    """The folder of built-in protocol files (``<name>.yaml``)."""
    return _PKG / "protocol" / "builtin"


def code_digest(label: str, files: Iterable[Path]) -> bytes:
    """Hash of ``label`` and of each file's name and bytes: a cache keyed by it is never reused by other code
    (another protocheck version, another cache format)."""
    h = hashlib.blake2b(label.encode(), digest_size=16)
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.digest()
