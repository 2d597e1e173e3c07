"""Hostile input, round two (issue 17): deflate bombs, merged sites, damaged identifiers, absurd values.

Every test builds its input in tmp_path from real headers and fails on the code before the fix."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pydicom
import pytest

import bombs
import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore")

BOMB = 256 * 1024 * 1024      # inflated size of the test bombs (the cap is 64 MiB)


def _skip_of(result, name: str):
    return next((s for s in result.skipped if s.path.replace("\\", "/").endswith(name)), None)


def test_deflate_bomb_in_a_folder_is_skipped_with_reason(scan, case_dir, good_files, good_uid):
    bombs.deflate_bomb(good_files[0], case_dir / "bomb" / "bomb.dcm", BOMB)
    result = scan(case_dir)
    s = _skip_of(result, "bomb.dcm")
    assert s is not None and s.kind == "limit" and "deflate" in s.reason
    acq = next(a for a in result.acquisitions() if a.key == good_uid)
    assert acq.n_files == 11


def test_small_deflated_file_is_still_read(scan, tmp_path, other_files, other_uid):
    bombs.deflate_bomb(other_files[0], tmp_path / "d" / "small.dcm", 16)
    result = scan(tmp_path / "d")
    assert [a.key for a in result.acquisitions()] == [other_uid]
    assert result.skipped == []


def test_deflate_bomb_inside_a_zip_is_skipped(tmp_path, good_files):
    from protocheck.sources import scan

    bomb = bombs.deflate_bomb(good_files[0], tmp_path / "bomb.dcm", BOMB)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:   # stored: no archive ratio to trip
        zf.write(bomb, "exam/bomb.dcm")
        for f in good_files:
            zf.write(f, f"exam/{f.name}")
    result = scan([archive])
    s = _skip_of(result, "bomb.dcm")
    assert s is not None and s.kind == "limit", [x.reason for x in result.skipped]
    assert sum(a.n_files for a in result.acquisitions()) == 11
