"""Help topics shipped inside the package (``protocheck help TOPIC``): a pip install has no docs/ folder."""
from __future__ import annotations

from pathlib import Path

from protocheck.errors import InputError

_DIR = Path(__file__).resolve().parent


def list_topics() -> list[tuple[str, str]]:
    """(name, one-line summary) of every topic: the file's name and its first line."""
    out = []
    for path in sorted(_DIR.glob("*.md")):
        first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").removeprefix(f"{path.stem}:").strip()
        out.append((path.stem, first))
    return out


def topic(name: str) -> str:
    """The text of one topic; InputError naming the topics when there is no such one."""
    path = _DIR / f"{name}.md"
    if not name.replace("-", "").isalnum() or not path.is_file():
        names = ", ".join(n for n, _ in list_topics())
        raise InputError(f"no help topic named {name!r}", path=name, fix=f"choose one of: {names}")
    return path.read_text(encoding="utf-8")
