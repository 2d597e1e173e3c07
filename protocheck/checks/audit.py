"""Multicentre audit: group checked exams into sessions (site, subject, visit) and aggregate them.

``build_audit`` turns the per-exam results of ``protocheck.checks.compliance`` (from raw data or from
federated summaries) into a compliance matrix, a scanner inventory, a cross-site harmonization table,
longitudinal drift events and a completeness table, plus one flat list of audit findings. Nothing here
holds patient identifiers: subjects are the pseudonymous keys of the exams, dates are reduced to year-month.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Sequence as _Seq
from dataclasses import dataclass, field
from typing import Any

from protocheck.checks.results import ExamResult, MatchInfo, SequenceResult
from protocheck.model import Acquisition
from protocheck.privacy import reduce_date

MATRIX_STATES = ("compliant", "deviating", "cannot_verify", "missing")
_STATUS_RANK = {"compliant": 0, "deviating": 1, "cannot_verify": 2, "missing": 3, "absent_optional": 4}
EXAM_PARAMETERS = ("Manufacturer", "ManufacturersModelName", "SoftwareVersions", "MagneticFieldStrength",
                   "DeviceSerialNumber")


@dataclass
class Session:
    """One visit of one subject at one site: the exam results acquired then (usually one exam)."""

    site: str
    subject: str
    visit: str                      # BIDS session label, or "v<N>" (N-th dated visit of the subject)
    ordinal: int                    # 1-based chronological visit number of the subject
    month: str | None               # YYYY-MM (never the full date)
    rank: int = 0                   # chronological rank within the site (drift order)
    results: list[ExamResult] = field(default_factory=list)

    @property
    def label(self) -> str:
        """A short human name: "<subject> <visit> (<month>)"."""
        return f"{self.subject} {self.visit}" + (f" ({self.month})" if self.month else "")

    def sequence_result(self, sequence: str) -> SequenceResult | None:
        """The best result of this sequence over the session's exams (present beats missing)."""
        found = [s for r in self.results for s in r.sequences if s.sequence == sequence]
        if not found:
            return None
        return min(found, key=lambda s: _STATUS_RANK.get(s.status, 9))

    def status(self, sequence: str) -> str | None:
        res = self.sequence_result(sequence)
        return None if res is None else res.status

    def series(self, sequence: str) -> list[Acquisition]:
        """Acquisitions matched to ``sequence``, in series-number order."""
        out: list[Acquisition] = []
        for r in self.results:
            for s in r.sequences:
                if s.sequence == sequence:
                    out.extend(a for a in (r.acquisition(k) for k in s.series) if a is not None)
        return sorted(out, key=lambda a: (a.series_number if a.series_number is not None else 1 << 30, a.key))

    def match(self, series_key: str) -> MatchInfo | None:
        for r in self.results:
            for m in r.matches:
                if m.series == series_key:
                    return m
        return None

    def acquisitions(self) -> list[Acquisition]:
        """Every acquisition that is not a localizer/derived/non-image series."""
        return [a for r in self.results for a in r.exam.acquisitions if not a.is_support]

    def exam_value(self, name: str) -> Any:
        """The most common value of an exam-level parameter (vendor, software...) in this session."""
        values = [_text(a.get(name)) for a in self.acquisitions() if a.get(name) is not None]
        if not values:
            values = [_text(a.get(name)) for r in self.results for a in r.exam.acquisitions
                      if a.get(name) is not None]
        return Counter(values).most_common(1)[0][0] if values else None


@dataclass
class MatrixCell:
    """Counts of sessions of one site for one protocol sequence."""

    site: str
    sequence: str
    compliant: int = 0
    deviating: int = 0
    cannot_verify: int = 0
    missing: int = 0
    absent_optional: int = 0

    @property
    def total(self) -> int:
        return self.compliant + self.deviating + self.cannot_verify + self.missing + self.absent_optional


@dataclass
class InventoryEntry:
    """One scanner configuration seen at a site, with the first and last month it was seen."""

    site: str
    vendor: str | None
    model: str | None
    software: str | None
    field_strength: float | None
    coil: str | None
    serial: str | None
    first_seen: str | None
    last_seen: str | None
    sessions: int = 0


@dataclass
class SiteValues:
    """The values one site (under one vendor variant) shows for one must-match parameter."""

    site: str
    vendor: str | None
    variant: str | None
    values: dict[str, int]                     # value text -> number of sessions
    status: str = "ok"                         # ok / differs / vendor-expected / cannot_verify
    severity: str | None = None
    reasons: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)   # labels of the sessions that differ


@dataclass
class HarmonizationItem:
    """One (sequence, parameter) that must match across sites: distribution per site and per vendor."""

    sequence: str
    parameter: str
    origin: str                                # "protocol must_match" or "protocol-facts §5 default"
    expected: str | None                       # the protocol's nominal, in words
    consensus: str | None                      # most common value over sites (one vote per site)
    by_vendor: dict[str, dict[str, int]] = field(default_factory=dict)
    sites: list[SiteValues] = field(default_factory=list)


@dataclass
class DriftEvent:
    """The first session of a site/scanner where a tracked condition changed, and who straddles it."""

    site: str
    scanner: str
    attribute: str                             # SoftwareVersions / ReceiveCoilName / MagneticFieldStrength / <seq>:<param>
    before: str
    after: str
    session: str                               # label of the first session with the new value
    subject: str
    visit: str
    month: str | None
    severity: str
    straddling: list[str] = field(default_factory=list)   # subjects with sessions before and after
    kind: str = "change"                       # change (dated, lasting) / excursion (one dated session) / differs (undated)
    sessions: list[str] = field(default_factory=list)     # the sessions at the new/odd value (excursion, differs)


@dataclass
class CompletenessRow:
    """Required/recommended sequences present in one session, and repeats."""

    site: str
    subject: str
    visit: str
    month: str | None
    missing_required: list[str] = field(default_factory=list)
    missing_recommended: list[str] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)   # sequence -> number of matched series (> 1)

    @property
    def complete(self) -> bool:
        return not self.missing_required


@dataclass
class AuditFinding:
    """One problem the audit found, located at a site (and a session when it has one)."""

    kind: str                                  # compliance / missing / harmonization / drift
    site: str
    severity: str
    message: str
    subject: str | None = None
    visit: str | None = None
    sequence: str | None = None
    parameter: str | None = None
    check_ids: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    status: str = "fail"                       # fail / cannot_verify (a value could not be read: counted apart)


@dataclass
class AuditResult:
    """Everything ``protocheck audit`` reports."""

    protocol_name: str
    protocol_version: str
    protocol_sha256: str
    sequences: list[str]
    sites: list[str]
    sessions: list[Session]
    matrix: list[MatrixCell]
    inventory: list[InventoryEntry]
    harmonization: list[HarmonizationItem]
    drift: list[DriftEvent]
    completeness: list[CompletenessRow]
    findings: list[AuditFinding]
    scanners: list[Any] = field(default_factory=list)        # inventory.ScannerEntry, one per site × scanner
    site_findings: list[Any] = field(default_factory=list)   # site_findings.SiteFinding, worst first
    requirements: dict[str, str] = field(default_factory=dict)   # sequence id -> required/recommended/optional


def _text(value: Any) -> str:
    """A stable short text of a parameter value for grouping and display (4 significant digits)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: float(kv[0]) if _is_num(kv[0]) else 0.0)
        return ", ".join(f"{_text(k)}: {_text(v)}" for k, v in items)
    if _is_seq(value):
        value = list(value)
        return " × ".join(_text(v) for v in value) if all(_is_num(v) for v in value) else \
            "\\".join(_text(v) for v in value)
    return str(value)


def _is_seq(v: Any) -> bool:
    """True for lists, tuples and pydicom MultiValues (any sequence that is not text)."""
    return isinstance(v, _Seq) and not isinstance(v, (str, bytes))


def _is_num(v: Any) -> bool:
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


value_text = _text


def shown_value(param: str, value: Any) -> str:
    """A value as reports show it: in the parameter's one display unit ("35 ms", "1 × 1 × 1 mm";
    ``protocheck.units``), else ``value_text``."""
    from protocheck.units import display_unit, quantity_text
    return quantity_text(param, value) if display_unit(param)[0] and not isinstance(value, (str, dict)) \
        else _text(value)


def group_sessions(results: list[ExamResult]) -> list[Session]:
    """Group exam results into sessions keyed by (site, subject, visit), ranked in time within each site."""
    by_subject: dict[tuple[str, str, str], list[ExamResult]] = {}
    for r in results:
        site = r.exam.site or "unknown"
        by_subject.setdefault((site, r.exam.scope(), r.exam.subject or r.exam.key), []).append(r)
    sessions: list[Session] = []
    for (site, _scope, subject), exams in by_subject.items():
        sessions.extend(_subject_sessions(site, subject, exams))
    by_site: dict[str, list[Session]] = {}
    for s in sessions:
        by_site.setdefault(s.site, []).append(s)
    for site_sessions in by_site.values():
        site_sessions.sort(key=_time_key)
        for i, s in enumerate(site_sessions, 1):
            s.rank = i
    return sorted(sessions, key=lambda s: (s.site, s.rank))


def _time_key(s: Session) -> tuple:
    dates = [r.exam.date for r in s.results if r.exam.date is not None]
    ranks = [r.exam.visit_rank for r in s.results if r.exam.visit_rank is not None]
    return (min(dates) if dates else _dt.date.max, min(ranks) if ranks else 0, s.subject, s.ordinal, s.visit)


def _subject_sessions(site: str, subject: str, exams: list[ExamResult]) -> list[Session]:
    """Visits of one subject: one per BIDS session label, else one per acquisition date."""
    groups: dict[str, list[ExamResult]] = {}
    for r in exams:
        e = r.exam
        label = e.session or (e.date.isoformat() if e.date else f"exam:{e.key}")
        groups.setdefault(label, []).append(r)

    def order(item: tuple[str, list[ExamResult]]) -> tuple:
        dates = [r.exam.date for r in item[1] if r.exam.date]
        ranks = [r.exam.visit_rank for r in item[1] if r.exam.visit_rank is not None]
        return (min(dates) if dates else _dt.date.max, min(ranks) if ranks else 0, item[0])

    out = []
    for n, (label, rs) in enumerate(sorted(groups.items(), key=order), 1):
        named = any(r.exam.session for r in rs)
        dates = [r.exam.date for r in rs if r.exam.date]
        out.append(Session(site=site, subject=subject, visit=label if named else f"v{n}", ordinal=n,
                           month=reduce_date(min(dates)) if dates else None, results=rs))
    return out


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


def session_problems(s: Session) -> list[Any]:
    """Exam-level findings of a session (cross-series rules such as the MT pair) at error or warning severity."""
    return [f for r in s.results for f in r.findings
            if f.is_problem and getattr(f.severity, "value", f.severity) in ("error", "warning")]


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


def build_audit(results: list[ExamResult], protocol: Any) -> AuditResult:
    """Aggregate checked exams (raw or from summaries) into the multicentre audit of ``protocol``."""
    from protocheck.checks.completeness import build_completeness
    from protocheck.checks.drift import build_drift
    from protocheck.checks.harmonization import build_harmonization
    from protocheck.checks.inventory import build_inventory, build_scanners
    from protocheck.checks.longitudinal import build_longitudinal
    from protocheck.checks.site_findings import build_site_findings

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


def _plain(obj: Any) -> Any:
    """JSON-ready copy of an audit dataclass (derived properties included, values as text)."""
    from dataclasses import asdict, is_dataclass
    if is_dataclass(obj):
        d = asdict(obj)
        for extra in ("total", "complete"):
            if hasattr(obj, extra):
                d[extra] = getattr(obj, extra)
        return d
    return obj


def audit_to_json(audit: AuditResult, inputs: list[str] | None = None) -> dict[str, Any]:
    """The audit as a dict following ``schemas/audit.schema.json`` (no identifiers, months only)."""
    import datetime as _dt

    from protocheck.checks.inventory import scanner_models
    from protocheck.checks.results import count_findings
    return {
        "format": "protocheck-audit", "format_version": 1,
        "generated": _dt.date.today().isoformat(), "inputs": [str(i) for i in inputs or []],
        "protocol": {"name": audit.protocol_name, "version": audit.protocol_version,
                     "sha256": audit.protocol_sha256, "sequences": list(audit.sequences)},
        "sites": list(audit.sites),
        "sessions": [{"site": s.site, "subject": s.subject, "visit": s.visit, "ordinal": s.ordinal,
                      "month": s.month, "rank": s.rank,
                      "statuses": {q: s.status(q) or "missing" for q in audit.sequences}} for s in audit.sessions],
        "matrix": [_plain(c) for c in audit.matrix],
        "inventory": [_plain(e) for e in audit.inventory],
        "harmonization": [_plain(h) for h in audit.harmonization],
        "drift": [_plain(e) for e in audit.drift],
        "completeness": [_plain(r) for r in audit.completeness],
        "findings": [_plain(f) for f in audit.findings],
        "counts": dict(Counter(f"{f.kind}:{f.severity}" for f in audit.findings)),
        "totals": {"site_findings": count_findings(audit.site_findings), "findings": count_findings(audit.findings)},
        "scanners": [_plain(e) for e in audit.scanners],
        "scanner_models": scanner_models(audit.scanners),
        "site_findings": [_plain(f) for f in audit.site_findings],
    }
