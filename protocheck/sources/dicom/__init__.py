"""DICOM source: walk a tree, read headers, group files into series and exams."""
from __future__ import annotations

import os

from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions


def scan_dicom(root: str | os.PathLike[str], options: ScanOptions | None = None) -> ScanResult:
    """Scan a DICOM tree (or a single file): every file whatever its name; returns exams and skipped files."""
    if options is None or not options.full_read:   # fast path: workers, incremental index (parallel.py)
        from protocheck.sources.dicom.parallel import scan_tree
        try:
            return scan_tree(root, options)
        except Exception as exc:
            if not _damaged_index(exc, root, options):
                raise
        return scan_tree(root, options)   # a new index: every file read again
    from protocheck.sources.discovery import FoundFile, walk
    from protocheck.sources.dicom.collector import DicomCollector   # imports pydicom (not needed on a re-audit)

    collector = DicomCollector(root, options)
    for item in walk(root):
        if isinstance(item, FoundFile):
            collector.add_path(item.path, item.rel)
        else:
            collector.skipped.append(item)
    return collector.finish()


def _damaged_index(exc: Exception, root: str | os.PathLike[str], options: ScanOptions | None) -> bool:
    """Whether ``exc`` says the incremental index file is damaged (SQLite's own DatabaseError: malformed, not a
    database; not locked, read-only or full, its subclasses); if so the file is removed, with a warning."""
    from protocheck.storage import cachedb

    if not cachedb.damaged(exc) or options is None or options.cache_dir is None:
        return False
    from protocheck.storage.index import index_path
    from protocheck.storage.location import check_cache_location

    cachedb.discard(index_path(check_cache_location(options.cache_dir, root), options), exc)
    return True
