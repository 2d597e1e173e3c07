"""Audit outputs: JSON (schema-valid), TSV tables, console rendering (plain text when not a terminal)."""

from __future__ import annotations

import csv
import io
import json

import jsonschema
import pytest

from protocheck.reports.audit_json import audit_to_json
from protocheck.reports.audit_console import render_audit
from protocheck.reports.audit_tsv import TABLES, write_audit_tsv
from protocheck.resources import load_schema

from tests.checks.test_audit import audit, protocol  # noqa: F401  (fixtures)


def test_json_follows_schema(audit):  # noqa: F811
    doc = audit_to_json(audit)
    jsonschema.Draft202012Validator(load_schema("audit")).validate(doc)
    json.dumps(doc)
    assert doc["counts"]["harmonization:error"] == 1
    assert {f["kind"] for f in doc["findings"]} == {"compliance", "harmonization", "drift", "missing"}


def test_schema_refuses_unknown_kind(audit):  # noqa: F811
    doc = audit_to_json(audit)
    doc["findings"][0]["kind"] = "gossip"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, load_schema("audit"))


def test_tsv_tables(audit, tmp_path):  # noqa: F811
    paths = write_audit_tsv(audit, tmp_path / "tables")
    assert sorted(p.name for p in paths) == sorted(TABLES)
    with open(tmp_path / "tables" / "drift.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 1 and rows[0]["site"] == "A" and rows[0]["straddling_subjects"] == "a1; a2"
    with open(tmp_path / "tables" / "matrix.tsv", encoding="utf-8") as fh:
        matrix = {(r["site"], r["sequence"]): r for r in csv.DictReader(fh, delimiter="\t")}
    assert matrix[("B", "t1w")]["deviating"] == "8"


def test_tsv_unwritable_is_report_error(audit, tmp_path):  # noqa: F811
    from protocheck.errors import ReportError
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="--tsv"):
        write_audit_tsv(audit, blocker / "sub")


def test_console_plain_text(audit):  # noqa: F811
    buf = io.StringIO()
    render_audit(audit, buf, color=False, width=200)
    out = buf.getvalue()
    assert "\x1b[" not in out
    for text in ("Compliance matrix", "Scanner inventory", "harmonization", "Longitudinal drift", "Completeness",
                 "vendor-expected (GE)", "syngo MR XA60"):
        assert text in out


def test_console_colour(audit):  # noqa: F811
    buf = io.StringIO()
    render_audit(audit, buf, color=True, width=200)
    assert "\x1b[" in buf.getvalue()
