"""Where a protocol's text is: a built-in protocol's name or a file (no model: imported before any parsing)."""
from __future__ import annotations

from pathlib import Path

from protocheck.errors import ProtocolError
from protocheck.resources import builtin_protocol_dir

__all__ = ["list_builtin_protocols", "resolve_protocol_path"]


def list_builtin_protocols() -> list[str]:
    """Names of the protocols shipped with protocheck (``protocol/builtin/<name>.yaml``)."""
    folder = builtin_protocol_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml", ".json"))


def resolve_protocol_path(name_or_path: str) -> Path:
    """The file of a built-in protocol name, or the given path; ProtocolError when neither exists."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    folder = builtin_protocol_dir()
    for ext in (".yaml", ".yml", ".json"):
        p = folder / f"{name_or_path}{ext}"
        if p.is_file():
            return p
    known = ", ".join(list_builtin_protocols()) or "none"
    raise ProtocolError(f"no built-in protocol named '{name_or_path}' and no such file",
                        path=name_or_path, fix=f"use one of the built-in protocols ({known}) or a path to a "
                                               "YAML/JSON protocol file")
