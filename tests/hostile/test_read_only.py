"""protocheck never writes into its input: every file hashed and every path listed before and after
``check`` (every format, -o and stdout, --summary) and ``audit``; nothing changes, nothing is added."""
from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest

import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore")


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` (folders included) with its type, mode, size, mtime and SHA-256."""
    snap: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_symlink() or p.is_dir():
                snap[rel] = ("link" if p.is_symlink() else "dir", st.st_mode)
            else:
                snap[rel] = ("file", st.st_mode, st.st_size, st.st_mtime_ns,
                             hashlib.sha256(p.read_bytes()).hexdigest())
    snap["."] = ("dir", root.stat().st_mode, root.stat().st_mtime_ns)
    return snap


@pytest.fixture
def input_tree(tmp_path: Path, dicom_root: Path) -> Path:
    """A small exam tree from real headers (two series, nested folders, a junk file, a zip export)."""
    root = tmp_path / "input"
    corpus.copy_series(dicom_root, corpus.GOOD_SERIES, root / "sub01" / "t2")
    corpus.copy_series(dicom_root, corpus.SIEMENS_SERIES, root / "sub01" / "gre")
    (root / "sub01" / "notes.txt").write_text("not DICOM\n")
    with zipfile.ZipFile(root / "export.zip", "w") as zf:
        for f in corpus.files_of(dicom_root, corpus.GOOD_SERIES)[:3]:
            zf.write(f, f"t2/{f.name}")
    return root


def test_check_and_audit_never_write_into_input(cli, input_tree: Path, tmp_path: Path):
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    before = snapshot(input_tree)
    runs = 0
    for fmt in cli.formats:
        for target in (input_tree, input_tree / "sub01", input_tree / "export.zip"):
            rc, _, err = cli("check", target, "--format", fmt)
            assert rc in (0, 1), f"check --format {fmt} {target.name}: exit {rc}: {err}"
            rc, _, err = cli("check", target, "--format", fmt, "-o", out_dir / f"r_{fmt}_{target.name}",
                             "--summary", out_dir / f"s_{fmt}_{target.name}.json")
            assert rc in (0, 1), f"check --format {fmt} -o: exit {rc}: {err}"
            runs += 2
    for fmt in ("console", "json", "html"):
        rc, _, err = cli("audit", input_tree, "--format", fmt, "-o", out_dir / f"audit.{fmt}",
                         "--tsv", out_dir / f"tsv_{fmt}")
        assert rc in (0, 1), f"audit --format {fmt}: exit {rc}: {err}"
        runs += 1
    after = snapshot(input_tree)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in before if k in after and before[k] != after[k])
    print(f"\n[read-only] runs: {runs}, paths: {len(before)}, files changed: {len(changed)}, "
          f"added: {len(added)}, removed: {len(removed)}")
    assert not added, f"files added inside the input tree: {added}"
    assert not removed, f"files removed from the input tree: {removed}"
    assert not changed, f"input changed: {changed}"
    assert any(out_dir.iterdir()), "reports were written outside the input as asked"


def test_output_inside_input_tree_is_refused_or_explicit(cli, input_tree: Path):
    """-o inside the input is allowed only because it is explicit; the input files are still untouched."""
    before = {k: v for k, v in snapshot(input_tree).items() if k != "."}
    target = input_tree / "report.json"
    rc, _, err = cli("check", input_tree, "--format", "json", "-o", target)
    after = {k: v for k, v in snapshot(input_tree).items() if k not in (".", "report.json")}
    assert after == before, "an explicit -o inside the input may add that report, never change input files"
    assert rc in (0, 1, 2), err
