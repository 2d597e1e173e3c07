"""Input dispatch: ``scan(paths, options)`` picks the source for each input (BIDS, archive, summary, URL, DICOM)."""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Iterable

from protocheck.errors import InputError
from protocheck.model import Exam, ScanResult
from protocheck.sources.options import ScanOptions

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def _is_url(path: str) -> bool:
    """A DICOMweb URL (http/https)."""
    return path.lower().startswith(("http://", "https://"))


def _is_archive(path: str) -> bool:
    """A .zip/.tar(.gz) export read in place."""
    return os.path.isfile(path) and path.lower().endswith(_ARCHIVE_SUFFIXES)


def _is_summary(path: str) -> bool:
    """A federated summary JSON file (the summary module validates it against its schema)."""
    return os.path.isfile(path) and path.lower().endswith(".json")


def _is_bids(path: str) -> bool:
    """A BIDS dataset: dataset_description.json, or sub-* folders."""
    if not os.path.isdir(path):
        return False
    if os.path.isfile(os.path.join(path, "dataset_description.json")):
        return True
    try:
        with os.scandir(path) as it:
            return any(e.name.startswith("sub-") and e.is_dir() for e in it)
    except OSError:
        return False


def _call(module: str, func: str, *args: object) -> ScanResult:
    """Call ``protocheck.sources.<module>.<func>``; InputError if that source is not available."""
    try:
        mod = importlib.import_module(f"protocheck.sources.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("protocheck"):
            raise InputError(f"this kind of input needs the '{module}' source, which is not available",
                             path=str(args[0]), fix="give a DICOM folder instead") from None
        raise
    return getattr(mod, func)(*args)


def scan_one(path: str | os.PathLike[str], options: ScanOptions) -> ScanResult:
    """Scan one input with the right source."""
    p = os.fspath(path)
    if _is_url(p):
        return _call("dicomweb", "scan_dicomweb", p, options)
    if not os.path.exists(p):
        raise InputError("input does not exist", path=p, fix="check the path")
    if _is_archive(p):
        return _call("archives", "scan_archive", Path(p), options)
    if _is_summary(p):
        from protocheck.sources.dicom_json import is_dicom_json_file
        if is_dicom_json_file(p):
            return _call("dicom_json", "scan_dicom_json_file", Path(p), options)
        return _call("summary", "load_summary", Path(p), options)
    if _is_bids(p):
        return _call("bids", "scan_bids", Path(p), options)
    from protocheck.sources.dicom import scan_dicom
    return scan_dicom(p, options)


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
    for p in items:
        one = scan_one(p, options)
        for exam in one.exams:
            exam.root = exam.root or os.fspath(p)
        result.merge(one)
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

