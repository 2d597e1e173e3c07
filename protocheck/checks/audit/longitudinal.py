"""Longitudinal rules: each subject's visits compared with each other (scanner, software, coil, must-match values).

A trial's follow-up must be acquired like the baseline of *that subject*. The protocol's ``longitudinal`` block
names the conditions (scanner serial, vendor, field strength: error; software, coil: warning) and, with
``must_match``, adds every must-match parameter of the protocol at its own severity. Visits are ordered by date,
else by the subject's own visit order (BIDS session label): a subject's visits are his, never another subject's.
A change is reported once, at the subject and the visit where the value first differs from the visit before.
When the scanner itself (serial or vendor) changed, its software and coil are part of that change, not separate
findings.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable

from protocheck.protocol.model import Protocol
from protocheck.checks.audit.types import AuditFinding, Session, shown_value
from protocheck.checks.audit.agreement import agree
from protocheck.checks.audit.harmonization import series_value, tracked_parameters
from protocheck.checks.audit.inventory import session_coil

_SCANNER_RULES = ("DeviceSerialNumber", "Manufacturer")
_FOLLOWS_SCANNER = ("SoftwareVersions", "ReceiveCoilName")


@dataclass(frozen=True)
class _Rule:
    check_id: str
    label: str
    parameter: str
    severity: str
    get: Callable[[Session], Any]
    tolerance: Any = None         # the rule or constraint whose ``tolerance`` ``agree`` applies
    rationale: str | None = None


def _rules(protocol: Protocol, sessions: list[Session]) -> list[_Rule]:
    """The protocol's longitudinal rules, plus every must-match parameter when ``must_match`` is set."""
    spec = getattr(protocol, "longitudinal", None)
    if spec is None:
        return []
    out: list[_Rule] = []
    for r in spec.rules:
        get = session_coil if r.parameter == "ReceiveCoilName" else (
            lambda s, p=r.parameter: s.exam_value(p))
        out.append(_Rule(f"longitudinal/{r.id}", r.id, r.parameter, r.severity, get, r,
                         r.rationale))
    if spec.must_match:
        covered = {r.parameter for r in spec.rules}
        for t in tracked_parameters(protocol, sessions):
            if t.parameter in covered:
                continue

            def get(s: Session, seq: str = t.sequence.id, param: str = t.parameter) -> Any:
                series = s.series(seq)
                return series_value(series[0], param) if series else None

            out.append(_Rule(f"longitudinal/{t.sequence.id}/{t.parameter}", f"{t.sequence.id} {t.parameter}",
                             t.parameter, "error" if t.severity == "error" else "warning", get, t.constraint))
    return out


def _visit_key(s: Session) -> tuple:
    dates = [r.exam.date for r in s.results if r.exam.date is not None]
    return (min(dates) if dates else _dt.date.max, s.ordinal, s.visit)


def build_longitudinal(sessions: list[Session], protocol: Protocol) -> list[AuditFinding]:
    """One finding per subject, visit and condition that differs from the subject's visit before."""
    rules = _rules(protocol, sessions)
    if not rules:
        return []
    by_subject: dict[str, list[Session]] = {}
    for s in sessions:
        by_subject.setdefault(s.subject, []).append(s)
    out: list[AuditFinding] = []
    for subject, visits in sorted(by_subject.items()):
        if len(visits) < 2:
            continue
        visits.sort(key=_visit_key)
        for before, after in zip(visits, visits[1:]):
            out.extend(_compare(rules, before, after))
    return out


def _compare(rules: list[_Rule], before: Session, after: Session) -> list[AuditFinding]:
    """The conditions that differ between two consecutive visits of one subject."""
    changed: list[tuple[_Rule, Any, Any]] = []
    for rule in rules:
        a, b = rule.get(before), rule.get(after)
        if a is None or b is None or agree(a, b, rule.tolerance):
            continue
        changed.append((rule, a, b))
    scanner = [c for c in changed if c[0].parameter in _SCANNER_RULES]
    if scanner:       # software and coil come with another scanner: one finding says it all
        folded = [c for c in changed if c[0].parameter in _FOLLOWS_SCANNER]
        changed = [c for c in changed if c not in folded]
    else:
        folded = []
    out = []
    for rule, a, b in changed:
        extra = ""
        if rule.parameter in _SCANNER_RULES and folded:
            extra = "; with it " + ", ".join(f"{r.label} {shown_value(r.parameter, x)} → {shown_value(r.parameter, y)}" for r, x, y in folded)
        out.append(AuditFinding(
            kind="longitudinal", site=after.site, severity=rule.severity, subject=after.subject, visit=after.visit,
            sequence=rule.check_id.split("/")[1] if rule.check_id.count("/") == 2 else None,
            parameter=rule.parameter, check_ids=[rule.check_id], sessions=[before.label, after.label],
            message=(f"Subject {after.subject}, visit {after.visit}: {rule.label} changed from {shown_value(rule.parameter, a)} "
                     f"(visit {before.visit}) to {shown_value(rule.parameter, b)}{extra}: the follow-up is not acquired like the "
                     f"visit before ({rule.severity})")))
    return out
