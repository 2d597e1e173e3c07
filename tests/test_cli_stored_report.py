"""A report answered from the report cache: written as its stored UTF-8 bytes, the same as the text."""
from __future__ import annotations

import io
import sys

from protocheck import cli_run
from protocheck.storage import report_cache

TEXT = "protocheck · protocol als-brain-3t\n✔ compliant ─── é\n"


def test_stored_bytes_are_written_as_the_text_is(tmp_path, capsysbinary):
    report_cache.store(tmp_path, b"k" * 16, TEXT, 1)
    stored = report_cache.load_blocks(tmp_path, b"k" * 16)
    assert stored is not None and b"".join(stored[0]) == TEXT.encode("utf-8") and stored[1] == 1
    cli_run.write_output(stored[0], None)
    cli_run.write_output(TEXT, None)
    out = capsysbinary.readouterr().out
    assert out == TEXT.encode("utf-8") * 2
    cli_run.write_output(stored[0], tmp_path / "report.txt")
    assert (tmp_path / "report.txt").read_bytes() == TEXT.encode("utf-8")


def test_a_large_report_comes_back_in_blocks_whole(tmp_path):
    """Inflated ``_BLOCK`` compressed bytes at a time: many blocks, multi-byte characters cut anywhere."""
    import random
    rng = random.Random(7)
    text = "".join(rng.choice("─✔✘é abc\n") for _ in range(600_000))
    report_cache.store(tmp_path, b"b" * 16, text, 0)
    blocks, code = report_cache.load_blocks(tmp_path, b"b" * 16)
    assert len(blocks) > 3 and code == 0
    assert b"".join(blocks) == text.encode("utf-8")
    assert report_cache.load(tmp_path, b"b" * 16) == (text, 0)


def test_a_cut_entry_is_a_miss(tmp_path, monkeypatch):
    import zlib
    packed = zlib.compress(("x" * 10_000).encode(), 1)
    monkeypatch.setattr(report_cache, "_opened", lambda key, data: bytes([0]) + packed[:len(packed) // 2])
    report_cache.store(tmp_path, b"c" * 16, "x" * 10_000, 0)
    assert report_cache.load_blocks(tmp_path, b"c" * 16) is None   # (the seal refuses most damage first)


def test_a_stdout_of_another_encoding_gets_the_text(monkeypatch):
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-16"))
    assert not cli_run._utf8_stdout()
    cli_run.write_output(TEXT.encode("utf-8"), None)
    assert raw.getvalue().decode("utf-16") == TEXT


def test_a_stored_report_has_the_folder_names_scrubbed_as_a_new_one(tmp_path, capsys, monkeypatch):
    """Scrubbing is left out of a re-check answered from the report cache: its text was scrubbed when made."""
    import shutil
    from pathlib import Path

    from protocheck import privacy
    from protocheck.checks import compliance
    from protocheck.cli import main
    sample = Path(__file__).resolve().parents[1] / "sample_headers" / "exam"
    shutil.copytree(sample, tmp_path / "in" / "DOE^JOHN" / "20240917")
    check = ["check", str(tmp_path / "in")]
    code = main([*check, "--cache", str(tmp_path / "cache")])
    first = capsys.readouterr().out
    with monkeypatch.context() as m:   # the second run is answered from the report cache: nothing checked
        m.setattr(compliance, "check_scan", None)
        m.setattr(privacy, "scrub_folder_names", None)
        assert main([*check, "--cache", str(tmp_path / "cache")]) == code
    again = capsys.readouterr().out
    assert main([*check, "--no-cache"]) == code
    assert first == again == capsys.readouterr().out
    assert "DOE" not in again and "20240917" not in again and "folder-" in again
