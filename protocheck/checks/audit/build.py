"""The audit in one place: each concern's builder called in order, their findings merged and sorted."""
from __future__ import annotations

from protocheck.checks.audit.completeness import build_completeness
from protocheck.checks.audit.drift import build_drift
from protocheck.checks.audit.harmonization import build_harmonization
from protocheck.checks.audit.inventory import build_inventory, build_scanners
from protocheck.checks.audit.longitudinal import build_longitudinal
from protocheck.checks.audit.matrix import build_matrix
from protocheck.checks.audit.sessions import group_sessions
from protocheck.checks.audit.site_findings import build_site_findings
from protocheck.checks.audit.types import AuditResult
from protocheck.protocol.model import Protocol
from protocheck.results import ExamResult


def build_audit(results: list[ExamResult], protocol: Protocol) -> AuditResult:
    """Aggregate checked exams (raw or from summaries) into the multicentre audit of ``protocol``."""
    sequences = [s.id for s in protocol.sequences]
    sessions = group_sessions(results)
    matrix, findings = build_matrix(sessions, sequences)
    completeness, missing = build_completeness(sessions, protocol)
    harmonization, harm_findings = build_harmonization(sessions, protocol)
    drift, drift_findings = build_drift(sessions, protocol, harmonization)
    longitudinal = build_longitudinal(sessions, protocol)
    findings = findings + missing + harm_findings + drift_findings + longitudinal
    findings.sort(key=lambda f: (f.site, f.kind, f.sequence or "", f.parameter or "", f.subject or "",
                                 f.visit or "", f.message))
    name = getattr(protocol, "name", "") or (results[0].protocol_name if results else "")
    version = getattr(protocol, "version", "") or (results[0].protocol_version if results else "")
    return AuditResult(protocol_name=name, protocol_version=version,
                       protocol_sha256=getattr(protocol, "sha256", "") or "", sequences=sequences,
                       sites=sorted({s.site for s in sessions}), sessions=sessions, matrix=matrix,
                       inventory=build_inventory(sessions), harmonization=harmonization, drift=drift,
                       completeness=completeness, findings=findings, scanners=build_scanners(sessions),
                       site_findings=build_site_findings(sessions, sequences, harmonization, completeness, drift,
                                                         longitudinal),
                       requirements={s.id: s.requirement for s in protocol.sequences})
