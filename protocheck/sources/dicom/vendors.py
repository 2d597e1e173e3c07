"""Vendor dispatch: pick the vendor module by Manufacturer, import it lazily, tolerate missing modules."""
from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Callable

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor

_VENDORS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("siemens", re.compile(r"(?i)siemens")),
    ("ge", re.compile(r"(?i)^\s*ge\b|general\s*electric|^ge[ _]medical")),
    ("philips", re.compile(r"(?i)philips")),
    ("canon", re.compile(r"(?i)canon|toshiba")),
    ("uih", re.compile(r"(?i)united\s*imaging|^uih")),
)
_cache: dict[str, ModuleType | None] = {}
DEFAULT_LAST_GROUP = 0x0029   # unknown vendor: read private groups up to Siemens CSA, safe default


def vendor_name(manufacturer: str | None) -> str | None:
    """Short vendor id ("siemens", "ge", "philips", "canon", "uih") from a Manufacturer string."""
    if not manufacturer:
        return None
    for name, rx in _VENDORS:
        if rx.search(manufacturer):
            return name
    return None


_BY_MANUFACTURER: dict[str | None, ModuleType | None] = {}


def module_for(manufacturer: str | None) -> ModuleType | None:
    """The vendor module for this Manufacturer, or None (unknown vendor or module not written yet)."""
    mod = _BY_MANUFACTURER.get(manufacturer, _cache)   # _cache: a sentinel that is never a result
    if mod is _cache:
        mod = _module_for(manufacturer)
        if len(_BY_MANUFACTURER) < 1024:
            _BY_MANUFACTURER[manufacturer] = mod
    return mod  # type: ignore[return-value]


def _module_for(manufacturer: str | None) -> ModuleType | None:
    name = vendor_name(manufacturer)
    if name is None:
        return None
    if name not in _cache:
        try:
            _cache[name] = importlib.import_module(f"protocheck.sources.dicom.{name}")
        except ImportError:
            _cache[name] = None
    return _cache[name]


def per_file_last_group(manufacturer: str | None) -> int:
    """The highest tag group holding a per-file value for this vendor (where a fast read may stop)."""
    mod = module_for(manufacturer)
    value = getattr(mod, "PER_FILE_LAST_GROUP", None) if mod is not None else None
    return int(value) if isinstance(value, int) else DEFAULT_LAST_GROUP


def per_file_plan(manufacturer: str | None) -> tuple[int, int, Callable[[Dataset], bool] | None]:
    """(group a per-file read may stop at, last per-file group, vendor predicate "the later groups are needed").

    A vendor whose per-file values usually end early (Philips: group 2001 unless a file is diffusion-weighted)
    gives PER_FILE_EARLY_GROUP and ``needs_last_group(partial dataset)``; the scanner reads on when it says so.
    """
    last = per_file_last_group(manufacturer)
    mod = module_for(manufacturer)
    early = getattr(mod, "PER_FILE_EARLY_GROUP", None) if mod is not None else None
    needs = getattr(mod, "needs_last_group", None) if mod is not None else None
    if not isinstance(early, int) or needs is None or early >= last:
        return last, last, None
    return early, last, needs


def untagged_diffusion(manufacturer: str | None) -> DiffusionSample | None:
    """What an image of a diffusion series without any diffusion element is, for vendors that document it."""
    mod = module_for(manufacturer)
    value = getattr(mod, "UNTAGGED_DIFFUSION", None) if mod is not None else None
    return value if isinstance(value, DiffusionSample) else None


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Let the vendor module fill vendor-specific parameters (no-op for unknown vendors)."""
    from protocheck.sources.dicom.common import phase_encoding_axis
    mod = module_for(str(ds.get("Manufacturer", "") or ""))
    fn = getattr(mod, "series_params", None) if mod is not None else None
    try:
        if fn is not None:
            fn(ds, acq)
    except Exception as exc:  # a vendor quirk must never abort a scan
        acq.note("vendor-parse-error", f"vendor-specific header could not be read: {type(exc).__name__}: "
                 f"{exc}"[:200], "warning")
    phase_encoding_axis(acq)


def file_diffusion(ds: Dataset, manufacturer: str | None = None) -> DiffusionSample | None:
    """Vendor private-tag diffusion sample of one file/frame, or None."""
    mod = module_for(manufacturer if manufacturer is not None else str(ds.get("Manufacturer", "") or ""))
    fn = getattr(mod, "file_diffusion", None) if mod is not None else None
    if fn is None:
        return None
    try:
        return fn(ds)
    except Exception:
        return None


def file_diffusion_sample(ds: Dataset, manufacturer: str | None) -> DiffusionSample | None:
    """One file's diffusion sample: the public tags first, the vendor's private tags when they fall short."""
    from protocheck.sources.dicom.enhanced import top_level_diffusion
    sample = top_level_diffusion(ds)
    if needs_vendor(sample):
        sample = file_diffusion(ds, manufacturer) or sample
    return sample
