"""The protocol language: schema-validated YAML/JSON protocols, matching of series to sequences, rules.

The names below are imported on first use (PEP 562): a check imports the package for ``protocol.ahead`` before
its scan, and the model (~10 ms) only once the protocol arrives.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from protocheck.protocol.loader import list_builtin_protocols, load_protocol, load_protocol_text
    from protocheck.protocol.model import Protocol

__all__ = ["Protocol", "list_builtin_protocols", "load_protocol", "load_protocol_text"]
_WHERE = {"Protocol": "model", "list_builtin_protocols": "paths", "load_protocol": "loader",
          "load_protocol_text": "loader"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"protocheck.protocol.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'protocheck.protocol' has no attribute {name!r}")
