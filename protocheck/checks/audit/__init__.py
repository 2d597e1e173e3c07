"""Multicentre audit: checked exams grouped into sessions and aggregated per site, scanner and visit.

``types`` holds the data, one module per concern builds its part (``matrix``, ``inventory``, ``harmonization``,
``drift``, ``longitudinal``, ``completeness``, ``site_findings``) and ``build.build_audit`` orchestrates them; the
JSON form is ``protocheck.reports.audit_json``.
"""
from protocheck.checks.audit.build import build_audit
from protocheck.checks.audit.sessions import group_sessions
from protocheck.checks.audit.types import AuditFinding, AuditResult, MatrixCell, Session

__all__ = ["AuditFinding", "AuditResult", "MatrixCell", "Session", "build_audit", "group_sessions"]
