"""Site qualification: a candidate site's test scans against a protocol, with a reproducible certificate.

``qualify(scan, protocol, site)`` checks every test exam (``compliance.check_scan``; the vendor variant of each
sequence is chosen per series by the protocol's ``variants``), keeps for each protocol sequence the best series
the site produced, and grades it: ``qualified`` (no problem), ``qualified_with_conditions`` (warnings or values
that could not be verified, nothing at error level) or ``not_qualified`` (an error-level deviation, or a required
sequence with no test series). The certificate carries what makes it reproducible: protocol name, version and
content hash, protocheck version, a hash of the normalized headers (series UID + parameters, never patient
identifiers) and the date. ``Certificate.to_dict`` follows ``schemas/certificate.schema.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import protocheck
from protocheck.protocol.model import Protocol
from protocheck.results import ExamResult, Finding, Severity, Status
from protocheck.errors import InputError
from protocheck.model import ScanResult
from protocheck.privacy import PHI_ATTRIBUTES

QUALIFIED = "qualified"
CONDITIONS = "qualified_with_conditions"
NOT_QUALIFIED = "not_qualified"
NOT_TESTED = "not_tested"          # optional sequence without a test series: does not affect the verdict
_RANK = {QUALIFIED: 0, NOT_TESTED: 0, CONDITIONS: 1, NOT_QUALIFIED: 2}
EXIT_CODES = {QUALIFIED: 0, CONDITIONS: 0, NOT_QUALIFIED: 1}   # 2: could not qualify (ProtocheckError)
CERTIFICATE_FORMAT = "1.0"


@dataclass
class SequenceQualification:
    """The verdict of one protocol sequence for the site, with the parameter-by-parameter diff."""

    sequence: str
    description: str
    requirement: str
    verdict: str
    reasons: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)     # every vendor variant the protocol defines
    variant: str | None = None                             # the one applied to the chosen series (None: base)
    series: dict[str, Any] | None = None                   # the chosen test series
    other_series: list[dict[str, Any]] = field(default_factory=list)
    diff: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Certificate:
    """A site qualification certificate (see module docstring)."""

    site: str
    verdict: str
    protocol: dict[str, Any]
    issued: str
    inputs_sha256: str
    sequences: list[SequenceQualification]
    scanners: list[dict[str, Any]] = field(default_factory=list)
    exams: int = 0
    series: int = 0
    months: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.verdict, 2)

    @property
    def certificate_id(self) -> str:
        """A short id that changes whenever the protocol, the inputs or the tool version change."""
        text = "|".join((self.protocol.get("sha256") or "", self.inputs_sha256, protocheck.__version__, self.site))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The certificate as a JSON-ready dict (``schemas/certificate.schema.json``)."""
        return {
            "certificate_format": CERTIFICATE_FORMAT, "certificate_id": self.certificate_id,
            "tool": {"name": "protocheck", "version": protocheck.__version__},
            "site": self.site, "verdict": self.verdict, "exit_code": self.exit_code, "issued": self.issued,
            "protocol": dict(self.protocol), "inputs_sha256": self.inputs_sha256,
            "exams": self.exams, "series": self.series, "months": list(self.months),
            "scanners": list(self.scanners), "conditions": list(self.conditions),
            "sequences": [_seq_dict(s) for s in self.sequences],
        }


def _seq_dict(s: SequenceQualification) -> dict[str, Any]:
    return {"id": s.sequence, "description": s.description, "requirement": s.requirement, "verdict": s.verdict,
            "reasons": list(s.reasons), "variants": list(s.variants), "variant": s.variant, "series": s.series,
            "other_series": list(s.other_series), "diff": list(s.diff)}


def _text(value: Any) -> Any:
    """A JSON-stable form of a parameter value (floats rounded, sets sorted, mappings keyed by text)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(_text(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def inputs_hash(scan: ScanResult) -> str:
    """sha256 over the sorted (series UID, normalized parameters) of every series; no patient identifier."""
    items: list[tuple[str, dict[str, str]]] = []
    for acq in scan.acquisitions():
        params = {k: _text(p.value) for k, p in acq.params.items() if k not in PHI_ATTRIBUTES}
        items.append((acq.key, params))
    items.sort(key=lambda it: it[0])
    blob = json.dumps(items, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _finding_row(f: Finding) -> dict[str, Any]:
    return {"check_id": f.check_id, "parameter": f.parameter, "expected": f.expected, "found": f.found,
            "status": f.status.value, "severity": f.severity.value, "message": f.message, "advice": f.advice,
            "source": f.source, "provenance": f.provenance}


def _grade(findings: list[Finding]) -> str:
    """qualified / with conditions / not qualified from one series' findings."""
    problems = [f for f in findings if f.is_problem and f.severity is not Severity.INFO]
    if any(f.severity is Severity.ERROR and f.status in (Status.FAIL, Status.MISSING) for f in problems):
        return NOT_QUALIFIED
    return CONDITIONS if problems else QUALIFIED


def _series_info(res: ExamResult, key: str) -> dict[str, Any]:
    acq = res.acquisition(key)
    match = next((m for m in res.matches if m.series == key), None)
    return {"id": hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12],
            "description": acq.description if acq else "", "series_number": acq.series_number if acq else None,
            "manufacturer": acq.get("Manufacturer") if acq else None,
            "model": acq.get("ManufacturersModelName") if acq else None,
            "variant": match.variant if match else None}


def _candidates(results: list[ExamResult], seq_id: str) -> list[tuple[str, dict[str, Any], list[Finding]]]:
    """Every test series matched to the sequence: (grade, series info, its findings incl. exam-level ones)."""
    out = []
    for res in results:
        seq = next((s for s in res.sequences if s.sequence == seq_id), None)
        if seq is None:
            continue
        exam_level = [f for f in res.findings if f.sequence == seq_id]
        for key in seq.series:
            fs = [f for f in seq.findings if f.series == key] + [f for f in exam_level if f.series in (None, key)]
            out.append((_grade(fs), _series_info(res, key), fs))
    out.sort(key=lambda c: (_RANK[c[0]], -sum(f.status is Status.PASS for f in c[2])))
    return out


def _qualify_sequence(results: list[ExamResult], seq: Any) -> SequenceQualification:
    """Grade one protocol sequence from the best test series the site produced."""
    sq = SequenceQualification(sequence=seq.id, description=seq.description or seq.title,
                               requirement=seq.requirement, verdict=NOT_TESTED,
                               variants=[v.name for v in seq.variants])
    cands = _candidates(results, seq.id)
    if not cands:
        if seq.requirement == "required":
            sq.verdict = NOT_QUALIFIED
            sq.reasons.append("No test series matched this required sequence: acquire it and resubmit.")
        elif seq.requirement == "recommended":
            sq.verdict = CONDITIONS
            sq.reasons.append("No test series matched this recommended sequence.")
        else:
            sq.reasons.append("Optional sequence not tested.")
        return sq
    grade, info, findings = cands[0]
    sq.verdict, sq.series, sq.variant = grade, info, info.get("variant")
    sq.other_series = [dict(c[1], verdict=c[0]) for c in cands[1:]]
    sq.diff = [_finding_row(f) for f in findings]
    for f in findings:
        if f.is_problem and f.severity is not Severity.INFO:
            sq.reasons.append(f"{f.parameter or f.check_id}: {f.message}".strip())
    if sq.variants:
        sq.reasons.append(f"Vendor variant applied: {sq.variant or 'base values (no variant matched)'}; "
                          f"protocol variants: {', '.join(sq.variants)}.")
    return sq


def _scanners(scan: ScanResult) -> list[dict[str, Any]]:
    seen: dict[tuple, dict[str, Any]] = {}
    for acq in scan.acquisitions():
        entry = {"manufacturer": acq.get("Manufacturer"), "model": acq.get("ManufacturersModelName"),
                 "software": _text(acq.get("SoftwareVersions")), "field_strength": acq.get("MagneticFieldStrength"),
                 "serial": _text(acq.get("DeviceSerialNumber"))}
        key = tuple(json.dumps(v, default=str) for v in entry.values())
        if entry["manufacturer"] or entry["model"]:
            seen.setdefault(key, entry)
    return [seen[k] for k in sorted(seen)]


def qualify(scan: ScanResult, protocol: Protocol, site: str, *, results: list[ExamResult] | None = None,
            today: _dt.date | None = None) -> Certificate:
    """Qualify a candidate site from its test scans; raise InputError when there is nothing to judge."""
    if not scan.exams:
        roots = ", ".join(scan.roots) or "the input"
        raise InputError("no MR exam was found in the test scans", path=roots,
                         fix="point protocheck qualify at the folder holding the site's test DICOM or BIDS data")
    if results is None:
        from protocheck.checks.compliance import check_scan
        results = check_scan(scan, protocol)
    sequences = [_qualify_sequence(results, seq) for seq in protocol.sequences]
    verdict = max((s.verdict for s in sequences), key=lambda v: _RANK[v], default=QUALIFIED)
    verdict = QUALIFIED if verdict == NOT_TESTED else verdict
    conditions = [f"{s.sequence}: {r}" for s in sequences if s.verdict == CONDITIONS
                  for r in s.reasons if not r.startswith("Vendor variant")]
    months = sorted({e.date.strftime("%Y-%m") for e in scan.exams if e.date})
    return Certificate(
        site=str(site), verdict=verdict,
        protocol={"name": protocol.name, "version": protocol.version,
                  "sha256": getattr(protocol, "sha256", "") or getattr(protocol, "content_hash", "") or "",
                  "title": getattr(protocol, "title", "") or ""},
        issued=(today or _dt.date.today()).isoformat(), inputs_sha256=inputs_hash(scan), sequences=sequences,
        scanners=_scanners(scan), exams=len(scan.exams), series=sum(len(e.acquisitions) for e in scan.exams),
        months=months, conditions=conditions)
