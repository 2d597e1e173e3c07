"""Multicentre audit types: sessions, matrix cells, inventory, harmonization, drift, completeness, findings.

``protocheck.checks.audit.build.build_audit`` turns the per-exam results of ``protocheck.checks.compliance`` (from raw data or from
federated summaries) into a compliance matrix, a scanner inventory, a cross-site harmonization table,
longitudinal drift events and a completeness table, plus one flat list of audit findings. Nothing here
holds patient identifiers: subjects are the pseudonymous keys of the exams, dates are reduced to year-month.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence as _Seq
from dataclasses import dataclass, field
from typing import Any

from protocheck.results import ExamResult, MatchInfo, SequenceResult
from protocheck.model import Acquisition

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
        values = [value_text(a.get(name)) for a in self.acquisitions() if a.get(name) is not None]
        if not values:
            values = [value_text(a.get(name)) for r in self.results for a in r.exam.acquisitions
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


def value_text(value: Any) -> str:
    """A stable short text of a parameter value for grouping and display (4 significant digits)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: float(kv[0]) if is_numeric(kv[0]) else 0.0)
        return ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in items)
    if is_sequence(value):
        value = list(value)
        return " × ".join(value_text(v) for v in value) if all(is_numeric(v) for v in value) else \
            "\\".join(value_text(v) for v in value)
    return str(value)


def is_sequence(v: Any) -> bool:
    """True for lists, tuples and pydicom MultiValues (any sequence that is not text)."""
    return isinstance(v, _Seq) and not isinstance(v, (str, bytes))


def is_numeric(v: Any) -> bool:
    """True for numbers and numeric text ("1000", a b-value key), never for a bool."""
    try:
        float(v)
        return not isinstance(v, bool)
    except (TypeError, ValueError):
        return False


def shown_value(param: str, value: Any) -> str:
    """A value as reports show it: in the parameter's one display unit ("35 ms", "1 × 1 × 1 mm";
    ``protocheck.units``), else ``value_text``."""
    from protocheck.units import display_unit, quantity_text
    return quantity_text(param, value) if display_unit(param)[0] and not isinstance(value, (str, dict)) \
        else value_text(value)


