"""One display unit per quantity, used by every report: TR/TE/TI in ms, angles in degrees, sizes in mm,
b-values in s/mm², field in T.

Values are stored in BIDS units (seconds for times, as dcm2niix writes them); people read them as the scanner
console shows them, so a quantity is shown in the same unit everywhere (never "35 ms" in one place and "0.035"
in another), whatever its magnitude. ``quantity_text`` formats a value for the audit and plots, ``fmt_value``
(with ``fmt_number`` and ``range_text``) for rule texts (expected / found); ``leading_number`` reads the number
back from such a text (for plots). ``is_number`` / ``as_number`` / ``numbers`` are the numeric tests every rule
uses.
"""

from __future__ import annotations

import re
from typing import Any

# BIDS (stored) unit of each parameter.
UNITS: dict[str, str] = {
    "RepetitionTime": "s", "RepetitionTimeExcitation": "s", "EchoTime": "s", "EchoTimes": "s",
    "InversionTime": "s", "EffectiveEchoSpacing": "s", "TotalReadoutTime": "s", "Duration": "s",
    "FlipAngle": "°", "MagneticFieldStrength": "T", "SliceThickness": "mm", "SpacingBetweenSlices": "mm",
    "VoxelSize": "mm", "MaxVoxelSize": "mm", "InPlaneVoxelSize": "mm", "FieldOfView": "mm",
    "VoxelVolume": "mm³", "SpectroscopyVoxelVolume": "mm³", "DiffusionShells": "s/mm²",
    "DiffusionBValues": "s/mm²", "PrimaryShell": "s/mm²", "LastEchoTime": "s",
    "PixelBandwidth": "Hz/px", "BandwidthPerPixelPhaseEncode": "Hz/px",
}
# Times a console shows in milliseconds (a scan's Duration stays in seconds).
_MS = {"RepetitionTime", "RepetitionTimeExcitation", "EchoTime", "EchoTimes", "InversionTime", "LastEchoTime",
       "EffectiveEchoSpacing", "TotalReadoutTime"}
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def display_unit(param: str) -> tuple[str, float]:
    """(unit shown, factor from the stored value): ("ms", 1000) for TR/TE/TI, ("mm", 1) for VoxelSize..."""
    if param in _MS:
        return "ms", 1000.0
    return UNITS.get(param, ""), 1.0


def _number(x: float, scale: float) -> str:
    v = x * scale
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.4g}"


def is_number(v: Any) -> bool:
    """A real number (int or float), not a bool: what a numeric rule can judge."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_number(x: Any) -> Any:
    """``float(x)`` when it converts (b-value keys "1000"), else ``x`` unchanged."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return x


def fmt_number(x: Any, scale: float = 1.0, decimal: bool = False) -> str:
    """A number as a technologist reads it: 2.3, 32, 1000, 0.0029 (1.0 when ``decimal``, e.g. for mm)."""
    if not is_number(x):
        return str(x)
    if isinstance(x, int) and scale == 1.0 and not decimal:
        return str(x)
    v = x * scale
    if float(v).is_integer():
        return f"{v:.1f}" if decimal and abs(v) < 100 else str(int(v))
    return f"{v:.4g}"


def quantity_text(param: str, value: Any) -> str:
    """A stored value as people read it, in its one display unit: "35 ms", "1 × 1 × 1.2 mm", "1000 s/mm²"."""
    unit, scale = display_unit(param)
    if is_number(value):
        return f"{_number(float(value), scale)} {unit}".strip()
    if isinstance(value, (list, tuple)) and value and all(is_number(v) for v in value):
        sep = " × " if param in ("VoxelSize", "AcquisitionMatrix", "FieldOfView") else ", "
        return f"{sep.join(_number(float(v), scale) for v in value)} {unit}".strip()
    return str(value)


def leading_number(text: Any) -> float | None:
    """The number a value text starts with ("35 ms" -> 35.0), None for anything else (lists, words)."""
    if is_number(text):
        return float(text)
    s = str(text)
    m = _NUMBER.match(s)
    if not m or any(sep in s for sep in ("×", ",")):
        return None
    return float(m.group(1))


def numbers(value: Any) -> list[float] | None:
    """The numbers of a non-empty all-numeric list, as floats; None for anything else."""
    if isinstance(value, (list, tuple)) and value and all(is_number(v) for v in value):
        return [float(v) for v in value]
    return None


def as_text(value: Any) -> str:
    """A value as one text: list items joined with DICOM's backslash."""
    if isinstance(value, (list, tuple)):
        return "\\".join(str(v) for v in value)
    return str(value)


def fmt_value(param: str, value: Any, unit: tuple[str, float] | None = None) -> str:
    """A parameter value with its unit: '1.0 × 1.0 × 1.0 mm', '2.3 s', 'GR\\IR'."""
    if isinstance(value, dict):
        return ", ".join(f"{fmt_number(k) if is_number(k) else k}: {fmt_value('', v)}" for k, v in value.items())
    nums = numbers(value) if isinstance(value, (list, tuple)) else ([float(value)] if is_number(value) else None)
    if nums is None:
        return as_text(value)
    u, scale = unit or display_unit(param)
    sep = " × " if param in ("VoxelSize", "AcquisitionMatrix", "FieldOfView") else ", "
    items = value if isinstance(value, (list, tuple)) else [value]
    text = sep.join(fmt_number(v, scale, u in ("mm", "T")) for v in items)
    return f"{text} {u}".strip()


def range_text(lo: float | None, hi: float | None, unit: str, scale: float) -> str:
    """A range in words with its unit: "0.8–1.1 s", "≥ 30", "≤ 1.2 mm"."""
    if lo is not None and hi is not None:
        return f"{fmt_number(lo, scale)}–{fmt_number(hi, scale)} {unit}".strip()
    if lo is not None:
        return f"≥ {fmt_number(lo, scale)} {unit}".strip()
    return f"≤ {fmt_number(hi, scale)} {unit}".strip()
