"""Evaluate protocol constraints and identification criteria on one Acquisition.

Every constraint yields a ``Finding`` whose expected/found texts carry units ("TR 2.3 s", "≥ 30 directions at
b=1000"). A value that cannot be read gives ``Status.CANNOT_VERIFY`` (never a pass). Several constraints on one
parameter grade it: only the most severe failing one is reported, passes are kept.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from protocheck.checks.results import Finding, Severity, Status
from protocheck.model import Acquisition
from protocheck.protocol.model import DERIVED_PARAMETERS, Constraint, Criterion, Sequence
from protocheck.units import display_unit

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
_TOKEN_SPLIT = re.compile(r"[\\_/,;\s]+")


_SEVERITIES = {s.value: s for s in Severity}


def severity(value: Any) -> Severity:
    """``Severity(value)`` by a dict lookup (an Enum call by value is slow, and a check makes thousands)."""
    return _SEVERITIES.get(value) or Severity(value)


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
    vox = _numbers(acq.get("VoxelSize"))
    value: Any = None
    if name == "Duration":
        n, tr = acq.get("NumberOfVolumes"), acq.get("RepetitionTime")
        if isinstance(n, (int, float)) and isinstance(tr, (int, float)):
            value = n * tr
    elif name == "NumberOfEchoes":
        tes = acq.get("EchoTimes")
        value = len(tes) if isinstance(tes, (list, tuple)) else None
    elif name == "LastEchoTime":
        tes = _numbers(acq.get("EchoTimes"))
        value = max(tes) if tes else (acq.get("EchoTime") if _is_num(acq.get("EchoTime")) else None)
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
        counts = {float(b): n for b, n in per_shell.items() if _is_num(_num(b)) and float(b) > 0 and _is_num(n)}
        if counts:
            return max(counts, key=lambda b: (counts[b], b))
    shells = _numbers(acq.get("DiffusionShells"))
    nonzero = [b for b in shells or [] if b > 0]
    return nonzero[0] if len(nonzero) == 1 else None


def _numbers(value: Any) -> list[float] | None:
    if isinstance(value, (list, tuple)) and value and all(_is_num(v) for v in value):
        return [float(v) for v in value]
    return None


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _tokens(value: Any) -> list[str] | tuple[str, ...]:
    """Elements of a list, or tokens of a DICOM multi-value string ('GR\\IR', 'EP_SE'), upper-cased."""
    if isinstance(value, (list, tuple, set)):
        return [str(v).upper() for v in value]
    return _text_tokens(str(value))


@lru_cache(maxsize=4096)
def _text_tokens(text: str) -> tuple[str, ...]:
    """Upper-cased tokens of one string (cached: series repeat the same few values)."""
    return tuple(t.upper() for t in _TOKEN_SPLIT.split(text) if t)


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _same(a: Any, b: Any, tol: dict[str, float] | None = None) -> bool:
    """Equality: numbers within tolerance (or 1e-6 relative), strings case-insensitive, lists element-wise."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    if _is_num(a) and _is_num(b):
        return abs(a - b) <= _allowance(b, tol)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return str(a).strip().upper() == str(b).strip().upper()


def _allowance(nominal: float, tol: dict[str, float] | None) -> float:
    if not tol:
        return 1e-6 * max(1.0, abs(nominal))
    if "absolute" in tol:
        return tol["absolute"] + 1e-9
    return tol["relative"] * abs(nominal) + 1e-9


def _in_range(x: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or x >= lo - 1e-9) and (hi is None or x <= hi + 1e-9)


# ---------------------------------------------------------------------------------------------- formatting

def fmt_number(x: Any, scale: float = 1.0, decimal: bool = False) -> str:
    """A number as a technologist reads it: 2.3, 32, 1000, 0.0029 (1.0 when ``decimal``, e.g. for mm)."""
    if not _is_num(x):
        return str(x)
    if isinstance(x, int) and scale == 1.0 and not decimal:
        return str(x)
    v = x * scale
    if float(v).is_integer():
        return f"{v:.1f}" if decimal and abs(v) < 100 else str(int(v))
    return f"{v:.4g}"


def _display_unit(param: str, numbers: list[float]) -> tuple[str, float]:
    """The one display unit of the parameter (``protocheck.units``), whatever the magnitude of ``numbers``."""
    return display_unit(param)


def fmt_value(param: str, value: Any, unit: tuple[str, float] | None = None) -> str:
    """A parameter value with its unit: '1.0 × 1.0 × 1.0 mm', '2.3 s', 'GR\\IR'."""
    if isinstance(value, dict):
        return ", ".join(f"{fmt_number(k) if _is_num(k) else k}: {fmt_value('', v)}" for k, v in value.items())
    nums = _numbers(value) if isinstance(value, (list, tuple)) else ([float(value)] if _is_num(value) else None)
    if nums is None:
        return _as_text(value)
    u, scale = unit or _display_unit(param, nums)
    sep = " × " if param in ("VoxelSize", "AcquisitionMatrix", "FieldOfView") else ", "
    items = value if isinstance(value, (list, tuple)) else [value]
    text = sep.join(fmt_number(v, scale, u in ("mm", "T")) for v in items)
    return f"{text} {u}".strip()


def _range_text(lo: float | None, hi: float | None, unit: str, scale: float) -> str:
    if lo is not None and hi is not None:
        return f"{fmt_number(lo, scale)}–{fmt_number(hi, scale)} {unit}".strip()
    if lo is not None:
        return f"≥ {fmt_number(lo, scale)} {unit}".strip()
    return f"≤ {fmt_number(hi, scale)} {unit}".strip()


def _tol_text(tol: dict[str, float], unit: str, scale: float) -> str:
    if "absolute" in tol:
        return f"± {fmt_number(tol['absolute'], scale)} {unit}".strip()
    return f"± {fmt_number(tol['relative'] * 100)} %"


def expected_text(c: Constraint) -> str:
    """The constraint in words with units ('0.8–1.1 s', 'each ≤ 1.2 mm', '≥ 30 directions at b=1000')."""
    v = c.value
    nums = [x for x in ([v.get("min"), v.get("max"), v.get("nominal")] if isinstance(v, dict) else
                        (v if isinstance(v, list) else [v])) if _is_num(x)]
    unit, scale = _display_unit(c.parameter, [float(x) for x in nums])
    if c.kind == "range":
        return _range_text(v.get("min"), v.get("max"), unit, scale)
    if c.kind == "nominal":
        return f"{fmt_value(c.parameter, v, (unit, scale))} {_tol_text(c.tolerance or {}, unit, scale)}"
    if c.kind == "each":
        if "nominal" in v:
            return f"each {fmt_number(v['nominal'], scale)} {unit} {_tol_text(v['tolerance'], unit, scale)}"
        return "each " + _range_text(v.get("min"), v.get("max"), unit, scale)
    if c.kind == "min_count":
        return f"≥ {v} directions at b={fmt_number(c.shell)}"
    if c.kind == "one_of":
        return "one of " + ", ".join(fmt_value(c.parameter, x, (unit, scale)) for x in v)
    if c.kind == "contains":
        return f"contains {v}"
    if c.kind == "matches":
        return f"matches {v}"
    if c.kind == "present":
        return "present"
    return fmt_value(c.parameter, v, (unit, scale))


# ---------------------------------------------------------------------------------------------- criteria

def test_value(kind: str, spec: Any, value: Any, pattern: re.Pattern[str] | None = None,
               tolerance: dict[str, float] | None = None) -> bool:
    """Whether a known value satisfies a check of kind ``kind`` (shared by criteria and constraints)."""
    if kind == "present":
        return (value is not None) == bool(spec)
    if kind == "equals":
        return _same(value, spec)
    if kind == "one_of":
        return any(_same(value, s) for s in spec)
    if kind == "contains":
        return str(spec).upper() in _tokens(value)
    if kind == "matches":
        assert pattern is not None
        return bool(pattern.search(_as_text(value)))
    if kind == "range":
        nums = _numbers(value) if isinstance(value, (list, tuple)) else ([value] if _is_num(value) else None)
        return bool(nums) and all(_in_range(x, spec.get("min"), spec.get("max")) for x in nums)
    if kind == "nominal":
        return _same(value, spec, tolerance)
    if kind == "each":
        nums = _numbers(value) if isinstance(value, (list, tuple)) else ([value] if _is_num(value) else None)
        if not nums:
            return False
        if "nominal" in spec:
            return all(_same(x, spec["nominal"], spec["tolerance"]) for x in nums)
        return all(_in_range(x, spec.get("min"), spec.get("max")) for x in nums)
    raise ValueError(f"unknown check kind {kind}")


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
        return f"{p} in {_range_text(v.get('min'), v.get('max'), *display_unit(p))}"
    choices = ", ".join(map(str, v if isinstance(v, (list, tuple)) else [v]))
    return {"equals": f"{p} is {_as_text(v)}", "one_of": f"{p} is one of {choices}",
            "contains": f"{p} contains {v}", "matches": f"{p} matches {v}",
            "present": f"{p} present" if v else f"{p} absent"}[k]


# -------------------------------------------------------------------------------------------- constraints

def _cap(sev: Severity) -> Severity:
    """An unknown value is reported at most as a warning (it is not proven wrong)."""
    return Severity.WARNING if sev is Severity.ERROR else sev


def evaluate_constraint(c: Constraint, acq: Acquisition, sequence: Sequence) -> Finding:
    """Evaluate one constraint on one series; unknown values give CANNOT_VERIFY."""
    sev = severity(c.severity)
    label = c.label or LABELS.get(c.parameter, c.parameter)
    expected = _memo(c, "_pc_expected", expected_text)
    finding = Finding(check_id=f"{sequence.id}/{c.id}", sequence=sequence.id, status=Status.PASS, severity=sev,
                      parameter=c.parameter, series=acq.key, expected=expected, advice=c.advice,
                      rationale=c.rationale, source=c.source)
    value, prov = value_of(acq, c.parameter)
    if c.parameter == "PrimaryShell" and value is not None:
        from protocheck.protocol.shells import judged_shell
        value, prov = judged_shell(acq, sequence, value, prov)
    finding.provenance = prov
    if value is None and c.kind != "present":
        finding.status, finding.severity = Status.CANNOT_VERIFY, _cap(sev)
        finding.message = (f"{sequence.title}: {label} could not be read from this series, so "
                           f"'{expected}' cannot be verified" + _unreadable_sidecars(acq))
        return _with_note(finding, c)
    if c.kind == "min_count":
        from protocheck.protocol.shells import min_count
        return _with_note(min_count(c, value, finding, sequence.title), c)
    ok = test_value(c.kind, c.value, value, c.pattern, c.tolerance)
    unit = _memo(c, "_pc_unit", _expected_unit)
    finding.found = "absent" if value is None else fmt_value(c.parameter, value, unit if unit[0] else None)
    finding.status = Status.PASS if ok else Status.FAIL
    finding.message = f"{sequence.title}: {label} {finding.found}, protocol requires {expected}: {_verdict(ok, sev)}"
    return _with_note(finding, c)


def _unreadable_sidecars(acq: Acquisition) -> str:
    """The sidecars of the series that could not be read, as "; cannot verify (file: reason)" ('' if none)."""
    msgs = [n.message.rpartition("): ")[0] + ")" for n in acq.notes if n.code == "sidecar-invalid"]
    return "".join(f"; {m}" for m in msgs)


def _expected_unit(c: Constraint) -> tuple[str, float]:
    return _display_unit(c.parameter, [float(x) for x in _expected_numbers(c)])


def _expected_numbers(c: Constraint) -> list[Any]:
    v = c.value
    if isinstance(v, dict):
        return [x for x in (v.get("min"), v.get("max"), v.get("nominal")) if _is_num(x)]
    return [x for x in (v if isinstance(v, list) else [v]) if _is_num(x)]


def _verdict(ok: bool, sev: Severity) -> str:
    if ok:
        return "OK"
    return {"error": "DEVIATION (error)", "warning": "deviation (warning)", "info": "note (info)"}[sev.value]


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


def _num(x: Any) -> Any:
    try:
        return float(x)
    except (TypeError, ValueError):
        return x


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
                keep = max(bad, key=lambda i: severity(constraints[i].severity).rank)
                drop.update(i for i in bad if i != keep)
        if any(findings[i].status is Status.FAIL for i in idx):
            drop.update(i for i in idx if findings[i].status is Status.CANNOT_VERIFY)
    return [f for i, f in enumerate(findings) if i not in drop]


def consistent(a: Any, b: Any, tolerance: dict[str, float] | None = None) -> bool:
    """Whether two series' values of one parameter agree (numbers within tolerance, default 0.5 %)."""
    return _same(a, b, tolerance or {"relative": 0.005})
