"""DICOMweb input: QIDO-RS lists studies and series, WADO-RS *metadata* (one request per series) gives
the headers, which go through the same DICOM collector as files. Pixels are never requested; a bulk data
value is fetched only for private elements of the first instance of a series (e.g. Siemens CSA headers)."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import re
from typing import Any, Iterator

from protocheck.errors import InputError, NetworkError
from protocheck.model import ScanResult, SkippedFile
from protocheck.sources.dicom_json import dataset_from_json, has_bulk, prune_instance, tag_value
from protocheck.sources.net.http import ForeignURL, HttpClient, load_credentials, safe_url
from protocheck.sources.options import ScanOptions

log = logging.getLogger("protocheck.dicomweb")

STUDY_UID, SERIES_UID, SOP_UID = 0x0020000D, 0x0020000E, 0x00080018
MODALITY, INSTANCE_NUMBER = 0x00080060, 0x00200013
MANUFACTURER, SOP_CLASS = 0x00080070, 0x00080016
CSA_IMAGE = "00291010"
PAGE = 500
MAX_PAGES = 10_000
IMAGE_MODALITIES = {"MR", "", None}
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def is_dicomweb_url(text: str) -> bool:
    """True when an input names a DICOMweb server rather than a path."""
    return str(text).lower().startswith(("http://", "https://"))


def normalize_since(since: str | None) -> str | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` -> ``YYYYMMDD`` (DICOM DA), checked."""
    if since is None or since == "":
        return None
    text = str(since).strip().replace("-", "")
    try:
        _dt.datetime.strptime(text, "%Y%m%d")
    except ValueError:
        raise InputError(f"--since {since!r} is not a date", where="--since",
                         fix="give a date as YYYY-MM-DD, e.g. --since 2024-01-31") from None
    return text


def _check_uid(uid: str, what: str) -> str:
    if not isinstance(uid, str) or not _UID.match(uid) or len(uid) > 64:
        raise InputError(f"{what} {str(uid)[:80]!r} is not a DICOM UID", where=what,
                         fix="give the StudyInstanceUID as dotted digits, e.g. 1.2.840.113619.2.1")
    return uid


def _paged(client: HttpClient, path: str, params: dict[str, Any]) -> Iterator[dict]:
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


def _studies(client: HttpClient, study: str | None, since: str | None) -> list[str]:
    if study:
        return [_check_uid(study, "--study")]
    params: dict[str, Any] = {"includefield": "0020000D"}
    if since:
        params["StudyDate"] = f"{since}-"
    uids = []
    for obj in _paged(client, "/studies", params):
        uid = tag_value(obj, STUDY_UID)
        if isinstance(uid, str) and uid not in uids:
            uids.append(uid)
    return uids


def _instance_key(obj: dict) -> tuple:
    num = tag_value(obj, INSTANCE_NUMBER)
    try:
        num = int(num)
    except (TypeError, ValueError):
        num = 1 << 30
    return (num, str(tag_value(obj, SOP_UID) or ""))


def _per_file_plan(first: dict) -> tuple[int | None, frozenset[str]]:
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


def _add_series(client: HttpClient, collector: Any, result: ScanResult, study: str, series: str,
                bulk: str) -> int:
    """Fetch one series' metadata (one request) and feed its instances to the collector."""
    path = f"/studies/{study}/series/{series}/metadata"
    where = client.shown + path
    instances = client.get_json(path)
    if not isinstance(instances, list):
        raise NetworkError("WADO-RS metadata answer is not a JSON array", path=where,
                           fix="check the server's WADO-RS support")
    instances = sorted((o for o in instances if isinstance(o, dict)), key=_instance_key)
    plan: tuple[int | None, frozenset[str]] = (None, frozenset())
    foreign: list[str] = []

    def same_host_bulk(uri: str) -> bytes | None:
        try:
            return client.get_bulk(uri)
        except ForeignURL as exc:
            foreign.append(exc.reason)
            return None

    for i, obj in enumerate(instances):
        sop = tag_value(obj, SOP_UID) or f"instance{i + 1}"
        name = f"{study}/{series}/{sop}"
        fetch = same_host_bulk if bulk == "all" or (bulk == "first" and i == 0) else None
        if i == 0:
            plan = _per_file_plan(obj)
        elif bulk != "all":
            obj = prune_instance(obj, plan[0], plan[1] if bulk == "first" else frozenset())
            fetch = same_host_bulk if plan[1] and bulk == "first" else None
        try:
            ds = dataset_from_json(obj, fetch, where=where)
        except NetworkError as exc:
            result.skipped.append(SkippedFile(name, exc.reason, kind="invalid"))
            continue
        collector.add_dataset(ds, name)
    if foreign:
        result.skipped.append(SkippedFile(f"{study}/{series}", f"{len(foreign)} bulk data value(s) not "
                                          f"fetched: {foreign[0]}", kind="ignored"))
    return len(instances)


def scan_dicomweb(url: str, options: ScanOptions, study: str | None = None, since: str | None = None, *,
                  auth_file: str | os.PathLike | None = None, ca_bundle: str | os.PathLike | None = None,
                  insecure: bool = False, timeout: float = 30.0, retries: int = 3,
                  bulk: str = "first") -> ScanResult:
    """Scan the studies of a DICOMweb server (one study, or all since a date) into a ScanResult."""
    from protocheck.sources.dicom.collector import DicomCollector

    if bulk not in ("first", "all", "none"):
        raise InputError(f"bulk={bulk!r}", fix="use 'first', 'all' or 'none'")
    client = HttpClient(url, credentials=load_credentials(auth_file), ca_bundle=ca_bundle,
                        insecure=insecure, timeout=timeout, retries=retries)
    since = normalize_since(since)
    collector = DicomCollector(client.shown, options)
    extra = ScanResult()
    n_series = n_instances = 0
    for s_uid in _studies(client, study, since):
        for obj in _paged(client, f"/studies/{s_uid}/series", {}):
            x_uid = tag_value(obj, SERIES_UID)
            if not isinstance(x_uid, str):
                continue
            modality = tag_value(obj, MODALITY)
            if modality not in IMAGE_MODALITIES:
                extra.skipped.append(SkippedFile(f"{s_uid}/{x_uid}", f"series of modality {modality}, "
                                                 "not MR: not read", kind="ignored"))
                continue
            n_instances += _add_series(client, collector, extra, s_uid, x_uid, bulk)
            n_series += 1
            if options.progress:
                options.progress(n_instances, n_series, f"{s_uid}/{x_uid}")
    result = collector.finish()
    for exam in result.exams:
        exam.source_kind = "dicomweb"
        for acq in exam.acquisitions:
            acq.source_kind = "dicomweb"
    result.roots = [safe_url(url)]
    result.skipped.extend(extra.skipped)
    log.info("DICOMweb %s: %d series, %d instances, %d HTTP requests", client.shown, n_series,
             n_instances, client.requests_made)
    return result
