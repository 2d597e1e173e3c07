"""Longitudinal drift: per site and scanner, along acquisition dates, the sessions where conditions changed.

Only dates give a direction: a scanner whose sessions are not all dated gets one "sessions differ" event (the
usual value and the others), never "A → B". Along dates, a single session between two at the usual value is an
excursion (that session only), not a change from then on; a value seen before on that scanner is variability.
Differences between subjects without dates are therefore never reported as drift.

Tracked (protocol-facts §5): software version and receive coil (warning), field strength (error), and every
must-match parameter of the protocol (its severity). For each change the subjects with sessions on both sides
are listed: a follow-up acquired under other conditions than its baseline spoils a longitudinal endpoint.
"""

from __future__ import annotations

from typing import Any, Callable

from protocheck.protocol.model import Protocol
from protocheck.checks.audit.types import AuditFinding, DriftEvent, HarmonizationItem, Session, shown_value, value_text
from protocheck.checks.audit.agreement import agree
from protocheck.checks.audit.harmonization import tracked_parameters, series_value
from protocheck.checks.audit.inventory import scanner_identity, scanner_label, session_coil

Getter = Callable[[Session], Any]


def _trackers(sessions: list[Session], protocol: Protocol) -> list[tuple[str, str, Getter, Any]]:
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
            return series_value(series[0], param) if series else None

        severity = "error" if t.severity == "error" else "warning"
        out.append((f"{t.sequence.id}:{t.parameter}", severity, get, t.constraint))
    return out


def _num(v: Any) -> Any:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return v


def build_drift(sessions: list[Session], protocol: Protocol,
                harmonization: list[HarmonizationItem] | None = None) -> tuple[list[DriftEvent], list[AuditFinding]]:
    """Drift events per site and scanner in time order, with the subjects that straddle each change.

    Along dates, only the first session showing a lasting value never seen before on that scanner is a change; a
    one-session excursion is reported as such; undated sessions that differ are one "differs" event.
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
    """Changes along dates; without a date on every session, only "sessions differ" (no direction)."""
    seen = [(s, v) for s in group if (v := get(s)) is not None]
    if len({value_text(v) for _, v in seen}) < 2:
        return []
    dated = all(_date(s) is not None for s, _ in seen)
    if not dated:
        return [_differs(site, scanner, seen, name, severity, constraint)]
    seen.sort(key=lambda sv: (_date(sv[0]), sv[0].rank))
    runs: list[list[tuple[Session, Any]]] = []          # consecutive dated sessions at one value
    for sv in seen:
        if runs and agree(runs[-1][0][1], sv[1], constraint):
            runs[-1].append(sv)
        else:
            runs.append([sv])
    out: list[DriftEvent] = []
    usual = runs[0][0][1]
    known: list[Any] = []
    for i, run in enumerate(runs):
        prev = runs[i - 1][0][1] if i > 0 else None
        nxt = runs[i + 1][0][1] if i + 1 < len(runs) else None
        settled = nxt is not None and (agree(prev, nxt, constraint) if prev is not None else len(runs[i + 1]) > 1)
        lone = len(run) == 1 and settled
        if lone:                    # one odd session (even the first) between sessions at another value
            s, value = run[0]
            out.append(_event(site, scanner, group, s, name, severity, nxt, value, "excursion"))
            continue
        value = run[0][1]
        if known and not any(agree(k, value, constraint) for k in known):   # a value seen before: variability
            out.append(_event(site, scanner, group, run[0][0], name, severity, usual, value, "change"))
        known.append(value)
        usual = value
    return out


def _date(s: Session) -> Any:
    dates = [r.exam.date for r in s.results if r.exam.date is not None]
    return min(dates) if dates else None


def _event(site: str, scanner: str, group: list[Session], s: Session, name: str, severity: str, before: Any,
           after: Any, kind: str) -> DriftEvent:
    """A dated change (with the subjects scanned before and after it) or a one-session excursion."""
    straddling: list[str] = []
    if kind == "change":
        day = _date(s)
        earlier = {x.subject for x in group if (_date(x) or day) < day}
        later = {x.subject for x in group if (_date(x) or day) >= day}
        straddling = sorted(earlier & later)
    param = name.rpartition(":")[2]           # "dwi:EchoTime" -> the parameter, for its unit
    return DriftEvent(site=site, scanner=scanner, attribute=name, before=shown_value(param, before),
                      after=shown_value(param, after),
                      session=s.label, subject=s.subject, visit=s.visit, month=s.month, severity=severity,
                      straddling=straddling, kind=kind, sessions=[s.label])


def _differs(site: str, scanner: str, seen: list[tuple[Session, Any]], name: str, severity: str,
             constraint: Any) -> DriftEvent:
    """Undated sessions that differ: the usual value and the others, with no direction in time."""
    groups: list[list[tuple[Session, Any]]] = []
    for sv in seen:
        home = next((g for g in groups if agree(g[0][1], sv[1], constraint)), None)
        (home.append(sv) if home is not None else groups.append([sv]))
    groups.sort(key=lambda g: -len(g))
    odd = [sv for g in groups[1:] for sv in g]
    param = name.rpartition(":")[2]
    others = ", ".join(f"{shown_value(param, g[0][1])} ({len(g)})" for g in groups[1:])
    first = odd[0][0]
    return DriftEvent(site=site, scanner=scanner, attribute=name, before=f"{shown_value(param, groups[0][0][1])} "
                      f"({len(groups[0])})", after=others, session=first.label, subject=first.subject,
                      visit=first.visit, month=first.month, severity=severity, kind="differs",
                      sessions=sorted(s.label for s, _ in odd))


def _finding(e: DriftEvent) -> AuditFinding:
    seq, _, param = e.attribute.partition(":") if ":" in e.attribute else ("", "", e.attribute)
    where = f"Site {e.site}, {e.scanner}: {e.attribute}"
    if e.kind == "differs":
        text = (f"{where}: sessions differ (no acquisition dates, so no direction in time): {e.before}; other "
                f"values {e.after} in {', '.join(e.sessions)}")
    elif e.kind == "excursion":
        text = f"{where}: a single session at {e.after} ({e.session}); the sessions around it are at {e.before}"
    else:
        straddle = (f"; subjects with sessions on both sides: {', '.join(e.straddling)}" if e.straddling
                    else "; no subject has sessions on both sides")
        text = f"{where} changed from {e.before} to {e.after} at {e.session}{straddle}"
    return AuditFinding(kind="drift", site=e.site, subject=e.subject, visit=e.visit, severity=e.severity,
                        sequence=seq or None, parameter=param, check_ids=[f"drift/{e.attribute}"],
                        sessions=list(e.sessions) or [e.session], message=text)
