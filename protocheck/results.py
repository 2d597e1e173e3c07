"""Results of checking exams against a protocol: findings, per-sequence results, per-exam verdicts.

These objects are what every report (console, JSON, TSV, HTML) renders and what the audit aggregates.
Check ids are stable strings ``<sequence id>/<constraint id>`` so reports can be diffed month to month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from protocheck.model import Acquisition, Exam, Pickled, TextEnum


class Severity(TextEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 3, "warning": 2, "info": 1}[self.value]

    @classmethod
    def of(cls, value: "str | Severity") -> "Severity":
        """``Severity(value)`` by a dict lookup (an Enum call by value is slow, and a check makes thousands)."""
        return _SEVERITIES.get(value) or cls(value)

    def capped(self) -> "Severity":
        """An unknown value is reported at most as a warning (it is not proven wrong)."""
        return Severity.WARNING if self is Severity.ERROR else self

    def verdict(self, ok: bool) -> str:
        """The verdict word of a judged value: "OK", or how bad a failure at this severity is."""
        if ok:
            return "OK"
        return {"error": "DEVIATION (error)", "warning": "deviation (warning)", "info": "note (info)"}[self.value]


_SEVERITIES: dict[object, Severity] = {s.value: s for s in Severity}


class Status(TextEnum):
    PASS = "pass"                    # the value satisfies the constraint
    FAIL = "fail"                    # the value violates it (severity says how bad)
    CANNOT_VERIFY = "cannot_verify"  # the value could not be read: never a silent pass
    MISSING = "missing"              # a protocol sequence has no matching series
    NOT_APPLICABLE = "not_applicable"


@dataclass(slots=True)
class Finding(Pickled):
    """One constraint evaluated on one series (or one missing sequence)."""

    check_id: str                  # "<sequence>/<constraint>", stable across runs
    sequence: str                  # protocol sequence id
    status: Status
    severity: Severity
    parameter: str | None = None
    series: str | None = None      # Acquisition.key
    expected: str = ""             # human text: "≥ 30", "3D", "0.9–1.1 s"
    found: str | None = None       # human text of the value read, None when unknown
    message: str = ""              # one sentence a technologist understands
    advice: str | None = None      # what to change on the console
    rationale: str | None = None
    source: str | None = None      # citation / reference id
    provenance: str | None = None  # where the found value came from
    value: Any = None              # the value judged, typed as read (stored units); ``found`` is its text

    @property
    def is_problem(self) -> bool:
        return self.status in (Status.FAIL, Status.MISSING, Status.CANNOT_VERIFY)


@dataclass(slots=True)
class MatchInfo(Pickled):
    """Why a series was matched to a sequence (or why it was not)."""

    series: str                     # Acquisition.key
    sequence: str | None            # None when unmatched
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)   # criteria that matched, in words
    ambiguous_with: list[str] = field(default_factory=list)  # other sequence ids with the same score
    variant: str | None = None      # the per-vendor variant chosen


@dataclass(slots=True)
class SequenceResult(Pickled):
    """The verdict of one protocol sequence in one exam."""

    sequence: str
    description: str
    requirement: str                # required / recommended / optional
    status: str                     # compliant / deviating / cannot_verify / missing / absent_optional
    series: list[str] = field(default_factory=list)   # matched Acquisition keys
    findings: list[Finding] = field(default_factory=list)

    def worst(self) -> Severity | None:
        bad = [f.severity for f in self.findings if f.is_problem]
        return max(bad, key=lambda s: s.rank) if bad else None


@dataclass
class ExamResult(Pickled):
    """One exam checked against one protocol."""

    exam: Exam
    protocol_name: str
    protocol_version: str
    sequences: list[SequenceResult] = field(default_factory=list)
    matches: list[MatchInfo] = field(default_factory=list)
    unmatched: list[MatchInfo] = field(default_factory=list)      # series that matched no sequence
    support: list[MatchInfo] = field(default_factory=list)        # localizers, derived, non-image: not checked
    findings: list[Finding] = field(default_factory=list)         # exam-level findings (cross-series rules)

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for s in self.sequences:
            out.extend(s.findings)
        return out

    @property
    def verdict(self) -> str:
        """compliant / deviations (errors) / warnings (usable, harmonization risk)."""
        problems = [f for f in self.all_findings() if f.is_problem]
        if any(f.severity is Severity.ERROR for f in problems):
            return "deviations"
        if any(f.severity is Severity.WARNING for f in problems):
            return "warnings"
        return "compliant"

    def acquisition(self, key: str) -> Acquisition | None:
        for a in self.exam.acquisitions:
            if a.key == key:
                return a
        return None


# The one way findings are counted, shared by every report (console, JSON, HTML, TSV) and the audit.
COUNT_KEYS = ("error", "warning", "info", "cannot_verify", "pass", "not_applicable")


def count_category(status: str, severity: str | None) -> str:
    """The count a finding falls in: its severity when it fails (or is missing), ``cannot_verify`` when its
    value could not be read at warning/error severity (an unknown is not a proven warning), ``info`` for an
    information-only unknown, ``pass`` / ``not_applicable`` otherwise. Works for any finding kind."""
    status, severity = str(getattr(status, "value", status)), str(getattr(severity, "value", severity) or "")
    if status in ("pass", "not_applicable"):
        return status
    if status == "cannot_verify":
        return "info" if severity == "info" else "cannot_verify"
    return severity if severity in ("error", "warning", "info") else "warning"


def count_findings(findings: Iterable[Any]) -> dict[str, int]:
    """Counts per ``COUNT_KEYS`` category of any findings: ``Finding`` objects, audit/site findings (a
    ``kind`` instead of a status: ``cannot_verify`` or a problem), or their JSON dicts."""
    out = dict.fromkeys(COUNT_KEYS, 0)
    for f in findings:
        get = f.get if isinstance(f, dict) else (lambda k, _f=f: getattr(_f, k, None))
        status = get("status") or ("cannot_verify" if get("kind") == "cannot_verify" else "fail")
        out[count_category(status, get("severity"))] += 1
    return out


def counts_text(counts: dict[str, int]) -> str:
    """"1 error, 6 warnings, 2 info, 1 cannot verify": the counts in the words every report uses."""
    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("s" if n != 1 and word in ("error", "warning") else "")
    parts = [plural(counts.get(k, 0), k) for k in ("error", "warning", "info")]
    parts.append(f"{counts.get('cannot_verify', 0)} cannot verify")
    return ", ".join(parts)


def sequence_tone(status: str, requirement: str, findings: Iterable[Any] = ()) -> str:
    """How bad a sequence's status is, for every report's colours and symbols: ``ok``, ``warn``, ``err``,
    ``unk`` (could not verify) or ``na`` (optional, not acquired).

    A missing sequence follows its requirement (required: err, recommended: warn, optional: na); a deviating
    one its worst failure (error: err, warning only: warn).
    """
    if status == "missing":
        return {"required": "err", "recommended": "warn"}.get(requirement, "na")
    if status == "deviating":
        counts = count_findings(findings)
        return "err" if counts["error"] else "warn"
    return {"compliant": "ok", "cannot_verify": "unk", "absent_optional": "na"}.get(status, "unk")
