"""The vendor registry: one line per vendor module. Every vendor table of the package is built from it.

Adding a vendor: write ``protocheck/sources/dicom/<vendor>.py`` ending in ``SPEC = VendorSpec(...)`` and add
its line to VENDORS (docs/DESIGN.md, "Where to change what"). tests/sources/dicom/test_registry.py checks that
the fast reader's tables equal what the specs declare.
"""
from __future__ import annotations

from protocheck.sources.dicom import canon, ge, philips, siemens, uih
from protocheck.sources.dicom.vendorspec import VendorSpec

VENDORS: tuple[VendorSpec, ...] = (   # in matching order: the first whose pattern finds the Manufacturer wins
    siemens.SPEC,
    ge.SPEC,
    philips.SPEC,
    canon.SPEC,
    uih.SPEC,
)
# Manufacturer prefixes dcm2niix names although protocheck has no module for them (nii_dicom.cpp
# dcmStrManufacturer): their series get the dcm2niix name and the public parameters only.
OTHER_DCM2NIIX: tuple[tuple[str, str], ...] = (
    ("HI", "Hitachi"), ("ME", "Mediso"), ("BR", "Bruker"), ("MR", "MRSolutions"), ("HY", "Hyperfine"),
)
DCM2NIIX_NAMES: tuple[tuple[str, str], ...] = tuple(p for s in VENDORS for p in s.dcm2niix) + OTHER_DCM2NIIX


def per_file_private(specs: tuple[VendorSpec, ...] = VENDORS) -> dict[int, frozenset[int]]:
    """Private group -> low bytes of the elements any vendor reads per file (the fast reader keeps these)."""
    out: dict[int, frozenset[int]] = {}
    for spec in specs:
        for group, lows in spec.per_file_private.items():
            out[group] = out.get(group, frozenset()) | lows
    return out


PER_FILE_PRIVATE = per_file_private()
READ_LAST_GROUP = max(s.last_group for s in VENDORS)   # a per-file read never needs a later group
