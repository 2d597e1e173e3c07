"""Check an exam against a protocol: match series, evaluate constraints, cross-series rules, missing sequences.

``check_exam`` returns an ``ExamResult`` (see ``checks/results.py``) that every report renders. A missing
required sequence is an error finding, a missing recommended one a warning; an absent optional sequence is
reported for information only (status ``absent_optional``, finding not_applicable) so it never spoils a verdict.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from protocheck.checks.results import ExamResult, Finding, MatchInfo, SequenceResult, Severity, Status
from protocheck.model import Acquisition, Exam, ScanResult
from protocheck.protocol.matching import match_exam
from protocheck.protocol.model import Consistency, Protocol, Sequence
from protocheck.protocol.rules import (
    LABELS, consistent, evaluate_constraints, fmt_value, severity, shared_text, value_of,
)

ACCEPTED_VERSION = "accepted exam-card version"     # marks a failure explained by an accepted card (info)
_MISSING_SEVERITY = {"required": Severity.ERROR, "recommended": Severity.WARNING, "optional": Severity.INFO}


def check_scan(scan: ScanResult, protocol: Protocol, cache_dir: Path | None = None) -> list[ExamResult]:
    """Check every exam found by a scan against the protocol.

    With ``cache_dir`` (the scan's cache folder), the results of an unchanged index-backed scan checked against
    the same protocol are loaded instead of evaluated (see ``checks.cache``), and new results are kept there.
    The cyclic garbage collector is paused meanwhile: checking only builds results (no cycle to free), and on
    an archive its full passes over the scanned series cost a quarter of the check.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        cached = cache_dir is not None and scan.digest is not None
        if cached:
            from protocheck.checks import cache
            results = cache.load(cache_dir, scan, protocol)
            if results is not None:
                return results
        results = [check_exam(exam, protocol) for exam in scan.exams]
        if cached:
            cache.store(cache_dir, scan, protocol, results)
        return results
    finally:
        if paused:
            gc.enable()


def check_exam(exam: Exam, protocol: Protocol) -> ExamResult:
    """Match the exam's series to the protocol's sequences and evaluate every rule."""
    matches, unmatched, support = match_exam(exam, protocol)
    result = ExamResult(exam=exam, protocol_name=protocol.name, protocol_version=protocol.version,
                        matches=matches, unmatched=unmatched, support=support)
    by_key = {a.key: a for a in exam.acquisitions}
    for seq in protocol.sequences:
        infos = [m for m in matches if m.sequence == seq.id]
        result.sequences.append(_sequence_result(seq, infos, by_key, exam.date))
    for seq in protocol.sequences:
        for rule in seq.consistency:
            result.findings.extend(_consistency(seq, rule, matches, by_key))
    result.findings.extend(_ambiguity_findings(matches, by_key))
    return result


def _sequence_result(seq: Sequence, infos: list[MatchInfo], by_key: dict[str, Acquisition],
                     date: Any = None) -> SequenceResult:
    """Per-sequence verdict: compliant / deviating / cannot_verify / missing / absent_optional."""
    res = SequenceResult(sequence=seq.id, description=seq.description or seq.title, requirement=seq.requirement,
                         status="compliant", series=[m.series for m in infos])
    if not infos:
        res.status = "absent_optional" if seq.requirement == "optional" else "missing"
        res.findings.append(_missing_finding(seq))
        return res
    for info in infos:
        acq = by_key[info.series]
        variant = next((v for v in seq.variants if v.name == info.variant), None)
        found = evaluate_constraints(seq.constraints_for(variant), acq, seq)
        res.findings.extend(accept_versions(seq, acq, found, date) if seq.versions else found)
        res.findings.extend(_incomplete_findings(seq, acq))
    serious = (Severity.ERROR, Severity.WARNING)
    if any(f.status is Status.FAIL and f.severity in serious for f in res.findings):
        res.status = "deviating"
    elif any(f.status is Status.CANNOT_VERIFY and f.severity in serious for f in res.findings):
        res.status = "cannot_verify"
    return res


# Series notes that mean files are missing from what was received (sources/dicom/collector.py):
# an unreadable (truncated, damaged) file of the series is certain; a gap in instance numbers is inferred.
_INCOMPLETE = {"file-unreadable": Severity.ERROR, "slice-missing": Severity.WARNING}


def _incomplete_findings(seq: Sequence, acq: Acquisition) -> list[Finding]:
    """One finding when the series is incomplete as received: part of the verdict, with the advice to re-export."""
    notes = [n for n in acq.notes if n.code in _INCOMPLETE]
    if not notes:
        return []
    sev = max((_INCOMPLETE[n.code] for n in notes), key=lambda s: s.rank)
    return [Finding(
        check_id=f"{seq.id}/complete-series", sequence=seq.id, status=Status.FAIL, severity=sev,
        parameter="files", series=acq.key, expected="every file of the series",
        found=f"{acq.n_files} files read; " + "; ".join(n.message.split(": ")[0] for n in notes),
        message=f"{seq.title}: series '{_series_name(acq)}' is incomplete: " + "; ".join(n.message for n in notes),
        advice="Re-export (or re-send) the whole series from the scanner or PACS, then check again",
        provenance=", ".join(f"series note {n.code}" for n in notes))]


def accept_versions(seq: Sequence, acq: Acquisition, findings: list[Finding], date: Any = None) -> list[Finding]:
    """Failures explained by an accepted exam-card version become information naming that version.

    A version is a coherent card: it applies only when every one of its constraints holds (or cannot be read) on
    the series, its ``when`` matches and the exam is not dated after its ``until``.
    """
    failing = [f for f in findings if f.status is Status.FAIL and f.severity is not Severity.INFO]
    for version in seq.versions:
        if not failing or not version.applies_to(acq, date):
            continue
        checked = evaluate_constraints(list(version.constraints), acq, seq)
        if any(f.status is Status.FAIL for f in checked):
            continue
        params = {c.parameter for c in version.constraints}
        rescued = [f for f in failing if f.parameter in params]
        for f in rescued:
            f.severity = Severity.INFO
            f.message = shared_text(f"{f.message}; {ACCEPTED_VERSION} '{version.name}'"
                                    + (f" ({version.rationale})" if version.rationale else ""))
            f.source = version.source or f.source
        if rescued:
            return findings
    return findings


def _missing_finding(seq: Sequence) -> Finding:
    """The finding of a sequence no series matched (one text per sequence, shared by every exam)."""
    sev = _MISSING_SEVERITY[seq.requirement]
    optional = seq.requirement == "optional"
    return Finding(
        check_id=shared_text(f"{seq.id}/present"), sequence=seq.id,
        status=Status.NOT_APPLICABLE if optional else Status.MISSING, severity=sev,
        expected=shared_text(f"a {seq.title} series ({seq.requirement})"), found=None,
        message=shared_text(f"{seq.title}: not acquired (optional in this protocol)" if optional else
                            f"{seq.title}: no series of this exam matches this {seq.requirement} sequence"),
        advice=None if optional else shared_text(f"Acquire the {seq.title}, or check that its series was "
                                                 "exported with the exam"))


def _consistency(seq: Sequence, rule: Consistency, matches: list[MatchInfo],
                 by_key: dict[str, Acquisition]) -> list[Finding]:
    """Evaluate one cross-series rule on every pair of matched series it concerns."""
    own = [by_key[m.series] for m in matches if m.sequence == seq.id]
    if rule.with_:
        others = [by_key[m.series] for m in matches if m.sequence in rule.with_]
        pairs = [(a, b) for a in own for b in others if a.key != b.key]
    else:
        pairs = [(own[0], b) for b in own[1:]]
    out: list[Finding] = []
    for a, b in pairs:
        for param in rule.parameters:
            out.append(_compare(seq, rule, a, b, param))
    return out


def _series_name(acq: Acquisition) -> str:
    return acq.description or acq.key


def _compare(seq: Sequence, rule: Consistency, a: Acquisition, b: Acquisition, param: str) -> Finding:
    """One parameter of one pair of series: equal within the rule's tolerance?"""
    va, prov_a = value_of(a, param)
    vb, prov_b = value_of(b, param)
    label = LABELS.get(param, param)
    sev = severity(rule.severity)
    f = Finding(check_id=f"{seq.id}/{rule.id}", sequence=seq.id, status=Status.PASS, severity=sev,
                parameter=param, series=a.key, rationale=rule.rationale, source=rule.source, advice=rule.advice,
                provenance=prov_a,
                expected=f"same {label} as '{_series_name(b)}'" + (f": {fmt_value(param, vb)}" if vb is not None
                                                                    else ""))
    if va is None or vb is None:
        f.status = Status.CANNOT_VERIFY
        f.severity = Severity.WARNING if sev is Severity.ERROR else sev
        if va is None and vb is None:     # neither header records it (e.g. FOV in a sidecar): nothing seen differs
            f.severity = Severity.INFO
        missing = _series_name(a) if va is None else _series_name(b)
        f.found = None if va is None else fmt_value(param, va)
        f.message = (f"{seq.title}: {label} could not be read from '{missing}', so the rule "
                     f"'{rule.id}' cannot be verified")
        return f
    f.found = fmt_value(param, va)
    ok = consistent(va, vb, rule.tolerance)
    f.status = Status.PASS if ok else Status.FAIL
    f.message = (f"{seq.title}: {label} of '{_series_name(a)}' is {f.found}, of '{_series_name(b)}' is "
                 f"{fmt_value(param, vb)}: " + ("consistent" if ok else f"INCONSISTENT ({rule.severity})"))
    return f


def _ambiguity_findings(matches: list[MatchInfo], by_key: dict[str, Acquisition]) -> list[Finding]:
    """An info finding for every series whose best match was a tie between sequences."""
    out = []
    for m in matches:
        if not m.ambiguous_with:
            continue
        name = _series_name(by_key[m.series])
        out.append(Finding(
            check_id="exam/ambiguous-match", sequence=m.sequence or "", status=Status.CANNOT_VERIFY,
            severity=Severity.INFO, series=m.series, expected="one protocol sequence",
            found=", ".join([m.sequence or ""] + m.ambiguous_with),
            message=(f"'{name}' fits {m.sequence} and {', '.join(m.ambiguous_with)} equally well; "
                     f"it was checked as {m.sequence}"),
            advice="Name the series as the protocol expects (e.g. include the sequence name in the "
                   "SeriesDescription), or make the protocol's identification criteria more specific"))
    return out
