"""Longitudinal drift: per site and scanner, in time order, the first session where conditions changed.

Tracked (protocol-facts §5): software version and receive coil (warning), field strength (error), and every
must-match parameter of the protocol (its severity). For each change the subjects with sessions on both sides
are listed: a follow-up acquired under other conditions than its baseline spoils a longitudinal endpoint.
"""

from __future__ import annotations

from typing import Any, Callable

from protocheck.checks.audit import AuditFinding, DriftEvent, HarmonizationItem, Session, shown_value
from protocheck.checks.harmonization import agree, tracked_parameters, _value
from protocheck.checks.inventory import scanner_identity, scanner_label, session_coil

Getter = Callable[[Session], Any]


def _trackers(sessions: list[Session], protocol: Any) -> list[tuple[str, str, Getter, Any]]:
    """(attribute name, severity, value getter, constraint for tolerance) for every tracked condition."""
    out: list[tuple[str, str, Getter, Any]] = [
        ("SoftwareVersions", "warning", lambda s: s.exam_value("SoftwareVersions"), None),
        ("MagneticFieldStrength", "error", lambda s: _num(s.exam_value("MagneticFieldStrength")), None),
    ]
    out.append(("ReceiveCoilName", "warning", session_coil, None))
    for t in tracked_parameters(protocol, sessions):
        if t.parameter == "MagneticFieldStrength":
            continue

        def get(s: Session, seq: str = t.sequence.id, param: str = t.parameter) -> Any:
            series = s.series(seq)
            return _value(series[0], param) if series else None

        severity = "error" if t.severity == "error" else "warning"
        out.append((f"{t.sequence.id}:{t.parameter}", severity, get, t.constraint))
    return out


def _num(v: Any) -> Any:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return v


def build_drift(sessions: list[Session], protocol: Any,
                harmonization: list[HarmonizationItem] | None = None) -> tuple[list[DriftEvent], list[AuditFinding]]:
    """Drift events per site and scanner in time order, with the subjects that straddle each change.

    Only the first session showing a value never seen before on that scanner is an event: a toggle back to an
    earlier value (e.g. two coils used alternately) is variability, reported once when the second value appears.
    """
    by_scanner: dict[tuple[str, tuple[str, str]], list[Session]] = {}
    for s in sessions:
        by_scanner.setdefault((s.site, scanner_identity(s)), []).append(s)
    trackers = _trackers(sessions, protocol)
    events: list[DriftEvent] = []
    for (site, _), group in sorted(by_scanner.items()):
        group.sort(key=lambda s: s.rank)
        scanner = scanner_label(group[0])
        for name, severity, get, constraint in trackers:
            events.extend(_changes(site, scanner, group, name, severity, get, constraint))
    events.sort(key=lambda e: (e.site, e.scanner, e.month or "", e.attribute))
    return events, [_finding(e) for e in events]


def _changes(site: str, scanner: str, group: list[Session], name: str, severity: str, get: Getter,
             constraint: Any) -> list[DriftEvent]:
    out: list[DriftEvent] = []
    previous: Any = None
    seen: list[Any] = []
    for i, s in enumerate(group):
        value = get(s)
        if value is None:
            continue
        new = not any(agree(v, value, constraint) for v in seen)
        seen.append(value)
        if previous is not None and new:       # a value seen before on this scanner is variability, not drift
            before = {x.subject for x in group[:i]}
            after = {x.subject for x in group[i:]}
            param = name.rpartition(":")[2]           # "dwi:EchoTime" -> the parameter, for its unit
            out.append(DriftEvent(site=site, scanner=scanner, attribute=name, before=shown_value(param, previous),
                                  after=shown_value(param, value), session=s.label, subject=s.subject, visit=s.visit,
                                  month=s.month, severity=severity, straddling=sorted(before & after)))
        previous = value
    return out


def _finding(e: DriftEvent) -> AuditFinding:
    straddle = (f"; subjects with sessions on both sides: {', '.join(e.straddling)}" if e.straddling
                else "; no subject has sessions on both sides")
    seq, _, param = e.attribute.partition(":") if ":" in e.attribute else ("", "", e.attribute)
    return AuditFinding(
        kind="drift", site=e.site, subject=e.subject, visit=e.visit, severity=e.severity,
        sequence=seq or None, parameter=param, check_ids=[f"drift/{e.attribute}"], sessions=[e.session],
        message=f"Site {e.site}, {e.scanner}: {e.attribute} changed from {e.before} to {e.after} at "
                f"{e.session}{straddle}")
