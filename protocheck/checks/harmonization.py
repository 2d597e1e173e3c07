"""Cross-site harmonization: must-match parameters compared per site against the protocol and the other sites.

Each site (under the per-vendor variant that applies) is compared with the protocol's nominal value and with
the consensus of the *other* sites, one vote per site: a deviation shared by every session of the largest
site is still flagged, which a plain majority vote over sessions would hide. A difference that the protocol's
per-vendor variant allows is reported as vendor-expected (info), not as a deviation.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from protocheck.checks.audit import AuditFinding, HarmonizationItem, Session, SiteValues, _is_seq, value_text
from protocheck.checks.results import Status

B0_PRESENT = "B0Present"
DEFAULT_RELATIVE = 0.01          # float noise between scanners/readers: 1 % when the protocol gives no tolerance
_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass
class Tracked:
    """One (sequence, parameter) whose value must be identical across sites."""

    sequence: Any
    parameter: str
    origin: str
    severity: str
    constraint: Any = None       # the base constraint on this parameter (nominal / tolerance), if any


@dataclass
class _Obs:
    session: Session
    value: Any
    variant: str | None
    vendor: str | None
    failed: list


def tracked_parameters(protocol: Any, sessions: list[Session]) -> list[Tracked]:
    """Parameters marked ``must_match`` in the protocol, or the protocol-facts §5 list when none is marked."""
    out: list[Tracked] = []
    for seq in protocol.sequences:
        every = list(seq.constraints) + [c for v in seq.variants for c in v.constraints]
        for c in every:
            if getattr(c, "must_match", False) and not any(t.sequence is seq and t.parameter == c.parameter
                                                           for t in out):
                base = _base_constraint(seq, c.parameter) or c
                out.append(Tracked(seq, c.parameter, "protocol must_match", base.severity, base))
    if out:
        return out
    for seq in protocol.sequences:
        names = ["MagneticFieldStrength", "MRAcquisitionType", "VoxelSize"]
        if any(a.get("DiffusionShells") for s in sessions for a in s.series(seq.id)):
            names += ["DiffusionShells", "DiffusionDirectionsPerShell", B0_PRESENT]
        if re.search(r"(?i)t1", f"{seq.id} {seq.description}"):
            names += ["InversionTime", "FlipAngle"]
        for name in names:
            severity = "error" if name == "MagneticFieldStrength" else "warning"
            out.append(Tracked(seq, name, "protocol-facts §5 default", severity, _base_constraint(seq, name)))
    return out


def _base_constraint(seq: Any, parameter: str) -> Any:
    """The most severe base constraint of the sequence on this parameter."""
    cands = [c for c in seq.constraints if c.parameter == parameter]
    return max(cands, key=lambda c: _SEVERITY_RANK.get(c.severity, 0)) if cands else None


def _variant_touches(seq: Any, variant_name: str | None, parameter: str) -> bool:
    """True when the named per-vendor variant changes or removes a constraint on ``parameter``."""
    for v in seq.variants:
        if v.name != variant_name:
            continue
        removed = {c.parameter for c in seq.constraints if c.id in set(v.remove)}
        return parameter in removed or any(c.parameter == parameter for c in v.constraints)
    return False


def _value(acq: Any, parameter: str) -> Any:
    if parameter == B0_PRESENT:
        n = acq.get("NumberOfB0Volumes")
        return None if n is None else bool(n)
    return acq.get(parameter)


def _observe(t: Tracked, s: Session) -> _Obs | None:
    series = s.series(t.sequence.id)
    if not series:
        return None
    acq = series[0]
    match = s.match(acq.key)
    variant = match.variant if match is not None else None
    if not _variant_touches(t.sequence, variant, t.parameter):
        variant = None
    res = s.sequence_result(t.sequence.id)
    failed = [f for f in (res.findings if res else []) if f.parameter == t.parameter
              and f.status is Status.FAIL and (f.series in (None, acq.key))]
    return _Obs(s, _value(acq, t.parameter), variant, s.exam_value("Manufacturer"), failed)


def agree(a: Any, b: Any, constraint: Any = None) -> bool:
    """True when two values are the same within the protocol's tolerance (or 1 % float noise)."""
    if a is None or b is None:
        return a is b
    if _is_seq(a) and _is_seq(b):
        a, b = list(a), list(b)
        return len(a) == len(b) and all(agree(x, y, constraint) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return value_text(a) == value_text(b)
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return value_text(a) == value_text(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    tol = getattr(constraint, "tolerance", None) or {}
    if "absolute" in tol:
        return abs(fa - fb) <= float(tol["absolute"]) + 1e-9
    rel = float(tol.get("relative", DEFAULT_RELATIVE))
    return abs(fa - fb) <= rel * max(abs(fa), abs(fb)) + 1e-9


def _consensus(votes: list[Any], constraint: Any) -> Any:
    """The value most sites agree with (one vote per site); None on a tie or without votes."""
    if not votes:
        return None
    support = [(sum(agree(v, w, constraint) for w in votes), i) for i, v in enumerate(votes)]
    best = max(n for n, _ in support)
    winners = [votes[i] for n, i in support if n == best]
    if any(not agree(winners[0], w, constraint) for w in winners[1:]):
        return None
    return winners[0]


def _modal(obs: list[_Obs]) -> Any:
    known = [o.value for o in obs if o.value is not None]
    if not known:
        return None
    top = Counter(value_text(v) for v in known).most_common(1)[0][0]
    return next(v for v in known if value_text(v) == top)


def _expected(c: Any) -> str | None:
    """The protocol's expectation in words with units (the rule engine's text), or a plain fallback."""
    if c is None:
        return None
    try:
        from protocheck.protocol.rules import expected_text
        return expected_text(c)
    except Exception:  # noqa: BLE001 - a display nicety: fall back to the plain text below
        pass
    tol = c.tolerance or {}
    if c.kind == "nominal":
        extra = f" ± {tol['absolute']}" if "absolute" in tol else (f" ± {tol['relative']:.0%}" if tol else "")
        return f"{value_text(c.value)}{extra}"
    if c.kind == "range" and isinstance(c.value, dict):
        return f"{c.value.get('min', '')}–{c.value.get('max', '')}"
    if c.kind == "one_of":
        return " or ".join(value_text(v) for v in c.value)
    if c.kind in ("equals", "contains", "matches", "each"):
        return f"{c.kind} {value_text(c.value)}" if c.kind != "equals" else value_text(c.value)
    return c.kind


def build_harmonization(sessions: list[Session], protocol: Any) -> tuple[list[HarmonizationItem], list[AuditFinding]]:
    """Per (sequence, must-match parameter): distributions per site and vendor, flagged sites, findings."""
    items: list[HarmonizationItem] = []
    findings: list[AuditFinding] = []
    for t in tracked_parameters(protocol, sessions):
        obs = [o for o in (_observe(t, s) for s in sessions) if o is not None]
        if not any(o.value is not None for o in obs):
            continue
        item, item_findings = _assess(t, obs)
        items.append(item)
        findings.extend(item_findings)
    return items, findings


def _groups(obs: list[_Obs]) -> dict[tuple[str, str | None], list[_Obs]]:
    groups: dict[tuple[str, str | None], list[_Obs]] = {}
    for o in obs:
        groups.setdefault((o.session.site, o.variant), []).append(o)
    return groups


def _assess(t: Tracked, obs: list[_Obs]) -> tuple[HarmonizationItem, list[AuditFinding]]:
    groups = _groups(obs)
    modal = {k: _modal(v) for k, v in groups.items()}
    failed_values = [o.value for o in obs if o.failed]
    base_votes = [m for (site, var), m in modal.items() if var is None and m is not None]
    item = HarmonizationItem(sequence=t.sequence.id, parameter=t.parameter, origin=t.origin,
                             expected=_expected(t.constraint), consensus=None)
    overall = _consensus(base_votes, t.constraint)
    item.consensus = None if overall is None else value_text(overall)
    for o in obs:
        if o.value is not None:
            dist = item.by_vendor.setdefault(o.vendor or "unknown", {})
            dist[value_text(o.value)] = dist.get(value_text(o.value), 0) + 1
    findings = []
    for (site, variant), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        others = [m for (s2, v2), m in modal.items() if s2 != site and v2 == variant and m is not None]
        cons = _consensus(others, t.constraint)
        if cons is not None and any(agree(cons, f, t.constraint) for f in failed_values):
            cons = None                         # the others' consensus itself deviates from the protocol
        row = _site_row(t, site, variant, members, cons, overall)
        item.sites.append(row)
        if row.status == "differs":
            findings.append(_finding(t, row))
    return item, findings


def _site_row(t: Tracked, site: str, variant: str | None, members: list[_Obs], cons: Any,
              overall: Any) -> SiteValues:
    values = Counter(value_text(o.value) if o.value is not None else "unknown" for o in members)
    vendors = Counter(o.vendor or "unknown" for o in members)
    row = SiteValues(site=site, vendor=vendors.most_common(1)[0][0], variant=variant, values=dict(values))
    proto = [o for o in members if o.failed]
    if proto:
        worst = max((f.severity.value for o in proto for f in o.failed), key=lambda s: _SEVERITY_RANK[s])
        row.reasons.append(f"{len(proto)} of {len(members)} sessions differ from the protocol"
                           f" (expected {_expected(t.constraint) or proto[0].failed[0].expected})")
        row.severity = worst
    off = [o for o in members if o.value is not None and cons is not None and not agree(o.value, cons, t.constraint)]
    if off:
        row.reasons.append(f"{len(off)} of {len(members)} sessions differ from the other sites"
                           f" (consensus {value_text(cons)})")
        row.severity = max([row.severity or "info", t.severity], key=lambda s: _SEVERITY_RANK.get(s, 0))
    if proto or off:
        row.status = "differs"
        row.sessions = sorted({o.session.label for o in proto + off})
        return row
    if variant is not None:
        modal = _modal(members)
        nominal = getattr(t.constraint, "value", None) if getattr(t.constraint, "kind", "") == "nominal" else None
        ref = overall if overall is not None else nominal
        if modal is not None and ref is not None and not agree(modal, ref, t.constraint):
            row.status = "vendor-expected"
            row.severity = "info"
            row.reasons.append(f"differs from the base value {value_text(ref)} but is within the protocol's "
                               f"{variant} variant")
    if all(o.value is None for o in members):
        row.status = "cannot_verify"
        row.reasons.append("value unknown in every session")
    return row


def _finding(t: Tracked, row: SiteValues) -> AuditFinding:
    shown = ", ".join(f"{v} ({n})" for v, n in sorted(row.values.items()))
    return AuditFinding(
        kind="harmonization", site=row.site, severity=row.severity or t.severity, sequence=t.sequence.id,
        parameter=t.parameter, check_ids=[f"{t.sequence.id}/harmonization/{t.parameter}"], sessions=row.sessions,
        message=f"Site {row.site}: {t.sequence.id} {t.parameter} is {shown}; " + "; ".join(row.reasons)
                + f" ({t.origin})")
