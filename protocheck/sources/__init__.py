"""Input dispatch: ``scan(paths, options)`` scans each input with the source that claims it (registry.py)."""
from __future__ import annotations

import os
from typing import Iterable

from protocheck.errors import InputError, NoExamError
from protocheck.model import Exam, ScanResult, SkippedFile
from protocheck.sources.options import ScanOptions
from protocheck.sources.registry import SOURCES, source_for


def scan_one(path: str | os.PathLike[str], options: ScanOptions) -> ScanResult:
    """Scan one input with the source that claims it (``registry.SOURCES``)."""
    p = os.fspath(path)
    if not _is_remote(p) and not os.path.exists(p):
        raise InputError("input does not exist", path=p, fix="check the path")
    return source_for(p).scan(p, options)


def _is_remote(path: str) -> bool:
    """An input that is not a file or folder (a URL): claimed by a non-local source."""
    return any(not s.local and s.claims(path) for s in SOURCES)


def scan(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
         options: ScanOptions | None = None) -> ScanResult:
    """Scan every input and merge the results into one ScanResult."""
    options = options or ScanOptions()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    result = ScanResult()
    items = list(paths)
    if not items:
        raise InputError("no input given", fix="give at least one DICOM folder, BIDS dataset or archive")
    empty: list[NoExamError] = []
    for p in items:
        try:
            one = scan_one(p, options)
        except NoExamError as exc:   # alone: fatal; beside other inputs: listed as not used, the others are read
            if len(items) == 1:
                raise
            empty.append(exc)
            result.skipped.append(SkippedFile(os.fspath(p), f"not used: {exc}", "not-mr"))
            continue
        if not _is_remote(os.fspath(p)):   # a URL's exams keep the root their source gave (never the raw URL)
            for exam in one.exams:
                exam.root = exam.root or os.fspath(p)
        result.merge(one)
    if empty and len(empty) == len(items):
        raise empty[0]
    if len(items) > 1:
        _merge_same_exams(result)
    return result


def _merge_same_exams(result: ScanResult) -> None:
    """Series of one study given as several inputs (e.g. one folder per series) form one exam; a BIDS
    subject/session (or a summary's exam) is one only within its own input: two sites' ``sub-01`` are two."""
    seen: dict[tuple[str, str, str], Exam] = {}
    merged = []
    for exam in result.exams:
        key = (exam.source_kind, exam.scope(), exam.key)
        first = seen.get(key)
        if first is None:
            seen[key] = exam
            merged.append(exam)
            continue
        first.acquisitions.extend(exam.acquisitions)
        if first.folder != exam.folder:
            first.folder = ""
    result.exams = merged

