"""Audit tables for spreadsheets: matrix, inventory, harmonization, drift and completeness as TSV files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable

from protocheck.checks.audit import AuditResult
from protocheck.errors import ReportError
from protocheck.outputs import write_atomic
from protocheck.reports.textsafe import tsv_cell

TABLES = ("matrix.tsv", "inventory.tsv", "harmonization.tsv", "drift.tsv", "completeness.tsv", "scanners.tsv",
          "site_findings.tsv")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return "; ".join(_cell(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={_cell(x)}" for k, x in v.items())
    return tsv_cell(v)   # control characters replaced, a leading = + - @ defused


def _rows(audit: AuditResult) -> dict[str, tuple[list[str], Iterable[list[Any]]]]:
    harm = [[h.sequence, h.parameter, h.origin, h.expected, h.consensus, r.site, r.vendor, r.variant, r.values,
             r.status, r.severity, r.reasons, r.sessions] for h in audit.harmonization for r in h.sites]
    return {
        "matrix.tsv": (["site", "sequence", "compliant", "deviating", "cannot_verify", "missing", "absent_optional",
                        "sessions"],
                       [[c.site, c.sequence, c.compliant, c.deviating, c.cannot_verify, c.missing, c.absent_optional,
                         c.total] for c in audit.matrix]),
        "inventory.tsv": (["site", "vendor", "model", "software", "field_strength", "coil", "serial", "first_seen",
                           "last_seen", "sessions"],
                          [[e.site, e.vendor, e.model, e.software, e.field_strength, e.coil, e.serial, e.first_seen,
                            e.last_seen, e.sessions] for e in audit.inventory]),
        "harmonization.tsv": (["sequence", "parameter", "origin", "expected", "consensus", "site", "vendor",
                               "variant", "values", "status", "severity", "reasons", "sessions"], harm),
        "drift.tsv": (["site", "scanner", "attribute", "before", "after", "first_session", "month", "severity",
                       "straddling_subjects", "kind", "sessions"],
                      [[e.site, e.scanner, e.attribute, e.before, e.after, e.session, e.month, e.severity,
                        e.straddling, e.kind, e.sessions] for e in audit.drift]),
        "completeness.tsv": (["site", "subject", "visit", "month", "complete", "missing_required",
                              "missing_recommended", "repeats"],
                             [[r.site, r.subject, r.visit, r.month, "yes" if r.complete else "no",
                               r.missing_required, r.missing_recommended, r.repeats] for r in audit.completeness]),
        "scanners.tsv": (["site", "vendor", "model", "model_key", "model_from_header", "software", "field_strength",
                          "coils", "serial", "first_seen", "last_seen", "sessions"],
                         [[e.site, e.vendor, e.model, e.model_key, "yes" if e.model_from_header else "no", e.software,
                           e.field_strength, e.coils, e.serial, e.first_seen, e.last_seen, e.sessions]
                          for e in audit.scanners]),
        "site_findings.tsv": (["severity", "site", "kind", "sequence", "parameter", "expected", "found", "sessions",
                               "site_sessions", "vendor_expected", "detail", "session_labels"],
                              [[f.severity, f.site, f.kind, f.sequence, f.parameter, f.expected, f.found, f.sessions,
                                f.site_sessions, "yes" if f.vendor_expected else "no", f.detail, f.labels]
                               for f in audit.site_findings]),
    }


def write_audit_tsv(audit: AuditResult, directory: str | Path) -> list[Path]:
    """Write the audit tables (``TABLES``: matrix, inventory, harmonization, drift...) into ``directory``."""
    out_dir = Path(directory)
    written: list[Path] = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, (header, rows) in _rows(audit).items():
            buf = io.StringIO()
            w = csv.writer(buf, delimiter="\t", lineterminator="\n")
            w.writerow(header)
            w.writerows([_cell(v) for v in row] for row in rows)
            written.append(write_atomic(out_dir / name, buf.getvalue(), "--tsv"))   # never through a link
    except OSError as exc:
        raise ReportError(f"cannot write the audit tables: {exc.strerror or exc}", path=str(out_dir),
                          fix="choose a writable folder for --tsv") from exc
    return written
