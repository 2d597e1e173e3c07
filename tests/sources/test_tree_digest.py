"""parallel.tree_digest (the re-audit's fast walk) equals the digest the first run computes with _folders(folders())."""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from protocheck.model import SkippedFile
from protocheck.sources.discovery import FolderListing, FoundFile, folders, walk
from protocheck.sources import treedigest
from protocheck.sources.dicom import parallel


def _first_run_digest(root: Path | str) -> bytes:
    tree = treedigest.TreeHash()
    for _ in parallel._folders(folders(root), SimpleNamespace(skipped=[]), tree):
        pass
    return tree.digest()


@pytest.fixture()
def tricky(tmp_path: Path) -> Path:
    """Nested folders, an empty one, a big one, a linked file, a broken link, a link loop, junk and a fifo."""
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "big").mkdir()
    for i in range(7):
        (root / "big" / f"IM{i:03d}").write_bytes(b"x" * i)
    (root / "a" / "f1").write_bytes(b"1")
    (root / "a" / "b" / "f2").write_bytes(b"22")
    (root / "top").write_bytes(b"333")
    os.symlink(root / "top", root / "a" / "linked")
    os.symlink(root / "missing", root / "a" / "broken")
    os.symlink(root, root / "a" / "b" / "loop")
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "._x").write_bytes(b"junk")
    if hasattr(os, "mkfifo"):
        os.mkfifo(root / "a" / "pipe")
    return root


@pytest.mark.parametrize("chunk", [treedigest.FOLDER_CHUNK, 2, 3, 7])
def test_digest_equals_the_first_runs(tricky: Path, monkeypatch, chunk: int):
    monkeypatch.setattr(treedigest, "FOLDER_CHUNK", chunk)
    assert parallel.tree_digest(tricky) == _first_run_digest(tricky)
    kinds = [type(b).__name__ for b in folders(tricky)]
    assert "SkippedFile" in kinds and kinds.count("FolderListing") == 4   # root, a, a/b, big (empty has none)


def test_single_file_and_missing_root(tricky: Path, tmp_path: Path):
    for root in (tricky / "top", tmp_path / "nope"):
        assert parallel.tree_digest(root) == _first_run_digest(root)
    assert parallel.tree_digest(tricky / "top") != parallel.tree_digest(tricky / "a" / "f1")


def test_real_tree_digest(dicom_root: Path):
    root = dicom_root / "dcm_qa_ge"
    assert parallel.tree_digest(root) == _first_run_digest(root)


@pytest.mark.parametrize("change", ["content", "add", "remove", "rename", "mtime", "add_folder", "linked"])
def test_every_change_changes_the_digest(tricky: Path, change: str):
    before = parallel.tree_digest(tricky)
    target = tricky / "big" / "IM003"
    if change == "content":
        target.write_bytes(b"yyyy")
    elif change == "add":
        (tricky / "a" / "new").write_bytes(b"n")
    elif change == "remove":
        target.unlink()
    elif change == "rename":
        target.rename(tricky / "big" / "IM999")
    elif change == "mtime":
        st = target.stat()
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    elif change == "add_folder":
        (tricky / "empty" / "f").write_bytes(b"")
    else:   # the target of a linked file changes
        (tricky / "top").write_bytes(b"4444")
    after = parallel.tree_digest(tricky)
    assert after != before and after == _first_run_digest(tricky)


def test_walk_is_the_flattened_listings(tricky: Path):
    flat = []
    for block in folders(tricky):
        if isinstance(block, SkippedFile):
            flat.append(block.path)
            continue
        assert isinstance(block, FolderListing) and block.entries
        flat.extend(os.path.join(block.rel, e[0]) if isinstance(e, tuple) else e.rel if isinstance(e, FoundFile)
                    else e.path for e in block.entries)
    assert flat == [i.rel if isinstance(i, FoundFile) else i.path for i in walk(tricky)]


def _link_free(root: Path) -> Path:
    """Sites, subjects and series folders (no link): the tree the re-audit lists with two processes."""
    for site in ("s1", "s2", "s3"):
        for subject in range(4):
            for series in range(3):
                folder = root / site / f"sub{subject}" / f"se{series}"
                folder.mkdir(parents=True)
                for i in range(series + 1):
                    (folder / f"IM{i}").write_bytes(b"x" * (i + subject))
    (root / "s2" / "notes.txt").write_bytes(b"n")
    (root / "s3" / "sub1" / "empty").mkdir()
    return root


def test_forked_listing_gives_the_same_digest(tmp_path: Path, monkeypatch):
    root = _link_free(tmp_path / "in")
    forked = treedigest._forked(root)
    assert forked is not None                   # this tree is split between two processes
    split = forked.digest()
    assert split == _first_run_digest(root) == treedigest.tree_digest(root)
    monkeypatch.setattr(treedigest, "_forked", lambda r, meanwhile=None, **kw: None)
    assert treedigest.tree_digest(root) == split      # the one-process walk agrees
    (root / "s3" / "sub3" / "se2" / "IM0").write_bytes(b"changed")
    assert treedigest.tree_digest(root) != split


def test_forked_listing_declines_a_tree_with_a_linked_folder(tmp_path: Path):
    root = _link_free(tmp_path / "in")
    os.symlink(root / "s1" / "sub0", root / "s3" / "sub2" / "again")   # deep: seen only by a walker
    assert treedigest._forked(root) is None
    assert treedigest.tree_digest(root) == _first_run_digest(root)


def test_forked_listing_survives_an_error_in_the_main_process(tmp_path: Path, monkeypatch):
    """The child is reaped (not left blocked on a full pipe) when the main process' walk fails."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    real_walk = treedigest._walk
    calls = []

    def failing(base, branches, tickets, blocks, visited, linked):
        calls.append(len(branches))
        if os.getpid() == parent:
            raise RuntimeError("interrupted")
        real_walk(base, branches, tickets, blocks, visited, linked)

    parent = os.getpid()
    monkeypatch.setattr(treedigest, "_walk", failing)
    # the child's answer outgrows the pipe's buffer: it would block for ever if nobody read or closed it
    monkeypatch.setattr(treedigest.TreeHash, "_add", lambda self, data: self.parts.append(b"x" * 100_000))
    with pytest.raises(RuntimeError):
        treedigest._forked(root)
    assert calls   # the main process walked (and failed); the child was waited for: we got here


def test_both_processes_draw_sub_trees_and_meanwhile_runs_once(tmp_path: Path, monkeypatch):
    """The sub-trees are shared by drawing numbers from one pipe: each is listed once, whoever is free; the
    caller's ``meanwhile`` runs once in the main process while the child lists."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    ran = []
    digest = treedigest.tree_digest(root, lambda: ran.append(os.getpid()))
    assert ran == [os.getpid()]
    assert digest == _first_run_digest(root)
    monkeypatch.setattr(treedigest, "_forked", lambda root, meanwhile=None, **kw: None)   # one process: still once
    assert treedigest.tree_digest(root, lambda: ran.append(0)) == digest and ran[1:] == [0]


def test_many_sub_trees_share_tickets(tmp_path: Path, monkeypatch):
    """More sub-trees than tickets: each ticket stands for a run of them, and every one is still listed once."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    monkeypatch.setattr(treedigest, "MAX_TICKETS", 2)
    assert treedigest._forked(root).digest() == _first_run_digest(root)


def _state(root: Path, known=None, split: bool = True):
    got = treedigest._forked(root, known=known) if split else None
    if split:
        assert got is not None
        return got
    blocks = treedigest._Blocks(known)
    for block in folders(root):
        blocks.block(block)
    blocks.flush()
    return blocks.hash


@pytest.mark.parametrize("split", [True, False])
def test_state_keeps_the_listings_of_changed_chunks(tmp_path: Path, monkeypatch, split: bool):
    """Given the stored chunk hashes, the walk keeps the listings of the chunks that changed (and only those),
    in one process or two; the first run's TreeHash gives the same chunk hashes."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    first = treedigest.TreeHash()
    for _ in parallel._folders(folders(root), SimpleNamespace(skipped=[]), first):
        pass
    keys, skips = first.state()
    before = _state(root, keys, split)
    assert before.state() == (keys, skips) and before.changed == {} and not before.overflow
    im = root / "s3" / "sub3" / "se2" / "IM0"
    st = im.stat()
    os.utime(im, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    (root / "s1" / "new").write_bytes(b"n")
    after = _state(root, keys, split)
    assert after.digest() != first.digest() and not after.overflow
    assert set(after.changed) == {os.path.join("s3", "sub3", "se2"), "s1"}
    path, files = after.changed[os.path.join("s3", "sub3", "se2")]
    assert path == str(im.parent) and ("IM0", st.st_size, st.st_mtime_ns + 10**9) in files
    monkeypatch.setattr(treedigest, "MAX_CHANGED", 1)   # too many changed files: none kept
    many = _state(root, keys, split)
    assert many.overflow and many.changed == {} and many.keys == after.keys


def test_state_gives_no_listing_of_a_chunk_with_a_linked_file(tricky: Path):
    """A changed chunk holding a linked file (its path is not the folder's) marks the state, keeps nothing."""
    keys, _skips = _state(tricky, split=False).state()
    (tricky / "top").write_bytes(b"4444")   # reached as a/linked too
    after = _state(tricky, keys, split=False)
    assert after.overflow and after.changed == {}


@pytest.mark.parametrize("split", [True, False])
def test_on_change_is_called_once_on_a_changed_chunk(tmp_path: Path, monkeypatch, split: bool):
    """``on_change`` (the re-check starts importing the readers) runs once in this process when a chunk it lists
    changed, never for an unchanged tree."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    if not split:
        monkeypatch.setattr(treedigest, "_forked", lambda root, meanwhile=None, **kw: None)
    keys, _skips = treedigest.tree_state(root).state()
    calls: list[int] = []
    treedigest.tree_state(root, known=keys, on_change=lambda: calls.append(os.getpid()))
    assert calls == []
    for f in sorted(root.rglob("IM*")):
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    after = treedigest.tree_state(root, known=keys, on_change=lambda: calls.append(os.getpid()))
    assert calls == [os.getpid()] and len(after.changed) == len(keys) - 1   # all but s2 (notes.txt only)


def test_on_change_is_called_when_only_the_forked_process_saw_a_change(tmp_path: Path, monkeypatch):
    """The forked process lists every changed chunk (this one draws no sub-tree): ``on_change`` still runs, once,
    in this process, after the walk."""
    root = _link_free(tmp_path / "in")
    monkeypatch.setattr(treedigest, "SPLIT_BRANCHES", 2)
    keys, _skips = treedigest.tree_state(root).state()
    me, real_walk = os.getpid(), treedigest._walk

    def walk(base, branches, tickets, blocks, visited, linked):
        if os.getpid() == me:   # this process: no ticket drawn, the forked one lists every sub-tree
            blocks.flush()
            return
        real_walk(base, branches, tickets, blocks, visited, linked)

    monkeypatch.setattr(treedigest, "_walk", walk)
    for f in sorted(root.rglob("IM*")):
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    calls: list[int] = []
    after = treedigest.tree_state(root, known=keys, on_change=lambda: calls.append(os.getpid()))
    assert calls == [me] and len(after.changed) == len(keys) - 1
