"""A protocol written from a reference ("golden") exam: one sequence per kind of series found, each parameter
with a tolerance, scanner-specific values in a variant for the exam's vendor.

The result is a starting point a person edits (severities, tolerances, requirements), never executed: a plain
document for ``yaml.safe_dump`` that the protocol schema accepts. Series that are never matched (localizers,
derived images) are left out; series with the same description and acquisition type form one sequence, whose
constraints hold for each of them (a nominal with its tolerance, or a range when they differ).
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from protocheck.model import Acquisition, Exam

# parameter -> (tolerance, severity, vendor-specific). Vendor-specific parameters are read or defined differently
# by each vendor (GE/Philips 3D T1 "TR" is the shot's, GE TI, bandwidth and echo spacing conventions, sequence
# names): with a vendor named, they go into that vendor's variant, and other vendors' series are not held to them.
CHECKED: dict[str, tuple[dict[str, float] | None, str, bool]] = {
    "MRAcquisitionType": (None, "error", False),
    "RepetitionTime": ({"relative": 0.02}, "error", True),
    "EchoTime": ({"relative": 0.05}, "error", False),
    "EchoTimes": ({"relative": 0.05}, "warning", False),
    "InversionTime": ({"relative": 0.05}, "error", True),
    "FlipAngle": ({"absolute": 1.0}, "error", False),
    "VoxelSize": ({"relative": 0.05}, "error", False),
    "SliceThickness": ({"absolute": 0.1}, "error", False),
    "SpacingBetweenSlices": ({"absolute": 0.1}, "warning", False),
    "AcquisitionMatrix": ({"absolute": 0}, "warning", False),
    "NumberOfSlices": ({"absolute": 0}, "warning", False),
    "NumberOfVolumes": ({"absolute": 0}, "warning", False),
    "FieldOfView": ({"relative": 0.05}, "warning", False),
    "SliceOrientation": (None, "warning", False),
    "PhaseEncodingDirection": (None, "warning", False),
    "MultibandAccelerationFactor": ({"absolute": 0}, "warning", False),
    "ParallelReductionFactorInPlane": ({"absolute": 0.01}, "warning", True),
    "PartialFourier": ({"absolute": 0.01}, "warning", True),
    "PixelBandwidth": ({"relative": 0.05}, "warning", True),
    "EffectiveEchoSpacing": ({"relative": 0.05}, "warning", True),
    "TotalReadoutTime": ({"relative": 0.05}, "warning", True),
    "EchoTrainLength": ({"absolute": 0}, "warning", True),
    "NumberOfAverages": ({"absolute": 0}, "warning", False),
    "DiffusionShells": ({"relative": 0.05}, "error", False),
    "NumberOfDiffusionDirections": ({"absolute": 0}, "error", False),
    "NumberOfB0Volumes": ({"absolute": 0}, "warning", False),
    "ScanningSequence": (None, "warning", True),
    "SequenceVariant": (None, "warning", True),
    "PulseSequenceName": (None, "info", True),
    "SpectroscopyVoxelVolume": ({"relative": 0.05}, "warning", False),
}
FIELD_TOLERANCE = 0.2   # tesla: 2.89 T and 3 T are the same field strength


def _slug(text: str, fallback: str) -> str:
    """A schema-valid id ('[a-z0-9][a-z0-9_-]*') from a series description."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-_")
    return slug[:48].strip("-") or fallback


def _number(x: float) -> float | int:
    """A value as YAML shows it best: an int when it is one, else 6 significant digits."""
    if float(x).is_integer():
        return int(x)
    return float(f"{x:.6g}")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _allow(x: float, tol: dict[str, float]) -> float:
    return tol.get("absolute", 0.0) + tol.get("relative", 0.0) * abs(x)


def _constraint(name: str, values: list[Any]) -> dict[str, Any] | None:
    """The constraint that every value of the sequence's series meets; None when none can be written."""
    tol, severity, _ = CHECKED[name]
    first = values[0]
    base = {"id": _slug(name, "p"), "parameter": name, "severity": severity}
    if tol is not None and all(_is_num(v) for v in values):
        if all(abs(v - first) <= _allow(first, tol) for v in values):
            return {**base, "nominal": _number(first), "tolerance": dict(tol)}
        lo, hi = min(values), max(values)
        return {**base, "range": {"min": _number(lo - _allow(lo, tol)), "max": _number(hi + _allow(hi, tol))}}
    if tol is not None and all(isinstance(v, (list, tuple)) and v and all(map(_is_num, v)) for v in values):
        if all(len(v) == len(first) and all(abs(a - b) <= _allow(b, tol) for a, b in zip(v, first)) for v in values):
            return {**base, "nominal": [_number(x) for x in first], "tolerance": dict(tol)}
        return None
    if all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
        texts = list(dict.fromkeys(str(v) for v in values))
        return {**base, "equals": texts[0]} if len(texts) == 1 else {**base, "one_of": texts}
    return None


def _name_criterion(acq: Acquisition) -> dict[str, Any] | None:
    """What names the series: its description (or protocol name, or BIDS name), matched whole."""
    for param in ("SeriesDescription", "ProtocolName", "BIDSName"):
        value = acq.get(param)
        if isinstance(value, str) and value.strip():
            return {"parameter": param, "matches": f"(?i)^{_literal(value.strip())}$"}
    return None


def _literal(text: str) -> str:
    """A regular expression matching exactly ``text`` (spaces and hyphens left readable)."""
    return re.escape(text).replace("\\ ", " ").replace("\\-", "-")


def _identify(acq: Acquisition) -> dict[str, Any]:
    """How the sequence's series are recognised: acquisition type, diffusion or spectroscopy, and the name."""
    crit: list[dict[str, Any]] = []
    if isinstance(acq.get("MRAcquisitionType"), str):
        crit.append({"parameter": "MRAcquisitionType", "equals": acq.get("MRAcquisitionType")})
    if acq.get("DiffusionShells"):
        crit.append({"parameter": "DiffusionShells", "present": True})
    if "mrs" in getattr(acq, "roles", ()):
        crit.append({"parameter": "Roles", "contains": "mrs"})
    ident: dict[str, Any] = {"all": crit} if crit else {}
    name = _name_criterion(acq)
    if name is not None:
        ident["any"] = [name]
    return ident or {"all": [{"parameter": "Modality", "equals": "MR"}]}


def _groups(exam: Exam) -> list[list[Acquisition]]:
    """The exam's matchable series, those recognised alike together, in series order."""
    from protocheck.protocol.matching import _is_support
    groups: dict[str, list[Acquisition]] = {}
    for acq in exam.acquisitions:
        if not _is_support(acq):
            groups.setdefault(repr(_identify(acq)), []).append(acq)
    return list(groups.values())


def _sequence(series: list[Acquisition], seq_id: str, vendor: str | None) -> dict[str, Any]:
    """One sequence: identification, constraints (vendor-neutral), and the vendor's variant."""
    first = series[0]
    title = str(first.get("SeriesDescription") or first.get("ProtocolName") or first.get("BIDSName") or seq_id)
    neutral, specific = [], []
    for name, (_, _, vendor_specific) in CHECKED.items():
        values = [acq.get(name) for acq in series]
        if any(v is None or v == [] or v == "" for v in values):
            continue   # unknown in a series: the golden exam cannot say what it should be
        if name == "EchoTimes" and all(len(v) == 1 for v in values):
            continue   # one echo: EchoTime says it
        c = _constraint(name, values)
        if c is not None:
            (specific if vendor_specific and vendor else neutral).append(c)
    seq: dict[str, Any] = {"id": seq_id, "description": title, "requirement": "required",
                           "identify": _identify(first), "constraints": neutral}
    if specific:
        seq["variants"] = [{"name": vendor, "when": {"Manufacturer": f"(?i)^{_literal(vendor)}"},
                            "constraints": specific}]
    return seq


def protocol_from_exam(exam: Exam, name: str, origin: str, vendor_variants: bool = True) -> dict[str, Any]:
    """The protocol document of a golden exam (for ``yaml.safe_dump``; the protocol schema accepts it)."""
    acqs = exam.acquisitions
    vendor = next((str(a.get("Manufacturer")) for a in acqs if a.get("Manufacturer")), None)
    vendor = vendor if vendor_variants else None
    sequences, seen = [], set()
    for series in _groups(exam):
        seq_id = base = _slug(str(series[0].get("SeriesDescription") or series[0].get("ProtocolName")
                                  or series[0].get("BIDSName") or ""), "series")
        k = 2
        while seq_id in seen:
            seq_id, k = f"{base}-{k}", k + 1
        seen.add(seq_id)
        sequences.append(_sequence(series, seq_id, vendor))
    model = " ".join(str(a.get(p)) for p in ("Manufacturer", "ManufacturersModelName") if (a := acqs[0]).get(p))
    doc: dict[str, Any] = {
        "name": name, "version": "0.1.0",
        "title": f"Protocol from the golden exam {origin}" + (f" ({model})" if model else ""),
        "description": (f"Written by protocheck protocols new on {datetime.date.today().isoformat()}: one sequence "
                        "per series of the golden exam, each parameter with a tolerance. Review the requirements, "
                        "severities and tolerances before use (protocheck help protocol)."),
    }
    fields = sorted({float(a.get("MagneticFieldStrength")) for a in acqs if _is_num(a.get("MagneticFieldStrength"))})
    if len(fields) == 1:
        doc["defaults"] = {"constraints": [{"id": "field-strength", "parameter": "MagneticFieldStrength",
                                            "severity": "error", "nominal": _number(fields[0]),
                                            "tolerance": {"absolute": FIELD_TOLERANCE}}]}
    doc["sequences"] = sequences
    return doc


def protocol_name(text: str) -> str:
    """A schema-valid protocol name ('[a-z0-9][a-z0-9._-]*') from a folder or a name given."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "golden-exam"
