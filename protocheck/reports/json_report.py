"""The machine-readable check report (``--format json``), fixed by ``schemas/report.schema.json``.

Every other report (console, TSV, HTML) renders the dict built here, so what a person sees and what a
machine reads cannot disagree. Patient identifiers appear only with ``include_identifiers``; exam ids are
keyed hashes of the StudyInstanceUID and visit dates are reduced to year-month.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from typing import Any, Iterable, Iterator

from protocheck import __version__
from protocheck.checks.results import ExamResult, Finding, MatchInfo, Status, count_findings
from protocheck.model import Acquisition, Exam, ScanResult

REPORT_FORMAT_VERSION = "1.0"


def short_id(text: str, n: int = 12) -> str:
    """A stable, non-reversible short id for a UID (the UID itself may be an identifier)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:n]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        seq = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_jsonable(v) for v in seq]
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return str(value)


def finding_to_dict(f: Finding) -> dict[str, Any]:
    return {
        "check_id": f.check_id, "sequence": f.sequence, "status": f.status.value,
        "severity": f.severity.value, "parameter": f.parameter,
        "series": short_id(f.series) if f.series else None,
        "expected": f.expected, "found": f.found, "message": f.message, "advice": f.advice,
        "rationale": f.rationale, "source": f.source, "provenance": f.provenance,
    }


def _series_entry(acq: Acquisition, include_identifiers: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": short_id(acq.key), "series_number": acq.series_number, "description": acq.description,
        "folder": acq.folder, "source": acq.source_kind, "files": acq.n_files,
        "roles": sorted(acq.roles), "notes": [{"code": n.code, "message": n.message, "severity": n.severity}
                                              for n in acq.notes],
        "manufacturer": acq.get("Manufacturer"), "model": acq.get("ManufacturersModelName"),
    }
    if include_identifiers:
        entry["uid"] = acq.key
    return entry


def _match_entry(m: MatchInfo, exam_result: ExamResult) -> dict[str, Any]:
    acq = exam_result.acquisition(m.series)
    return {
        "series": short_id(m.series), "sequence": m.sequence, "score": m.score, "reasons": list(m.reasons),
        "ambiguous_with": list(m.ambiguous_with), "variant": m.variant,
        "description": acq.description if acq else "", "series_number": acq.series_number if acq else None,
    }


def visit_label(exam: Exam) -> str | None:
    """The visit as reports show it: the BIDS session, else the study date reduced to year-month."""
    if exam.session:
        return exam.session
    return exam.date.strftime("%Y-%m") if exam.date else None


def exam_to_dict(res: ExamResult, include_identifiers: bool = False) -> dict[str, Any]:
    exam = res.exam
    out: dict[str, Any] = {
        "exam_id": short_id(exam.key), "subject": exam.subject, "session": exam.session,
        "site": exam.site, "visit": visit_label(exam), "folder": exam.folder, "source": exam.source_kind,
        "manufacturer": exam.manufacturer(), "verdict": res.verdict,
        "counts": count_findings(res.all_findings()),
        "sequences": [{
            "id": s.sequence, "description": s.description, "requirement": s.requirement,
            "status": s.status, "series": [short_id(k) for k in s.series],
            "findings": [finding_to_dict(f) for f in s.findings],
        } for s in res.sequences],
        "findings": [finding_to_dict(f) for f in res.findings],
        "matches": [_match_entry(m, res) for m in res.matches],
        "unmatched": [_match_entry(m, res) for m in res.unmatched],
        "support": [_match_entry(m, res) for m in res.support],
        "series": [_series_entry(a, include_identifiers) for a in exam.acquisitions],
    }
    if include_identifiers:
        out["identifiers"] = dict(exam.identifiers)
        out["study_uid"] = exam.key
        out["date"] = exam.date.isoformat() if exam.date else None
    return out


def overall_verdict(results: Iterable[ExamResult]) -> str:
    verdicts = {r.verdict for r in results}
    for v in ("deviations", "warnings", "compliant"):
        if v in verdicts:
            return v
    return "no-exams"


def exit_code_for(results: list[ExamResult]) -> int:
    """0 compliant (warnings allowed), 1 errors or a missing required sequence, 2 nothing to check."""
    if not results:
        return 2
    return 1 if any(r.verdict == "deviations" for r in results) else 0


def _counts(results: list[ExamResult]) -> dict[str, int]:
    counts = {s.value: 0 for s in Status}
    for r in results:
        for f in r.all_findings():
            counts[f.status.value] += 1
    return counts


def report_to_dict(results: list[ExamResult], scan: ScanResult, protocol: Any,
                   include_identifiers: bool = False, lazy: bool = False) -> dict[str, Any]:
    """The whole check report as a JSON-ready dict (see schemas/report.schema.json); ``lazy``: its exams are an
    iterator that builds each exam's dict when it is written (``write_json``), so memory follows one exam."""
    report = _jsonable({
        "report_format": REPORT_FORMAT_VERSION,
        "tool": {"name": "protocheck", "version": __version__},
        "generated": _dt.date.today().isoformat(),
        "protocol": {"name": getattr(protocol, "name", None), "version": getattr(protocol, "version", None),
                     "hash": getattr(protocol, "sha256", None)},
        "inputs": list(scan.roots),
        "verdict": overall_verdict(results),
        "exit_code": exit_code_for(results),
        "summary": {"exams": len(results), "series": sum(len(r.exam.acquisitions) for r in results),
                    "files_seen": scan.n_files_seen, "skipped": len(scan.skipped),
                    "findings": _counts(results),
                    "counts": count_findings(f for r in results for f in r.all_findings())},
        "exams": [] if lazy else [exam_to_dict(r, include_identifiers) for r in results],
        "skipped": [{"path": s.path, "kind": s.kind, "reason": s.reason} for s in scan.skipped],
    })
    if lazy:
        report["exams"] = (_jsonable(exam_to_dict(r, include_identifiers)) for r in results)
    return report


_LEAF = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode   # no indent: the C encoder
_INDENTED = 4        # containers above this depth get one line per member: a finding, a series is one line


def json_chunks(value: Any, depth: int = 0) -> Iterator[str]:
    """The JSON text of ``value`` in pieces: two-space indentation down to ``_INDENTED`` levels, deeper values
    one line each, every leaf encoded by json's C encoder (``json.dumps(indent=2)`` runs the pure-Python one,
    ~10x slower). An iterator (e.g. a report's lazily built exams) is written as a list, one item at a time."""
    if depth >= _INDENTED or not isinstance(value, (dict, list, Iterator)) or not value:
        yield _LEAF(list(value) if isinstance(value, Iterator) else value)
        return
    pad = "\n" + "  " * (depth + 1)
    if isinstance(value, dict):
        yield "{"
        sep = pad
        for key, item in value.items():
            yield sep + _LEAF(str(key)) + ": "
            yield from json_chunks(item, depth + 1)
            sep = "," + pad
        yield "\n" + "  " * depth + "}"
        return
    yield "["
    sep = pad
    for item in value:
        yield sep
        yield from json_chunks(item, depth + 1)
        sep = "," + pad
    yield ("\n" + "  " * depth + "]") if sep != pad else "]"


def render_json(report: dict[str, Any]) -> str:
    """The report as JSON text (indented as ``json_chunks`` says; the same content as ``json.dumps``)."""
    return "".join(json_blocks(report))


def json_blocks(report: dict[str, Any]) -> Iterator[str]:
    """The report's JSON text in ~64 KB blocks, the last one ending the text with a newline: written as they
    come, a lazily built report is never held whole, as a dict or as text."""
    parts: list[str] = []
    size = 0
    for part in json_chunks(report):
        parts.append(part)
        size += len(part)
        if size > 1 << 16:
            yield "".join(parts)
            parts, size = [], 0
    parts.append("\n")
    yield "".join(parts)


def acquisition_to_inspect(acq: Acquisition, provenance: bool = False) -> dict[str, Any]:
    """One series as ``protocheck inspect`` prints it: identity plus every normalized parameter."""
    out: dict[str, Any] = {
        "SeriesInstanceUID": acq.key if acq.source_kind != "bids" else None,
        "SeriesNumber": acq.series_number, "SeriesDescription": acq.get("SeriesDescription") or acq.description,
        "folder": acq.folder,
        "source": acq.source_kind, "files": acq.n_files, "roles": sorted(acq.roles),
        "notes": [n.message for n in acq.notes],
    }
    if acq.source_kind == "bids":
        out["path"] = acq.key
    for name in sorted(acq.params):
        out.setdefault(name, acq.params[name].value)
    if provenance:
        out["provenance"] = {name: p.source for name, p in sorted(acq.params.items())}
    return _jsonable(out)
