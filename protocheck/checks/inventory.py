"""Scanner inventory per site: vendor, model, software, field strength, coil, serial, first/last month seen."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from protocheck.checks.audit import value_text

if TYPE_CHECKING:
    from protocheck.checks.audit import InventoryEntry, Session


def session_coil(session: "Session") -> str | None:
    """The receive coil most of a session's protocol acquisitions used."""
    coil = session.exam_value("ReceiveCoilName")
    return None if coil in (None, "") else value_text(coil)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def scanner_label(session: "Session") -> str:
    """The scanner a session was acquired on: serial number if known, else vendor and model."""
    serial = session.exam_value("DeviceSerialNumber")
    if serial:
        return f"SN {serial}"
    parts = [session.exam_value("Manufacturer"), session.exam_value("ManufacturersModelName")]
    return " ".join(p for p in parts if p) or "unknown scanner"


def build_inventory(sessions: list["Session"]) -> list["InventoryEntry"]:
    """One entry per distinct scanner configuration per site, with the months it was first and last seen."""
    from protocheck.checks.audit import InventoryEntry

    entries: dict[tuple, InventoryEntry] = {}
    for s in sessions:
        key = (s.site, s.exam_value("Manufacturer"), s.exam_value("ManufacturersModelName"),
               s.exam_value("SoftwareVersions"), _float(s.exam_value("MagneticFieldStrength")), session_coil(s),
               s.exam_value("DeviceSerialNumber"))
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = InventoryEntry(*key, first_seen=s.month, last_seen=s.month)
        entry.sessions += 1
        if s.month:
            entry.first_seen = min(filter(None, [entry.first_seen, s.month]))
            entry.last_seen = max(filter(None, [entry.last_seen, s.month]))
    return sorted(entries.values(), key=lambda e: (e.site, e.first_seen or "", str(e.serial), str(e.software)))


def models_per_site(inventory: list["InventoryEntry"]) -> dict[str, Counter]:
    """Site -> Counter of "vendor model" strings (for summaries of the inventory)."""
    out: dict[str, Counter] = {}
    for e in inventory:
        out.setdefault(e.site, Counter())[" ".join(p for p in (e.vendor, e.model) if p)] += e.sessions
    return out
