"""The fast reader's tables, handed to it by the extraction layer (``registry.READ_PLAN``).

The bytes -> dataset layer (rawio, fastscan, framescan, framevalues, lazyseq) knows no vendor: which private
elements a per-file read keeps, where it may stop for a manufacturer, and how a frame without public diffusion
values is completed all come from the vendor specs through this object. It also keeps the previous file's
byte templates (per process: each worker has its own copy), so no module global is rewritten per file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from protocheck.sources.dicom.diffusion import DiffusionSample

MIN_LAST_GROUP = 0x0029    # a per-file read never stops before the Siemens CSA group (unknown vendor: this)
PUBLIC_GROUPS = frozenset({0x0008, 0x0018, 0x0020, 0x0028, 0x7FE0, 0xFFFE, 0xFFFC})
VendorPlan = tuple[int, int, "Callable[[Dataset], bool] | None"]


class ReadPlan:
    """What a per-file read keeps and where it stops, from the vendor specs; plus the per-process templates."""

    __slots__ = ("private_low", "hot_groups", "last_group", "_plan_of", "_plans", "frame_diffusion",
                 "classic_template", "enhanced_template")

    def __init__(self, private_low: Mapping[int, frozenset[int]], last_group: int,
                 plan_of: Callable[[str], VendorPlan],
                 frame_diffusion: Callable[[Dataset, str], DiffusionSample | None]) -> None:
        self.private_low = dict(private_low)        # private group -> low bytes of the elements kept per file
        self.hot_groups = PUBLIC_GROUPS | frozenset(self.private_low)   # groups looked at element by element
        self.last_group = last_group                # highest per-file group of any vendor
        self._plan_of = plan_of
        self._plans: dict[bytes, VendorPlan] = {}
        self.frame_diffusion = frame_diffusion      # (frame item, Manufacturer) -> vendor sample or None
        self.classic_template: dict[int, bytes] = {}    # previous classic file's chunks (first tag -> bytes)
        self.enhanced_template: dict[int, bytes] = {}   # previous enhanced header's undefined-length sequences

    def vendor_plan(self, manufacturer: bytes) -> VendorPlan:
        """(group where a scan may stop, last per-file group, predicate "the later groups are needed")."""
        plan = self._plans.get(manufacturer)
        if plan is None:
            text = manufacturer.decode("latin-1").rstrip("\x00 ").strip()
            early, last, needs_more = self._plan_of(text)
            plan = (max(MIN_LAST_GROUP, early), max(MIN_LAST_GROUP, last), needs_more)
            if len(self._plans) < 1024:
                self._plans[manufacturer] = plan
        return plan
