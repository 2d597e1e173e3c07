"""Completeness per subject and visit: required/recommended sequences present, repeated series counted."""

from __future__ import annotations


from protocheck.protocol.model import Protocol
from protocheck.checks.audit.types import AuditFinding, CompletenessRow, Session


def build_completeness(sessions: list[Session], protocol: Protocol) -> tuple[list[CompletenessRow], list[AuditFinding]]:
    """One row per session; a finding per missing required (error) or recommended (warning) sequence."""
    rows: list[CompletenessRow] = []
    findings: list[AuditFinding] = []
    for s in sessions:
        row = CompletenessRow(site=s.site, subject=s.subject, visit=s.visit, month=s.month)
        for seq in protocol.sequences:
            res = s.sequence_result(seq.id)
            present = res is not None and res.status not in ("missing", "absent_optional") and bool(res.series)
            if res is not None and res.status in ("compliant", "deviating", "cannot_verify"):
                present = True
            if present:
                n = len(s.series(seq.id)) or (len(res.series) if res else 0)
                if n > 1:
                    row.repeats[seq.id] = n
                continue
            if seq.requirement == "required":
                row.missing_required.append(seq.id)
            elif seq.requirement == "recommended":
                row.missing_recommended.append(seq.id)
            else:
                continue
            severity = "error" if seq.requirement == "required" else "warning"
            findings.append(AuditFinding(
                kind="missing", site=s.site, subject=s.subject, visit=s.visit, sequence=seq.id,
                severity=severity, check_ids=[f"{seq.id}/missing"], sessions=[s.label],
                message=f"{seq.requirement.capitalize()} sequence {seq.id} is missing from {s.label} at site "
                        f"{s.site}" + (f" (visit {s.ordinal} of this subject)" if s.ordinal > 1 else "")))
        rows.append(row)
    return rows, findings
