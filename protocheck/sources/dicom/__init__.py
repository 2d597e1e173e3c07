"""DICOM source: walk a tree, read headers, group files into series and exams."""
from __future__ import annotations

import os

from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions


def scan_dicom(root: str | os.PathLike[str], options: ScanOptions | None = None) -> ScanResult:
    """Scan a DICOM tree (or a single file): every file whatever its name; returns exams and skipped files."""
    if options is None or not options.full_read:   # fast path: workers, incremental index (parallel.py)
        from protocheck.sources.dicom.parallel import scan_tree
        return scan_tree(root, options)
    from protocheck.sources.discovery import FoundFile, walk
    from protocheck.sources.dicom.collector import DicomCollector   # imports pydicom (not needed on a re-audit)

    collector = DicomCollector(root, options)
    for item in walk(root):
        if isinstance(item, FoundFile):
            collector.add_path(item.path, item.rel)
        else:
            collector.skipped.append(item)
    return collector.finish()
