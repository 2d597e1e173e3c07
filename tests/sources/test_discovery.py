"""discovery.walk: every file whatever its name, junk ignored, loops and vanished files never raise."""
from __future__ import annotations

import os

import pytest

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


def test_an_input_without_mri_beside_others_is_listed_not_fatal(shared, capsys):
    """An audit over many datasets must not stop at one without MRI (EEG only): it is listed as not used and
    the others are read; alone, or when no input has MRI, it is still an error (exit 2)."""
    from protocheck.cli import main
    from protocheck.errors import NoExamError
    from protocheck.sources import scan
    examples = shared / "data" / "bids" / "bids-examples"
    eeg, mri = examples / "eeg_cbm", examples / "ds001"
    result = scan([str(eeg), str(mri)])
    assert result.exams and all(e.source_kind == "bids" for e in result.exams)
    unused = [s for s in result.skipped if s.kind == "not-mr"]
    assert [s.path for s in unused] == [str(eeg)] and "no MR exam" in unused[0].reason
    with pytest.raises(NoExamError):
        scan([str(eeg)])
    with pytest.raises(NoExamError):
        scan([str(eeg), str(examples / "eeg_face13")])
    assert main(["audit", str(eeg), str(mri)]) != 2
    assert f"not used: no MR exam in {eeg}" in capsys.readouterr().err
    assert main(["audit", str(eeg), str(examples / "eeg_face13")]) == 2
