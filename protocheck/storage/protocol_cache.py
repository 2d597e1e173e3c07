"""Validated protocols kept in the cache folder: a re-audit skips parsing YAML, the schema check and building.

One file per protocol text: ``protocol-<key>.pickle``, where the key hashes the text, its file name (error
messages name it) and the code that turns text into a ``Protocol`` (the protocol package, the model and the
schema). Written atomically; an unreadable or damaged file is a miss, never an error.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from protocheck.errors import SourceError
from protocheck.resources import code_digest, schema_dir
from protocheck.storage.sealing import check_folder, seal, unseal

if TYPE_CHECKING:   # storage sits below the protocol layer: the type only
    from protocheck.protocol.model import Protocol

SCHEMA = 1
T = TypeVar("T")


@functools.cache
def code_fingerprint() -> bytes:
    """Hash of the code and schema that build a Protocol from text."""
    here = Path(__file__).resolve().parent.parent / "protocol"
    return code_digest(f"schema{SCHEMA}", [here.parent / "model.py", here.parent / "results.py",
                                            here.parent / "units.py", schema_dir() / "protocol.schema.json",
                                            *sorted(here.glob("*.py"))])


def identity(text: str, filename: str) -> bytes:
    """What the Protocol built from ``text`` (read from ``filename``) is a function of: the text, the file name
    and the code that builds it (the key of its file here; the report cache's key of the protocol)."""
    return hashlib.blake2b(f"{filename}\0{text}".encode("utf-8", "surrogateescape") + code_fingerprint(),
                           digest_size=16).digest()


def _file(cache_dir: Path, text: str, filename: str) -> Path:
    return Path(cache_dir) / f"protocol-{identity(text, filename).hex()}.pickle"


def stored(cache_dir: Path, text: str, filename: str) -> bool:
    """Whether a file for this text is there (``load`` may still find it unusable): nothing is unpickled."""
    try:
        return _file(cache_dir, text, filename).is_file()
    except OSError:
        return False


def load(cache_dir: Path, text: str, filename: str, kind: type[T]) -> T | None:
    """The Protocol (an instance of ``kind``) built earlier from this very text, or None."""
    try:
        check_folder(cache_dir)
        with open(_file(cache_dir, text, filename), "rb") as fh:
            blob = unseal(fh.read())
        if blob is None:   # planted, damaged or another user's: never unpickled
            return None
        protocol = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - missing, damaged or foreign: only a miss
        return None
    return protocol if isinstance(protocol, kind) else None


def store(cache_dir: Path, text: str, filename: str, protocol: "Protocol") -> None:
    """Keep the Protocol built from ``text`` (silently nothing when the folder cannot be written)."""
    target = _file(cache_dir, text, filename)
    try:
        check_folder(cache_dir)
        data = seal(pickle.dumps(protocol, pickle.HIGHEST_PROTOCOL))
        import tempfile   # here: a run that finds its protocol stored never writes one
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".protocol-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError, SourceError):
        return
