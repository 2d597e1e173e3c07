"""Walk an input tree: every regular file whatever its name; problems become SkippedFiles, never exceptions."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

from protocheck.model import SkippedFile

IGNORED_NAMES: frozenset[str] = frozenset({
    ".git", ".hg", ".svn", ".bzr", ".DS_Store", "Thumbs.db", "desktop.ini", "__MACOSX", ".datalad",
    ".Spotlight-V100", ".Trashes", ".fseventsd", "._.DS_Store",
})


@dataclass(frozen=True)
class FoundFile:
    """A regular file found under a root: absolute path, path relative to the root, size and mtime."""

    path: str
    rel: str
    size: int
    mtime: float
    mtime_ns: int = 0     # exact modification time (ns), the incremental index key


def _rel(path: str, root: str) -> str:
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix) and len(path) > len(prefix):   # speed: walk paths are root + names
        return path[len(prefix):]
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return os.path.basename(path) if rel == "." else rel


def walk(root: str | os.PathLike[str]) -> Iterator[FoundFile | SkippedFile]:
    """Yield every regular file under ``root`` (sorted, deterministic) or a SkippedFile for what cannot be read."""
    root = os.fspath(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        yield SkippedFile(root, f"cannot access the input: {exc.strerror or exc}", "unreadable")
        return
    if not os.path.isdir(root):
        yield FoundFile(os.path.abspath(root), os.path.basename(root), st.st_size, st.st_mtime, st.st_mtime_ns)
        return
    base = os.path.abspath(root)
    visited: set[str] = set()
    stack = [base]
    while stack:
        current = stack.pop()
        real = os.path.realpath(current)
        if real in visited:
            yield SkippedFile(_rel(current, base), "symbolic link loop or folder already visited: skipped",
                              "ignored")
            continue
        visited.add(real)
        entries, problem = _list_dir(current)
        if problem is not None:
            yield SkippedFile(_rel(current, base), problem, "unreadable")
            continue
        subdirs: list[str] = []
        for entry in entries:
            item = _classify(entry, base)
            if item is None:
                continue
            if isinstance(item, str):
                subdirs.append(item)
            else:
                yield item
        stack.extend(reversed(subdirs))


def _list_dir(path: str) -> tuple[list[os.DirEntry[str]], str | None]:
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except PermissionError:
        return [], "permission denied: folder not read (fix: grant read access)"
    except FileNotFoundError:
        return [], "folder vanished during the scan"
    except OSError as exc:
        return [], f"folder cannot be listed: {exc.strerror or exc}"
    return entries, None


def _classify(entry: os.DirEntry[str], base: str) -> FoundFile | SkippedFile | str | None:
    """A FoundFile, a SkippedFile, a sub-folder path to descend into, or None for ignored junk."""
    if entry.name in IGNORED_NAMES or entry.name.startswith("._"):
        return None
    rel = _rel(entry.path, base)
    try:
        if entry.is_dir(follow_symlinks=True):
            return entry.path
        if not entry.is_file(follow_symlinks=True):
            if entry.is_symlink() and not os.path.exists(entry.path):
                return SkippedFile(rel, "broken symbolic link", "unreadable")
            return SkippedFile(rel, "not a regular file (device, socket or pipe)", "ignored")
        st = entry.stat(follow_symlinks=True)
    except PermissionError:
        return SkippedFile(rel, "permission denied (fix: grant read access)", "unreadable")
    except FileNotFoundError:
        return SkippedFile(rel, "file vanished during the scan", "unreadable")
    except OSError as exc:
        return SkippedFile(rel, f"cannot stat: {exc.strerror or exc}", "unreadable")
    return FoundFile(entry.path, rel, st.st_size, st.st_mtime, st.st_mtime_ns)
