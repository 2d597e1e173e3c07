"""Stores into the cache folder's small databases (check results, rendered reports) without waiting for the disk.

They are caches: every entry is sealed and checked when read, and a missing or damaged entry is only a miss.
SQLite's default (``synchronous=FULL``) waits until each transaction is on the disk surface: a few fsyncs per
store, and a first check makes three stores after its report is ready (5-12 ms of a ~0.5 s check of 3,300 files
on a shared virtual disk). That buys nothing here: the rollback journal is kept, so a crash of protocheck still
cannot damage the file; only an operating-system crash or a power loss during a store could, and a damaged file
is then a miss until the next store, which replaces it (``write``).
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Callable

from protocheck.logs import logger


def write(path: Path, work: Callable[[sqlite3.Connection], None]) -> None:
    """Run ``work`` in one transaction on the database ``path`` (created if need be), without fsync.

    A file there that is not a sound database (``sqlite3.DatabaseError`` itself: not a database, malformed) is
    removed and the store made in a new one (``connect``); any other error (locked, read-only, full...) is
    raised, as is a second failure.
    """
    def run(db: sqlite3.Connection) -> None:
        db.execute("PRAGMA synchronous=OFF")
        with db:
            work(db)

    connect(path, run).close()


def connect(path: Path, setup: Callable[[sqlite3.Connection], None], **options: Any) -> sqlite3.Connection:
    """The database ``path`` opened and ``setup`` run on it (pragmas, tables); a file there that is not a sound
    database is removed with a warning and a new one made (every database here is a cache, rebuilt by reading
    again, never a reason to stop a check). Any other error (locked, read-only, full...) is raised. ``options``:
    ``sqlite3.connect``'s."""
    for attempt in (1, 2):
        db = sqlite3.connect(path, **options)
        try:
            setup(db)
            return db
        except sqlite3.DatabaseError as exc:
            db.close()
            if attempt == 2 or not damaged(exc):
                raise
            discard(path, exc)
        except BaseException:
            db.close()
            raise
    raise AssertionError("unreachable")


def damaged(exc: BaseException) -> bool:
    """Whether ``exc`` says a database file is damaged (SQLite's DatabaseError itself: not a database, malformed),
    not that it is locked, read-only or full (its subclasses)."""
    return type(exc) is sqlite3.DatabaseError


def discard(path: Path, exc: Exception) -> None:
    """Remove the damaged database ``path`` (``exc``: what showed it), saying so: the next store makes a new one."""
    logger("protocheck.cache").warning("the cache file %s is damaged (%s): it is replaced by a new one", path, exc)
    _remove(path)


def _remove(path: Path) -> None:
    """Remove a damaged database and its journals (a link is removed, never what it points to)."""
    for name in [path] + [path.with_name(path.name + end) for end in ("-journal", "-wal", "-shm")]:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
        except OSError as exc:   # (open elsewhere on Windows, a read-only folder): the caller's next use fails
            logger("protocheck.cache").warning("the damaged cache file %s could not be removed (%s): remove it by "
                                               "hand", name, exc)
