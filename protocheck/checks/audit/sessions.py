"""Group checked exams into sessions (site, subject, visit), ranked in time within each site."""
from __future__ import annotations

import datetime as _dt
from typing import Any

from protocheck.checks.audit.types import Session
from protocheck.privacy import reduce_date
from protocheck.results import ExamResult


def group_sessions(results: list[ExamResult]) -> list[Session]:
    """Group exam results into sessions keyed by (site, subject, visit), ranked in time within each site."""
    by_subject: dict[tuple[str, str, str], list[ExamResult]] = {}
    for r in results:
        site = r.exam.site or "unknown"
        by_subject.setdefault((site, r.exam.scope(), r.exam.subject or r.exam.key), []).append(r)
    sessions: list[Session] = []
    for (site, _scope, subject), exams in by_subject.items():
        sessions.extend(_subject_sessions(site, subject, exams))
    by_site: dict[str, list[Session]] = {}
    for s in sessions:
        by_site.setdefault(s.site, []).append(s)
    for site_sessions in by_site.values():
        site_sessions.sort(key=_time_key)
        for i, s in enumerate(site_sessions, 1):
            s.rank = i
    return sorted(sessions, key=lambda s: (s.site, s.rank))


def _time_key(s: Session) -> tuple:
    dates = [r.exam.date for r in s.results if r.exam.date is not None]
    ranks = [r.exam.visit_rank for r in s.results if r.exam.visit_rank is not None]
    return (min(dates) if dates else _dt.date.max, min(ranks) if ranks else 0, s.subject, s.ordinal, s.visit)


def _subject_sessions(site: str, subject: str, exams: list[ExamResult]) -> list[Session]:
    """Visits of one subject: one per BIDS session label, else one per acquisition date."""
    groups: dict[str, list[ExamResult]] = {}
    for r in exams:
        e = r.exam
        label = e.session or (e.date.isoformat() if e.date else f"exam:{e.key}")
        groups.setdefault(label, []).append(r)

    def order(item: tuple[str, list[ExamResult]]) -> tuple:
        dates = [r.exam.date for r in item[1] if r.exam.date]
        ranks = [r.exam.visit_rank for r in item[1] if r.exam.visit_rank is not None]
        return (min(dates) if dates else _dt.date.max, min(ranks) if ranks else 0, item[0])

    out = []
    for n, (label, rs) in enumerate(sorted(groups.items(), key=order), 1):
        named = any(r.exam.session for r in rs)
        dates = [r.exam.date for r in rs if r.exam.date]
        out.append(Session(site=site, subject=subject, visit=label if named else f"v{n}", ordinal=n,
                           month=reduce_date(min(dates)) if dates else None, results=rs))
    return out


def session_problems(s: Session) -> list[Any]:
    """Exam-level findings of a session (cross-series rules such as the MT pair) at error or warning severity."""
    return [f for r in s.results for f in r.findings
            if f.is_problem and getattr(f.severity, "value", f.severity) in ("error", "warning")]
