"""discovery.walk: every file whatever its name, junk ignored, loops and vanished files never raise."""
from __future__ import annotations

import os

from protocheck.model import SkippedFile
from protocheck.sources.discovery import FoundFile, walk


def test_walk_files_sorted_hidden_and_junk(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "IM0001").write_bytes(b"x")
    (tmp_path / "a" / ".hidden").write_bytes(b"x")
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_bytes(b"x")
    got = [i.rel for i in walk(tmp_path) if isinstance(i, FoundFile)]
    assert got == [os.path.join("a", ".hidden"), os.path.join("b", "IM0001")]


def test_symlink_loop_and_broken_link(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    os.symlink(tmp_path, tmp_path / "d" / "loop")
    os.symlink(tmp_path / "missing", tmp_path / "broken")
    items = list(walk(tmp_path))
    files = [i for i in items if isinstance(i, FoundFile)]
    skipped = [i for i in items if isinstance(i, SkippedFile)]
    assert [f.rel for f in files] == [os.path.join("d", "f")]
    assert any("loop" in s.reason for s in skipped)
    assert any("broken" in s.reason for s in skipped)


def test_single_file_and_missing_root(tmp_path):
    f = tmp_path / "one"
    f.write_bytes(b"abc")
    assert [i.rel for i in walk(f)] == ["one"]
    gone = list(walk(tmp_path / "nope"))
    assert len(gone) == 1 and isinstance(gone[0], SkippedFile)


def test_permission_denied(tmp_path):
    d = tmp_path / "locked"
    d.mkdir()
    (d / "f").write_bytes(b"x")
    d.chmod(0)
    try:
        items = list(walk(tmp_path))
    finally:
        d.chmod(0o755)
    if os.geteuid() != 0:
        assert any(isinstance(i, SkippedFile) and "permission" in i.reason for i in items)
    else:
        assert len(items) == 1
