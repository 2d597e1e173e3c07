"""BIDS PhaseEncodingDirection from the in-plane axis and a vendor's polarity flag (shared by the vendors)."""
from __future__ import annotations


def bids_pe_direction(inplane: str, positive: int) -> str | None:
    """BIDS PhaseEncodingDirection from (0018,1312) ROW/COL and the vendor's "phase encoding positive" flag,
    as dcm2niix nii_SaveBIDSX writes it (rows are flipped to NIfTI, so a positive COL polarity is "j-"):
    ROW 1 -> "i", ROW 0 -> "i-", COL 1 -> "j-", COL 0 -> "j". GE "Unflipped" and UIH (0065,1058) 0 mean 1."""
    rc = str(inplane or "").strip().upper()[:1]
    if rc not in ("R", "C") or positive not in (0, 1):
        return None
    if rc == "R":
        return "i" if positive == 1 else "i-"
    return "j-" if positive == 1 else "j"
