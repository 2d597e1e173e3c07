"""DICOM JSON (PS3.18 Annex F) -> pydicom ``Dataset``, with InlineBinary and BulkDataURI handling.

DICOMweb servers return headers as DICOM JSON. Binary values come either inline (base64) or as a
``BulkDataURI`` to fetch separately. We fetch a bulk value only when asked (``fetch_bulk``) and only for
elements a vendor module may read (private elements such as the Siemens CSA headers); pixel data,
spectroscopy data, overlays, waveforms and encapsulated documents are never fetched. Elements whose
bulk value was not fetched are removed, so that "absent" keeps meaning "unknown" downstream.
Private elements the server sent as ``UN`` are re-typed with pydicom's private dictionary, like a file read.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from protocheck.errors import InputError, NetworkError
from protocheck.sources.dicom_json_raw import Unusual, raw_dataset
from protocheck.model import ScanResult, SkippedFile
from protocheck.sources.options import ScanOptions

BulkFetcher = Callable[[str], 'bytes | None']

# Public elements whose bulk value is never fetched (pixels, spectroscopy, waveforms, documents, icons).
NEVER_FETCH_GROUPS = frozenset({0x7FE0, 0x5400, 0x5600})
NEVER_FETCH_TAGS = frozenset({0x00420011, 0x00880200})   # EncapsulatedDocument, IconImageSequence


def wants_bulk(tag: int) -> bool:
    """True for elements whose bulk value a vendor module may read: private (odd group) ones only."""
    group = tag >> 16
    if group in NEVER_FETCH_GROUPS or tag in NEVER_FETCH_TAGS or 0x6000 <= group <= 0x60FF:
        return False
    return bool(group & 1)


class _BulkHandler:
    """The ``bulk_data_uri_handler`` given to pydicom: fetches wanted elements, marks the others."""

    def __init__(self, fetch: BulkFetcher | None, wanted: Callable[[int], bool]) -> None:
        self.fetch = fetch
        self.wanted = wanted
        self.dropped: set[int] = set()
        self.fetched = 0

    def __call__(self, tag: str, vr: str, uri: str) -> Any:
        t = int(tag, 16)
        if self.fetch is None or not self.wanted(t):
            self.dropped.add(t)
            return None
        self.fetched += 1
        value = self.fetch(uri)
        if value is None:   # the fetcher declined (e.g. a URL on another host): the element is dropped
            self.dropped.add(t)
        return value


def _retype_un(ds: Dataset) -> None:
    """Re-type ``UN`` elements (recursively) with pydicom's dictionaries, as a file read does."""
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value or []:
                _retype_un(item)
            continue
        if elem.VR != "UN" or not isinstance(elem.value, (bytes, bytearray)):
            continue
        raw = RawDataElement(BaseTag(elem.tag), None, len(elem.value), bytes(elem.value), 0, True, True)
        try:
            new = convert_raw_data_element(raw, ds=ds)
        except Exception:   # noqa: BLE001 - an undecodable value stays UN, as in a file read
            continue
        if new.VR != "UN":
            ds[elem.tag] = new


def _drop(ds: Dataset, tags: set[int]) -> None:
    """Remove elements (recursively) whose bulk value was not fetched."""
    for elem in list(ds):
        if elem.tag in tags and (elem.value is None or elem.value == b""):
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value or []:
                _drop(item, tags)


def dataset_from_json(obj: dict[str, Any], fetch_bulk: BulkFetcher | None = None,
                      wanted: Callable[[int], bool] = wants_bulk, where: str = "") -> Dataset:
    """Convert one DICOM JSON object to a Dataset; bulk values fetched only for ``wanted`` tags."""
    if not isinstance(obj, dict):
        raise NetworkError("a DICOM JSON instance is not a JSON object", path=where or None,
                           fix="check that the server implements WADO-RS metadata (PS3.18 Annex F)")
    try:
        return raw_dataset(obj, _raw_bulk(fetch_bulk, wanted))
    except Unusual:
        pass   # pydicom's converter reads it (and says what is wrong)
    handler = _BulkHandler(fetch_bulk, wanted) if fetch_bulk is not None else None
    if handler is None:
        obj = _no_bulk(obj, frozenset())   # nothing to fetch: no handler, no per-element inspection
    try:
        ds = Dataset.from_json(obj, bulk_data_uri_handler=handler)
    except NetworkError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed element is the server's problem
        raise NetworkError(f"malformed DICOM JSON ({type(exc).__name__}: {str(exc)[:200]})",
                           path=where or None,
                           fix="check the server's WADO-RS metadata output (PS3.18 Annex F)") from None
    if handler is not None and handler.dropped:
        _drop(ds, handler.dropped)
    _retype_un(ds)
    return ds


def _raw_bulk(fetch: BulkFetcher | None, wanted: Callable[[int], bool]) -> Callable[[int, str], bytes | None]:
    """The raw converter's bulk data callback: fetch a wanted element's value, leave the others out."""
    def bulk(tag: int, uri: str) -> bytes | None:
        return fetch(uri) if fetch is not None and wanted(tag) else None
    return bulk


def _no_bulk(value: Any, keep: frozenset[str]) -> Any:
    """A copy of a DICOM JSON object without BulkDataURI elements (except ``keep`` tags), recursively."""
    out = {}
    for tag, elem in value.items():
        if not isinstance(elem, dict):
            out[tag] = elem
        elif "BulkDataURI" in elem and tag not in keep:
            continue
        elif elem.get("vr") == "SQ" and isinstance(elem.get("Value"), list):
            items = [_no_bulk(i, keep) if isinstance(i, dict) else i for i in elem["Value"]]
            out[tag] = {**elem, "Value": items}
        else:
            out[tag] = elem
    return out


def prune_instance(obj: dict[str, Any], last_group: int | None,
                   keep_bulk: frozenset[str] | None = frozenset()) -> dict[str, Any]:
    """What a partial file read would see: top-level groups up to ``last_group`` (None keeps all),
    without bulk data except the ``keep_bulk`` tags (8 hex digits; None: bulk data left for the converter's
    ``wanted`` to decide, no copy made). Converting less is much faster."""
    if last_group is not None:
        obj = {t: e for t, e in obj.items() if _group(t) <= last_group}
    return obj if keep_bulk is None else _no_bulk(obj, keep_bulk)


def _group(tag: str) -> int:
    """The group of an 8-hex-digit key; 0 for a malformed key (kept: the converter reports it)."""
    try:
        return int(tag[:4], 16) if len(tag) == 8 else 0
    except ValueError:
        return 0


def has_bulk(obj: Mapping[str, Any], tag: str) -> bool:
    """True when the top-level element ``tag`` (8 hex digits) is given by BulkDataURI."""
    elem = obj.get(tag)
    return isinstance(elem, dict) and "BulkDataURI" in elem


def tag_value(obj: Mapping[str, Any], tag: int) -> Any:
    """The first value of ``tag`` in a DICOM JSON object (QIDO result), or None."""
    if not isinstance(obj, Mapping):
        return None
    elem = obj.get(f"{Tag(tag):08X}")
    if not isinstance(elem, dict):
        return None
    values = elem.get("Value")
    if isinstance(values, list) and values:
        return values[0]
    return None


_DICOM_JSON_HEAD = re.compile(r'^\s*\[?\s*\{\s*"[0-9A-Fa-f]{8}"\s*:\s*\{')


def is_dicom_json_file(path: str | os.PathLike[str]) -> bool:
    """True for a DICOM JSON file (PS3.18 Annex F: objects keyed by 8-hex-digit tags), from its first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace").lstrip("\ufeff")
    except OSError:
        return False
    return bool(_DICOM_JSON_HEAD.match(head))


def scan_dicom_json_file(path: Path, options: ScanOptions) -> ScanResult:
    """A DICOM JSON file (one instance or a list, as WADO-RS metadata) read as DICOM headers; no bulk data."""
    from protocheck.sources.dicom.collector import DicomCollector

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"DICOM JSON file (PS3.18 Annex F) is not readable JSON: {str(exc)[:200]}",
                         path=str(path), fix="export the DICOM JSON again, or give the DICOM files") from None
    instances = data if isinstance(data, list) else [data]
    collector = DicomCollector(path.parent, options)
    for i, obj in enumerate(instances):
        name = f"{path.name}[{i}]"
        try:
            ds = dataset_from_json(obj, where=name)
        except NetworkError as exc:
            collector.skipped.append(SkippedFile(name, f"DICOM JSON instance not usable: {exc}", "invalid"))
            continue
        collector.add_dataset(ds, name)
    return collector.finish()
