"""The check report as TSV (one row per evaluated constraint), for spreadsheets.

``counted_as`` is the category every report counts a row in (``checks.results.count_findings``): a pivot on
it gives the counts the console, JSON and HTML show.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from protocheck.checks.results import count_category
from protocheck.reports.textsafe import tsv_cell

COLUMNS = ("exam_id", "subject", "site", "visit", "sequence", "requirement", "sequence_status", "series",
           "check_id", "status", "severity", "counted_as", "parameter", "expected", "found", "message", "advice")


def _clean(value: Any) -> str:
    """Tabs and newlines inside header strings would break the table: fold them to spaces."""
    if value is None:
        return ""
    return tsv_cell(" ".join(str(value).split()))   # control characters replaced, a leading = + - @ defused


def _finding_cells(f: dict[str, Any]) -> list[Any]:
    return [f.get("series"), f["check_id"], f["status"], f["severity"], count_category(f["status"], f["severity"]),
            f.get("parameter"), f.get("expected"), f.get("found"), f.get("message"), f.get("advice")]


def render_tsv(report: dict[str, Any]) -> str:
    """All findings of all exams, one per row, plus one row per missing/unmatched sequence."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for exam in report["exams"]:
        base = [exam["exam_id"], exam["subject"], exam.get("site"), exam.get("visit")]
        for seq in exam["sequences"]:
            for f in seq["findings"]:
                writer.writerow([_clean(v) for v in base + [seq["id"], seq["requirement"], seq["status"]]
                                 + _finding_cells(f)])
        for f in exam["findings"]:
            writer.writerow([_clean(v) for v in base + [f["sequence"], "", ""] + _finding_cells(f)])
    return buf.getvalue()
