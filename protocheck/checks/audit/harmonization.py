"""Cross-site harmonization: must-match parameters compared per site against the protocol and the other sites.

Each site is compared with the consensus of the *other* sites, one vote per site: a deviation shared by every
session of the largest site is still flagged, which a plain majority vote over sessions would hide. Sites
under a per-vendor variant that changes the parameter (e.g. Philips "opt 32" diffusion directions) are compared
with the other sites of the same variant where at least ``MIN_VARIANT_PEERS`` of them exist, else with the
variant's nominal value; a site that then agrees, and satisfies its variant, is "vendor-expected" (info), not
"differs". A value off both the protocol (its variant) and the consensus stays flagged.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from protocheck.protocol.model import Protocol
from protocheck.checks.audit.types import AuditFinding, HarmonizationItem, Session, SiteValues, shown_value, value_text
from protocheck.checks.audit.agreement import agree, consensus, expectation_text, fits_nominal, nominal_text
from protocheck.results import Status

B0_PRESENT = "B0Present"
MIN_VARIANT_PEERS = 2            # other sites of the same variant needed for a variant consensus
_SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}
# Compared as another quantity than the constrained one: §5 requires b0 *presence* to match across sites;
# the count does not (Philips writes the card's 5 b=0 averages as one averaged volume).
_COMPARED_AS = {"NumberOfB0Volumes": B0_PRESENT}


@dataclass
class Tracked:
    """One (sequence, parameter) whose value must be identical across sites."""

    sequence: Any
    parameter: str                # the compared quantity (a parameter name, or B0Present)
    origin: str
    severity: str
    constraint: Any = None        # the base constraint on this parameter (nominal / tolerance), if any
    scope: str = "all"            # "all": across every site; "vendor": among the sites of one vendor

    @property
    def protocol_parameter(self) -> str:
        """The parameter the protocol constrains (NumberOfB0Volumes for B0Present)."""
        if self.parameter == B0_PRESENT:
            return "NumberOfB0Volumes"
        return getattr(self.constraint, "parameter", None) or self.parameter


@dataclass
class _Obs:
    session: Session
    value: Any
    variant: str | None           # the vendor variant, only when it changes the constraint on the parameter
    vendor: str | None
    failed: list
    constraint: Any = None        # the constraint that applies to this session (the variant's, else the base)
    version: str | None = None    # the accepted exam-card version this value is, when it is one


def tracked_parameters(protocol: Protocol, sessions: list[Session]) -> list[Tracked]:
    """Parameters marked ``must_match`` in the protocol, or the protocol-facts §5 list when none is marked."""
    out: list[Tracked] = []
    for seq in protocol.sequences:
        every = list(seq.constraints) + [c for v in seq.variants for c in v.constraints]
        for c in every:
            name = _COMPARED_AS.get(c.parameter, c.parameter)
            if getattr(c, "must_match", False) and not any(t.sequence is seq and t.parameter == name for t in out):
                base = _base_constraint(seq, c.parameter) or c
                scope = getattr(base, "match_scope", "all")
                origin = "protocol must_match" + (" within vendor" if scope == "vendor" else "")
                out.append(Tracked(seq, name, origin, base.severity, base, scope))
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
    """The base constraint marked must_match on this parameter, else the most severe one."""
    cands = [c for c in seq.constraints if c.parameter == parameter]
    marked = [c for c in cands if getattr(c, "must_match", False)]
    if marked:
        return marked[0]
    return max(cands, key=lambda c: _SEVERITY_RANK.get(c.severity, 0)) if cands else None


def _same_rule(a: Any, b: Any) -> bool:
    """True when two constraints require the same thing (citations, notes and advice aside)."""
    keys = ("parameter", "kind", "value", "severity", "tolerance", "shell", "shell_tolerance")
    return all(getattr(a, k, None) == getattr(b, k, None) for k in keys)


def variant_changes(seq: Any, variant_name: str | None, parameter: str) -> bool:
    """True when the named per-vendor variant changes, adds or removes a constraint on ``parameter``."""
    for v in seq.variants:
        if v.name != variant_name:
            continue
        base = {c.id: c for c in seq.constraints}
        if any(base[rid].parameter == parameter for rid in v.remove if rid in base):
            return True
        return any(c.parameter == parameter and (c.id not in base or not _same_rule(c, base[c.id]))
                   for c in v.constraints)
    return False



def _applicable(seq: Any, variant_name: str | None, parameter: str, base: Any) -> Any:
    """The constraint on ``parameter`` under the variant (its replacement or addition), else ``base``."""
    for v in seq.variants:
        if v.name == variant_name:
            marked = [c for c in v.constraints if c.parameter == parameter and c.must_match]
            same = [c for c in v.constraints if c.parameter == parameter]
            if marked or same:
                return (marked or same)[0]
            if any(c.id in v.remove and c.parameter == parameter for c in seq.constraints):
                return None
    return base


def series_value(acq: Any, parameter: str) -> Any:
    """The value of ``parameter`` on one series as the audit compares it (derived parameters included)."""
    if parameter == B0_PRESENT:
        n = acq.get("NumberOfB0Volumes")
        return None if n is None else bool(n)
    value = acq.get(parameter)
    if value is None:
        try:
            from protocheck.protocol.rules import value_of
            value = value_of(acq, parameter)[0]
        except Exception:  # noqa: BLE001 - a derived value that cannot be computed is unknown, not an error
            value = None
    return value


def _observe(t: Tracked, s: Session) -> _Obs | None:
    series = s.series(t.sequence.id)
    if not series:
        return None
    acq = series[0]
    match = s.match(acq.key)
    variant = match.variant if match is not None else None
    if not variant_changes(t.sequence, variant, t.protocol_parameter):
        variant = None
    res = s.sequence_result(t.sequence.id)
    failed = [f for f in (res.findings if res else []) if f.parameter == t.protocol_parameter
              and f.status is Status.FAIL and (f.series in (None, acq.key))]
    constraint = _applicable(t.sequence, variant, t.protocol_parameter, t.constraint) if variant else t.constraint
    value = series_value(acq, t.parameter)
    return _Obs(s, value, variant, s.exam_value("Manufacturer"), failed, constraint, _version(t, s, acq, value))


def _version(t: Tracked, s: Session, acq: Any, value: Any) -> str | None:
    """The accepted exam-card version of the sequence whose value on this parameter the session shows."""
    date = min((r.exam.date for r in s.results if r.exam.date is not None), default=None)
    return next((v.name for v in getattr(t.sequence, "versions", ()) if v.applies_to(acq, date) and any(
        c.parameter == t.protocol_parameter and fits_nominal(value, c) for c in v.constraints)), None)


def _modal(obs: list[_Obs]) -> Any:
    known = [o.value for o in obs if o.value is not None]
    if not known:
        return None
    top = Counter(value_text(v) for v in known).most_common(1)[0][0]
    return next(v for v in known if value_text(v) == top)


def build_harmonization(sessions: list[Session], protocol: Protocol) -> tuple[list[HarmonizationItem], list[AuditFinding]]:
    """Per (sequence, must-match parameter): distributions per site and vendor, flagged sites, findings."""
    items: list[HarmonizationItem] = []
    findings: list[AuditFinding] = []
    for t in tracked_parameters(protocol, sessions):
        obs = [o for o in (_observe(t, s) for s in sessions) if o is not None]
        if not any(o.value is not None for o in obs):
            continue
        groups: dict[str, list[_Obs]] = {}     # must_match "vendor": compared among one vendor's sites only
        for o in obs:
            groups.setdefault((o.vendor or "unknown") if t.scope == "vendor" else "", []).append(o)
        for vendor, members in sorted(groups.items()):
            item, item_findings = _assess(t, members)
            if vendor:
                item.origin = f"{t.origin} ({vendor})"
            items.append(item)
            findings.extend(item_findings)
    return items, findings


def _groups(obs: list[_Obs]) -> dict[tuple[str, str | None], list[_Obs]]:
    groups: dict[tuple[str, str | None], list[_Obs]] = {}
    for o in obs:
        groups.setdefault((o.session.site, o.variant), []).append(o)
    return groups


@dataclass
class _Reference:
    """What one site is compared with: the consensus of its peers, else the applicable nominal."""

    value: Any = None             # the peers' consensus (None: use the nominal)
    peers: int = 0                # number of other sites (same variant) that voted
    constraint: Any = None        # the constraint that applies (variant's or base)
    base_value: Any = None        # the base sites' consensus (for the vendor-expected test)
    base_constraint: Any = None


def _reference(t: Tracked, site: str, variant: str | None, modal: dict, groups: dict) -> _Reference:
    """Consensus of the other sites under the same variant (≥ 2 of them for a variant), else the nominal."""
    members = groups[(site, variant)]
    applicable = next((o.constraint for o in members), t.constraint)
    peers = [m for (s2, v2), m in modal.items() if s2 != site and v2 == variant and m is not None]
    failed = [o.value for (s2, v2), g in groups.items() if v2 == variant for o in g if o.failed]
    ref = _Reference(peers=len(peers), constraint=applicable, base_constraint=t.constraint)
    if variant is None or len(peers) >= MIN_VARIANT_PEERS:
        cons = consensus(peers, t.constraint)
        if cons is not None and not any(agree(cons, f, t.constraint) for f in failed):
            ref.value = cons              # else the peers' consensus itself deviates from the protocol
    base_votes = [m for (_, v2), m in modal.items() if v2 is None and m is not None]
    ref.base_value = consensus(base_votes, t.constraint)
    return ref


def _assess(t: Tracked, obs: list[_Obs]) -> tuple[HarmonizationItem, list[AuditFinding]]:
    groups = _groups(obs)
    modal = {k: _modal(v) for k, v in groups.items()}
    base_votes = [m for (site, var), m in modal.items() if var is None and m is not None]
    item = HarmonizationItem(sequence=t.sequence.id, parameter=t.parameter, origin=t.origin,
                             expected=expectation_text(t.constraint), consensus=None)
    overall = consensus(base_votes, t.constraint)
    item.consensus = None if overall is None else shown_value(t.parameter, overall)
    for o in obs:
        if o.value is not None:
            dist = item.by_vendor.setdefault(o.vendor or "unknown", {})
            text = shown_value(t.parameter, o.value)
            dist[text] = dist.get(text, 0) + 1
    findings = []
    for (site, variant), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        row = _site_row(t, site, variant, members, _reference(t, site, variant, modal, groups))
        item.sites.append(row)
        if row.status == "differs":
            findings.append(_finding(t, row))
    return item, findings


def _off_reference(value: Any, t: Tracked, ref: _Reference) -> bool:
    """True when a value differs from the peers' consensus, or (without one) from the applicable nominal."""
    if value is None:
        return False
    if ref.value is not None:
        return not agree(value, ref.value, t.constraint)
    return fits_nominal(value, ref.constraint) is False


def _reference_text(param: str, variant: str | None, ref: _Reference) -> str:
    """What the site was compared with, in words."""
    if ref.value is not None:
        return f"the other {variant + ' ' if variant else ''}sites (consensus {shown_value(param, ref.value)})"
    why = (f"{variant} variant; fewer than {MIN_VARIANT_PEERS} other {variant} sites" if variant
           else "the other sites have no consensus")
    return f"the protocol's nominal {nominal_text(ref.constraint)} ({why})"


def _site_row(t: Tracked, site: str, variant: str | None, members: list[_Obs], ref: _Reference) -> SiteValues:
    values = Counter(shown_value(t.parameter, o.value) if o.value is not None else "unknown" for o in members)
    vendors = Counter(o.vendor or "unknown" for o in members)
    row = SiteValues(site=site, vendor=vendors.most_common(1)[0][0], variant=variant, values=dict(values))
    proto = [o for o in members if o.failed]
    if proto:
        worst = max((f.severity.value for o in proto for f in o.failed), key=lambda s: _SEVERITY_RANK[s])
        row.reasons.append(f"{len(proto)} of {len(members)} sessions differ from the protocol"
                           f"{f' ({variant} variant)' if variant else ''}"
                           f" (expected {expectation_text(ref.constraint) or proto[0].failed[0].expected})")
        row.severity = worst
    accepted = [o for o in members if o.version and not o.failed and _off_reference(o.value, t, ref)]
    off = [o for o in members if _off_reference(o.value, t, ref) and o not in accepted]
    if off:
        nominal = [o for o in off if fits_nominal(o.value, ref.constraint) is False]
        extra = (f"; not the protocol's nominal {nominal_text(ref.constraint)}"
                 if nominal and ref.value is not None and not proto else "")
        row.reasons.append(f"{len(off)} of {len(members)} sessions differ from "
                           f"{_reference_text(t.parameter, variant, ref)}"
                           + extra)
        row.severity = max([row.severity or "info", t.severity], key=lambda s: _SEVERITY_RANK.get(s, 0))
    if proto or off:
        row.status = "differs"
        row.sessions = sorted({o.session.label for o in proto + off})
        return row
    if all(o.value is None for o in members):
        row.status = "cannot_verify"
        row.reasons.append("value unknown in every session")
    elif accepted:
        row.status, row.severity = "vendor-expected", "info"
        names = sorted({o.version for o in accepted if o.version})
        against = _reference_text(t.parameter, variant, ref)
        row.reasons.append(f"{len(accepted)} of {len(members)} sessions differ from {against} "
                           f"as the accepted exam-card version {', '.join(repr(n) for n in names)}")
    elif variant is not None:
        _vendor_expected(row, t, variant, _modal(members), ref)
    return row


def _vendor_expected(row: SiteValues, t: Tracked, variant: str, modal: Any, ref: _Reference) -> None:
    """Mark a variant site vendor-expected when its value differs from the base sites' (or base nominal)."""
    base = ref.base_value
    off_base = (not agree(modal, base, t.constraint)) if base is not None else fits_nominal(modal, t.constraint) is False
    if not off_base:
        return
    row.status = "vendor-expected"
    row.severity = "info"
    shown = shown_value(t.parameter, base) if base is not None else nominal_text(t.constraint)
    peers = f"; {ref.peers} other {variant} site(s) agree" if ref.value is not None else ""
    row.reasons.append(f"differs from the other sites' {shown} but is within the protocol's {variant} variant"
                       f" (expected {expectation_text(ref.constraint) or '—'}){peers}")


def _finding(t: Tracked, row: SiteValues) -> AuditFinding:
    shown = ", ".join(f"{v} ({n})" for v, n in sorted(row.values.items()))
    return AuditFinding(
        kind="harmonization", site=row.site, severity=row.severity or t.severity, sequence=t.sequence.id,
        parameter=t.parameter, check_ids=[f"{t.sequence.id}/harmonization/{t.parameter}"], sessions=row.sessions,
        message=f"Site {row.site}: {t.sequence.id} {t.parameter} is {shown}; " + "; ".join(row.reasons)
                + f" ({t.origin})")
