"""What the listener does with a complete study: check it against the protocol and write the reports."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocheck.protocol.model import Protocol
from protocheck.errors import ReportError
from protocheck.logs import logger
from protocheck.model import ScanResult
from protocheck.sources.net.store import PendingStudy, finish_study, study_label

log = logger("protocheck.listen")


@dataclass
class StudyReport:
    """The outcome of one received study: where its reports were written and its verdict."""

    study_uid: str
    label: str
    n_instances: int
    n_series: int
    verdict: str
    paths: list[Path] = field(default_factory=list)
    calling_aes: list[str] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)       # ExamResult list (empty without a protocol)
    scan: ScanResult | None = None
    line: str = ""


def _write(path: Path, text: str) -> None:
    from protocheck.outputs import write_atomic
    write_atomic(path, text, "--out")   # readers never see a half-written report; never through a link


def _inventory(scan: ScanResult) -> dict[str, Any]:
    """A minimal JSON report when no protocol is given: the series received and their main values."""
    series = []
    for acq in scan.acquisitions():
        series.append({"series": acq.key, "number": acq.series_number, "description": acq.description,
                       "files": acq.n_files, "roles": sorted(acq.roles),
                       "parameters": {k: p.value for k, p in sorted(acq.params.items())}})
    return {"verdict": "not_checked", "exams": len(scan.exams), "series": series,
            "skipped": [{"path": s.path, "kind": s.kind, "reason": s.reason} for s in scan.skipped]}


def _check(scan: ScanResult, protocol: Protocol, include_identifiers: bool) -> tuple[list, dict[str, Any], str]:
    from protocheck.checks.compliance import check_exam
    from protocheck.reports.json_report import report_to_dict

    results = [check_exam(exam, protocol) for exam in scan.exams]
    report = report_to_dict(results, scan, protocol, include_identifiers)
    return results, report, str(report.get("verdict", ""))


def _html(report: dict[str, Any]) -> str | None:
    try:
        from protocheck.reports.formats import FORMATS
        return FORMATS["check", "html"](report)
    except Exception as exc:  # noqa: BLE001 - the JSON report is the one that matters
        log.warning("listen: HTML report not written (%s)", type(exc).__name__)
        return None


def write_study_reports(st: PendingStudy, protocol: Protocol | None, out_dir: Path,
                        include_identifiers: bool = False, html: bool = True) -> StudyReport:
    """Finish one study, check it and write ``<time>_<label>.json`` (+ .html) into ``out_dir``."""
    scan = finish_study(st)
    label = study_label(st.uid)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = out_dir / f"{stamp}_{label}"
    n_series = sum(len(e.acquisitions) for e in scan.exams)
    rep = StudyReport(st.uid, label, st.n_instances, n_series, "not_checked", scan=scan,
                      calling_aes=sorted(st.calling_aes))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if protocol is not None:
            rep.results, report, rep.verdict = _check(scan, protocol, include_identifiers)
            from protocheck.reports.formats import FORMATS
            _write(base.with_suffix(".json"), FORMATS["check", "json"](report))
            rep.paths.append(base.with_suffix(".json"))
            page = _html(report) if html else None
            if page is not None:
                _write(base.with_suffix(".html"), page)
                rep.paths.append(base.with_suffix(".html"))
        else:
            _write(base.with_suffix(".json"), json.dumps(_inventory(scan), indent=2, default=str) + "\n")
            rep.paths.append(base.with_suffix(".json"))
    except OSError as exc:
        raise ReportError(f"cannot write the report ({exc.strerror})", path=str(out_dir),
                          fix="give a writable --out folder") from None
    except ReportError as exc:
        raise ReportError(exc.reason, path=str(out_dir), fix="give a writable --out folder") from None
    rep.line = (f"study {label}: {st.n_instances} instances, {n_series} series, verdict {rep.verdict} "
                f"-> {rep.paths[0] if rep.paths else '(no report)'}")
    return rep
