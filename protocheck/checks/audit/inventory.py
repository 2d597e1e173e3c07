"""Scanner inventory per site: vendor, model, software, field strength, coil, serial, first/last month seen.

Two views: ``build_inventory`` keeps one entry per scanner *configuration* (software, coil... for the tables),
``build_scanners`` one entry per site × scanner (for the coordinator). Scanner models are identified by vendor
and a normalised model name (case and the separators ``_``, ``-``, space do not count), so that "Achieva_dStream"
from a DICOM header and "Achieva-dStream" from a participants.tsv are one model; the header's spelling is shown.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocheck.checks.audit.types import value_text
from protocheck.vendor_ids import vendor_name

if TYPE_CHECKING:
    from protocheck.checks.audit.types import InventoryEntry, Session

_SEPARATORS = re.compile(r"[\s_\-]+")
_FALLBACK_SOURCES = ("participants.tsv",)      # provenance prefixes that are not an image header


@dataclass
class ScannerEntry:
    """One scanner of one site (identified by serial number, else vendor + normalised model)."""

    site: str
    vendor: str | None
    model: str | None                          # the header's spelling when any header gives it
    model_key: str                             # normalised identity: lower case, no separators
    model_from_header: bool                    # False when only participants.tsv (or similar) named it
    software: list[str] = field(default_factory=list)
    field_strength: float | None = None
    coils: list[str] = field(default_factory=list)
    serial: str | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    sessions: int = 0


def model_key(model: Any) -> str:
    """Identity of a model name: lower case, separators (``_``, ``-``, blanks) removed."""
    return "" if model in (None, "") else _SEPARATORS.sub("", str(model)).lower()


def vendor_key(vendor: Any) -> str:
    """Identity of a vendor: "siemens", "ge", "philips", "canon", "uih", else the normalised text."""
    if vendor in (None, ""):
        return ""
    return vendor_name(str(vendor)) or model_key(vendor)


def header_value(session: "Session", name: str) -> tuple[str | None, bool]:
    """Most common value of ``name`` in a session, preferring image headers over participants.tsv fallbacks."""
    acqs = session.acquisitions() or [a for r in session.results for a in r.exam.acquisitions]
    header: Counter = Counter()
    other: Counter = Counter()
    for a in acqs:
        v = a.get(name)
        if v is None or v == "":
            continue
        fallback = (a.provenance(name) or "").startswith(_FALLBACK_SOURCES)
        (other if fallback else header)[value_text(v)] += 1
    if header:
        return header.most_common(1)[0][0], True
    return (other.most_common(1)[0][0], False) if other else (None, False)


def session_coil(session: "Session") -> str | None:
    """The receive coil most of a session's protocol acquisitions used."""
    coil = session.exam_value("ReceiveCoilName")
    return None if coil in (None, "") else value_text(coil)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def scanner_identity(session: "Session") -> tuple[str, str]:
    """A grouping key for the scanner of a session: ("SN", serial) or (vendor key, model key)."""
    serial = session.exam_value("DeviceSerialNumber")
    if serial:
        return ("SN", str(serial))
    return (vendor_key(session.exam_value("Manufacturer")), model_key(header_value(session, "ManufacturersModelName")[0]))


def scanner_label(session: "Session") -> str:
    """The scanner a session was acquired on: serial number if known, else vendor and model."""
    serial = session.exam_value("DeviceSerialNumber")
    if serial:
        return f"SN {serial}"
    parts = [session.exam_value("Manufacturer"), header_value(session, "ManufacturersModelName")[0]]
    return " ".join(p for p in parts if p) or "unknown scanner"


def build_inventory(sessions: list["Session"]) -> list["InventoryEntry"]:
    """One entry per distinct scanner configuration per site, with the months it was first and last seen."""
    from protocheck.checks.audit.types import InventoryEntry

    entries: dict[tuple, InventoryEntry] = {}
    for s in sessions:
        key = (s.site, s.exam_value("Manufacturer"), header_value(s, "ManufacturersModelName")[0],
               s.exam_value("SoftwareVersions"), _float(s.exam_value("MagneticFieldStrength")), session_coil(s),
               s.exam_value("DeviceSerialNumber"))
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = InventoryEntry(*key, first_seen=s.month, last_seen=s.month)
        entry.sessions += 1
        _widen(entry, s.month)
    return sorted(entries.values(), key=lambda e: (e.site, e.first_seen or "", str(e.serial), str(e.software)))


def _widen(entry: Any, month: str | None) -> None:
    if month:
        entry.first_seen = min(filter(None, [entry.first_seen, month]))
        entry.last_seen = max(filter(None, [entry.last_seen, month]))


def build_scanners(sessions: list["Session"]) -> list[ScannerEntry]:
    """One entry per site × scanner; a session without serial joins the site's only scanner of its model."""
    groups: dict[tuple, list["Session"]] = {}
    for s in sessions:
        vk = vendor_key(s.exam_value("Manufacturer"))
        mk = model_key(header_value(s, "ManufacturersModelName")[0])
        groups.setdefault((s.site, vk, mk, s.exam_value("DeviceSerialNumber") or None), []).append(s)
    for (site, vk, mk, serial) in [k for k in groups if k[3] is None]:
        known = [k for k in groups if k[:3] == (site, vk, mk) and k[3] is not None]
        if len(known) == 1:
            groups[known[0]].extend(groups.pop((site, vk, mk, None)))
    entries = [_scanner_entry(site, serial, members) for (site, _, _, serial), members in groups.items()]
    _canonical_spelling(entries)
    return sorted(entries, key=lambda e: (e.site, e.first_seen or "", e.model_key, str(e.serial)))


def _scanner_entry(site: str, serial: str | None, members: list["Session"]) -> ScannerEntry:
    models = [header_value(s, "ManufacturersModelName") for s in members]
    from_header = Counter(m for m, h in models if m and h)
    any_model = Counter(m for m, _ in models if m)
    model = (from_header or any_model).most_common(1)[0][0] if any_model else None
    vendors = Counter(v for v in (s.exam_value("Manufacturer") for s in members) if v)
    fields = Counter(f for f in (_float(s.exam_value("MagneticFieldStrength")) for s in members) if f is not None)
    entry = ScannerEntry(
        site=site, vendor=vendors.most_common(1)[0][0] if vendors else None, model=model,
        model_key=model_key(model), model_from_header=bool(from_header),
        software=_ordered(s.exam_value("SoftwareVersions") for s in members),
        field_strength=fields.most_common(1)[0][0] if fields else None,
        coils=_ordered(session_coil(s) for s in members), serial=serial, sessions=len(members))
    for s in members:
        _widen(entry, s.month)
    return entry


def _ordered(values: Any) -> list[str]:
    """Distinct non-empty values in first-seen order."""
    out: list[str] = []
    for v in values:
        if v not in (None, "") and str(v) not in out:
            out.append(str(v))
    return out


def _canonical_spelling(entries: list[ScannerEntry]) -> None:
    """Entries named only by a fallback source take the header spelling of the same model seen elsewhere."""
    spelling: dict[tuple[str, str], Counter] = {}
    for e in entries:
        if e.model_from_header and e.model:
            spelling.setdefault((vendor_key(e.vendor), e.model_key), Counter())[e.model] += e.sessions
    for e in entries:
        known = spelling.get((vendor_key(e.vendor), e.model_key))
        if not e.model_from_header and known:
            e.model = known.most_common(1)[0][0]


def scanner_models(scanners: list[ScannerEntry]) -> list[dict[str, Any]]:
    """Distinct scanner models (vendor + normalised model) with their header spelling, sites and sessions."""
    models: dict[tuple[str, str], dict[str, Any]] = {}
    for e in scanners:
        if not e.model_key:
            continue
        m = models.setdefault((vendor_key(e.vendor), e.model_key), {
            "vendor": e.vendor, "model": e.model, "model_key": e.model_key, "spellings": [], "sites": [],
            "sessions": 0, "from_header": False})
        if e.model and e.model not in m["spellings"]:
            m["spellings"].append(e.model)
        if e.site not in m["sites"]:
            m["sites"].append(e.site)
        m["sessions"] += e.sessions
        m["from_header"] = m["from_header"] or e.model_from_header
    return sorted(models.values(), key=lambda m: (str(m["vendor"]).lower(), m["model_key"]))


def models_per_site(inventory: list["InventoryEntry"]) -> dict[str, Counter]:
    """Site -> Counter of "vendor model" strings (for summaries of the inventory)."""
    out: dict[str, Counter] = {}
    for e in inventory:
        out.setdefault(e.site, Counter())[" ".join(p for p in (e.vendor, e.model) if p)] += e.sessions
    return out
