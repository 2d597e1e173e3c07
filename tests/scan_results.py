"""What a scan found, as plain sorted data: two scans (with and without index, one or two workers) compare equal
exactly when they found the same series, exams and skipped files."""
from __future__ import annotations

from typing import Any


def scan_summary(result: Any) -> tuple:
    """The acquisitions (key, folder, files, roles, parameters with their sources, notes), the exams, the skipped
    files and the number of files seen, sorted."""
    acqs = sorted((a.key, a.folder, a.n_files, sorted(a.roles), {k: (repr(v.value), v.source) for k, v in
                                                              a.params.items()},
                   sorted((n.code, n.message) for n in a.notes)) for a in result.acquisitions())
    exams = sorted((e.key, e.subject, str(e.date), e.folder, [a.key for a in e.acquisitions]) for e in result.exams)
    return acqs, exams, sorted((s.path, s.kind, s.reason) for s in result.skipped), result.n_files_seen
