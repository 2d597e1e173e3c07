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
import tempfile
from pathlib import Path

from protocheck.errors import SourceError
from protocheck.protocol.model import Protocol
from protocheck.resources import code_digest, schema_dir
from protocheck.sealing import check_folder, seal, unseal

SCHEMA = 1


@functools.cache
def code_fingerprint() -> bytes:
    """Hash of the code and schema that build a Protocol from text."""
    here = Path(__file__).resolve().parent
    return code_digest(f"schema{SCHEMA}", [here.parent / "model.py", schema_dir() / "protocol.schema.json",
                                            *sorted(here.glob("*.py"))])


def _file(cache_dir: Path, text: str, filename: str) -> Path:
    key = hashlib.blake2b(f"{filename}\0{text}".encode("utf-8", "surrogateescape") + code_fingerprint(),
                          digest_size=16).hexdigest()
    return Path(cache_dir) / f"protocol-{key}.pickle"


def load(cache_dir: Path, text: str, filename: str) -> Protocol | None:
    """The Protocol built earlier from this very text, or None."""
    try:
        check_folder(cache_dir)
        with open(_file(cache_dir, text, filename), "rb") as fh:
            blob = unseal(fh.read())
        if blob is None:   # planted, damaged or another user's: never unpickled
            return None
        protocol = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - missing, damaged or foreign: only a miss
        return None
    return protocol if isinstance(protocol, Protocol) else None


def store(cache_dir: Path, text: str, filename: str, protocol: Protocol) -> None:
    """Keep the Protocol built from ``text`` (silently nothing when the folder cannot be written)."""
    target = _file(cache_dir, text, filename)
    try:
        check_folder(cache_dir)
        data = seal(pickle.dumps(protocol, pickle.HIGHEST_PROTOCOL))
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
