"""Writing reports safely: never through a symbolic link, never into an input, never half-written.

Every output (``-o``, ``--summary``, ``--tsv`` tables, ``listen`` reports) is written to a new temporary
file beside its target (created exclusively, so a planted link is never followed) and renamed over it: a
symbolic link or a hard link at the target's name is replaced, and the file it pointed at is left as it
was. Whether a target lies inside an input is decided on the resolved path and on device and inode numbers
of every folder above it (bind mounts, case-insensitive names and links all compare equal).
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from protocheck.errors import ReportError

_UMASK = os.umask(0o022)   # read once at import (the call sets it, so set it straight back)
os.umask(_UMASK)


def _ids(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def inside_inputs(target: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]]) -> Path | None:
    """The input root that ``target`` (a file to write, existing or not) lies in, or None."""
    tops = {}
    for root in roots:
        top = Path(root).resolve()
        top = top if top.is_dir() else top.parent
        ids = _ids(top)
        if ids is not None:
            tops[ids] = top
    folder = Path(target).resolve().parent
    for candidate in (folder, *folder.parents):
        ids = _ids(candidate)
        if ids is not None and ids in tops:
            return tops[ids]
    return None


def check_target(target: str | os.PathLike[str], roots: Iterable[str | os.PathLike[str]], what: str = "-o") -> None:
    """ReportError when ``target`` is a folder or lies inside an input (checked before any work is done)."""
    path = Path(target)
    if path.is_dir() and not path.is_symlink():
        raise ReportError("is a folder, not a file name", path=str(path), where=what,
                          fix=f"give a file name, e.g. {path / 'report'}")
    if inside_inputs(path, roots) is not None:
        raise ReportError("the output is inside the input tree, and protocheck never writes there",
                          path=str(path), where=what, fix="write it to a folder outside the exam/dataset")


def _special(path: Path) -> bool:
    """True for an existing target that is not a regular file or a folder (a device, a FIFO, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _write_through(path: Path, data: str | bytes | Iterable[str] | Iterable[bytes], what: str) -> Path:
    try:
        with open(path, "wb") as fh:
            for block in (data,) if isinstance(data, (str, bytes)) else data:
                fh.write(block.encode("utf-8") if isinstance(block, str) else block)
    except OSError as exc:
        raise ReportError(f"cannot write the output: {exc.strerror or exc}", path=str(path), where=what,
                          fix="choose a writable path") from None
    return path


def write_atomic(target: str | os.PathLike[str], data: str | bytes | Iterable[str] | Iterable[bytes],
                 what: str = "-o") -> Path:
    """Write ``data`` (or its text blocks, as they come) to a fresh temporary file beside ``target`` and rename
    it over ``target``."""
    path = Path(target)
    if path.is_dir() and not path.is_symlink():
        raise ReportError("is a folder, not a file name", path=str(path), where=what,
                          fix=f"give a file name, e.g. {path / 'report'}")
    if _special(path):   # /dev/null, a FIFO, a terminal: written into, never replaced by a regular file
        return _write_through(path, data, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                for block in (data,) if isinstance(data, (str, bytes)) else data:
                    fh.write(block.encode("utf-8") if isinstance(block, str) else block)
            os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp's 0600 -> what a plain open() would have made
            os.replace(tmp, path)
        except BaseException:
            if os.path.lexists(tmp):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise ReportError(f"cannot write the output: {exc.strerror or exc}", path=str(path), where=what,
                          fix="choose a writable path") from None
    return path
