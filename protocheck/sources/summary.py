"""Federated summaries: what one site sends to the coordinators instead of images or headers.

``write_summary`` stores the checked exams with no patient identifiers: pseudonymous subject keys, hashed
DICOM UIDs, dates reduced to year-month plus a visit label and a within-site rank (the order drift needs),
parameters with their provenance, and the per-exam check results. ``load_summary`` rebuilds exams and exam
results so that an audit over several sites' summaries equals the audit over their raw data. The format is
fixed by ``schemas/summary.schema.json`` and validated on write and on read.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections import Counter
from collections.abc import Sequence as _Seq
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from protocheck import jsonsafe
from protocheck.checks.audit import group_sessions
from protocheck.checks.results import ExamResult, Finding, MatchInfo, SequenceResult, Severity, Status
from protocheck.errors import ReportError, SourceError
from protocheck.model import Acquisition, Exam, Note, ScanResult
from protocheck.privacy import PHI_ATTRIBUTES, pseudonym
from protocheck.resources import load_schema
from protocheck.sources.options import ScanOptions

FORMAT = "protocheck-summary"
MAX_SUMMARY_BYTES = 512 * 1024 * 1024
FORMAT_VERSION = 1
_FINDING_FIELDS = ("check_id", "sequence", "parameter", "series", "expected", "found", "message", "advice",
                   "rationale", "source", "provenance")


@dataclass
class SummaryScanResult(ScanResult):
    """A ScanResult read from summaries, with the exam results the site computed and its protocol."""

    results: list[ExamResult] = field(default_factory=list)
    protocols: list[dict[str, Any]] = field(default_factory=list)


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


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if "$map" in v:
            return {_dec(k): _dec(x) for k, x in v["$map"]}
        if "$tuple" in v:
            return tuple(_dec(x) for x in v["$tuple"])
    return v


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
    out: dict[str, Any] = {k: getattr(f, k) for k in _FINDING_FIELDS}
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
                     protocol: Any = None) -> dict[str, Any]:
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


def _validate(doc: Any, path: str, error_cls: type) -> None:
    validator = jsonschema.Draft202012Validator(load_schema("summary"))
    try:
        errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    except RecursionError:
        raise error_cls("not a valid protocheck summary: nested too deep", path=path, where="at /",
                        fix="regenerate it with `protocheck check --summary FILE`") from None
    if errors:
        err = errors[0]
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        raise error_cls(f"not a valid protocheck summary: {err.message}", path=path, where=f"at {where}",
                        fix="regenerate it with `protocheck check --summary FILE` (schemas/summary.schema.json)")


def write_summary(results: list[ExamResult], scan: ScanResult | None, path: str | Path,
                  options: ScanOptions | None = None, protocol: Any = None) -> Path:
    """Write the site's federated summary (validated against the schema) to ``path``; returns the path."""
    doc = summary_document(results, scan, options, protocol)
    _validate(doc, str(path), ReportError)
    from protocheck.outputs import write_atomic
    return write_atomic(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n", "--summary")


def is_summary(path: str | Path) -> bool:
    """True when ``path`` is a JSON file that declares itself a protocheck summary."""
    p = Path(path)
    if not p.is_file() or p.suffix.lower() != ".json":
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return f'"{FORMAT}"' in head


def _finding(d: dict[str, Any]) -> Finding:
    return Finding(status=Status(d["status"]), severity=Severity(d["severity"]),
                   **{k: d.get(k) for k in _FINDING_FIELDS if k not in ("expected", "message")},
                   expected=d.get("expected") or "", message=d.get("message") or "")


def _match(d: dict[str, Any]) -> MatchInfo:
    return MatchInfo(series=d["series"], sequence=d.get("sequence"), score=d.get("score", 0.0),
                     reasons=list(d.get("reasons", [])), ambiguous_with=list(d.get("ambiguous_with", [])),
                     variant=d.get("variant"))


def _exam(d: dict[str, Any]) -> Exam:
    month = d.get("month")
    date = _dt.date(int(month[:4]), int(month[5:7]), 1) if month else None
    exam = Exam(key=d["key"], subject=d["subject"], session=d["visit"], site=d.get("site"), date=date,
                visit_rank=d.get("visit_rank"), source_kind=d.get("source_kind", "summary"))
    for a in d["acquisitions"]:
        acq = Acquisition(key=a["key"], description=a.get("description", ""), series_number=a.get("series_number"),
                          source_kind=a.get("source_kind", "summary"), n_files=a.get("n_files", 0),
                          roles=set(a.get("roles", [])))
        acq.notes = [Note(n["code"], n["message"], n.get("severity", "info")) for n in a.get("notes", [])]
        for name, p in a.get("params", {}).items():
            acq.set(name, _dec(p["value"]), p["source"])
        exam.acquisitions.append(acq)
    return exam


def _result(exam: Exam, d: dict[str, Any]) -> ExamResult:
    return ExamResult(
        exam=exam, protocol_name=d["protocol_name"], protocol_version=d["protocol_version"],
        sequences=[SequenceResult(sequence=s["sequence"], description=s.get("description", ""),
                                  requirement=s["requirement"], status=s["status"], series=list(s["series"]),
                                  findings=[_finding(f) for f in s["findings"]]) for s in d["sequences"]],
        matches=[_match(m) for m in d["matches"]], unmatched=[_match(m) for m in d["unmatched"]],
        support=[_match(m) for m in d["support"]], findings=[_finding(f) for f in d["findings"]])


def load_summary(path: str | Path, options: ScanOptions | None = None) -> SummaryScanResult:
    """Read and validate a site summary; the exams (for re-checking) and the site's own exam results."""
    p = Path(path)
    try:
        doc = jsonsafe.loads(p.read_text(encoding="utf-8"), MAX_SUMMARY_BYTES)
    except OSError as exc:
        raise SourceError(f"cannot read the summary: {exc.strerror or exc}", path=str(p),
                          fix="check the path and its permissions") from None
    except (UnicodeDecodeError, ValueError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else None
        raise SourceError(f"the summary is not valid JSON ({str(exc)[:200]})", path=str(p), where=where,
                          fix="regenerate it with `protocheck check --summary FILE`") from None
    _validate(doc, str(p), SourceError)
    out = SummaryScanResult(roots=[str(p)], n_files_seen=doc.get("n_files_seen", 0),
                            protocols=[doc["protocol"]])
    for i, d in enumerate(doc["exams"]):
        try:
            exam = _exam(d)
            out.exams.append(exam)
            out.results.append(_result(exam, d["result"]))
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            why = "nested too deep" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {str(exc)[:160]}"
            raise SourceError(f"an exam of the summary cannot be read ({why})", path=str(p),
                              where=f"at /exams/{i}", fix="regenerate it with `protocheck check --summary FILE`"
                              ) from None
    return out
