"""DICOMweb input: QIDO-RS lists studies and series, WADO-RS *metadata* (one request per series, a few series
at once: ``--concurrency``) gives the headers, which go through the same DICOM collector as files (series reading:
``dicomweb_series``). Pixels are never requested; a bulk data value is fetched only for private elements of the
first instance of a series (e.g. Siemens CSA headers). With a cache folder, a study whose QIDO-RS answer (date,
time, series and instance counts) is unchanged is taken from the index (``storage/web_index``): a re-audit with
nothing new sends QIDO-RS queries only."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Iterator

from protocheck.errors import InputError, NetworkError
from protocheck.logs import logger
from protocheck.model import ScanResult, SkippedFile
from protocheck.sources.dicom_json import tag_value
from protocheck.sources.dicomweb_series import SeriesRead, paged, read_series
from protocheck.sources.net.http import HttpClient, load_credentials, safe_url
from protocheck.sources.options import ScanOptions

log = logger("protocheck.dicomweb")

STUDY_UID, SERIES_UID, MODALITY = 0x0020000D, 0x0020000E, 0x00080060
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


STUDY_FIELDS = ["0020000D", "00080020", "00080030", "00201206", "00201208"]   # UID, date, time, series, instances
SERIES_FIELDS = ["0020000E", "00080060", "00201209"]   # UID, modality, instances


def _study_rows(client: HttpClient, study: str | None, since: str | None) -> list[tuple[str, bytes | None]]:
    """(StudyInstanceUID, what QIDO-RS says of it: date, time, series and instance counts, or None when the
    server gives no counts) of the studies to read, in the server's order."""
    params: dict[str, Any] = {"includefield": STUDY_FIELDS}
    if study:
        params["StudyInstanceUID"] = _check_uid(study, "--study")
    elif since:
        params["StudyDate"] = f"{since}-"
    rows: dict[str, bytes | None] = {}
    try:
        for obj in paged(client, "/studies", params):
            uid = tag_value(obj, STUDY_UID)
            if isinstance(uid, str) and uid not in rows and (not study or uid == study):
                rows[uid] = _seen([tag_value(obj, int(t, 16)) for t in STUDY_FIELDS[1:]], counts=(2, 3))
    except NetworkError:
        if not study:
            raise
        rows.clear()   # one study asked for: its series query says what is wrong (or reads it without the index)
    if study and study not in rows:
        rows[study] = None   # not listed (or a server without study QIDO): read it, the server says what is wrong
    return list(rows.items())


def _studies(client: HttpClient, study: str | None, since: str | None) -> list[str]:
    """The StudyInstanceUIDs to read (one, or every study since a date)."""
    return [uid for uid, _ in _study_rows(client, study, since)]


def _seen(values: list[Any], counts: tuple[int, ...]) -> bytes | None:
    """QIDO-RS values as the index keeps them; None unless every count is a number (nothing to compare)."""
    for i in counts:
        try:
            values[i] = int(values[i])
        except (TypeError, ValueError, OverflowError):
            return None
    return json.dumps([v if isinstance(v, (str, int, float)) else None for v in values]).encode()


def _series_rows(client: HttpClient, study: str) -> tuple[list[tuple[str, Any]], bytes | None]:
    """([(SeriesInstanceUID, Modality)], the series list with instance counts as the index keeps it)."""
    rows: list[tuple[str, Any]] = []
    seen: list[Any] = []
    for obj in paged(client, f"/studies/{study}/series", {"includefield": SERIES_FIELDS}):
        uid = tag_value(obj, SERIES_UID)
        if isinstance(uid, str):
            rows.append((uid, tag_value(obj, MODALITY)))
            seen.append(_seen([uid, tag_value(obj, MODALITY), tag_value(obj, 0x00201209)], counts=(2,)))
    listed = None if any(v is None for v in seen) else b"\n".join(sorted(v for v in seen if v is not None))
    return rows, listed


class _Pipeline:
    """Series metadata fetched and converted by up to ``concurrency`` threads, folded here in series order."""

    def __init__(self, client: HttpClient, bulk: str, concurrency: int) -> None:
        self.client, self.bulk = client, bulk
        self.pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="protocheck-dicomweb")
        self.window = max(1, concurrency) + 1
        self.pending: deque[tuple[Future, Any]] = deque()

    def submit(self, study: str, series: str, tag: Any) -> Iterator[tuple[SeriesRead, Any]]:
        """Queue one series; yields the series that are done in order while too many are pending."""
        self.pending.append((self.pool.submit(read_series, self.client, study, series, self.bulk), tag))
        while len(self.pending) > self.window:
            yield self._next()

    def drain(self) -> Iterator[tuple[SeriesRead, Any]]:
        """Every series still pending, in order."""
        while self.pending:
            yield self._next()

    def _next(self) -> tuple[SeriesRead, Any]:
        future, tag = self.pending.popleft()
        return future.result(), tag

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Study:
    """One study being read: its own collector, so its result can be kept in the index on its own."""

    def __init__(self, uid: str, seen: bytes | None, root: str, options: ScanOptions) -> None:
        from protocheck.sources.dicom.collector import DicomCollector
        self.uid, self.seen = uid, seen
        self.collector = DicomCollector(root, options)
        self.extra: list[SkippedFile] = []
        self.left = 0          # series queued and not folded yet
        self.listed = False    # every series of the study queued

    def fold(self, read: SeriesRead) -> None:
        """Add one series' items to this study's collector, in instance order."""
        for item in read.items:
            if isinstance(item, SkippedFile):   # an instance whose JSON cannot be read as a dataset
                self.extra.append(item)
            elif isinstance(item, tuple):
                self.collector.add_dataset(item[1], item[0])
            else:
                self.collector.add_record(item)
        self.extra.extend(read.notes)

    def finish(self, url: str) -> ScanResult:
        """This study's result, marked as read over DICOMweb."""
        result = self.collector.finish()
        for exam in result.exams:
            exam.source_kind = "dicomweb"
            for acq in exam.acquisitions:
                acq.source_kind = "dicomweb"
        result.roots = [safe_url(url)]
        result.skipped.extend(self.extra)
        return result


DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64


def scan_dicomweb(url: str, options: ScanOptions, study: str | None = None, since: str | None = None, *,
                  auth_file: str | os.PathLike | None = None, ca_bundle: str | os.PathLike | None = None,
                  insecure: bool = False, timeout: float = 30.0, retries: int = 3,
                  bulk: str = "first", concurrency: int | None = None) -> ScanResult:
    """Scan the studies of a DICOMweb server (one study, or all since a date) into a ScanResult.

    With a cache folder (``options.cache_dir``), a study whose QIDO-RS answer is unchanged since it was read
    is taken from the index without any WADO-RS request; ``concurrency`` series are fetched at once."""
    if bulk not in ("first", "all", "none"):
        raise InputError(f"bulk={bulk!r}", fix="use 'first', 'all' or 'none'")
    if concurrency is None:
        concurrency = options.network.concurrency if options.network is not None else DEFAULT_CONCURRENCY
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InputError(f"--concurrency {concurrency!r} is out of range", where="--concurrency",
                         fix=f"give a number of parallel series requests from 1 to {MAX_CONCURRENCY} "
                             f"(default {DEFAULT_CONCURRENCY})")
    client = HttpClient(url, credentials=load_credentials(auth_file), ca_bundle=ca_bundle,
                        insecure=insecure, timeout=timeout, retries=retries, pool=concurrency)
    since = normalize_since(since)
    from protocheck.storage.web_index import open_web_index
    index = open_web_index(options.cache_dir, client.shown, options, bulk)
    try:
        result = _Scan(client, url, options, bulk, concurrency, index).run(study, since)
    finally:
        if index is not None:
            index.close()
    log.info("DICOMweb %s: %d HTTP requests", client.shown, client.requests_made)
    return result


class _Scan:
    """One scan: studies listed, unchanged ones taken from the index, the others read through the pipeline."""

    def __init__(self, client: HttpClient, url: str, options: ScanOptions, bulk: str, concurrency: int,
                 index: Any) -> None:
        self.client, self.url, self.options, self.index = client, url, options, index
        self.pipeline = _Pipeline(client, bulk, concurrency)
        self.results: dict[str, ScanResult] = {}
        self.seen: dict[str, bytes | None] = {}
        self.n_series = self.n_instances = 0

    def run(self, study: str | None, since: str | None) -> ScanResult:
        """Scan the studies asked for; the parts in the server's study order, exams sorted as a collector does."""
        rows = _study_rows(self.client, study, since)
        try:
            todo = [(uid, seen) for uid, seen in rows
                    if not self._cached(uid, b"study:" + seen if seen is not None else None)]
            # every series list asked for at once, before any metadata: a server that answers one request at a
            # time (Orthanc) would otherwise keep each listing waiting behind the series being read
            listings = [self.pipeline.pool.submit(_series_rows, self.client, uid) for uid, _ in todo]
            for (uid, seen), listing in zip(todo, listings):
                self._study(uid, seen, *listing.result())
            for read, st in self.pipeline.drain():
                self._fold(read, st)
        finally:
            self.pipeline.close()
        out = ScanResult(roots=[safe_url(self.url)])
        for uid, _ in rows:
            part = self.results[uid]
            out.exams.extend(part.exams)
            out.skipped.extend(part.skipped)
            out.n_files_seen += part.n_files_seen
        out.exams.sort(key=lambda e: (e.folder, e.key))
        if self.index is not None and all(v is not None for v in self.seen.values()):
            out.digest = self.index.digest(self.seen)
        return out

    def _cached(self, uid: str, seen: bytes | None) -> bool:
        self.seen[uid] = seen
        if seen is None or self.index is None:
            return False
        part = self.index.load(uid, seen)
        if part is None:
            return False
        self.results[uid] = part
        return True

    def _study(self, uid: str, seen: bytes | None, series: list[tuple[str, Any]], listed: bytes | None) -> None:
        if seen is None and self._cached(uid, b"series:" + listed if listed is not None else None):
            return
        st = _Study(uid, self.seen[uid], self.client.shown, self.options)
        for x_uid, modality in series:
            if modality not in IMAGE_MODALITIES:
                st.extra.append(SkippedFile(f"{uid}/{x_uid}", f"series of modality {modality}, "
                                            "not MR: not read", kind="ignored"))
                continue
            st.left += 1
            for read, done in self.pipeline.submit(uid, x_uid, st):
                self._fold(read, done)
        st.listed = True
        if st.left == 0:
            self._finish(st)

    def _fold(self, read: SeriesRead, st: _Study) -> None:
        st.fold(read)
        st.left -= 1
        self.n_series += 1
        self.n_instances += read.n_instances
        if self.options.progress:
            self.options.progress(self.n_instances, self.n_series, f"{read.study}/{read.series}")
        if st.left == 0 and st.listed:
            self._finish(st)

    def _finish(self, st: _Study) -> None:
        result = st.finish(self.url)
        self.results[st.uid] = result
        if self.index is not None and st.seen is not None:
            self.index.store(st.uid, st.seen, result)
