"""Walk an input tree: every regular file whatever its name; problems become SkippedFiles, never exceptions."""
from __future__ import annotations

import operator
import os
import sys
from dataclasses import dataclass
from typing import Iterator

from types import ModuleType

from protocheck.model import SkippedFile
from protocheck.sources.compiled import load_compiled

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

    def __init__(self, path: str, rel: str, size: int, mtime: float, mtime_ns: int = 0) -> None:
        # speed (one per file of an archive): the generated frozen __init__ sets each field through
        # object.__setattr__, 3x slower; the instance stays frozen (assignment still raises)
        d = self.__dict__
        d["path"], d["rel"], d["size"], d["mtime"], d["mtime_ns"] = path, rel, size, mtime, mtime_ns


def _rel(path: str, root: str) -> str:
    prefix = root.rstrip(os.sep) + os.sep
    if path.startswith(prefix) and len(path) > len(prefix):   # speed: walk paths are root + names
        return path[len(prefix):]
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return os.path.basename(path) if rel == "." else rel


class FolderListing:
    """One folder's regular files in walk order: ``entries`` holds a (name, size, mtime_ns) tuple per plain file
    and, in place, the FoundFile of a linked file or the SkippedFile of what cannot be read; ``plain`` is True
    when every entry is a tuple. ``rel`` is the folder relative to the root; ``packed``, when known (the compiled
    listing), is ``storage.listing.listing_bytes(entries)``."""

    __slots__ = ("path", "rel", "entries", "plain", "packed")

    def __init__(self, path: str, rel: str, entries: list, plain: bool, packed: bytes | None = None) -> None:
        self.path, self.rel, self.entries, self.plain, self.packed = path, rel, entries, plain, packed


def st_mtime(mtime_ns: int) -> float:
    """os.stat's st_mtime from its st_mtime_ns (the same float: seconds + nanoseconds * 1e-9)."""
    seconds, ns = divmod(mtime_ns, 1_000_000_000)
    return seconds + ns * 1e-9


def walk(root: str | os.PathLike[str]) -> Iterator[FoundFile | SkippedFile]:
    """Yield every regular file under ``root`` (sorted, deterministic) or a SkippedFile for what cannot be read."""
    sep = os.sep
    for block in folders(root):
        if isinstance(block, SkippedFile):
            yield block
            continue
        path = block.path if block.path.endswith(sep) else block.path + sep
        rel = block.rel + sep if block.rel else ""
        for item in block.entries:
            if item.__class__ is tuple:
                name, size, mtime_ns = item
                yield FoundFile(path + name, rel + name, size, st_mtime(mtime_ns), mtime_ns)
            else:
                yield item


def folders(root: str | os.PathLike[str]) -> Iterator[FolderListing | SkippedFile]:
    """The walk folder by folder (depth first, sorted): a FolderListing per folder, or a SkippedFile for a
    folder that cannot be listed or is reached again through a link. A single-file root is one listing."""
    root = os.fspath(root)
    try:
        st = os.stat(root)
    except OSError as exc:
        yield SkippedFile(root, f"cannot access the input: {exc.strerror or exc}", "unreadable")
        return
    if not os.path.isdir(root):
        found = FoundFile(os.path.abspath(root), os.path.basename(root), st.st_size, st.st_mtime, st.st_mtime_ns)
        yield FolderListing(os.path.dirname(found.path), "", [found], False)
        return
    base = os.path.abspath(root)
    yield from descend(base, [(base, "", None)], set())


Branch = tuple[str, str, "str | None"]   # a folder to walk: (path, path relative to the root, real path if known)


def descend(base: str, stack: list[Branch], visited: set[str],
            linked: list[Branch] | None = None) -> Iterator[FolderListing | SkippedFile]:
    """``folders``' walk from the branches on ``stack`` (the last is walked first); ``linked`` (when given)
    receives every sub-folder reached through a symbolic link (the tree digest splits only link-free trees)."""
    while stack:
        block, subdirs = visit(base, stack.pop(), visited)
        if linked is not None and subdirs:
            linked.extend(d for d in subdirs if d[2] is None)
        if block is not None:
            yield block
        stack.extend(reversed(subdirs))


def visit(base: str, branch: Branch, visited: set[str]) -> tuple[FolderListing | SkippedFile | None, list[Branch]]:
    """One folder of the walk: its listing (None when it holds no file) or why it is skipped, and its
    sub-folders in order."""
    current, rel, real = branch
    real = real or os.path.realpath(current)   # known without syscalls for a plain sub-folder
    if real in visited:
        return SkippedFile(_rel(current, base), "symbolic link loop or folder already visited: skipped",
                           "ignored"), []
    visited.add(real)
    compiled = CLIST
    if compiled is not None and _SCANDIR_FD:
        try:
            listed = compiled.list_folder(current, _IGNORED_BYTES, True, _PACK)
        except OSError as exc:
            return SkippedFile(_rel(current, base), _problem(exc), "unreadable"), []
        if listed is not None:   # only plain files and folders (else the Python listing below decides)
            return _plain(listed, current, rel, real)
    fd, entries, problem = _list_dir(current)
    if problem is not None:
        return SkippedFile(_rel(current, base), problem, "unreadable"), []
    try:
        listing, subdirs = _list_folder(entries, current, rel, real, base)
    finally:
        if fd is not None:
            os.close(fd)
    return (listing if listing.entries else None), subdirs


def _plain(listed: tuple, current: str, rel: str, real: str) -> tuple[FolderListing | None, list[Branch]]:
    """``visit``'s result from the compiled listing of a folder of plain files and folders: (files, sub-folder
    names) and, with ``_PACK``, the files' listing bytes."""
    files, names = listed[0], listed[1]
    subdirs: list[Branch] = []
    if names:
        sep = os.sep
        rel_prefix = rel + sep if rel else ""
        real_prefix = real if real.endswith(sep) else real + sep
        path_prefix = current if current.endswith(sep) else current + sep
        subdirs = [(path_prefix + name, rel_prefix + name, real_prefix + name) for name in names]
    return (FolderListing(current, rel, files, True, listed[2] if _PACK else None) if files else None), subdirs


def _list_folder(entries: list[os.DirEntry[str]], current: str, rel: str, real: str,
                 base: str) -> tuple[FolderListing, list[tuple[str, str, str | None]]]:
    """One folder's listing and its sub-folders (path, rel, real path when known); plain entries need one stat
    (relative to the open folder when the platform allows: the kernel then resolves one name, not a path)."""
    sep = os.sep
    listing = FolderListing(current, rel, [], True)
    out = listing.entries
    subdirs: list[tuple[str, str, str | None]] = []
    rel_prefix = rel + sep if rel else ""
    real_prefix = real if real.endswith(sep) else real + sep
    path_prefix = current if current.endswith(sep) else current + sep
    for entry in entries:
        name = entry.name
        if name in IGNORED_NAMES or name.startswith("._"):
            continue
        try:   # fast path (plain files and folders; not a link: following it or not is the same)
            plain = not entry.is_symlink()
            st = entry.stat() if plain and entry.is_file() else None
            folder = plain and st is None and entry.is_dir()
        except OSError:
            st, folder = None, False
        if st is not None:
            out.append((name, st.st_size, st.st_mtime_ns))
            continue
        if folder:   # the real path of a plain (not linked) sub-folder: its parent's plus its name
            subdirs.append((path_prefix + name, rel_prefix + name, real_prefix + name))
            continue
        item = _classify(entry, base, path_prefix + name)
        if item is None:
            continue
        if isinstance(item, str):
            subdirs.append((item, rel_prefix + name, None))
        else:
            out.append(item)
            listing.plain = False
    return listing, subdirs


_name = operator.attrgetter("name")
_SCANDIR_FD = os.scandir in os.supports_fd and os.stat in os.supports_dir_fd
_IGNORED_BYTES = tuple(sorted(os.fsencode(name) for name in IGNORED_NAMES))   # the compiled listing's skips
CLIST_VERSION = 2   # _clist.c's CLIST_VERSION: the function and arguments called here
# the compiled listing's bytes of a folder's names are the bytes read from the folder: the names' UTF-8 form
# (listing_bytes) only where the file system encoding is UTF-8 with surrogateescape (their exact round trip)
_PACK = sys.getfilesystemencoding() == "utf-8" and sys.getfilesystemencodeerrors() == "surrogateescape"


def _load() -> ModuleType | None:
    """The compiled listing (``_clist``, from _clist.c), or None (see ``load_compiled``)."""
    return load_compiled("protocheck.sources._clist", CLIST_VERSION)


CLIST = _load()   # the plain folders are listed in C when set (tests switch it off by setting None)


def _list_dir(path: str) -> tuple[int | None, list[os.DirEntry[str]], str | None]:
    """(open folder descriptor or None, entries sorted by name, problem); the caller closes the descriptor,
    which the entries' stat() uses until then."""
    fd = None
    try:
        if _SCANDIR_FD:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        with os.scandir(path if fd is None else fd) as it:
            entries = sorted(it, key=_name)
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        return None, [], _problem(exc)
    return fd, entries, None


def _problem(exc: OSError) -> str:
    """Why a folder could not be listed."""
    if isinstance(exc, PermissionError):
        return "permission denied: folder not read (fix: grant read access)"
    if isinstance(exc, FileNotFoundError):
        return "folder vanished during the scan"
    return f"folder cannot be listed: {exc.strerror or exc}"


def _classify(entry: os.DirEntry[str], base: str, path: str) -> FoundFile | SkippedFile | str | None:
    """A FoundFile, a SkippedFile, a sub-folder path to descend into, or None for ignored junk (``path``: the
    entry's full path, as ``entry.path`` is only its name when the folder was listed by descriptor)."""
    if entry.name in IGNORED_NAMES or entry.name.startswith("._"):
        return None
    rel = _rel(path, base)
    try:
        if entry.is_dir(follow_symlinks=True):
            return path
        if not entry.is_file(follow_symlinks=True):
            if entry.is_symlink() and not os.path.exists(path):
                return SkippedFile(rel, "broken symbolic link", "unreadable")
            return SkippedFile(rel, "not a regular file (device, socket or pipe)", "ignored")
        st = entry.stat(follow_symlinks=True)
    except PermissionError:
        return SkippedFile(rel, "permission denied (fix: grant read access)", "unreadable")
    except FileNotFoundError:
        return SkippedFile(rel, "file vanished during the scan", "unreadable")
    except OSError as exc:
        return SkippedFile(rel, f"cannot stat: {exc.strerror or exc}", "unreadable")
    return FoundFile(path, rel, st.st_size, st.st_mtime, st.st_mtime_ns)
