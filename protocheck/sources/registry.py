"""The Source registry: each kind of input says whether it claims a path and how to scan it.

``protocheck.sources.scan`` asks the sources in order and the first that claims an input scans it; the DICOM
tree comes last and claims everything else. A new kind of input is one module with its scan function and one
line in SOURCES (docs/DESIGN.md, "Where to change what"). Sources are imported only when they scan.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from protocheck.model import ScanResult
from protocheck.sources.options import NetworkOptions, ScanOptions

_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


@dataclass(frozen=True)
class Source:
    """One kind of input: ``claims(path)``, ``scan(path, options)``; ``local`` inputs are files or folders."""

    name: str
    claims: Callable[[str], bool]
    scan: Callable[[str, ScanOptions], ScanResult]
    local: bool = True


def _is_url(path: str) -> bool:
    """A DICOMweb URL (http/https)."""
    return path.lower().startswith(("http://", "https://"))


def _is_archive(path: str) -> bool:
    """A .zip/.tar(.gz) export read in place."""
    return os.path.isfile(path) and path.lower().endswith(_ARCHIVE_SUFFIXES)


def _is_json(path: str) -> bool:
    return os.path.isfile(path) and path.lower().endswith(".json")


def _is_dicom_json(path: str) -> bool:
    """A DICOM JSON file (PS3.18 Annex F), told apart from a summary by its first bytes."""
    if not _is_json(path):
        return False
    from protocheck.sources.dicom_json import is_dicom_json_file
    return is_dicom_json_file(path)


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


def _scan_dicomweb(url: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.dicomweb import scan_dicomweb
    net = options.network or NetworkOptions()
    return scan_dicomweb(url, options, study=net.study, since=net.since, auth_file=net.auth_file,
                         ca_bundle=net.ca_bundle, insecure=net.insecure, timeout=net.timeout,
                         concurrency=net.concurrency)


def _scan_archive(path: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.archives import scan_archive
    return scan_archive(Path(path), options)


def _scan_dicom_json(path: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.dicom_json import scan_dicom_json_file
    return scan_dicom_json_file(Path(path), options)


def _scan_summary(path: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.summary import load_summary
    return load_summary(Path(path), options)


def _scan_bids(path: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.bids import scan_bids
    return scan_bids(Path(path), options)


def _scan_dicom(path: str, options: ScanOptions) -> ScanResult:
    from protocheck.sources.dicom import scan_dicom
    return scan_dicom(path, options)


SOURCES: tuple[Source, ...] = (   # asked in order: the first that claims an input scans it
    Source("dicomweb", _is_url, _scan_dicomweb, local=False),
    Source("archive", _is_archive, _scan_archive),
    Source("dicom-json", _is_dicom_json, _scan_dicom_json),
    Source("summary", _is_json, _scan_summary),
    Source("bids", _is_bids, _scan_bids),
    Source("dicom", lambda path: True, _scan_dicom),
)


def source_for(path: str | os.PathLike[str]) -> Source:
    """The source that claims this input (the DICOM tree claims whatever no other source does)."""
    p = os.fspath(path)
    return next(s for s in SOURCES if s.claims(p))
