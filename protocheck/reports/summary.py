"""Federated summaries, write side: the checked exams of one site with no patient identifiers.

Pseudonymous subject keys, hashed DICOM UIDs, dates reduced to year-month plus a visit label and a within-site
rank (the order drift needs), parameters with their provenance, and the per-exam check results; the format is
fixed by ``schemas/summary.schema.json`` and validated on write (and on read, ``protocheck.sources.summary``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence as _Seq
from pathlib import Path
from typing import Any

from protocheck.checks.audit.sessions import group_sessions
from protocheck.errors import ReportError
from protocheck.model import Acquisition, ScanResult
from protocheck.privacy import PHI_ATTRIBUTES, pseudonym
from protocheck.protocol.model import Protocol
from protocheck.results import ExamResult, Finding, MatchInfo
from protocheck.sources.options import ScanOptions
from protocheck.sources.summary import FINDING_FIELDS, FORMAT, FORMAT_VERSION, validate_summary

def _enc(v: Any) -> Any:
    """JSON form of a parameter value; dicts and tuples are tagged so they round-trip exactly."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v) if v == v and abs(v) != float("inf") else str(v)
    if isinstance(v, dict):
        return {"$map": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {"$tuple": [_enc(x) for x in v]}
    if isinstance(v, _Seq) and not isinstance(v, bytes):
        return [_enc(x) for x in v]
    return str(v)


class _Keys:
    """Consistent pseudonyms for DICOM UIDs (exam and series keys); BIDS paths are kept."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.map: dict[str, str] = {}

    def __call__(self, value: str | None, kind: str) -> str | None:
        if value is None or kind not in ("dicom", "dicomweb"):
            return value
        if value not in self.map:
            self.map[value] = "uid-" + pseudonym(value, self.key)[2:]
        return self.map[value]


def _acq_json(a: Acquisition, kind: str, keys: _Keys) -> dict[str, Any]:
    return {
        "key": keys(a.key, kind), "description": a.description, "series_number": a.series_number,
        "source_kind": a.source_kind, "n_files": a.n_files, "roles": sorted(a.roles),
        "notes": [{"code": n.code, "message": n.message, "severity": n.severity} for n in a.notes],
        "params": {k: {"value": _enc(p.value), "source": p.source} for k, p in a.params.items()
                   if k not in PHI_ATTRIBUTES},
    }


def _finding_json(f: Finding, keys: _Keys, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(f, k) for k in FINDING_FIELDS}
    out["series"] = keys(f.series, kind)
    out["status"] = f.status.value
    out["severity"] = f.severity.value
    return out


def _match_json(m: MatchInfo, keys: _Keys, kind: str) -> dict[str, Any]:
    return {"series": keys(m.series, kind), "sequence": m.sequence, "score": m.score, "reasons": list(m.reasons),
            "ambiguous_with": list(m.ambiguous_with), "variant": m.variant}


def _result_json(r: ExamResult, visit: str, rank: int, month: str | None, keys: _Keys) -> dict[str, Any]:
    e = r.exam
    kind = e.source_kind
    return {
        "key": keys(e.key, kind), "subject": e.subject, "visit": visit, "site": e.site, "month": month,
        "visit_rank": rank, "source_kind": kind,
        "acquisitions": [_acq_json(a, kind, keys) for a in e.acquisitions],
        "result": {
            "protocol_name": r.protocol_name, "protocol_version": r.protocol_version,
            "sequences": [{"sequence": s.sequence, "description": s.description, "requirement": s.requirement,
                           "status": s.status, "series": [keys(k, kind) for k in s.series],
                           "findings": [_finding_json(f, keys, kind) for f in s.findings]} for s in r.sequences],
            "matches": [_match_json(m, keys, kind) for m in r.matches],
            "unmatched": [_match_json(m, keys, kind) for m in r.unmatched],
            "support": [_match_json(m, keys, kind) for m in r.support],
            "findings": [_finding_json(f, keys, kind) for f in r.findings],
        },
    }


def summary_document(results: list[ExamResult], scan: ScanResult | None, options: ScanOptions | None = None,
                     protocol: Protocol | None = None) -> dict[str, Any]:
    """The summary as a JSON-ready dict (no identifiers), valid against ``summary.schema.json``."""
    options = options or ScanOptions()
    keys = _Keys(options.pseudonym_key)
    exams = []
    for s in group_sessions(results):
        for r in s.results:
            exams.append(_result_json(r, s.visit, s.rank, s.month, keys))
    first = results[0] if results else None
    skipped = Counter(f.kind for f in (scan.skipped if scan else []))
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "protocol": {"name": getattr(protocol, "name", None) or (first.protocol_name if first else ""),
                     "version": getattr(protocol, "version", None) or (first.protocol_version if first else ""),
                     "sha256": getattr(protocol, "sha256", "") or ""},
        "n_files_seen": scan.n_files_seen if scan else 0, "skipped": dict(sorted(skipped.items())),
        "exams": exams,
    }


def write_summary(results: list[ExamResult], scan: ScanResult | None, path: str | Path,
                  options: ScanOptions | None = None, protocol: Protocol | None = None) -> Path:
    """Write the site's federated summary (validated against the schema) to ``path``; returns the path."""
    doc = summary_document(results, scan, options, protocol)
    validate_summary(doc, str(path), ReportError)
    from protocheck.outputs import write_atomic
    return write_atomic(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n", "--summary")
