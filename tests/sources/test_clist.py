"""_clist.list_folder (_clist.c): discovery's compiled folder listing gives the walk the pure-Python listing gives
(folders, walk, tree digest and chunk state), on the shared data and on trees with links, loops, unreadable
folders, special files, ignored and odd names; whatever is not a plain file or folder is left to Python."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from protocheck.model import SkippedFile
from protocheck.sources import discovery, treedigest
from protocheck.sources.dicom import parallel
from protocheck.storage.listing import listing_bytes

pytestmark = pytest.mark.skipif(discovery.CLIST is None, reason="the optional C extension _clist is not built")
POSIX = os.name == "posix"
COMPILED = discovery.CLIST
ODD_NAMES = ["a", "B", "é", "\ue000x", "z\nnewline", "tab\tname", " lead", "Ω", "日本"]


class _Counting:
    """The compiled module with its list_folder calls counted (proof the compiled listing ran)."""

    def __init__(self, module, use_types: bool = True) -> None:
        self.module, self.calls, self.plain, self.use_types = module, 0, 0, use_types

    def list_folder(self, path, ignored, use_types=True, pack=False):
        self.calls += 1
        out = self.module.list_folder(path, ignored, use_types and self.use_types, pack)
        self.plain += out is not None
        return out


def _snap(root) -> list:
    """The walk's blocks (a compiled listing's bytes checked against listing_bytes on the way)."""
    out = []
    for block in discovery.folders(root):
        if isinstance(block, SkippedFile):
            out.append(("skipped", block.path, block.reason, block.kind))
        else:
            assert block.packed is None or block.packed == listing_bytes(block.entries)
            out.append((block.path, block.rel, block.plain, [e if e.__class__ is tuple else repr(e)
                                                             for e in block.entries]))
    return out


def _walked(root) -> list:
    return [(i.path, i.rel, i.size, i.mtime, i.mtime_ns) if isinstance(i, discovery.FoundFile) else repr(i)
            for i in discovery.walk(root)]


def _digests(root) -> tuple:
    split = treedigest._forked(root)
    one = SimpleNamespace(skipped=[])
    first = treedigest.TreeHash()
    for _ in parallel._folders(discovery.folders(root), one, first):
        pass
    state = treedigest.tree_state(root)
    assert state.digest() == first.digest() and state.state() == first.state()   # as the first run
    assert split is None or (split.digest(), split.state()) == (first.digest(), first.state())
    return (split.digest() if split is not None else None, split.state() if split is not None else None,
            first.digest(), first.state(), state.digest(), state.state())


def _both(root, monkeypatch) -> tuple[tuple, tuple, _Counting]:
    """(compiled, pure-Python) results of every walk of ``root``; the counter of compiled calls. The compiled
    listing is also run as on a file system that gives no entry types (DT_UNKNOWN: one stat per entry)."""
    module = COMPILED
    counting = _Counting(module)
    monkeypatch.setattr(discovery, "CLIST", counting)
    compiled = (_snap(root), _walked(root), _digests(root))
    monkeypatch.setattr(discovery, "CLIST", _Counting(module, use_types=False))
    assert (_snap(root), _walked(root), _digests(root)) == compiled
    monkeypatch.setattr(discovery, "CLIST", None)
    pure = (_snap(root), _walked(root), _digests(root))
    return compiled, pure, counting


def _odd_tree(root: Path) -> Path:
    """Plain folders, an empty one, odd and non-UTF-8 names, ignored names, links, a loop and a fifo."""
    (root / "plain" / "deep" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    for i, name in enumerate(ODD_NAMES):
        (root / "plain" / name).write_bytes(b"x" * i)
        (root / "plain" / "deep" / f"{name}{i}").mkdir()
    (root / "plain" / "deep" / "deeper" / "f").write_bytes(b"f")
    raw = os.fsencode(root / "plain")
    for name in (b"\xff", b"\xe9t\xe9", b"a\x80b", b"\xed\xa0\x80"):   # not UTF-8: surrogateescape names
        with open(raw + b"/" + name, "wb") as f:
            f.write(name)
    os.mkdir(os.fsencode(root / "plain" / "deep") + b"/\xfe dir")
    with open(os.fsencode(root / "plain" / "deep") + b"/\xfe dir/\xfd", "wb") as f:
        f.write(b"1")
    for junk in (".DS_Store", "._IM1", "Thumbs.db", "desktop.ini"):
        (root / "plain" / junk).write_bytes(b"junk")
    (root / "plain" / ".git").mkdir()
    (root / "plain" / ".git" / "HEAD").write_bytes(b"x")
    (root / "plain" / "._folder").mkdir()
    (root / "plain" / "._folder" / "f").write_bytes(b"x")
    (root / "links").mkdir()
    (root / "links" / "f").write_bytes(b"22")
    os.symlink(root / "plain" / "a", root / "links" / "to_file")
    os.symlink(root / "plain" / "deep", root / "links" / "to_folder")
    os.symlink(root / "missing", root / "links" / "broken")
    os.symlink(root, root / "links" / "loop")
    os.symlink(root / "plain" / "a", root / "plain" / "._linked_junk")   # ignored before it is looked at
    if hasattr(os, "mkfifo"):
        (root / "special").mkdir()
        os.mkfifo(root / "special" / "pipe")
        (root / "special" / "f").write_bytes(b"333")
    return root


@pytest.mark.skipif(not POSIX, reason="POSIX names and links")
def test_odd_tree_walks_the_same(tmp_path: Path, monkeypatch):
    root = _odd_tree(tmp_path / "in")
    compiled, pure, counting = _both(root, monkeypatch)
    assert compiled == pure
    assert counting.plain > 0 and counting.calls > counting.plain   # plain folders in C, the linked ones not
    names = [e[0] for block in compiled[0] if block[0] != "skipped" and block[1] == "plain" for e in block[3]]
    assert names == sorted(names) and "\udcff" in names and "z\nnewline" in names and ".DS_Store" not in names


@pytest.mark.skipif(not POSIX, reason="POSIX names")
@pytest.mark.parametrize("chunk", [treedigest.FOLDER_CHUNK, 1, 2])
def test_link_free_odd_names_are_listed_in_c(tmp_path: Path, monkeypatch, chunk: int):
    """Names Python sorts by code point (a surrogate-escaped byte before U+E000, after U+00E9), split walks, and
    folders cut in chunks (the compiled listing's bytes serve only a folder held in one chunk)."""
    monkeypatch.setattr(treedigest, "FOLDER_CHUNK", chunk)
    root = tmp_path / "in"
    for sub in ("s1", "s2", "s3"):
        for name in ODD_NAMES:
            (root / sub / name).mkdir(parents=True)
            (root / sub / name / name).write_bytes(name.encode())
        with open(os.fsencode(root / sub) + b"/\xff\xfe", "wb") as f:
            f.write(b"raw")
        (root / sub / "second").write_bytes(b"2")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 4)   # 27 sub-trees shared by two processes
    compiled, pure, counting = _both(root, monkeypatch)
    assert compiled == pure
    assert counting.calls == counting.plain > 0
    if discovery._PACK:
        monkeypatch.setattr(discovery, "CLIST", COMPILED)
        packed = [b.packed for b in discovery.folders(root) if not isinstance(b, SkippedFile)]
        assert packed and all(p is not None for p in packed)
    assert compiled[2][0] is not None   # the two-process listing ran


def test_shared_data_walks_the_same(shared: Path, monkeypatch):
    root = shared / "data"
    compiled, pure, counting = _both(root, monkeypatch)
    assert compiled == pure
    assert counting.plain > 100


@pytest.mark.skipif(not POSIX or os.geteuid() == 0, reason="chmod has no effect for root")
@pytest.mark.parametrize("mode", [0, 0o444, 0o111])
def test_unreadable_folders_give_the_same_skipped_files(tmp_path: Path, monkeypatch, mode: int):
    """Not listable (0, 0o111) or listable but not searchable (0o444: every stat fails, Python decides)."""
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "f").write_bytes(b"x")
    (root / "locked" / "sub").mkdir()
    (root / "ok").mkdir()
    (root / "ok" / "g").write_bytes(b"y")
    (root / "locked").chmod(mode)
    try:
        compiled, pure, _ = _both(root, monkeypatch)
    finally:
        (root / "locked").chmod(0o755)
    assert compiled == pure
    assert any(s[0] == "skipped" and "permission denied" in s[2] for s in compiled[0])


def test_list_folder_itself(tmp_path: Path):
    list_folder = discovery.CLIST.list_folder
    (tmp_path / "b").write_bytes(b"12")
    (tmp_path / "a").mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"x")
    st = os.stat(tmp_path / "b")
    assert list_folder(str(tmp_path), discovery._IGNORED_BYTES) == ([("b", 2, st.st_mtime_ns)], ["a"])
    files = [(".DS_Store", 1, os.stat(tmp_path / ".DS_Store").st_mtime_ns), ("b", 2, st.st_mtime_ns)]
    assert list_folder(str(tmp_path), ()) == (files, ["a"])
    assert list_folder(str(tmp_path), (), False, True) == (files, ["a"], listing_bytes(files))
    assert list_folder(str(tmp_path / "a"), (), True, True) == ([], [], listing_bytes([]))
    with pytest.raises(FileNotFoundError):
        list_folder(str(tmp_path / "gone"), ())
    with pytest.raises(NotADirectoryError):
        list_folder(str(tmp_path / "b"), ())
    with pytest.raises(TypeError):
        list_folder(str(tmp_path), ("not bytes",))
    if hasattr(os, "symlink"):
        os.symlink(tmp_path / "b", tmp_path / "link")
        assert list_folder(str(tmp_path), ()) is None   # a link: the Python listing decides


@pytest.mark.parametrize("ns", [0, 1, 999_999_999, 1_700_000_000_123_456_789, -1, -1_500_000_000_000_000_001,
                                2**62 + 123, 2**63 + 5 * 10**9])
def test_times_are_os_stat_times(tmp_path: Path, monkeypatch, ns: int):
    """mtime_ns as os.stat gives it and the float st_mtime walk() derives from it, before 1970 and far ahead."""
    f = tmp_path / "f"
    f.write_bytes(b"x")
    try:
        os.utime(f, ns=(ns, ns))
    except (OSError, OverflowError):
        pytest.skip("this file system does not take that time")
    st = os.stat(f)
    compiled, pure, _ = _both(tmp_path, monkeypatch)
    assert compiled == pure
    assert compiled[1] == [(str(f), "f", 1, st.st_mtime, st.st_mtime_ns)]


def test_pure_python_switch_leaves_the_listing_to_python(tmp_path: Path, monkeypatch):
    (tmp_path / "f").write_bytes(b"x")
    counting = _Counting(discovery.CLIST)
    monkeypatch.setattr(discovery, "CLIST", counting)
    assert len(_walked(tmp_path)) == 1 and counting.calls == 1
    monkeypatch.setattr(discovery, "CLIST", None)
    assert len(_walked(tmp_path)) == 1 and counting.calls == 1


@pytest.mark.skipif(sys.platform != "linux", reason="a vanishing folder, as Linux reports it")
def test_folder_vanishing_gives_the_same_skipped_file(tmp_path: Path, monkeypatch):
    """A folder listed by its parent but gone when its turn comes: 'folder vanished' in both listings."""
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "b" / "f").write_bytes(b"x")
    (root / "r").write_bytes(b"x")
    results = []
    for module in (discovery.CLIST, None):
        monkeypatch.setattr(discovery, "CLIST", module)
        (root / "a").mkdir(exist_ok=True)
        walked = []
        for block in discovery.folders(root):   # the root's listing first, then its sub-folders
            walked.append(block if isinstance(block, SkippedFile) else block.rel)
            if len(walked) == 1:
                (root / "a").rmdir()
        results.append(walked)
    assert results[0] == results[1]
    assert any(isinstance(b, SkippedFile) and "vanished" in b.reason for b in results[0])


def test_pure_python_environment_switch(monkeypatch):
    """PROTOCHECK_PURE_PYTHON=1 leaves the compiled listing out; "0" keeps it."""
    monkeypatch.setenv("PROTOCHECK_PURE_PYTHON", "1")
    assert discovery._load() is None
    monkeypatch.setenv("PROTOCHECK_PURE_PYTHON", "0")
    assert discovery._load() is not None
