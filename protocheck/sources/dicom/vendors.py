"""Vendor dispatch: the registered spec for a Manufacturer, and the extraction calls made through it."""
from __future__ import annotations

from pydicom.dataset import Dataset

from protocheck.model import Acquisition
from protocheck.sources.dicom import registry
from protocheck.sources.dicom.common import phase_encoding_axis
from protocheck.sources.dicom.diffusion import DiffusionSample, needs_vendor
from protocheck.sources.dicom.enhanced import top_level_diffusion
from protocheck.sources.dicom.readplan import MIN_LAST_GROUP, ReadPlan, VendorPlan
from protocheck.sources.dicom.vendorspec import VendorSpec

DEFAULT_LAST_GROUP = MIN_LAST_GROUP   # unknown vendor: read private groups up to Siemens CSA, safe default
_BY_MANUFACTURER: dict[str | None, VendorSpec | None] = {}


def spec_for(manufacturer: str | None) -> VendorSpec | None:
    """The registered vendor spec whose pattern finds this Manufacturer, or None (unknown vendor)."""
    if manufacturer in _BY_MANUFACTURER:
        return _BY_MANUFACTURER[manufacturer]
    spec = next((s for s in registry.VENDORS if s.claims(manufacturer)), None) if manufacturer else None
    if len(_BY_MANUFACTURER) < 1024:
        _BY_MANUFACTURER[manufacturer] = spec
    return spec


def vendor_name(manufacturer: str | None) -> str | None:
    """Short vendor id ("siemens", "ge", "philips", "canon", "uih") from a Manufacturer string."""
    spec = spec_for(manufacturer)
    return spec.name if spec is not None else None


def per_file_last_group(manufacturer: str | None) -> int:
    """The highest tag group holding a per-file value for this vendor (where a fast read may stop)."""
    spec = spec_for(manufacturer)
    return spec.last_group if spec is not None else DEFAULT_LAST_GROUP


def per_file_plan(manufacturer: str | None) -> VendorPlan:
    """(group a per-file read may stop at, last per-file group, vendor predicate "the later groups are needed").

    A vendor whose per-file values usually end early (Philips: group 2001 unless a file is diffusion-weighted)
    declares ``early_group`` and ``needs_last_group(partial dataset)``; the scanner reads on when it says so.
    """
    spec = spec_for(manufacturer)
    last = spec.last_group if spec is not None else DEFAULT_LAST_GROUP
    if spec is None or spec.early_group is None or spec.needs_last_group is None or spec.early_group >= last:
        return last, last, None
    return spec.early_group, last, spec.needs_last_group


def untagged_diffusion(manufacturer: str | None) -> DiffusionSample | None:
    """What an image of a diffusion series without any diffusion element is, for vendors that document it."""
    spec = spec_for(manufacturer)
    return spec.untagged_diffusion if spec is not None else None


def series_params(ds: Dataset, acq: Acquisition) -> None:
    """Let the vendor fill vendor-specific parameters (no-op for unknown vendors)."""
    spec = spec_for(str(ds.get("Manufacturer", "") or ""))
    try:
        if spec is not None:
            spec.series_params(ds, acq)
    except Exception as exc:  # a vendor quirk must never abort a scan
        acq.note("vendor-parse-error", f"vendor-specific header could not be read: {type(exc).__name__}: "
                 f"{exc}"[:200], "warning")
    phase_encoding_axis(acq)


def file_diffusion(ds: Dataset, manufacturer: str | None = None) -> DiffusionSample | None:
    """Vendor private-tag diffusion sample of one file/frame, or None."""
    spec = spec_for(manufacturer if manufacturer is not None else str(ds.get("Manufacturer", "") or ""))
    if spec is None:
        return None
    try:
        return spec.file_diffusion(ds)
    except Exception:
        return None


def file_diffusion_sample(ds: Dataset, manufacturer: str | None) -> DiffusionSample | None:
    """One file's diffusion sample: the public tags first, the vendor's private tags when they fall short."""
    sample = top_level_diffusion(ds)
    if needs_vendor(sample):
        sample = file_diffusion(ds, manufacturer) or sample
    return sample


# The fast reader's tables (bytes layer), built from the registry: what it keeps per file and where it stops.
READ_PLAN = ReadPlan(registry.PER_FILE_PRIVATE, registry.READ_LAST_GROUP, per_file_plan, file_diffusion)
