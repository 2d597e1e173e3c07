"""Cached check results: an unchanged index-backed scan checked against the same protocol evaluates no rule;
any change of what was read, of the protocol or of the code gives fresh results (files touched but read the same
do not); a damaged cache is only a miss, and replaced by the next store."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from protocheck.checks.compliance import check_scan
from protocheck.model import ScanResult
from protocheck.protocol import load_protocol, load_protocol_text
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

P = load_protocol("als-brain-3t")


@pytest.fixture()
def tree(dicom_root: Path, tmp_path: Path) -> Path:
    """Two real GE series (a DWI and a T1) in a tree the test may change."""
    for series in ("dcm_qa_ge/04_Ax_DWI_TENSOR_R2MB2", "dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22"):
        for f in sorted((dicom_root / series).iterdir())[:6]:
            dest = tmp_path / "in" / series / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
    return tmp_path / "in"


def _texts(results):
    return [(r.exam.key, r.verdict, [(f.check_id, f.status, f.found, f.message) for f in r.all_findings()])
            for r in results]


def test_unchanged_scan_and_protocol_are_answered_from_the_cache(tree, tmp_path, evaluated):
    cache = tmp_path / "cache"
    opts = ScanOptions(cache_dir=cache)
    first_scan = scan([tree], opts)
    first = check_scan(first_scan, P, cache)
    assert first_scan.digest is not None and len(evaluated) == len(first_scan.exams) > 0
    evaluated.clear()
    again_scan = scan([tree], opts)
    again = check_scan(again_scan, P, cache)
    assert evaluated == [] and again == first and _texts(again) == _texts(first)
    # the loaded results point at this scan's own exams and series, not at copies
    assert all(r.exam is e for r, e in zip(again, again_scan.exams))
    assert _texts(check_scan(scan([tree], ScanOptions()), P)) == _texts(first)   # same as without any cache
    assert not any(p.suffix in (".sqlite", ".pickle") for p in tree.rglob("*"))   # nothing in the input


def test_changed_file_protocol_or_code_gives_fresh_results(tree, tmp_path, evaluated, monkeypatch):
    cache = tmp_path / "cache"
    opts = ScanOptions(cache_dir=cache)
    check_scan(scan([tree], opts), P, cache)
    victim = next(p for p in sorted(tree.rglob("*")) if p.is_file())
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    evaluated.clear()
    check_scan(scan([tree], opts), P, cache)
    assert evaluated == [], "a touched file read again with the same content keeps the results"
    victim.unlink()
    evaluated.clear()
    check_scan(scan([tree], opts), P, cache)
    assert evaluated, "a removed file must give fresh results"
    text = Path(P.path).read_text(encoding="utf-8").replace(f'version: "{P.version}"', 'version: "edited"', 1)
    other = load_protocol_text(text, P.path)
    assert other.sha256 != P.sha256
    evaluated.clear()
    check_scan(scan([tree], opts), other, cache)
    assert evaluated, "another protocol text must give fresh results"
    from protocheck.storage import check_cache as cache_mod
    monkeypatch.setattr(cache_mod, "code_fingerprint", lambda: b"another version")
    evaluated.clear()
    check_scan(scan([tree], opts), P, cache)
    assert evaluated, "another version of the checking code must give fresh results"


def test_damaged_cache_is_a_miss_and_scans_without_index_never_use_it(tree, tmp_path, evaluated):
    cache = tmp_path / "cache"
    opts = ScanOptions(cache_dir=cache)
    first = check_scan(scan([tree], opts), P, cache)
    import sqlite3
    with sqlite3.connect(cache / "checks.sqlite") as db:
        db.execute("UPDATE results SET data = ?", (b"not a pickle",))
    evaluated.clear()
    assert _texts(check_scan(scan([tree], opts), P, cache)) == _texts(first) and evaluated
    plain = scan([tree], ScanOptions())
    assert plain.digest is None
    evaluated.clear()
    check_scan(plain, P, cache)
    assert evaluated


def test_a_damaged_cache_file_is_replaced_by_the_next_store(tree, tmp_path, evaluated):
    cache = tmp_path / "cache"
    opts = ScanOptions(cache_dir=cache)
    scan([tree], opts)   # the index (and the cache folder)
    (cache / "checks.sqlite").write_bytes(b"not a database" * 100)
    first = check_scan(scan([tree], opts), P, cache)   # a miss, then stored in a new file
    evaluated.clear()
    assert _texts(check_scan(scan([tree], opts), P, cache)) == _texts(first) and not evaluated


def test_merged_digest_is_known_only_when_every_part_is_known():
    a, b, none = (ScanResult(roots=["/a"], digest=b"a" * 16), ScanResult(roots=["/b"], digest=b"b" * 16),
                  ScanResult(roots=["/c"]))
    total = ScanResult()
    total.merge(a)
    assert total.digest == a.digest
    total.merge(b)
    assert total.digest not in (None, a.digest, b.digest)
    total.merge(none)
    assert total.digest is None


def test_results_are_never_written_into_the_input(tree, tmp_path):
    scanned = scan([tree], ScanOptions(cache_dir=tmp_path / "cache"))
    inside = tree / "dcm_qa_ge"
    check_scan(scanned, P, inside)
    assert not any(p.suffix == ".sqlite" for p in tree.rglob("*"))
