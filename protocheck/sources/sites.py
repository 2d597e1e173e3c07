"""Assign a site to every exam (DICOM or BIDS), so reports can group by site.

Sources, first that answers wins: a site map file (``--site-map``: "pattern<TAB>site" lines applied to the
exam's folder), a participants.tsv column (``--site-column``, or a known one: site, institution_id,
institution, center), a header/sidecar field (``--site-from``: InstitutionName, StationName,
DeviceSerialNumber, ...), or a pattern of the session label (``--site-from session:REGEX``: multi-scanner
studies name sessions after scanners; the first group, else the whole match). An exam no source names gets
site "unknown" and a note saying how to give one.
"""
from __future__ import annotations

import fnmatch
import re
from collections import Counter
from pathlib import Path

from protocheck.errors import InputError
from protocheck.model import Exam, ScanResult
from protocheck.privacy import exam_label
from protocheck.sources.options import ScanOptions

KNOWN_COLUMNS = ("site", "institution_id", "institution", "center", "centre")
UNKNOWN = "unknown"
HOW = ("give --site-map FILE ('pattern<TAB>site' lines), --site-column COLUMN (participants.tsv), "
       "--site-from FIELD (InstitutionName, StationName, DeviceSerialNumber) or --site-from session:REGEX")


def read_site_map(path: Path) -> list[tuple[str, re.Pattern[str] | None, str]]:
    """Parse "pattern<TAB>site" lines (# comments allowed); a pattern is a glob, or a regex if "re:"."""
    try:
        lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"site map cannot be read ({exc})", path=str(path),
                         fix="give a readable text file of 'pattern<TAB>site' lines") from None
    rules: list[tuple[str, re.Pattern[str] | None, str]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            raise InputError("expected 'pattern<TAB>site'", path=str(path), where=f"line {n}",
                             fix="separate the folder pattern and the site name by one tab")
        pat, site = parts[0].strip(), parts[1].strip()
        rx = None
        if pat.startswith("re:"):
            try:
                rx = re.compile(pat[3:])
            except re.error as exc:
                raise InputError(f"invalid regular expression ({exc})", path=str(path), where=f"line {n}",
                                 fix="correct the pattern after 're:'") from None
        rules.append((pat, rx, site))
    return rules


def _from_map(exam: Exam, rules: list[tuple[str, re.Pattern[str] | None, str]]) -> str | None:
    folder = exam.folder or exam.key
    for pat, rx, site in rules:
        if rx is not None:
            if rx.search(folder):
                return site
        elif fnmatch.fnmatch(folder, pat) or fnmatch.fnmatch(folder, pat.rstrip("/") + "/*"):
            return site
    return None


def _text(value: object) -> str:
    """A site value as text; a number that is whole (a serial read as 40146.0) prints as an integer."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0+", text):
        return text.split(".")[0]
    return text


def _from_field(exam: Exam, name: str) -> str | None:
    values = Counter(_text(a.get(name)) for a in exam.acquisitions
                     if a.get(name) is not None and _text(a.get(name)))
    return values.most_common(1)[0][0] if values else None


def _session_pattern(site_from: str | None) -> re.Pattern[str] | None:
    """The regex of ``--site-from session:REGEX``; InputError when it does not compile."""
    if not site_from or not site_from.startswith("session:"):
        return None
    try:
        return re.compile(site_from[len("session:"):])
    except re.error as exc:
        raise InputError(f"--site-from {site_from}: invalid regular expression ({exc})",
                         fix="give a Python regex after 'session:', e.g. session:^(\\w+?)\\d*$") from None


def _from_session(exam: Exam, rx: re.Pattern[str]) -> str | None:
    m = rx.search(exam.session or "")
    if not m:
        return None
    return next((g for g in m.groups() if g), None) or m.group(0) or None


def _check_column(column: str | None, tables: dict[Path, list[str]]) -> None:
    """--site-column must name a participants.tsv column: InputError listing the columns there are."""
    if not column:
        return
    if not tables:
        raise InputError(f"--site-column {column}: there is no participants.tsv in the input",
                         fix="give a BIDS dataset with participants.tsv, or use --site-map / --site-from")
    if any(column in columns for columns in tables.values()):
        return
    known = list(dict.fromkeys(c for cols in tables.values() for c in cols))   # in file order
    raise InputError(f"--site-column {column} is not a column of participants.tsv (columns: {', '.join(known)})",
                     path=str(next(iter(tables))), fix="use one of these column names")


def _participants(path: Path) -> dict[str, dict[str, str]]:
    """``bids.read_tsv`` of a participants.tsv (the BIDS reader imported only when there is one)."""
    if not path.exists():
        return {}
    from protocheck.sources.bids import read_tsv
    return read_tsv(path, "participant_id")


def _columns(path: Path) -> list[str]:
    """The header of a .tsv file (its column names), [] when unreadable."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            return [c.strip() for c in fh.readline().rstrip("\r\n").split("\t") if c.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def _participant_row(exam: Exam, table: dict[str, dict[str, str]]) -> dict[str, str]:
    label = exam.subject or ""
    return table.get(label if label.startswith("sub-") else f"sub-{label}", {}) or table.get(label, {})


class _Tables:
    """The participants table of an exam's own input root (each root's table is read for that root); roots
    compared as paths, each exam root looked up once (an archive's exams share a few roots)."""

    def __init__(self, tables: dict[str, dict[str, dict[str, str]]]) -> None:
        self.tables = tables
        self.by_path: dict[Path, dict[str, dict[str, str]]] = {}
        for root, table in tables.items():
            self.by_path.setdefault(Path(root), table)
        self.seen: dict[str, dict[str, dict[str, str]]] = {}

    def of(self, exam: Exam) -> dict[str, dict[str, str]]:
        if not exam.root:
            return next(iter(self.tables.values())) if len(self.tables) == 1 else {}
        table = self.seen.get(exam.root)
        if table is None:
            table = self.seen[exam.root] = self.by_path.get(Path(exam.root), {})
        return table


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return None if v.lower() in ("", "n/a", "na", "nan", "none") else v


def assign_sites(scan: ScanResult, root: Path | None, options: ScanOptions) -> dict[str, int]:
    """Set ``Exam.site`` on every exam; returns the number of exams per site (incl. "unknown")."""
    rules = read_site_map(options.site_map) if options.site_map else []
    roots = [Path(root)] if root is not None else [Path(r) for r in scan.roots]
    tables = {str(r): _participants(r / "participants.tsv") for r in roots if r.is_dir()}
    _check_column(options.site_column, {r / "participants.tsv": _columns(r / "participants.tsv") for r in roots
                                        if r.is_dir() and (r / "participants.tsv").is_file()})
    session_rx = _session_pattern(options.site_from)
    columns = ([options.site_column] if options.site_column else []) + list(KNOWN_COLUMNS)
    counts: Counter[str] = Counter()
    by_root = _Tables(tables)
    for exam in scan.exams:
        site, why = None, ""
        table = by_root.of(exam)
        if rules:
            site = _from_map(exam, rules)
            why = f"no line of the site map {Path(options.site_map or '').name} matches folder {exam.folder!r}"
        if site is None and table:
            row = _participant_row(exam, table)
            for col in columns:
                site = _clean(_text(row[col]) if row.get(col) is not None else None)
                if site:
                    break
            if not site:
                why = (why + "; " if why else "") + "participants.tsv has no site for this subject"
        if site is None and session_rx is not None:
            site = _clean(_from_session(exam, session_rx))
            if not site:
                why = (why + "; " if why else "") + (f"session label {exam.session!r} does not match "
                                                     f"{session_rx.pattern}")
        elif site is None and options.site_from:
            site = _clean(_from_field(exam, options.site_from))
            if not site:
                why = (why + "; " if why else "") + f"no series has {options.site_from}"
        if not site and exam.site and exam.site != UNKNOWN:   # already named (e.g. by a site's summary)
            site = exam.site
        if not site:
            site = UNKNOWN
            reason = why or f"no site source: {HOW}"
            if exam.acquisitions:
                exam.acquisitions[0].note("site-unknown", f"site unknown for {exam_label(exam)}: {reason}",
                                          "warning")
        exam.site = site
        counts[site] += 1
    check_site_claims(scan)
    return dict(counts)


def unknown_site_hint(scan: ScanResult) -> str | None:
    """For the audit: how many exams have no site, and how to give a site source (None when all have one)."""
    n = sum(1 for e in scan.exams if (e.site or UNKNOWN) == UNKNOWN)
    if not n:
        return None
    return f"{n} of {len(scan.exams)} exam(s) have no site (grouped as 'unknown'): {HOW}"


def check_site_claims(scan: ScanResult) -> list[str]:
    """Warn when two summaries claim one site name, or a summary's file name names another audited site
    (a summary may claim another site's name); returns the warnings, also noted on the exams."""
    claims: dict[str, list[Exam]] = {}
    for exam in scan.exams:
        if exam.site and exam.site != UNKNOWN and exam.root.lower().endswith(".json"):
            if all(e.root != exam.root for e in claims.get(exam.site, [])):
                claims.setdefault(exam.site, []).append(exam)
    warnings = []
    for site, exams in claims.items():
        if len(exams) > 1:
            names = ", ".join(Path(e.root).name for e in exams)
            warnings.append((exams, f"{len(exams)} summaries claim site {site!r} ({names}): check that each "
                                    "site sent its own"))
        for exam in exams:
            stem = _norm(Path(exam.root).stem)
            others = [o for o in claims if o != site and _norm(o) and _norm(o) in stem]
            if others and _norm(site) not in stem:
                warnings.append(([exam], f"summary {Path(exam.root).name} claims site {site!r} but its file "
                                         f"name names site {others[0]!r}"))
    if warnings:
        from protocheck.logs import logger
        log = logger("protocheck.sites")
    for exams, text in warnings:
        log.warning("protocheck: warning: %s", text)
        for exam in exams:
            if exam.acquisitions:
                exam.acquisitions[0].note("site-claim", text, "warning")
    return [text for _, text in warnings]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
