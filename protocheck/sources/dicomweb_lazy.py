"""A series' WADO-RS metadata answer cut into instances and top-level elements without parsing it all.

Most of a DICOMweb read's own time went into ``json.loads`` of the whole answer (a Philips series: hundreds of
elements per instance, nested sequences), though a later instance needs only its per-file elements. Servers that
write their JSON indented with tabs (Orthanc, jsoncpp's styled writer) put each instance's top-level keys, and
only those, at the start of a line after one tab (a raw line break never occurs inside a JSON string). Here the
answer is cut at those lines; an element is parsed when first read, alone. A cut that falls inside a nested
value leaves text that does not parse, and any such doubt sends the caller back to ``json.loads`` of the whole
answer (``Cut``), which reports a malformed answer exactly as before. Answers in any other layout (compact
JSON) are parsed whole.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator, Mapping

_START = re.compile(rb'\A\s*\[\s*\{\n\t"')
_INSTANCE = re.compile(rb"\n\}\s*,\s*\{\n")


class Cut(Exception):
    """The answer cannot be read piece by piece: parse it whole."""


class LazyInstance(Mapping[str, Any]):
    """One instance of the answer: its top-level elements by tag, each parsed when first read."""

    __slots__ = ("pieces", "parsed")

    def __init__(self, pieces: dict[str, bytes]) -> None:
        self.pieces = pieces     # tag -> the text after its line's tab and quote: 'KKKKKKKK" : {...},'
        self.parsed: dict[str, Any] = {}

    def __getitem__(self, tag: str) -> Any:
        got = self.parsed.get(tag)
        if got is None:
            got = self.parsed[tag] = _parse(tag, self.pieces[tag])
        return got

    def __contains__(self, tag: object) -> bool:
        return tag in self.pieces

    def __iter__(self) -> Iterator[str]:
        return iter(self.pieces)

    def __len__(self) -> int:
        return len(self.pieces)

    def full(self) -> dict[str, Any]:
        """The whole instance, parsed (and checked to hold the same keys)."""
        text = b',\n"'.join(_trimmed(p) for p in self.pieces.values())
        try:
            obj = json.loads(b'{"' + text + b"}")
        except (ValueError, RecursionError):
            raise Cut("instance") from None
        if not isinstance(obj, dict) or len(obj) != len(self.pieces):
            raise Cut("instance")
        return obj


def _trimmed(piece: bytes) -> bytes:
    piece = piece.rstrip()
    return piece[:-1] if piece.endswith(b",") else piece


def _parse(tag: str, piece: bytes) -> Any:
    try:
        obj = json.loads(b'{"' + _trimmed(piece) + b"}")
    except (ValueError, RecursionError):
        raise Cut(tag) from None
    if not isinstance(obj, dict) or len(obj) != 1 or tag not in obj:
        raise Cut(tag)
    return obj[tag]


def lazy_instances(body: bytes) -> list[LazyInstance] | None:
    """The instances of a series metadata answer, cut lazily; None when its layout is not the indented one."""
    if not _START.match(body[:64]):
        return None
    open_at = body.index(b"{") + 1
    close_at = body.rstrip().rstrip(b"]").rstrip()
    if not close_at.endswith(b"}"):
        raise Cut("end")
    end = len(close_at) - 1
    out = []
    start = open_at
    for m in _INSTANCE.finditer(body, open_at, end):
        out.append(_instance(body[start:m.start()]))
        start = m.end() - 1
    out.append(_instance(body[start:end]))
    return out


def _instance(text: bytes) -> LazyInstance:
    parts = text.split(b'\n\t"')
    if parts[0].strip() or len(parts) < 2:
        raise Cut("instance start")
    pieces = {p[:8].decode("ascii", "replace"): p for p in parts[1:]}
    if len(pieces) != len(parts) - 1:
        raise Cut("repeated key")
    return LazyInstance(pieces)
