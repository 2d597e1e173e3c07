"""One DICOMweb series read for the collector: one WADO-RS series metadata request, its instances turned into
what the collector folds, in instance order. Runs in a worker thread (network and JSON), the collector folds the
result in the main thread (``dicomweb.py``).

The first instance is converted to a full dataset (it describes the series, as a file's full header does); the
later ones become per-file records straight from their JSON (``dicomweb_records``), or, when that declines,
datasets of what a partial file read would see (the general path, which reports any broken value).
Pixels are never requested; a bulk data value is fetched only for private elements of the first instance (e.g.
Siemens CSA headers), and per instance only when the series' per-file b-value lives only there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Union

from pydicom.dataset import Dataset

from protocheck.errors import NetworkError
from protocheck.logs import logger
from protocheck.model import SkippedFile
from protocheck.sources.dicom.extract import FileRecord
from protocheck.sources.dicom_json import dataset_from_json, has_bulk, prune_instance, tag_value, wants_bulk
from protocheck.sources.dicomweb_lazy import Cut, LazyInstance, lazy_instances
from protocheck.sources.dicomweb_records import SeriesRecords
from protocheck.sources.net.http import ForeignURL, HttpClient, TooLarge

SOP_UID, INSTANCE_NUMBER = 0x00080018, 0x00200013
MANUFACTURER, SOP_CLASS = 0x00080070, 0x00080016
CSA_IMAGE = "00291010"
PAGE = 500
MAX_PAGES = 10_000
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
log = logger("protocheck.dicomweb")
Item = Union[tuple[str, Dataset], FileRecord, SkippedFile]   # (name, dataset), a record, or a skipped instance


@dataclass
class SeriesRead:
    """What one series gave: items to fold in order, the instance count, and notes."""

    study: str
    series: str
    items: list[Item] = field(default_factory=list)
    n_instances: int = 0
    direct: int = 0             # instances read straight from JSON into records
    notes: list[SkippedFile] = field(default_factory=list)


def _instance_key(obj: Mapping[str, Any]) -> tuple:
    num = tag_value(obj, INSTANCE_NUMBER)
    try:
        num = int(num)
    except (TypeError, ValueError, OverflowError):
        num = 1 << 30
    return (num, str(tag_value(obj, SOP_UID) or ""))


def per_file_plan(first: Mapping[str, Any]) -> tuple[int | None, frozenset[str]]:
    """How later instances of a series are read: the partial-read group cut and the bulk tags to fetch."""
    from protocheck.sources.dicom import vendors
    from protocheck.sources.dicom.sopclass import MULTIFRAME_SOPS

    manufacturer = str(tag_value(first, MANUFACTURER) or "")
    if str(tag_value(first, SOP_CLASS) or "") in MULTIFRAME_SOPS:
        return None, frozenset()
    keep: frozenset[str] = frozenset()
    if vendors.vendor_name(manufacturer) == "siemens" and "0019100C" not in first \
            and has_bulk(first, CSA_IMAGE):
        keep = frozenset({CSA_IMAGE})   # per-file b-value only in the CSA image header: fetch it per file
    return vendors.per_file_last_group(manufacturer), keep


def _first_series_uid(first: Mapping[str, Any], ds: Dataset, name: str) -> str | None:
    """The series UID under which the collector will know this series, if its first instance is a classic MR
    image that describes it (later instances of other series are read by the general path anyway)."""
    from protocheck.sources.dicom.reader import MR_IMAGE, read_record
    if tag_value(first, SOP_CLASS) != MR_IMAGE or "52009230" in first or "52009229" in first:
        return None
    rec = read_record(name, ds, full=True)
    return rec.series_uid if rec.skip is None and rec.series_uid else None


def read_series(client: HttpClient, study: str, series: str, bulk: str) -> SeriesRead:
    """Fetch one series' metadata (one request) and turn its instances into collector items."""
    path = f"/studies/{study}/series/{series}/metadata"
    where = client.shown + path
    try:
        return _convert(client, study, series, bulk, _instances(client, path), where)
    except TooLarge:   # a long series (thousands of images): its instances' metadata one by one
        log.info("DICOMweb %s: series metadata over the size cap, read per instance", where)
    instances: list = []
    for obj in paged(client, f"/studies/{study}/series/{series}/instances", {"includefield": ["00080018"]}):
        sop = tag_value(obj, SOP_UID)
        if isinstance(sop, str) and _UID.match(sop):
            instances += _instances(client, f"/studies/{study}/series/{series}/instances/{sop}/metadata")
    return _convert(client, study, series, bulk, instances, where)


def _instances(client: HttpClient, path: str) -> list:
    """The instances of one WADO-RS metadata answer: cut lazily when indented, else parsed whole."""
    body = client.get_body(path)
    try:
        lazy = lazy_instances(body)
        if lazy is not None:
            return lazy
    except Cut:
        pass   # a layout the cuts do not fit: parsed whole, as strictly as any answer
    instances = client.parse_json(body, path)
    if not isinstance(instances, list):
        raise NetworkError("WADO-RS metadata answer is not a JSON array", path=client.shown + path,
                           fix="check the server's WADO-RS support (PS3.18 10.4, series metadata)")
    return instances


def paged(client: HttpClient, path: str, params: dict[str, Any]) -> Iterator[dict]:
    """QIDO-RS results across pages (limit/offset), bounded."""
    offset = 0
    for _ in range(MAX_PAGES):
        page = client.get_json(path, {**params, "limit": PAGE, "offset": offset})
        if not isinstance(page, list):
            raise NetworkError("QIDO-RS answer is not a JSON array", path=client.shown + path,
                               fix="check that the URL is the DICOMweb root")
        yield from page
        if len(page) < PAGE:
            return
        offset += len(page)


def _convert(client: HttpClient, study: str, series: str, bulk: str, instances: list, where: str) -> SeriesRead:
    """The instances of one series' metadata (parsed, or cut lazily) as collector items, in instance order."""
    objs = sorted((o for o in instances if isinstance(o, Mapping)), key=_instance_key)
    out = SeriesRead(study, series, n_instances=len(instances))
    if len(objs) < len(instances):
        out.notes.append(SkippedFile(f"{study}/{series}", f"{len(instances) - len(objs)} metadata entr(ies) are "
                                     "not JSON objects: not read", kind="invalid"))
    foreign: list[str] = []

    def same_host_bulk(uri: str) -> bytes | None:
        try:
            return client.get_bulk(uri)
        except ForeignURL as exc:
            foreign.append(exc.reason)
            return None

    plan: tuple[int | None, frozenset[str]] = (None, frozenset())
    records: SeriesRecords | None = None
    known: str | None = None
    for i, obj in enumerate(objs):
        name = f"{study}/{series}/{tag_value(obj, SOP_UID) or f'instance{i + 1}'}"
        if i == 0:
            plan = per_file_plan(obj)
            keep_fetch = same_host_bulk if plan[1] and bulk == "first" else None
            records = SeriesRecords(keep_fetch, plan[1]) if bulk != "all" else None
        elif records is not None and known is not None:
            rec = records.record(obj, name)
            if rec is not None and rec.series_uid == known:
                out.items.append(rec)
                out.direct += 1
                continue
        ds = _dataset(obj, i, plan, bulk, same_host_bulk, where, name, out)
        if ds is not None:
            out.items.append((name, ds))
            if i == 0:
                known = _first_series_uid(obj, ds, name)
    if foreign:
        out.notes.append(SkippedFile(f"{study}/{series}", f"{len(foreign)} bulk data value(s) not "
                                     f"fetched: {foreign[0]}", kind="ignored"))
    return out


def _dataset(obj: Mapping[str, Any], i: int, plan: tuple[int | None, frozenset[str]], bulk: str, fetch: Any, where: str,
             name: str, out: SeriesRead) -> Dataset | None:
    """The general path: the instance as a dataset (the first in full, later ones as a partial read sees them)."""
    whole = obj.full() if isinstance(obj, LazyInstance) else dict(obj)
    use = fetch if bulk == "all" or (bulk == "first" and i == 0) else None
    wanted: Callable[[int], bool] = wants_bulk
    if i > 0 and bulk != "all":   # what a partial file read sees: groups up to the vendor's last, no bulk data
        whole = prune_instance(whole, plan[0], None)   # but the per-file bulk values (left out when read)
        keep = frozenset(int(t, 16) for t in plan[1]) if bulk == "first" else frozenset()
        use = fetch if keep else None
        wanted = keep.__contains__
    try:
        return dataset_from_json(whole, use, wanted, where=where)
    except NetworkError as exc:
        out.items.append(SkippedFile(name, exc.reason, kind="invalid"))
        return None
