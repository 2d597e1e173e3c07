"""Evaluate protocol constraints and identification criteria on one Acquisition.

Every constraint yields a ``Finding`` whose expected/found texts carry units ("TR 2.3 s", "≥ 30 directions at
b=1000"). A value that cannot be read gives ``Status.CANNOT_VERIFY`` (never a pass). Several constraints on one
parameter grade it: only the most severe failing one is reported, passes are kept.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from protocheck.results import Finding, Severity, Status
from protocheck.model import Acquisition
from protocheck.protocol.model import DERIVED_PARAMETERS, Constraint, Criterion, Kind, Sequence
from protocheck.protocol.evaluators import same, test_value
from protocheck.protocol.tolerance import CONSISTENCY_DEFAULT, Tolerance
from protocheck.units import as_number, as_text, display_unit, fmt_number, fmt_value, is_number, numbers, range_text

LABELS: dict[str, str] = {
    "RepetitionTime": "TR", "RepetitionTimeExcitation": "excitation TR", "EchoTime": "TE", "EchoTimes": "TEs",
    "InversionTime": "TI", "FlipAngle": "flip angle", "MagneticFieldStrength": "field strength",
    "VoxelSize": "voxel size", "MaxVoxelSize": "largest voxel dimension", "InPlaneVoxelSize": "in-plane voxel",
    "MRAcquisitionType": "acquisition type", "DiffusionDirectionsPerShell": "diffusion directions",
    "NumberOfB0Volumes": "b0 volumes", "DiffusionShells": "b-value shells", "Duration": "scan duration",
    "ParallelReductionFactorInPlane": "in-plane acceleration", "MultibandAccelerationFactor": "multiband factor",
    "VoxelAnisotropy": "voxel anisotropy (max/min)", "NumberOfEchoes": "number of echoes",
    "PhaseEncodingDirection": "phase-encoding direction", "NumberOfVolumes": "volumes",
    "PrimaryShell": "primary b-value", "LastEchoTime": "longest TE", "SliceThickness": "slice thickness",
    "NumberOfAverages": "averages", "ScanningSequence": "scanning sequence",
}


def _memo(obj: Any, what: str, make: Any) -> Any:
    """``make(obj)`` computed once per rule object: criteria and constraints are frozen, so their texts are too.

    Kept in the object's ``__dict__`` under a private name (not a dataclass field: eq, repr and hash ignore it).
    """
    cache = getattr(obj, "__dict__", None)
    if cache is None:
        return make(obj)
    value = cache.get(what)
    if value is None:
        value = cache[what] = make(obj)
    return value


# ------------------------------------------------------------------------------------------------ values

def value_of(acq: Acquisition, name: str) -> tuple[Any, str | None]:
    """The value of a parameter (or derived parameter) and its provenance; (None, None) when unknown."""
    if name in acq.params:
        return acq.params[name].value, acq.params[name].source
    if name not in DERIVED_PARAMETERS:
        return None, None
    vox = numbers(acq.get("VoxelSize"))
    value: Any = None
    if name == "Duration":
        n, tr = acq.get("NumberOfVolumes"), acq.get("RepetitionTime")
        if isinstance(n, (int, float)) and isinstance(tr, (int, float)):
            value = n * tr
    elif name == "NumberOfEchoes":
        tes = acq.get("EchoTimes")
        value = len(tes) if isinstance(tes, (list, tuple)) else None
    elif name == "LastEchoTime":
        tes = numbers(acq.get("EchoTimes"))
        value = max(tes) if tes else (acq.get("EchoTime") if is_number(acq.get("EchoTime")) else None)
    elif name == "PrimaryShell":
        value = _primary_shell(acq)
    elif name == "Roles":
        value = sorted(acq.roles)
    elif vox and len(vox) >= 2 and min(vox) > 0:
        value = {"VoxelAnisotropy": max(vox) / min(vox), "VoxelVolume": math.prod(vox),
                 "MaxVoxelSize": max(vox), "InPlaneVoxelSize": max(vox[:2])}[name]
    return value, (f"derived: {DERIVED_PARAMETERS[name]}" if value is not None else None)


def _primary_shell(acq: Acquisition) -> float | None:
    per_shell = acq.get("DiffusionDirectionsPerShell")
    if isinstance(per_shell, dict) and per_shell:
        counts = {float(b): n for b, n in per_shell.items() if is_number(as_number(b)) and float(b) > 0 and is_number(n)}
        if counts:
            return max(counts, key=lambda b: (counts[b], b))
    shells = numbers(acq.get("DiffusionShells"))
    nonzero = [b for b in shells or [] if b > 0]
    return nonzero[0] if len(nonzero) == 1 else None


# ---------------------------------------------------------------------------------------------- formatting

def _tolerance_words(c: Constraint, unit: str, scale: float) -> str:
    return c.tolerance.text(unit, scale) if c.tolerance else ""


def _each_words(c: Constraint, unit: str, scale: float) -> str:
    v = c.value
    if "nominal" in v:
        return f"each {fmt_number(v['nominal'], scale)} {unit} {_tolerance_words(c, unit, scale)}"
    return "each " + range_text(v.get("min"), v.get("max"), unit, scale)


# Kind -> the constraint in words, given the parameter's display unit and scale (beside protocol.evaluators).
_WORDS: dict[Kind, Callable[[Constraint, str, float], str]] = {
    Kind.RANGE: lambda c, unit, scale: range_text(c.value.get("min"), c.value.get("max"), unit, scale),
    Kind.NOMINAL: lambda c, unit, scale: (f"{fmt_value(c.parameter, c.value, (unit, scale))} "
                                          f"{_tolerance_words(c, unit, scale)}"),
    Kind.EACH: _each_words,
    Kind.MIN_COUNT: lambda c, unit, scale: f"≥ {c.value} directions at b={fmt_number(c.shell)}",
    Kind.ONE_OF: lambda c, unit, scale: "one of " + ", ".join(fmt_value(c.parameter, x, (unit, scale))
                                                              for x in c.value),
    Kind.CONTAINS: lambda c, unit, scale: f"contains {c.value}",
    Kind.MATCHES: lambda c, unit, scale: f"matches {c.value}",
    Kind.PRESENT: lambda c, unit, scale: "present",
    Kind.EQUALS: lambda c, unit, scale: fmt_value(c.parameter, c.value, (unit, scale)),
}


def expected_text(c: Constraint) -> str:
    """The constraint in words with units ('0.8–1.1 s', 'each ≤ 1.2 mm', '≥ 30 directions at b=1000')."""
    unit, scale = display_unit(c.parameter)
    return _WORDS[c.kind](c, unit, scale)


# ---------------------------------------------------------------------------------------------- criteria

def evaluate_criterion(crit: Criterion, acq: Acquisition) -> tuple[bool | None, str]:
    """(True/False, reason in words), or (None, reason) when the value cannot be read."""
    param = acq.params.get(crit.parameter)
    value = param.value if param is not None else value_of(acq, crit.parameter)[0]
    if value is None and crit.kind != "present":
        return None, f"{crit.parameter} unknown"
    words = _memo(crit, "_pc_words", _criterion_words)
    held = test_value(crit.kind, crit.value, value, crit.pattern)
    return held, words if held else f"not: {words}"


def _criterion_words(crit: Criterion) -> str:
    p, k, v = crit.parameter, crit.kind, crit.value
    if k == "range":
        return f"{p} in {range_text(v.get('min'), v.get('max'), *display_unit(p))}"
    choices = ", ".join(map(str, v if isinstance(v, (list, tuple)) else [v]))
    return {"equals": f"{p} is {as_text(v)}", "one_of": f"{p} is one of {choices}",
            "contains": f"{p} contains {v}", "matches": f"{p} matches {v}",
            "present": f"{p} present" if v else f"{p} absent"}[k]


# -------------------------------------------------------------------------------------------- constraints

def evaluate_constraint(c: Constraint, acq: Acquisition, sequence: Sequence) -> Finding:
    """Evaluate one constraint on one series; unknown values give CANNOT_VERIFY."""
    sev = Severity.of(c.severity)
    label = c.label or LABELS.get(c.parameter, c.parameter)
    expected = _memo(c, "_pc_expected", expected_text)
    finding = Finding(check_id=f"{sequence.id}/{c.id}", sequence=sequence.id, status=Status.PASS, severity=sev,
                      parameter=c.parameter, series=acq.key, expected=expected, advice=c.advice,
                      rationale=c.rationale, source=c.source)
    value, prov = value_of(acq, c.parameter)
    if c.parameter == "PrimaryShell" and value is not None:
        from protocheck.protocol.shells import judged_shell
        value, prov = judged_shell(acq, sequence, value, prov)
    finding.provenance, finding.value = prov, value
    if value is None and c.kind != "present":
        finding.status, finding.severity = Status.CANNOT_VERIFY, sev.capped()
        finding.message = (f"{sequence.title}: {label} could not be read from this series, so "
                           f"'{expected}' cannot be verified" + _unreadable_sidecars(acq))
        return _with_note(finding, c)
    if c.kind == "min_count":
        from protocheck.protocol.shells import min_count
        return _with_note(min_count(c, value, finding, sequence.title), c)
    ok = test_value(c.kind, c.value, value, c.pattern, c.tolerance)
    finding.found = "absent" if value is None else fmt_value(c.parameter, value)
    finding.status = Status.PASS if ok else Status.FAIL
    finding.message = f"{sequence.title}: {label} {finding.found}, protocol requires {expected}: {sev.verdict(ok)}"
    return _with_note(finding, c)


def _unreadable_sidecars(acq: Acquisition) -> str:
    """The sidecars of the series that could not be read, as "; cannot verify (file: reason)" ('' if none)."""
    msgs = [n.message.rpartition("): ")[0] + ")" for n in acq.notes if n.code == "sidecar-invalid"]
    return "".join(f"; {m}" for m in msgs)


def _with_note(f: Finding, c: Constraint) -> Finding:
    """The finding with the constraint's note, its texts shared with equal ones of earlier findings."""
    if c.note:
        f.message += f" ({c.note})"
    f.check_id, f.message = shared_text(f.check_id), shared_text(f.message)
    if f.found is not None:
        f.found = shared_text(f.found)
    return f


_TEXTS: dict[str, str] = {}


def shared_text(text: str) -> str:
    """One object per distinct text: an archive's findings repeat a few sentences, and memory must follow the
    number of distinct values, not of series (bounded: forgotten past 100,000 texts)."""
    if len(_TEXTS) > 100_000:
        _TEXTS.clear()
    return _TEXTS.setdefault(text, text)


def evaluate_constraints(constraints: list[Constraint], acq: Acquisition, sequence: Sequence) -> list[Finding]:
    """Evaluate all constraints; per graded parameter keep only the most severe failure (and the passes)."""
    findings = [evaluate_constraint(c, acq, sequence) for c in constraints]
    groups: dict[tuple[str, Any], list[int]] = {}
    for i, c in enumerate(constraints):
        groups.setdefault((c.parameter, c.shell), []).append(i)
    drop: set[int] = set()
    for idx in groups.values():
        if len(idx) < 2:
            continue
        for status in (Status.FAIL, Status.CANNOT_VERIFY):
            bad = [i for i in idx if findings[i].status is status]
            if len(bad) > 1:
                keep = max(bad, key=lambda i: Severity.of(constraints[i].severity).rank)
                drop.update(i for i in bad if i != keep)
        if any(findings[i].status is Status.FAIL for i in idx):
            drop.update(i for i in idx if findings[i].status is Status.CANNOT_VERIFY)
    return [f for i, f in enumerate(findings) if i not in drop]


def consistent(a: Any, b: Any, tolerance: Tolerance | None = None) -> bool:
    """Whether two series' values of one parameter agree (numbers within tolerance, default 0.5 %)."""
    return same(a, b, tolerance or CONSISTENCY_DEFAULT)
