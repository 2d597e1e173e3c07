"""The worker side of an archive scan: what one process does with a batch of files.

A worker reads each file with the hand-rolled scanners (``reader.fast_read``) and, for the first file of a
series it has not seen, the whole header, turned into a series "seed" by the collector's own code. Workers are
forked after the reading modules are imported, so none imports them again.
"""
from __future__ import annotations

import dataclasses
import gc
import os
from typing import Any

from protocheck.model import SkippedFile
from protocheck.sources.options import ScanOptions

AUTO_MIN_FILES = 2000         # "auto" workers: 2 processes from this many files on
Payload = tuple   # (reader.FileRecord, series seed or None); reader (pydicom) is imported only when reading

_seen: set[str] = set()       # per process: series whose seed this reader already produced
_options = ScanOptions()


def resolve_workers(options: ScanOptions, n_files: int | None = None) -> int:
    """Worker processes to use: ``options.workers`` (>= 1), or for 0 ("auto") 2 on large trees, else 1."""
    if options.workers and options.workers > 0:
        return options.workers
    cpus = os.cpu_count() or 1
    return min(2, cpus) if (n_files is None or n_files >= AUTO_MIN_FILES) else 1


def make_seed(rec: Any, ds: Any, options: ScanOptions) -> Any:
    """The per-series extraction of a full header: (fresh series aggregate, study) from the collector's code."""
    from protocheck.sources.dicom.collector import series_seed
    from protocheck.sources.dicom.lazyseq import lazy_groups

    lazy_groups(ds)   # an enhanced header's functional groups: only the macros read are decoded
    return series_seed(rec, ds, options)


def read_file(rel: str, path: str, options: ScanOptions, seen: set[str]) -> Payload:
    """Per-file record of one file, plus the series seed if ``seen`` does not hold its series yet.

    The hand-rolled scanners give the record (fastscan: classic files; framescan: enhanced objects, whose
    scanned header also describes the series); a classic file of a new series, or a file the scanners leave
    to pydicom (implicit VR, spectroscopy, odd), is read in full once and gives both record and seed. The
    record's ``stamp`` covers every byte the record and the seed were made of (None when pydicom read them).
    """
    from protocheck.privacy import damaged_identity
    from protocheck.sources.dicom import reader, vendors

    got = reader.fast_read(rel, path, vendors.READ_PLAN)   # up to the last per-file group of any vendor
    rec, ds = got if got is not None else (None, None)
    if rec is not None and (rec.skip is not None or rec.series_uid in seen):
        return rec, None
    if ds is None and rec is not None:   # a classic file of a new series: its whole header, walked by hand
        from protocheck.sources.dicom import framescan
        stamps: list = []   # the stamp of both reads
        ds = framescan.scan_header(path, vendors.READ_PLAN, stamps, rec.stamp)
        rec.stamp = stamps[0] if stamps else None
    if ds is None:
        if rec is not None:
            rec.stamp = None   # the header pydicom reads is not stamped
        try:
            ds = reader.read_header(path, True)
        except reader.ReadSkip as exc:
            return reader.FileRecord(name=rel, skip=SkippedFile(rel, exc.reason, exc.kind)), None
    if rec is None:
        rec = reader.read_record(rel, ds, full=True)
        if rec.skip is None and not rec.series_uid:
            why = reader.damage_reason(path)
            if why:
                rec.skip = SkippedFile(rel, why, "invalid")
    if rec.skip is not None or not rec.series_uid or rec.series_uid in seen:
        return rec, None
    why = damaged_identity(ds)
    if why:
        return reader.FileRecord(name=rel, skip=SkippedFile(rel, why, "invalid")), None
    seen.add(rec.series_uid)
    return rec, make_seed(rec, ds, options)


def add_payload(collector: Any, payload: Payload, where: tuple[str, str, str]) -> None:
    """Fold one (record, seed) into the collector; a new series without a seed is read in full here.

    ``where`` is (root, folder, name) of the file, joined only when it must be read.
    """
    rec, seed = payload
    if rec.skip is None and rec.series_uid and rec.series_uid not in collector.series:
        if seed is not None:
            from protocheck.storage.index import seed_of
            collector.adopt(rec, *seed_of(seed))
            return
        collector.add_record(rec, full_source=os.path.join(*where))
        return
    collector.add_record(rec)


def init_worker(options: ScanOptions) -> None:
    """A forked worker's start: the options to read with, no series seen yet."""
    global _options
    _options = options
    _seen.clear()
    gc.freeze()   # the objects inherited from the parent: never collected here (no pass over them, no page copied)


class Everything:
    """A "seen" set that holds every series: the batch gives records only, never seeds."""

    def __contains__(self, item: object) -> bool:
        return True


def read_batch(batch: list[tuple[str, str]], seeds: bool = True) -> list[Payload]:
    """The payloads of a batch; with ``seeds`` False no seed is made (a later batch of a folder whose first
    batch, read by either worker, seeds its series: two workers would otherwise both seed it)."""
    seen = _seen if seeds else Everything()
    return [read_file(rel, path, _options, seen) for rel, path in batch]  # type: ignore[arg-type]


def read_marked(items: list[tuple[str, str, bool]]) -> list[Payload]:
    """The payloads of files of several folders (a re-check's shared task), each with a seed only where marked."""
    every = Everything()
    return [read_file(rel, path, _options, _seen if seed else every)  # type: ignore[arg-type]
            for rel, path, seed in items]


class Pools:
    """The worker processes, started on first use (None with one worker).

    A ProcessPoolExecutor, not multiprocessing.Pool: Pool's worker-handler thread also waits on the result
    pipe and spins while a result is unread (about 25,000 wake-ups and 0.5 s of CPU per 20,000 files).
    """

    def __init__(self, workers: int, options: ScanOptions) -> None:
        self.workers, self.options = workers, options
        self.pool: Any = None

    def get(self) -> Any:
        """The executor (started now if needed), or None for a serial scan."""
        if self.pool is None and self.workers > 1:
            import multiprocessing   # here: a re-audit answered from the index starts no process
            from concurrent.futures import ProcessPoolExecutor

            _import_readers()   # imported once here, inherited by every forked worker (not once per worker)
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                            initargs=(dataclasses.replace(self.options, progress=None),))
        return self.pool

    def close(self) -> None:
        """Stop the workers now (also on an error or an interrupt: nothing queued is read any more)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values() or [])
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(5)


def _import_readers() -> None:
    """Import every module a worker reads files with: the reader imports the scanners and the vendor registry
    (every registered vendor module), the collector the series extraction."""
    from protocheck.sources.dicom import collector, lazyseq, reader  # noqa: F401
