"""Report formats by report kind: the one place a text format is chosen (``--format``), for every command.

Each kind's document is built once (``json_report.report_to_dict``, ``audit_json.audit_to_json``,
``Certificate.to_dict``, ``json_report.acquisition_to_inspect``); a format turns it into text. The console is not
here: it prints to a terminal, with options of its own, and each command renders it directly.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from protocheck.reports import html
from protocheck.reports.json_report import render_json
from protocheck.reports.tsv import render_tsv

Renderer = Callable[[Any], str]


def plain_json(doc: Any) -> str:
    """``json.dumps`` indented by two: the audit, certificate and inspect documents (the check report is written
    block by block, ``json_report.render_json`` / ``json_blocks``)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# (report kind, format) -> renderer of the kind's document.
FORMATS: dict[tuple[str, str], Renderer] = {
    ("check", "json"): render_json,
    ("check", "tsv"): render_tsv,
    ("check", "html"): html.render_check_html,
    ("audit", "json"): plain_json,
    ("audit", "html"): html.render_audit_html,
    ("certificate", "json"): plain_json,
    ("certificate", "html"): html.render_certificate_html,
    ("inspect", "json"): plain_json,
}


def renderer(kind: str, fmt: str) -> Renderer | None:
    """The text renderer of ``fmt`` for a ``kind`` report; None for the console (printed by the command)."""
    return FORMATS.get((kind, fmt))
