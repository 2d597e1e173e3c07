"""Site-level findings: the audit folded into one line per site × problem, what a coordinator reads first.

Per-session findings of the audit are many (one per session, sequence and check); here they are grouped by
site, sequence and parameter, with the expected value, the values found (with session counts), how many of the
site's sessions are affected, and whether the protocol's per-vendor variant explains the difference.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from protocheck.checks.audit import session_problems
from protocheck.checks.compliance import ACCEPTED_VERSION
from protocheck.checks.results import Status

_SEV_RANK = {"error": 3, "warning": 2, "info": 1}
_KIND_RANK = {"compliance": 0, "harmonization": 1, "missing": 2, "longitudinal": 3, "drift": 4, "cannot_verify": 5}


@dataclass
class SiteFinding:
    """One problem of one site: where, what was expected, what was found, how many sessions."""

    site: str
    kind: str                      # compliance / harmonization / missing / drift / cannot_verify
    severity: str
    sequence: str | None
    parameter: str | None
    expected: str | None
    found: str | None              # "value (n sessions), ..."
    sessions: int                  # sessions of the site affected
    site_sessions: int             # sessions of the site
    vendor_expected: bool = False
    detail: str = ""
    labels: list[str] = field(default_factory=list)    # the affected sessions


@dataclass
class _Acc:
    severity: str = "info"
    expected: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    labels: set = field(default_factory=set)
    params: set = field(default_factory=set)

    def add(self, severity: str, label: str, expected: str | None, found: str | None) -> None:
        if _SEV_RANK.get(severity, 0) > _SEV_RANK.get(self.severity, 0):
            self.severity = severity
        self.labels.add(label)
        if expected:
            self.expected[expected] += 1
        self.found[found if found is not None else "unknown"] += 1


_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)\s*([^\d\s].*)?$")


def _dist(counter: Counter, limit: int = 3) -> str:
    """"v (n), w (m)"; many numbers of one unit become a range "2.05–2.25 ms (7)"."""
    items = counter.most_common()
    parsed = [_NUMBER.match(str(v)) for v, _ in items]
    if len(items) > limit and all(parsed) and len({m.group(2) for m in parsed if m}) == 1:
        nums = [float(m.group(1)) for m in parsed if m]
        unit = parsed[0].group(2) if parsed[0] else ""
        return f"{min(nums):g}–{max(nums):g}{' ' + unit if unit else ''} ({sum(counter.values())})"
    text = ", ".join(f"{v} ({n})" for v, n in items[:limit])
    return text + (f", +{len(items) - limit} more" if len(items) > limit else "")


def _compliance(sessions: list[Any], sequences: list[str]) -> dict[tuple, _Acc]:
    """Failed checks grouped by (site, sequence, parameter); unverifiable ones by (site, sequence)."""
    acc: dict[tuple, _Acc] = {}
    for s in sessions:
        for seq in sequences:
            res = s.sequence_result(seq)
            for f in (res.findings if res is not None else []):      # accepted exam-card versions (info)
                if f.status is Status.FAIL and ACCEPTED_VERSION in f.message:
                    version = f.message.split(ACCEPTED_VERSION, 1)[1].split("'")[1]
                    key = (s.site, "accepted", seq, f"{f.parameter} ({version})")
                    acc.setdefault(key, _Acc()).add("info", s.label, f.expected, f.found)
            if res is None or res.status not in ("deviating", "cannot_verify"):
                continue
            for f in res.findings:
                sev = f.severity.value if hasattr(f.severity, "value") else str(f.severity)
                if f.status is Status.FAIL:
                    key = (s.site, "compliance", seq, f.parameter or f.check_id)
                    acc.setdefault(key, _Acc()).add(sev, s.label, f.expected, f.found)
                elif f.status is Status.CANNOT_VERIFY:      # one line per site: sequences and parameters
                    a = acc.setdefault((s.site, "cannot_verify", None, None), _Acc())
                    a.add(sev, s.label, None, None)
                    a.params.add(f.parameter or f.check_id)
                    a.expected[seq] += 1
        for f in session_problems(s):                   # cross-series rules (MT pair): "<rule>: <parameter>"
            rule = f.check_id.split("/", 1)[-1]
            key = (s.site, "compliance", f.sequence, f"{rule}: {f.parameter or f.check_id}")
            acc.setdefault(key, _Acc()).add(f.severity.value, s.label, f.expected, f.found)
    return acc


def build_site_findings(sessions: list[Any], sequences: list[str], harmonization: list[Any],
                        completeness: list[Any], drift: list[Any],
                        longitudinal: list[Any] | None = None) -> list[SiteFinding]:
    """Fold the audit into site-level findings, sorted by severity (worst first), then site."""
    per_site = Counter(s.site for s in sessions)
    out: list[SiteFinding] = []
    for (site, kind, seq, param), a in _compliance(sessions, sequences).items():
        if kind == "cannot_verify":
            params, seqs = sorted(a.params), sorted(a.expected)
            out.append(SiteFinding(site, kind, a.severity, ", ".join(seqs), ", ".join(params[:6]) +
                                   (f" +{len(params) - 6}" if len(params) > 6 else ""), None, "unknown",
                                   len(a.labels), per_site[site], labels=sorted(a.labels),
                                   detail="value absent from the headers/sidecars"))
            continue
        expected = next(iter(a.expected)) if len(a.expected) == 1 else _dist(a.expected, 2)
        accepted = kind == "accepted"
        out.append(SiteFinding(site, "compliance", a.severity, seq, param, expected, _dist(a.found),
                               len(a.labels), per_site[site], labels=sorted(a.labels), vendor_expected=accepted,
                               detail="an accepted exam-card version of the protocol" if accepted else ""))
    out.extend(_harmonization(harmonization, per_site, out))
    out.extend(_missing(completeness, per_site))
    out.extend(_drift(drift, sessions))
    out.extend(SiteFinding(f.site, "longitudinal", f.severity, f.sequence, f.parameter, None, None, 1,
                           per_site[f.site], detail=f.message, labels=f.sessions[-1:])
               for f in longitudinal or [])
    out.sort(key=lambda f: (-_SEV_RANK.get(f.severity, 0), f.vendor_expected, f.site, _KIND_RANK.get(f.kind, 9),
                            f.sequence or "", f.parameter or ""))
    return out


def _harmonization(items: list[Any], per_site: Counter, compliance: list[SiteFinding]) -> list[SiteFinding]:
    """Sites differing from protocol/consensus on must-match parameters (not already a compliance line)."""
    by_key = {(f.site, f.sequence, f.parameter): f for f in compliance}
    out: list[SiteFinding] = []
    for h in items:
        for r in h.sites:
            if r.status not in ("differs", "vendor-expected"):
                continue
            found = ", ".join(f"{v} ({n})" for v, n in sorted(r.values.items(), key=lambda kv: -kv[1]))
            cross = [x for x in r.reasons if "other sites" in x]
            known = by_key.get((r.site, h.sequence, h.parameter))
            if known is not None and r.status == "differs":
                if cross:
                    known.detail = "; ".join(filter(None, [known.detail, "must match across sites: " + cross[0]]))
                continue
            vendor = r.status == "vendor-expected"
            expected = h.expected or h.consensus
            if cross and h.consensus:
                expected = f"{h.expected} (sites: {h.consensus})" if h.expected else f"consensus {h.consensus}"
            n = len(r.sessions) if r.sessions else sum(r.values.values())
            out.append(SiteFinding(
                r.site, "harmonization", r.severity or "warning", h.sequence, h.parameter, expected, found, n,
                per_site[r.site], vendor_expected=vendor,
                detail=(f"allowed by the protocol's {r.variant} variant" if vendor and r.variant else "; ".join(r.reasons)),
                labels=list(r.sessions)))
    return out


def _missing(rows: list[Any], per_site: Counter) -> list[SiteFinding]:
    """Required (error) and recommended (warning) sequences missing, per site and sequence."""
    acc: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        label = f"{r.subject} {r.visit}"
        for seq in r.missing_required:
            acc.setdefault((r.site, seq, "error"), []).append(label)
        for seq in r.missing_recommended:
            acc.setdefault((r.site, seq, "warning"), []).append(label)
    return [SiteFinding(site, "missing", sev, seq, None, "present", "missing", len(labels), per_site[site],
                        detail="required" if sev == "error" else "recommended", labels=labels)
            for (site, seq, sev), labels in acc.items()]


def _drift(events: list[Any], sessions: list[Any]) -> list[SiteFinding]:
    """One line per drift event: sessions from the change on, and who straddles it."""
    out: list[SiteFinding] = []
    for e in events:
        site_sessions = [s for s in sessions if s.site == e.site]
        seq, _, param = e.attribute.partition(":") if ":" in e.attribute else ("", "", e.attribute)
        kind = getattr(e, "kind", "change")
        if kind != "change":            # an excursion or undated differences: only those sessions, no direction
            detail = ("a single session differs from the sessions around it (an excursion, not a change)"
                      if kind == "excursion"
                      else "sessions differ (no acquisition dates: no direction in time)")
            out.append(SiteFinding(e.site, "drift", e.severity, seq or None, param, e.before, e.after,
                                   len(e.sessions), len(site_sessions), detail=detail, labels=list(e.sessions)))
            continue
        start = next((s.rank for s in site_sessions if s.label == e.session), 0)
        after = [s for s in site_sessions if s.rank >= start]
        straddle = f"; straddling subjects: {', '.join(e.straddling)}" if e.straddling else ""
        out.append(SiteFinding(e.site, "drift", e.severity, seq or None, param, e.before, e.after, len(after),
                               len(site_sessions), detail=f"from {e.session}{straddle}",
                               labels=[s.label for s in after]))
    return out
