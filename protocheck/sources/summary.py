"""Federated summaries, read side: what one site sends to the coordinators instead of images or headers.

``protocheck.reports.summary.write_summary`` stores the checked exams with no patient identifiers: pseudonymous subject keys, hashed
DICOM UIDs, dates reduced to year-month plus a visit label and a within-site rank (the order drift needs),
parameters with their provenance, and the per-exam check results. ``load_summary`` rebuilds exams and exam
results so that an audit over several sites' summaries equals the audit over their raw data. The format is
fixed by ``schemas/summary.schema.json`` and validated on write and on read.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from protocheck import jsonsafe
from protocheck.results import ExamResult, Finding, MatchInfo, SequenceResult, Severity, Status
from protocheck.errors import SourceError
from protocheck.model import Acquisition, Exam, Note, ScanResult
from protocheck.resources import load_schema
from protocheck.sources.options import ScanOptions

FORMAT = "protocheck-summary"
MAX_SUMMARY_BYTES = 512 * 1024 * 1024
FORMAT_VERSION = 1
FINDING_FIELDS = ("check_id", "sequence", "parameter", "series", "expected", "found", "message", "advice",
                   "rationale", "source", "provenance")


@dataclass
class SummaryScanResult(ScanResult):
    """A ScanResult read from summaries, with the exam results the site computed and its protocol."""

    results: list[ExamResult] = field(default_factory=list)
    protocols: list[dict[str, Any]] = field(default_factory=list)


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if isinstance(v, dict):
        if "$map" in v:
            return {_dec(k): _dec(x) for k, x in v["$map"]}
        if "$tuple" in v:
            return tuple(_dec(x) for x in v["$tuple"])
    return v


def validate_summary(doc: Any, path: str, error_cls: type) -> None:
    """Raise ``error_cls`` (naming the first schema error) unless ``doc`` is a valid summary."""
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
    optional: dict[str, Any] = {k: d.get(k) for k in FINDING_FIELDS if k not in ("expected", "message")}
    return Finding(status=Status(d["status"]), severity=Severity(d["severity"]), **optional,
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
    validate_summary(doc, str(p), SourceError)
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
