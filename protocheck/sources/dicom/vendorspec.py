"""What a vendor module declares about itself: one ``VendorSpec`` per vendor, listed in ``registry.py``.

The fast reader's tables (private elements read per file, the group a per-file read may stop at) and the
vendor dispatch are built from these specs, so a vendor's facts live in its own module only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Optional

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from protocheck.model import Acquisition
    from protocheck.sources.dicom.diffusion import DiffusionSample


@dataclass(frozen=True)
class VendorSpec:
    """One vendor: how to recognise it, what dcm2niix calls it, what a per-file read must keep, how to extract."""

    name: str                                         # short id: "siemens", "ge", ...
    manufacturer: re.Pattern[str]                     # searched in (0008,0070) Manufacturer
    dcm2niix: tuple[tuple[str, str], ...]             # (Manufacturer prefix, sidecar name) as dcm2niix writes it
    per_file_private: Mapping[int, frozenset[int]]    # private group -> low bytes of the elements read per file
    last_group: int                                   # highest group holding a per-file value
    series_params: Callable[[Dataset, Acquisition], None]
    file_diffusion: Callable[[Dataset], Optional[DiffusionSample]]
    early_group: int | None = None                    # per-file values usually end here (then ``needs_last_group``)
    needs_last_group: Callable[[Dataset], bool] | None = None   # partial dataset -> read on to ``last_group``
    untagged_diffusion: Optional[DiffusionSample] = None        # an image of a DWI series without diffusion tags
    notes: dict[str, str] = field(default_factory=dict)         # element -> what it holds (documentation only)

    def claims(self, manufacturer: str) -> bool:
        """Whether a (0008,0070) Manufacturer value is this vendor's."""
        return bool(self.manufacturer.search(manufacturer))
