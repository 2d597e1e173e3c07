"""The site × sequence compliance matrix of an audit and its compliance findings."""
from __future__ import annotations

from protocheck.checks.audit.sessions import session_problems
from protocheck.checks.audit.types import AuditFinding, MatrixCell, Session
from protocheck.results import SequenceResult


def build_matrix(sessions: list[Session], sequences: list[str]) -> tuple[list[MatrixCell], list[AuditFinding]]:
    """Site × sequence counts of sessions, and one finding per deviating / unverifiable session-sequence."""
    cells: dict[tuple[str, str], MatrixCell] = {}
    findings: list[AuditFinding] = []
    for s in sessions:
        for seq in sequences:
            cell = cells.setdefault((s.site, seq), MatrixCell(s.site, seq))
            res = s.sequence_result(seq)
            status = res.status if res is not None else "missing"
            if hasattr(cell, status):
                setattr(cell, status, getattr(cell, status) + 1)
            if res is not None and status in ("deviating", "cannot_verify"):
                findings.append(_compliance_finding(s, res))
        findings.extend(_exam_level_findings(s))
    return [cells[k] for k in sorted(cells)], findings


def _exam_level_findings(s: Session) -> list[AuditFinding]:
    """Cross-series findings of ``check`` (e.g. MT-on vs MT-off), one audit finding each: none is dropped."""
    return [AuditFinding(kind="compliance", site=s.site, subject=s.subject, visit=s.visit, sequence=f.sequence,
                         parameter=f.parameter, severity=f.severity.value, check_ids=[f.check_id], sessions=[s.label],
                         message=f"{s.label} at site {s.site}: {f.message}")
            for f in session_problems(s)]


def _compliance_finding(s: Session, res: SequenceResult) -> AuditFinding:
    problems = [f for f in res.findings if f.is_problem]
    worst = res.worst()
    ids = sorted({f.check_id for f in problems})
    params = sorted({f.parameter for f in problems if f.parameter})
    details = "; ".join(f"{f.parameter or f.check_id}: {f.found if f.found is not None else 'unknown'}"
                        f" (expected {f.expected})" for f in problems[:4])
    word = "deviates" if res.status == "deviating" else "cannot be verified"
    return AuditFinding(kind="compliance", site=s.site, subject=s.subject, visit=s.visit, sequence=res.sequence,
                        parameter=params[0] if len(params) == 1 else None,
                        severity=worst.value if worst else "warning", check_ids=ids, sessions=[s.label],
                        status="cannot_verify" if res.status == "cannot_verify" else "fail",
                        message=f"{res.sequence} of {s.label} at site {s.site} {word}: {details}")
