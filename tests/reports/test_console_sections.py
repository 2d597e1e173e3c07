"""Exams' console sections kept between re-checks: the text is always that of one whole rendering."""
from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pytest

from protocheck.storage import report_cache
from protocheck.checks.compliance import check_scan
from protocheck.cli import main
from protocheck.protocol.loader import load_protocol
from protocheck.reports.console import make_console, render_console, render_console_text
from protocheck.reports.json_report import report_to_dict
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

SAMPLE = Path(__file__).resolve().parents[2] / "sample_headers" / "exam"


class _Dict:
    """Sections kept in a dict; counts what was rendered."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.rendered = 0

    def get(self, exam: dict) -> str | None:
        return self.texts.get(repr(exam))

    def put(self, exam: dict, text: str) -> None:
        self.rendered += 1
        self.texts[repr(exam)] = text


@pytest.fixture(scope="module")
def report(dicom_root) -> dict:
    protocol = load_protocol("als-brain-3t")
    result = scan([str(dicom_root / "dcm_qa_ge"), str(dicom_root / "dcm_qa_philips")], ScanOptions(workers=1))
    return report_to_dict(check_scan(result, protocol), result, protocol)


def _whole(report: dict, width: int) -> str:
    console = make_console(None, width)
    with console.capture() as c:
        render_console(report, console)
    return c.get()


@pytest.mark.parametrize("width", [80, 130])
def test_sections_joined_are_the_whole_rendering_cold_warm_and_after_a_change(report, width):
    assert len(report["exams"]) > 3
    console = make_console(None, width)
    whole = _whole(report, width)
    kept = _Dict()
    assert render_console_text(report, console, sections=kept) == whole
    assert kept.rendered == len(report["exams"])
    assert render_console_text(report, console, sections=kept) == whole and kept.rendered == len(report["exams"])
    changed = copy.deepcopy(report)
    changed["exams"][1]["sequences"][0]["status"] = "deviating"
    changed["exams"][1]["verdict"] = "deviations"
    assert render_console_text(changed, console, sections=kept) == _whole(changed, width)
    assert kept.rendered == len(report["exams"]) + 1, "only the changed exam is rendered again"


def test_stored_sections_are_found_again_only_with_the_same_settings(report, tmp_path):
    exam = report["exams"][0]
    with report_cache.Sections(tmp_path, (130, None, False, "utf-8", False, False)) as s:
        assert s.get(exam) is None
        s.put(exam, "the section\n")
    with report_cache.Sections(tmp_path, (130, None, False, "utf-8", False, False)) as s:
        assert s.get(exam) == "the section\n"
    with report_cache.Sections(tmp_path, (80, None, False, "utf-8", False, False)) as s:
        assert s.get(exam) is None
    (tmp_path / "reports.sqlite").write_bytes(b"not a database")
    with report_cache.Sections(tmp_path, (130, None, False, "utf-8", False, False)) as s:
        assert s.get(exam) is None   # damaged: only a miss


def test_default_command_after_a_touched_file_prints_what_a_run_without_cache_prints(tmp_path, capsys,
                                                                                      monkeypatch):
    tree = tmp_path / "in"
    shutil.copytree(SAMPLE, tree)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("COLUMNS", "120")
    assert main(["check", str(tree)]) == 1
    first = capsys.readouterr().out
    victim = sorted(p for p in tree.rglob("*") if p.is_file())[0]
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert main(["check", str(tree)]) == 1
    again = capsys.readouterr().out
    assert main(["check", "--no-cache", str(tree)]) == 1
    assert again == capsys.readouterr().out == first


def test_tampered_or_swapped_entries_are_never_printed(report, tmp_path):
    import sqlite3
    import zlib
    settings = (130, None, False, "utf-8", False, False)
    a, b = report["exams"][0], report["exams"][1]
    with report_cache.Sections(tmp_path, settings) as s:
        s.get(a)
        s.get(b)
        s.put(a, "section A\n")
        s.put(b, "section B\n")
    report_cache.store(tmp_path, b"k" * 16, "the report\n", 1)
    assert report_cache.load(tmp_path, b"k" * 16) == ("the report\n", 1)
    db = sqlite3.connect(tmp_path / "reports.sqlite")
    with db:
        rows = dict(db.execute("SELECT key, text FROM sections"))
        ka, kb = sorted(rows)
        db.execute("UPDATE sections SET text=? WHERE key=?", (rows[kb], ka))          # swapped
        db.execute("UPDATE sections SET text=? WHERE key=?", (zlib.compress(b"forged\n"), kb))   # unsealed
        db.execute("UPDATE reports SET text=?", (zlib.compress(b"forged report\n"),))
    db.close()
    with report_cache.Sections(tmp_path, settings) as s:
        assert s.get(a) is None and s.get(b) is None
    assert report_cache.load(tmp_path, b"k" * 16) is None


@pytest.mark.parametrize("width", [80, 130])
def test_sections_rendered_in_forked_processes_are_the_whole_rendering(report, width, monkeypatch):
    """Many exams are rendered on every core (reports.parallel_sections): the text is the serial one."""
    from protocheck.reports import parallel_sections
    if parallel_sections._workers(10 ** 6) < 2:
        pytest.skip("one core or no fork here: the sections are rendered serially")
    many = {**report, "exams": [copy.deepcopy(e) for _ in range(40) for e in report["exams"]]}
    assert len(many["exams"]) >= parallel_sections.MIN_EXAMS
    serial = _whole(many, width)
    calls = []
    real = parallel_sections._in_processes
    monkeypatch.setattr(parallel_sections, "_in_processes", lambda *a: calls.append(a[-1]) or real(*a))
    assert render_console_text(many, make_console(None, width)) == serial
    assert calls and calls[0] >= 2   # it really ran in processes
    kept = _Dict()
    assert render_console_text(many, make_console(None, width), sections=kept) == serial
    assert kept.rendered == len(many["exams"])
