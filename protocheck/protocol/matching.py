"""Match the series of an exam to protocol sequences, with the reasons in words.

``all`` criteria must hold, ``none`` must not, at least one of ``any`` must (if given); the score is the sum
of the weights of the criteria that held. The best-scoring sequence wins; ties are flagged as ambiguous.
Unknown values neither satisfy nor violate a criterion. Support series (localizer, derived, non-image) are
never matched and are listed with their reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocheck.checks.results import MatchInfo
from protocheck.model import Acquisition, Exam
from protocheck.protocol.identity import bids_verdict, companion_reason, coverage_verdict, is_identity_evidence
from protocheck.protocol.model import Identify, Protocol, Sequence
from protocheck.protocol.rules import evaluate_criterion


LABEL_WEIGHT = 3.0   # an accepted BIDS suffix: the curator's label outweighs any single header criterion


@dataclass
class Candidate:
    """How well one series fits one sequence."""

    sequence: str
    ok: bool
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)    # criteria that held
    failed: list[str] = field(default_factory=list)     # why it does not match
    variant: str | None = None
    labelled: bool = False    # the series' BIDS suffix is one the sequence accepts
    refused: bool = False     # its BIDS labels or anatomy contradict the sequence: never matched
    named: bool = False       # the sequence accepts the series' BIDS suffix (even if refused for another label)


def score_sequence(acq: Acquisition, seq: Sequence) -> Candidate:
    """Evaluate a sequence's identification (with the matching vendor variant's extra criteria).

    The series' BIDS labels and covered anatomy are checked against the sequence's declarations first; a
    contradiction refuses the sequence whatever the criteria say. A match needs positive evidence: at least one
    held criterion (or accepted BIDS suffix) on a parameter that names what the series is, not a timing alone.
    """
    variant = seq.variant_for(acq)
    ident: Identify = seq.identify.extended(variant.identify if variant else None)
    cand = Candidate(seq.id, True, variant=variant.name if variant else None)
    label, label_words = bids_verdict(acq, ident.bids)
    anatomy = coverage_verdict(acq, ident)
    cand.named = ident.bids is not None and acq.get("BIDSSuffix") in ident.bids.suffixes
    if label is False or anatomy:
        cand.ok, cand.refused = False, True
        cand.failed.append(label_words if label is False else str(anatomy))
        return cand
    evidence = cand.labelled = bool(label)
    if label:
        cand.score += LABEL_WEIGHT
        cand.reasons.append(label_words)
    for crit in ident.all:
        held, words = evaluate_criterion(crit, acq)
        if held is False:
            cand.ok = False
            cand.failed.append(words)
        elif held:
            cand.score += crit.weight
            cand.reasons.append(words)
            evidence = evidence or is_identity_evidence(crit.parameter)
    for crit in ident.none:
        held, words = evaluate_criterion(crit, acq)
        if held:
            cand.ok = False
            cand.failed.append(f"excluded: {words}")
    if ident.any:
        evidence = _score_any(acq, ident, cand, bool(label)) or evidence
    if cand.ok and not evidence:
        cand.ok = False
        cand.failed.append("no evidence that names the sequence (" + ("; ".join(cand.reasons) or "nothing held")
                           + "): a timing parameter alone is never enough")
    if cand.score <= 0:
        cand.ok = False
    return cand


def _score_any(acq: Acquisition, ident: Identify, cand: Candidate, labelled: bool) -> bool:
    """Score the ``any`` criteria; an accepted BIDS label stands for them. True if one held on identity evidence."""
    any_held = labelled
    evidence = False
    said = []
    for crit in ident.any:
        held, words = evaluate_criterion(crit, acq)
        said.append(words)
        if held:
            any_held = True
            cand.score += crit.weight
            cand.reasons.append(words)
            evidence = evidence or is_identity_evidence(crit.parameter)
    if not any_held:
        cand.ok = False
        cand.failed.append("none of: " + "; ".join(w.removeprefix("not: ") for w in said))
    return evidence


def support_reason(acq: Acquisition) -> list[str]:
    """Why a support series is not checked, from its roles and notes ('derived: ImageType DERIVED\\SECONDARY')."""
    reasons = []
    for role in sorted(acq.roles & {"localizer", "derived", "non-image"}):
        msgs = [n.message for n in acq.notes if n.code == role]
        if not msgs:
            reasons.append(role)
        else:
            reasons.append(msgs[0] if msgs[0].startswith(f"{role}:") else f"{role}: {msgs[0]}")
    return reasons


def _is_support(acq: Acquisition) -> bool:
    """Localizers and derived maps; non-image objects too, except spectroscopy (role ``mrs``) which is matched."""
    if acq.roles & {"localizer", "derived"}:
        return True
    return acq.is_support and "mrs" not in acq.roles


def match_series(acq: Acquisition, protocol: Protocol) -> MatchInfo:
    """The best sequence for one (non-support) series, or an unmatched MatchInfo saying what came closest."""
    cands = [score_sequence(acq, s) for s in protocol.sequences]
    ok = [c for c in cands if c.ok]
    companion = companion_reason(acq)
    if not ok and not companion:
        ok = _by_label(cands)
    if not ok:
        near = max(cands, key=lambda c: (c.score, -len(c.failed)), default=None)
        reasons = ["matches no protocol sequence"]
        if companion:
            reasons.append(companion)
        if near is not None and near.score <= 0:   # a labelled series: the sequence its suffix names, if any
            near = next((c for c in cands if c.named), near)
        if near is not None and (near.score > 0 or near.named):
            reasons.append(f"closest: {near.sequence} (" + "; ".join(near.failed) + ")")
        return MatchInfo(series=acq.key, sequence=None, score=0.0, reasons=reasons)
    best = max(c.score for c in ok)
    top = [c for c in ok if abs(c.score - best) < 1e-9]
    win = top[0]
    reasons = list(win.reasons) + ([f"variant {win.variant}"] if win.variant else [])
    return MatchInfo(series=acq.key, sequence=win.sequence, score=win.score, reasons=reasons,
                     ambiguous_with=[c.sequence for c in top[1:]], variant=win.variant)


def _by_label(cands: list[Candidate]) -> list[Candidate]:
    """When no sequence fits every criterion, the sequences that accept the series' BIDS suffix: the curator's
    label says what the series is, and the criteria it fails (2D, a TI...) become deviations, not 'missing'."""
    labelled = [c for c in cands if c.labelled and not c.refused]
    for c in labelled:
        c.reasons.append("taken by its BIDS label although " + "; ".join(c.failed))
    return labelled


def match_exam(exam: Exam, protocol: Protocol) -> tuple[list[MatchInfo], list[MatchInfo], list[MatchInfo]]:
    """(matches, unmatched, support) for every series of the exam; each series is in exactly one list."""
    matches: list[MatchInfo] = []
    unmatched: list[MatchInfo] = []
    support: list[MatchInfo] = []
    for acq in exam.acquisitions:
        if _is_support(acq):
            support.append(MatchInfo(series=acq.key, sequence=None, reasons=support_reason(acq)))
            continue
        info = match_series(acq, protocol)
        (matches if info.sequence else unmatched).append(info)
    return matches, unmatched, support
