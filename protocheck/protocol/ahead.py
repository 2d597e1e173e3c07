"""A check's protocol loaded by a forked process while this one starts reading the inputs.

On a first check nothing is cached: parsing, validating and building the protocol (~25 ms) would come before the
scan on one core while the other has nothing to do yet. A forked child loads it instead (keeping it in the cache
folder for the next run, as ``load_protocol`` does) and sends the model back, pickled, through a pipe. An invalid
protocol's ProtocolError comes back as its fields (the same message, nothing parsed again); any other failure of
the child makes this process load the protocol itself. ``poll`` (called by the scan's progress callback) looks at
the child now and then, so an invalid protocol stops a long scan once its first files are folded (before: before
any file was read; now ~0.1-0.4 s later, the scan's start).

Only from a process with one thread (nothing can be left holding a lock in the child) that can fork; a protocol
built earlier or kept in the cache folder is taken at once, without a child.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from protocheck.forked import fork_writer

from typing import TYPE_CHECKING

if TYPE_CHECKING:   # the loader and the model are imported when a protocol is built or arrives
    from protocheck.protocol.model import Protocol

POLL_INTERVAL = 0.05   # seconds between two looks at the child from the progress callback


class ProtocolAhead:
    """The protocol ``load_protocol(name, cache_dir)`` gives, possibly being loaded by a forked child."""

    def __init__(self, name: str, cache_dir: Path | None) -> None:
        from protocheck.protocol.paths import resolve_protocol_path
        self.name, self.cache_dir = name, cache_dir
        self.path = resolve_protocol_path(str(name))   # ProtocolError for a missing file, at once
        self.text = _text(self.path)   # None: unreadable (loading it reports that); the protocol is built from it
        self.stored = False            # kept in the cache folder: loaded (unpickled) only when asked for
        self.protocol: Protocol | None = self._ready()
        self.pid: int | None = None
        self.fd: int | None = None
        self._last = 0.0
        self._lock = threading.Lock()
        if self.protocol is None and not self.stored and _can_fork():
            self._start()

    @property
    def pending(self) -> bool:
        """Whether a child is loading it."""
        return self.pid is not None

    def result(self) -> Protocol:
        """The protocol (waiting for the child if need be); ProtocolError as ``load_protocol`` raises it."""
        with self._lock:   # a source may report progress from more than one thread
            if self.protocol is None and self.pid is not None:
                self.protocol = self._collect()
            if self.protocol is None:
                from protocheck.protocol.loader import load_protocol
                self.protocol = load_protocol(self.name, self.cache_dir, self.text)
            return self.protocol

    @property
    def identity(self) -> bytes | None:
        """What the protocol is a function of (its text, file name and building code: ``protocol_cache.identity``),
        known without loading it; None when its file could not be read."""
        if self.text is None:
            return None
        from protocheck.storage.protocol_cache import identity
        return identity(self.text, str(self.path))

    def poll(self, *_args: Any) -> None:
        """Take the child's answer if it is there (a progress callback: ``(files, series, path)`` ignored); an
        invalid protocol raises its ProtocolError here."""
        now = time.monotonic()
        fd = self.fd
        if self.pid is None or fd is None or now - self._last < POLL_INTERVAL:
            return
        self._last = now
        import select
        try:
            ready = select.select([fd], [], [], 0)[0]
        except (OSError, ValueError):   # collected meanwhile by another thread
            return
        if ready:
            self.result()

    def close(self) -> None:
        """Stop and reap a child still loading (the command ended otherwise)."""
        if self.pid is not None:
            import signal
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            self.pid = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _ready(self) -> Protocol | None:
        """``loader.ready_protocol``, without importing the loader (and the model) when the protocol is only kept
        in the cache folder (``stored``: unpickled by ``result``, which a stored report never calls) or must be
        built (a first run: by a child)."""
        import sys
        if "protocheck.protocol.loader" not in sys.modules:
            if self.cache_dir is None or self.text is None:
                return None
            from protocheck.storage import protocol_cache
            self.stored = protocol_cache.stored(self.cache_dir, self.text, str(self.path))
            return None
        from protocheck.protocol.loader import ready_protocol
        return ready_protocol(self.name, self.cache_dir, self.text)

    def _start(self) -> None:
        try:
            self.pid, self.fd = fork_writer(self._load)
        except OSError:
            return

    def _load(self) -> bytes:
        """In the child: the protocol pickled ("P"), or the fields of its ProtocolError ("E")."""
        import pickle

        from protocheck.errors import ProtocolError
        from protocheck.protocol.loader import load_protocol
        try:
            return b"P" + pickle.dumps(load_protocol(self.name, self.cache_dir, self.text), pickle.HIGHEST_PROTOCOL)
        except ProtocolError as exc:   # its fields: the same message, without parsing again
            return b"E" + pickle.dumps((exc.reason, exc.path, exc.where, exc.fix))

    def _collect(self) -> Protocol | None:
        """The child's protocol, or None if it failed (then loaded here); the ProtocolError the child met."""
        assert self.pid is not None and self.fd is not None
        pid, fd = self.pid, self.fd
        self.pid = self.fd = None
        try:
            with os.fdopen(fd, "rb") as pipe:
                data = pipe.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                return None
            import pickle
            found = pickle.loads(data[1:])   # our own child's bytes, through our own pipe
        except Exception:  # noqa: BLE001 - any failure: the protocol is loaded here
            return None
        if data[:1] == b"E" and isinstance(found, tuple) and len(found) == 4:
            from protocheck.errors import ProtocolError
            reason, path, where, fix = found
            raise ProtocolError(reason, path=path, where=where, fix=fix)
        from protocheck.protocol.model import Protocol
        return found if data[:1] == b"P" and isinstance(found, Protocol) else None


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None   # load_protocol reports it


def _can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1
