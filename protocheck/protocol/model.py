"""Typed, immutable view of a loaded protocol: sequences, criteria, constraints, variants, consistency rules.

Built by ``protocheck.protocol.loader`` from a schema-valid document; regexes are compiled there, so nothing
here can fail at check time. ``Protocol.sha256`` and ``Protocol.version`` identify the exact rules applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from protocheck.model import Acquisition

# Kinds of identification criteria and of constraints (exactly one per object).
CRITERION_KINDS = ("equals", "one_of", "contains", "matches", "range", "present")
CONSTRAINT_KINDS = ("equals", "one_of", "contains", "matches", "range", "nominal", "each", "min_count", "present")

# Parameters computed from others (see rules.derived_value); usable wherever a parameter name is.
DERIVED_PARAMETERS: dict[str, str] = {
    "Duration": "NumberOfVolumes × RepetitionTime (s)",
    "VoxelAnisotropy": "largest / smallest VoxelSize",
    "VoxelVolume": "product of VoxelSize (mm³)",
    "NumberOfEchoes": "number of EchoTimes",
    "MaxVoxelSize": "largest VoxelSize (mm)",
    "InPlaneVoxelSize": "largest of the first two VoxelSize values (mm)",
    "LastEchoTime": "longest of EchoTimes, else EchoTime (s)",
    "PrimaryShell": "the non-zero b-value shell with the most directions (s/mm²); in a sequence with a min_count, "
                    "the shell nearest its b-value (protocol.shells)",
    "Roles": "the series' roles (localizer, derived, non-image, phase, mrs)",
}

# Alias usable in consistency rules: expands to these parameters.
GEOMETRY_PARAMETERS: tuple[str, ...] = (
    "VoxelSize", "AcquisitionMatrix", "NumberOfSlices", "SliceThickness", "ImageOrientationPatientDICOM",
)


@dataclass(frozen=True)
class Criterion:
    """One identification test on one parameter (e.g. ScanningSequence contains EP)."""

    parameter: str
    kind: str
    value: Any
    weight: float = 1.0
    pattern: re.Pattern[str] | None = None


# Anatomy a sequence may declare it covers (``identify.coverage``), as read from a series' evidence.
COVERAGES = ("brain", "cervical-cord")


@dataclass(frozen=True)
class BidsAccepts:
    """The BIDS labels a sequence accepts: a curator's suffix/datatype/entity outside these contradicts it."""

    suffixes: tuple[str, ...] = ()
    datatypes: tuple[str, ...] = ()
    entities: tuple[tuple[str, re.Pattern[str]], ...] = ()   # entity -> regex its label must match


@dataclass(frozen=True)
class Identify:
    """How a series is recognised as a sequence: all must hold, none must not, at least one of any.

    ``bids`` and ``coverage`` are the sequence's declarations (never a variant's): the BIDS labels it accepts
    and the anatomy it covers."""

    all: tuple[Criterion, ...] = ()
    any: tuple[Criterion, ...] = ()
    none: tuple[Criterion, ...] = ()
    bids: BidsAccepts | None = None
    coverage: tuple[str, ...] = ()

    def extended(self, other: "Identify | None") -> "Identify":
        """This identification plus the criteria of ``other`` (a variant's extra criteria)."""
        if other is None:
            return self
        return Identify(self.all + other.all, self.any + other.any, self.none + other.none, self.bids,
                        self.coverage)


@dataclass(frozen=True)
class Constraint:
    """One requirement on one parameter of a matched series, with its severity and citation."""

    id: str
    parameter: str
    kind: str
    value: Any
    severity: str
    label: str | None = None
    tolerance: dict[str, float] | None = None
    shell: float | None = None
    shell_tolerance: float | None = None
    must_match: bool = False
    rationale: str | None = None
    source: str | None = None
    advice: str | None = None
    note: str | None = None
    pattern: re.Pattern[str] | None = None
    match_scope: str = "all"        # must_match across all sites, or only among sites of one vendor ("vendor")


@dataclass(frozen=True)
class Variant:
    """Per-vendor values of a sequence, chosen when every ``when`` regex matches the series' parameter."""

    name: str
    when: tuple[tuple[str, re.Pattern[str]], ...]
    constraints: tuple[Constraint, ...] = ()
    remove: tuple[str, ...] = ()
    identify: Identify | None = None

    def applies_to(self, acq: Acquisition) -> bool:
        """True when every ``when`` regex matches; an unknown parameter never matches."""
        return _when_holds(self.when, acq)


def _when_holds(when: tuple[tuple[str, re.Pattern[str]], ...], acq: Acquisition) -> bool:
    """True when every regex matches the series' parameter; an unknown parameter never matches."""
    for name, pattern in when:
        value = acq.get(name)
        if value is None:
            return False
        text = "\\".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
        if not pattern.search(text):
            return False
    return True


@dataclass(frozen=True)
class Version:
    """An accepted exam-card version of a sequence (e.g. an older card still in use): its values are reported
    as information, not as deviations, on series its ``when`` matches and acquired by ``until`` (or undated)."""

    name: str
    constraints: tuple[Constraint, ...]
    when: tuple[tuple[str, re.Pattern[str]], ...] = ()
    until: str | None = None        # ISO date: exams dated after it are not covered by this version
    rationale: str | None = None
    source: str | None = None

    def applies_to(self, acq: Acquisition, date: Any = None) -> bool:
        """True when ``when`` matches the series and the exam date (if known) is not after ``until``."""
        if self.until is not None and date is not None and date.isoformat() > self.until:
            return False
        return _when_holds(self.when, acq)


@dataclass(frozen=True)
class LongitudinalRule:
    """A condition that must stay the same across the visits of one subject (scanner, software, coil...)."""

    id: str
    parameter: str
    severity: str
    tolerance: dict[str, float] | None = None
    rationale: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Longitudinal:
    """Rules evaluated per subject across visits; ``must_match`` adds every must-match parameter."""

    rules: tuple[LongitudinalRule, ...] = ()
    must_match: bool = True
    rationale: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Consistency:
    """A cross-series rule: the listed parameters must be equal between this sequence's series and others'."""

    id: str
    with_: tuple[str, ...]
    parameters: tuple[str, ...]
    severity: str
    tolerance: dict[str, float] | None = None
    rationale: str | None = None
    source: str | None = None
    advice: str | None = None


@dataclass(frozen=True)
class Sequence:
    """One protocol sequence (e.g. 3D T1w) with its identification, constraints, variants and rules."""

    id: str
    requirement: str
    identify: Identify
    label: str = ""
    description: str = ""
    constraints: tuple[Constraint, ...] = ()
    variants: tuple[Variant, ...] = ()
    consistency: tuple[Consistency, ...] = ()
    versions: tuple[Version, ...] = ()

    @property
    def title(self) -> str:
        return self.label or self.description or self.id

    def variant_for(self, acq: Acquisition) -> Variant | None:
        """The first variant whose ``when`` matches the series, or None for the base values."""
        for v in self.variants:
            if v.applies_to(acq):
                return v
        return None

    def constraints_for(self, variant: Variant | None) -> list[Constraint]:
        """Base constraints with the variant's removals and replacements (same id) applied."""
        if variant is None:
            return list(self.constraints)
        removed = set(variant.remove)
        replaced = {c.id: c for c in variant.constraints}
        out = [replaced.pop(c.id, c) for c in self.constraints if c.id not in removed]
        out.extend(c for c in variant.constraints if c.id in replaced)
        return out


# A cited source id inside a rule's free-text ``source``: R16, sg:Prisma, dcm_qa_nih, facts-6, han2006, sug...
# (a word with a digit, '_', '-' or ':'; evidence tags [SRC]/[MEM]/[SUG] and numbers are not ids).
_CITED = re.compile(r"(?<![\w:.-])([A-Za-z][A-Za-z0-9]*(?:[:_-][A-Za-z0-9.]+)+|[A-Za-z]+\d[A-Za-z0-9]*|sug)(?![\w:-])")


def cited_source_ids(text: str | None) -> list[str]:
    """The source ids a rule's ``source`` text cites ("R22-R23" is R22 and R23)."""
    out: list[str] = []
    for token in _CITED.findall(re.sub(r"\[[A-Z]+\]", " ", text or "")):
        parts = token.split("-") if re.fullmatch(r"R\d+-R\d+", token) else [token]
        out.extend(p.rstrip(".") for p in parts)
    return out


@dataclass(frozen=True)
class SourceRef:
    """A citation a rule refers to by id."""

    id: str
    citation: str
    url: str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class Protocol:
    """A loaded, validated protocol. ``sha256`` is the hash of its canonical JSON (for certificates)."""

    name: str
    version: str
    title: str
    sequences: tuple[Sequence, ...]
    sources: tuple[SourceRef, ...] = ()
    description: str = ""
    field_strength: float | None = None
    sha256: str = ""
    path: str = ""
    longitudinal: Longitudinal | None = None
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def sequence(self, sequence_id: str) -> Sequence | None:
        """The sequence with this id, or None."""
        for s in self.sequences:
            if s.id == sequence_id:
                return s
        return None

    def source(self, source_id: str | None) -> SourceRef | None:
        """The citation with this id, or None."""
        for s in self.sources:
            if s.id == source_id:
                return s
        return None
