"""A report answered from the report cache: written as its stored UTF-8 bytes, the same as the text."""
from __future__ import annotations

import io
import sys

from protocheck import cli_run
from protocheck.storage import report_cache

TEXT = "protocheck · protocol als-brain-3t\n✔ compliant ─── é\n"


def test_stored_bytes_are_written_as_the_text_is(tmp_path, capsysbinary):
    report_cache.store(tmp_path, b"k" * 16, TEXT, 1)
    stored = report_cache.load_bytes(tmp_path, b"k" * 16)
    assert stored == (TEXT.encode("utf-8"), 1)
    cli_run.write_output(stored[0], None)
    cli_run.write_output(TEXT, None)
    out = capsysbinary.readouterr().out
    assert out == TEXT.encode("utf-8") * 2
    cli_run.write_output(stored[0], tmp_path / "report.txt")
    assert (tmp_path / "report.txt").read_bytes() == TEXT.encode("utf-8")


def test_a_stdout_of_another_encoding_gets_the_text(monkeypatch):
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="utf-16"))
    assert not cli_run._utf8_stdout()
    cli_run.write_output(TEXT.encode("utf-8"), None)
    assert raw.getvalue().decode("utf-16") == TEXT
