"""Text values cut to their VR's maximum length (PS3.5 table 6.2-1) before anything reads them.

Protocol and vendor regexes run on SeriesDescription, ProtocolName, SequenceName... A hostile header may
carry 64 KB there, on which a pattern such as ``t1.*(3d|sag)`` backtracks quadratically (a minute per file).
No conforming value is longer than its VR allows, so cutting there changes nothing for real data and bounds
every regex. Applied to a series' representative header (files, archives, DICOMweb, listen) and to BIDS
sidecar strings (by the DICOM keyword of the same name).
"""
from __future__ import annotations

from typing import Any

# Per value; PN: three component groups of 64; unlimited VRs (UT, UC, UR) bounded like LT.
VR_MAX = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240,
          "PN": 194, "SH": 16, "ST": 1024, "TM": 14, "UI": 64, "UC": 10240, "UR": 10240, "UT": 10240}
SINGLE = frozenset({"LT", "ST", "UT", "UR"})      # backslash is text here, not a value separator
MAX_VALUES = 256                                   # values of one multi-valued element kept
DEFAULT_MAX = 1024                                 # a sidecar string with no DICOM counterpart
# VRs of the default repertoire only (no escape sequences, no multi-byte text): a backslash byte separates values
# and a value has as many characters as bytes, so raw bytes tell whether each value fits
PLAIN = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})


def cut_text(text: str, vr: str) -> str:
    """``text`` with each value cut to the VR's maximum (and at most MAX_VALUES values)."""
    limit = VR_MAX.get(vr, DEFAULT_MAX)
    if vr in SINGLE:
        return text[:limit]
    if len(text) <= limit:
        return text
    return "\\".join(v[:limit] for v in text.split("\\", MAX_VALUES)[:MAX_VALUES])


def cut_parameter(name: str, value: Any) -> Any:
    """A sidecar value with its strings cut like the DICOM element of the same keyword (else DEFAULT_MAX)."""
    if isinstance(value, str):
        return cut_text(value, _keyword_vr(name))
    if isinstance(value, list) and any(isinstance(v, str) for v in value):
        vr = _keyword_vr(name)
        return [cut_text(v, vr) if isinstance(v, str) else v for v in value[:MAX_VALUES]]
    return value


def _keyword_vr(name: str) -> str:
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tag = tag_for_keyword(name)
    return dictionary_VR(tag) if tag is not None else ""


def _too_long(elem: Any, vr: str) -> bool:
    from pydicom.dataelem import RawDataElement

    limit = VR_MAX[vr]
    if isinstance(elem, RawDataElement):
        return elem.length is not None and elem.length > limit
    value = elem.value
    if isinstance(value, str):
        return len(value) > limit
    try:
        return len(value) > MAX_VALUES or any(len(str(v)) > limit for v in value)
    except TypeError:
        return False


def _values_fit(elem: Any, vr: str, limit: int) -> bool:
    """Whether a raw multi-valued element of a plain VR has every value within ``limit`` and at most MAX_VALUES
    values (its total length is over the limit: ImageOrientationPatient, ImageType...): then it needs no cut, and
    is left raw instead of being decoded and rebuilt (about 9 such elements in a series' header)."""
    if vr not in PLAIN or not isinstance(elem.value, bytes):
        return False
    values = elem.value.split(b"\\")
    return len(values) <= MAX_VALUES and max(map(len, values)) <= limit


def _dictionary_vr(tag: int) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(tag)
    except KeyError:
        return ""


def bound_dataset(ds: Any) -> None:
    """Cut the over-long text values of a dataset's top-level elements in place (others untouched).

    Raw (unconverted) elements are judged by their length first, so a sound header is not decoded here (and
    read straight from the element dict: ``get_item`` converts the tag of each of a header's ~300 elements)."""
    from pydicom.dataelem import DataElement, RawDataElement

    from protocheck.sources.dicom.fastscan import elements
    for tag, elem in list(elements(ds).items()):
        try:
            if type(elem) is RawDataElement and elem.value is not None:   # the common case, as below in short
                vr = elem.VR or ""
                vr = _dictionary_vr(tag) if vr in ("", "UN") else vr
                limit = VR_MAX.get(vr)
                if limit is None or elem.length is None or elem.length <= limit or _values_fit(elem, vr, limit):
                    continue
            else:   # a converted element, or a deferred read (read here, as get_item does it)
                elem = ds.get_item(tag)
            vr = str(getattr(elem, "VR", "") or "")
            vr = _dictionary_vr(tag) if vr in ("", "UN") else vr   # UN: how over-long text is often sent
            if vr not in VR_MAX or not _too_long(elem, vr):
                continue
            value = ds[tag].value
            if isinstance(value, (bytes, bytearray)):
                value = bytes(value).decode("latin-1").rstrip("\0 ")
            if isinstance(value, str):
                ds[tag] = DataElement(tag, vr, cut_text(value, vr))
            elif value is not None:
                ds[tag] = DataElement(tag, vr, [str(v)[:VR_MAX[vr]] for v in list(value)[:MAX_VALUES]])
        except Exception:  # noqa: BLE001 - an undecodable element is left for the reader to report
            continue
