"""The audit as JSON (``schemas/audit.schema.json``): built here only, read by every audit report."""
from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import asdict, is_dataclass
from typing import Any

from protocheck.checks.audit.inventory import scanner_models
from protocheck.checks.audit.types import AuditResult
from protocheck.results import count_findings


def _plain(obj: Any) -> Any:
    """JSON-ready copy of an audit dataclass (derived properties included, values as text)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        d = asdict(obj)
        for extra in ("total", "complete"):
            if hasattr(obj, extra):
                d[extra] = getattr(obj, extra)
        return d
    return obj


def audit_to_json(audit: AuditResult, inputs: list[str] | None = None) -> dict[str, Any]:
    """The audit as a dict following ``schemas/audit.schema.json`` (no identifiers, months only)."""
    return {
        "format": "protocheck-audit", "format_version": 1,
        "generated": _dt.date.today().isoformat(), "inputs": [str(i) for i in inputs or []],
        "protocol": {"name": audit.protocol_name, "version": audit.protocol_version,
                     "sha256": audit.protocol_sha256, "sequences": list(audit.sequences)},
        "sites": list(audit.sites),
        "sessions": [{"site": s.site, "subject": s.subject, "visit": s.visit, "ordinal": s.ordinal,
                      "month": s.month, "rank": s.rank,
                      "statuses": {q: s.status(q) or "missing" for q in audit.sequences}} for s in audit.sessions],
        "matrix": [_plain(c) for c in audit.matrix],
        "inventory": [_plain(e) for e in audit.inventory],
        "harmonization": [_plain(h) for h in audit.harmonization],
        "drift": [_plain(e) for e in audit.drift],
        "completeness": [_plain(r) for r in audit.completeness],
        "findings": [_plain(f) for f in audit.findings],
        "counts": dict(Counter(f"{f.kind}:{f.severity}" for f in audit.findings)),
        "totals": {"site_findings": count_findings(audit.site_findings), "findings": count_findings(audit.findings)},
        "scanners": [_plain(e) for e in audit.scanners],
        "scanner_models": scanner_models(audit.scanners),
        "site_findings": [_plain(f) for f in audit.site_findings],
    }
