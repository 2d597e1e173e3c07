"""The vendor registry: the fast reader's tables equal what the vendor specs declare, and every vendor module
is registered (forgetting the registry line would silently drop a vendor's per-file diffusion elements)."""
from __future__ import annotations

import importlib
import pkgutil

import protocheck.sources.dicom as dicom_pkg
from protocheck.sources.dicom import common, registry, vendors
from protocheck.sources.dicom.readplan import MIN_LAST_GROUP, PUBLIC_GROUPS
from protocheck.sources.dicom.vendorspec import VendorSpec

# Real (0008,0070) values of the shared headers; a vendor added later is tried with its dcm2niix name.
EXAMPLES = {"siemens": "SIEMENS", "ge": "GE MEDICAL SYSTEMS", "philips": "Philips Medical Systems",
            "canon": "CANON_MEC", "uih": "UIH"}


def _example(spec: VendorSpec) -> str:
    return EXAMPLES.get(spec.name, spec.dcm2niix[0][1])


def test_fast_reader_tables_equal_the_specs() -> None:
    """PRIVATE_LOW, the hot groups and the read's last group are exactly the union of the specs' declarations."""
    plan = vendors.READ_PLAN
    declared: dict[int, set[int]] = {}
    for spec in registry.VENDORS:
        for group, lows in spec.per_file_private.items():
            declared.setdefault(group, set()).update(lows)
    assert {g: set(v) for g, v in plan.private_low.items()} == declared
    assert plan.hot_groups == PUBLIC_GROUPS | set(declared)
    assert plan.last_group == max(spec.last_group for spec in registry.VENDORS) == 0x2005
    assert declared[0x0019] == {0x0C, 0x0E, 0xBB, 0xBC, 0xBD, 0xDF, 0xE0}   # Siemens and GE share group 0019


def test_vendor_plan_follows_each_spec() -> None:
    """Where a per-file read stops for a manufacturer is what its spec says (unknown vendors: group 0029)."""
    for spec in registry.VENDORS:
        early, last, needs = vendors.READ_PLAN.vendor_plan(_example(spec).encode())
        assert last == max(MIN_LAST_GROUP, spec.last_group), spec.name
        assert early == max(MIN_LAST_GROUP, spec.early_group or spec.last_group), spec.name
        assert needs is spec.needs_last_group, spec.name
    assert vendors.READ_PLAN.vendor_plan(b"ZEBRA MR ") == (MIN_LAST_GROUP, MIN_LAST_GROUP, None)


def test_every_vendor_module_is_registered() -> None:
    """A module of the package that declares a VendorSpec is in the registry, in the order names resolve."""
    declared = []
    for info in pkgutil.iter_modules(dicom_pkg.__path__):
        mod = importlib.import_module(f"protocheck.sources.dicom.{info.name}")
        if isinstance(getattr(mod, "SPEC", None), VendorSpec):
            declared.append(mod.SPEC)
    assert sorted(s.name for s in declared) == sorted(s.name for s in registry.VENDORS)
    assert all(any(s is r for r in registry.VENDORS) for s in declared)
    for spec in registry.VENDORS:
        assert vendors.vendor_name(_example(spec)) == spec.name


def test_dcm2niix_names_come_from_the_specs() -> None:
    """The sidecar Manufacturer name of each vendor is its spec's, plus the vendors dcm2niix knows without a
    module of ours."""
    for spec in registry.VENDORS:
        for prefix, name in spec.dcm2niix:
            assert common.normalise_manufacturer(prefix + " X") == name
    assert common.normalise_manufacturer("Hitachi Medical") == "Hitachi"
    assert common.normalise_manufacturer("ZEBRA") is None
