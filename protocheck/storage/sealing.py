"""Integrity of what protocheck keeps in its cache folder (index rows, snapshots, check results, protocols).

Those are pickles and marshal data: loading a planted one runs any code it names. Every blob is therefore
sealed with an HMAC-SHA256 under a per-user secret kept in the user's config folder (``cache.key``, 0600,
never in the cache folder itself); a blob whose seal does not verify is a cache miss and is never loaded.
A cache folder that other users may write is refused outright.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

from protocheck.errors import SourceError

_TAG = hashlib.sha256().digest_size
_KEYS: dict[tuple, bytes] = {}


def _key() -> bytes:
    """The user's cache key (looked up once per config folder: the environment names it)."""
    env = os.environ
    where = (env.get("XDG_CONFIG_HOME"), env.get("HOME"), env.get("USERPROFILE"))
    key = _KEYS.get(where)
    if key is None:
        from protocheck.privacy import installation_secret
        key = _KEYS[where] = installation_secret("cache.key").encode("utf-8")
    return key


def current_key() -> bytes:
    """The user's cache key now (for many ``seal``/``unseal`` calls in a row: the environment read once)."""
    return _key()


def seal(blob: bytes, key: bytes | None = None) -> bytes:
    """``blob`` preceded by its HMAC under the user's cache key (``key``: what ``current_key`` gave)."""
    return hmac.digest(key or _key(), blob, "sha256") + blob


def unseal(data: bytes | None, key: bytes | None = None) -> bytes | None:
    """The blob of ``seal`` if its HMAC verifies, else None (planted, damaged or from another user)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < _TAG:
        return None
    data = bytes(data)
    tag, blob = data[:_TAG], data[_TAG:]
    return blob if hmac.compare_digest(tag, hmac.digest(key or _key(), blob, "sha256")) else None


def check_folder(folder: str | os.PathLike[str]) -> None:
    """SourceError when an existing cache folder (or a folder above it that holds it) may be written by
    other users or belongs to another user (a sticky folder such as /tmp is fine)."""
    path = Path(folder)
    if not path.exists():
        return
    st = path.stat()
    uid = os.getuid() if hasattr(os, "getuid") else st.st_uid
    if st.st_uid != uid:
        raise SourceError("the cache folder belongs to another user", path=str(path), where="--cache",
                          fix="use a cache folder of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise SourceError(f"the cache folder may be written by other users (mode {stat.S_IMODE(st.st_mode):o}): "
                          "what they plant there would be loaded", path=str(path), where="--cache",
                          fix=f"chmod go-w {path}, or use a cache folder of your own")
