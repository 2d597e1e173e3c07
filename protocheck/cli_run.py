"""What each ``protocheck`` subcommand does, once its arguments are parsed (see ``cli.py``)."""

from __future__ import annotations

import argparse
import io
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from protocheck.cli_progress import Meanwhile, progress_line, settle
from protocheck.storage import report_cache
from protocheck.errors import ProtocheckError
from protocheck.model import ScanResult
from protocheck.sources.options import NetworkOptions, ScanOptions

if TYPE_CHECKING:   # rich and the protocol model are imported when used: a check reads its inputs first
    from protocheck.protocol.model import Protocol

EXIT_OK, EXIT_DEVIATIONS, EXIT_FAILURE = 0, 1, 2


def scan_options(args: argparse.Namespace) -> ScanOptions:
    """The ScanOptions of the command-line flags."""
    from protocheck.privacy import pseudonym_key
    return ScanOptions(
        include_identifiers=args.include_identifiers,
        pseudonym_key=pseudonym_key(args.pseudonym_key, args.pseudonym_key_file),
        site_column=args.site_column, site_map=args.site_map, site_from=args.site_from,
        cache_dir=cache_dir(args), workers=max(0, args.workers), network=network_options(args))


def network_options(args: argparse.Namespace) -> NetworkOptions:
    """The NetworkOptions of the command-line flags (used by network inputs only)."""
    return NetworkOptions(study=getattr(args, "study", None), since=getattr(args, "since", None),
                          auth_file=getattr(args, "auth_file", None), ca_bundle=getattr(args, "ca_bundle", None),
                          insecure=bool(getattr(args, "insecure", False)), timeout=getattr(args, "timeout", 30.0),
                          concurrency=getattr(args, "concurrency", 4))


def cache_dir(args: argparse.Namespace) -> Path | None:
    """The index folder: ``--cache DIR`` (refused inside an input), else the user's cache folder (left out when
    it lies inside an input or cannot be created: the default never stops a check), none with ``--no-cache``."""
    from protocheck.storage.location import check_cache_location, default_cache_dir
    if getattr(args, "no_cache", False):
        return None
    explicit = getattr(args, "cache", None)
    cache = Path(explicit) if explicit is not None else default_cache_dir()
    try:
        for root in _input_roots(args):
            cache = check_cache_location(cache, root)
        if explicit is None:
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (ProtocheckError, OSError):
        if explicit is not None:
            raise
        return None
    return cache


def _input_roots(args: argparse.Namespace) -> list[Path]:
    from protocheck.sources.registry import source_for
    return [Path(p).resolve() for p in args.paths if source_for(p).local]


def scan_inputs(args: argparse.Namespace, options: ScanOptions, scrub: bool = True) -> ScanResult:
    """Read every input (DICOM, BIDS, archive, summary, DICOMweb) into one ScanResult with sites (``scrub``:
    identifying folder names replaced now, else by the caller: ``scrub_names``)."""
    from protocheck.sources import scan
    with progress_line(options):
        result = scan(args.paths, options)   # each input by the source that claims it (sources/registry.py)
    from protocheck.sources.sites import assign_sites
    if getattr(args, "site", None):   # --site names every exam: no "site unknown" note to write
        for exam in result.exams:
            exam.site = args.site
    assign_sites(result, None, options)   # once, over every input root (scan.roots)
    if scrub:
        scrub_names(result, options)
    return result


def scrub_names(scan: ScanResult, options: ScanOptions) -> None:
    """Identifying folder names out of every report (after the site map, which may match them)."""
    if not options.include_identifiers:
        from protocheck.privacy import scrub_folder_names
        scrub_folder_names(scan, options.pseudonym_key)


def check_output_path(output: Path | None, roots: list[Path], what: str = "-o") -> None:
    """Never write into an input tree (resolved paths and inodes compared), nor onto a folder."""
    if output is not None:
        from protocheck.outputs import check_target
        check_target(output, roots, what)


def write_output(text: str | bytes | list[bytes] | Iterable[str], output: Path | None) -> None:
    """Write a report (its text, its UTF-8 bytes or a list of their blocks, or its text blocks as they come) to
    ``output`` (a temporary file renamed over it: never through a link), or stdout."""
    if output is None:
        if isinstance(text, (bytes, list)):   # UTF-8 (a stored report): as it is where stdout writes UTF-8 as it is
            blocks = [text] if isinstance(text, bytes) else text
            if _utf8_stdout():
                sys.stdout.flush()
                for data in blocks:
                    sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
                return
            text = b"".join(blocks).decode("utf-8")
        for block in (text,) if isinstance(text, str) else text:
            sys.stdout.write(block)
        sys.stdout.flush()
        return
    from protocheck.outputs import write_atomic
    write_atomic(output, text)


def _utf8_stdout() -> bool:
    """Whether text written to stdout becomes its UTF-8 bytes unchanged (no other encoding, no newline changed)."""
    import codecs
    import os
    encoding = getattr(sys.stdout, "encoding", None)
    try:
        utf8 = encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False
    return utf8 and os.linesep == "\n" and hasattr(sys.stdout, "buffer")


def _load_protocol(name: str, args: argparse.Namespace | None = None) -> Any:
    """The protocol; with a cache folder, the model built earlier from the same text is reused."""
    from protocheck.protocol.loader import load_protocol
    cache = cache_dir(args) if args is not None and hasattr(args, "paths") else None
    return load_protocol(name, cache if cache is not None and cache.is_dir() else None)


def run_check(args: argparse.Namespace) -> int:
    """protocheck check: scan, match, check, report; exit 0/1/2."""
    roots = _input_roots(args)
    check_output_path(args.output, roots)
    check_output_path(args.summary, roots, "--summary")
    from protocheck.protocol.ahead import ProtocolAhead
    folder = cache_dir(args)   # the protocol is loaded by a forked child while the inputs are read (first runs)
    ahead = ProtocolAhead(args.protocol, folder if folder is not None and folder.is_dir() else None)
    settle()
    try:
        options = scan_options(args)
        options.progress = Meanwhile(ahead, args.format)
        scan = scan_inputs(args, options, scrub=False)   # names scrubbed only for a report made now
        options.progress = None
        if args.site:
            for exam in scan.exams:
                exam.site = args.site
        console, settings = _console(args)
        key = _report_key(args, scan, ahead.identity, options, settings)
        cache = options.cache_dir if key is not None else None
        stored = report_cache.load_blocks(cache, key) if cache is not None and key is not None else None
        if stored is not None:   # an unchanged archive, protocol, code and options: the same report
            write_output(stored[0], args.output)
            return stored[1]
        protocol = ahead.result()   # kept in the cache folder, or built by the child: only now unpickled
    finally:
        ahead.close()
    scrub_names(scan, options)   # a stored report's key holds the scan's digest, which scrubbing follows from
    if args.format == "console" and console is None:
        from protocheck.reports.console import make_console
        console = make_console(io.StringIO() if args.output else None)
    from protocheck.checks.compliance import check_scan
    from protocheck.reports.json_report import report_to_dict
    results = check_scan(scan, protocol, options.cache_dir)
    report = report_to_dict(results, scan, protocol, include_identifiers=args.include_identifiers,
                            lazy=args.format == "json")   # JSON: each exam's dict built as it is encoded
    if args.summary:
        from protocheck.reports.summary import write_summary
        write_summary(results, scan, args.summary, options, protocol=protocol)
    if args.format == "json":   # streamed: the text is never held whole, only compressed for the cache
        text: str | bytes = _write_json(report, args.output)
    else:
        text = _render_check(report, args, console, options.cache_dir if key is not None else None)
        write_output(text, args.output)
    if not results:
        print(_no_exam_message(scan), file=sys.stderr)
        return EXIT_FAILURE
    if cache is not None and key is not None:
        report_cache.store(cache, key, text, report["exit_code"])
    return report["exit_code"]


def _console(args: argparse.Namespace) -> tuple[Any, tuple[Any, ...] | None]:
    """The console report's console (None: not made yet, rich not imported) and its settings (None: no console
    report). Piped or to a file, the settings are known without making it (``console_settings``)."""
    if args.format != "console":
        return None, None
    from protocheck.reports.console_settings import piped_settings, settings_of
    settings = piped_settings(io.StringIO() if args.output else None)   # a file: plain text, as when piped
    if settings is not None:
        return None, settings
    from protocheck.reports.console import make_console
    console = make_console(io.StringIO() if args.output else None)
    return console, (*settings_of(console), console.legacy_windows)


def _write_json(report: dict[str, Any], output: Path | None) -> bytes:
    """Write the JSON report block by block; returns its text zlib-compressed (what the report cache keeps)."""
    from protocheck.reports.json_report import json_blocks
    packer = zlib.compressobj(1)
    packed: list[bytes] = []

    def blocks() -> Iterator[str]:
        for block in json_blocks(report):
            packed.append(packer.compress(block.encode("utf-8")))
            yield block

    write_output(blocks(), output)
    return b"".join(packed) + packer.flush()


def _no_exam_message(scan: ScanResult) -> str:
    """Why nothing was checked: files not used (listed above), or no file at all."""
    if scan.skipped:
        return "protocheck: no MR exam found in the input (see the files not used above)"
    return "protocheck: no MR exam found: the input holds no file (check the path)"


def _report_key(args: argparse.Namespace, scan: ScanResult, protocol: bytes | None, options: ScanOptions,
                console: tuple[Any, ...] | None) -> bytes | None:
    """The stored-report key of this run (``protocol``: the protocol's identity, ``console``: the console's
    settings); None when nothing may be stored (no cache, a summary to write, an old Windows console)."""
    if options.cache_dir is None or args.summary or console is not None and len(console) > 5 and console[5]:
        return None   # an old Windows console is printed directly: see _render_check
    import datetime
    settings: tuple[Any, ...] = (args.format, args.quiet, args.verbose, args.include_identifiers, tuple(args.paths),
                datetime.date.today().isoformat() if args.format in ("json", "html") else "")
    if console is not None:
        settings += console[:5]
    return report_cache.report_key(scan, protocol, settings)


def _render_check(report: dict[str, Any], args: argparse.Namespace, console: Any,
                  cache: Path | None = None) -> str:
    """The check report as text in the format asked for, JSON aside (streamed by ``_write_json``; ``cache``:
    where exams' console sections are kept)."""
    if args.format != "console":   # the console is printed here (reports.formats holds the other formats)
        from protocheck.reports.formats import renderer
        render = renderer("check", args.format)
        if render is not None:
            return render(report)
    from protocheck.reports.console import render_console
    if console.legacy_windows:   # an old Windows console is driven by API calls, not text: printed directly
        render_console(report, console, quiet=args.quiet, verbose=args.verbose)
        return ""
    from protocheck.reports.console import render_console_text
    if cache is None:
        return render_console_text(report, console, quiet=args.quiet, verbose=args.verbose)
    from protocheck.reports.console_settings import settings_of
    settings = (*settings_of(console), args.verbose)
    with report_cache.Sections(cache, settings) as sections:   # only the exams that changed are rendered
        return render_console_text(report, console, quiet=args.quiet, verbose=args.verbose, sections=sections)


def run_inspect(args: argparse.Namespace) -> int:
    """protocheck inspect: one JSON object per series with every normalized parameter."""
    from protocheck.reports.json_report import acquisition_to_inspect
    check_output_path(args.output, _input_roots(args))
    scan = scan_inputs(args, scan_options(args))
    series = [acquisition_to_inspect(a, args.provenance) for a in scan.acquisitions()]
    from protocheck.reports.formats import renderer
    render = renderer("inspect", args.format)
    if render is not None:
        write_output(render(series), args.output)
    else:
        from protocheck.reports.inspect_console import render_inspect
        from protocheck.reports.console import make_console
        render_inspect(series, scan, make_console(), provenance=args.provenance)
    if not series:
        print("protocheck: no MR series found in the input", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    """protocheck audit: compliance matrix, inventory, harmonization and drift over many sessions."""
    from protocheck.checks.audit import build_audit
    from protocheck.checks.compliance import check_scan
    roots = _input_roots(args)
    check_output_path(args.output, roots)
    if args.tsv:
        check_output_path(args.tsv / "x", roots, "--tsv")
    protocol = _load_protocol(args.protocol, args)
    options = scan_options(args)
    scan = scan_inputs(args, options)
    from protocheck.sources.sites import unknown_site_hint
    hint = unknown_site_hint(scan)
    if hint:
        print(f"protocheck: {hint}", file=sys.stderr)
    _unused_note(scan)
    results = check_scan(scan, protocol, options.cache_dir)
    _protocol_note(args, scan, protocol)
    audit = build_audit(results, protocol)
    from protocheck.reports.audit_console import render_audit
    from protocheck.reports.audit_tsv import write_audit_tsv
    from protocheck.reports.audit_json import audit_to_json
    data = audit_to_json(audit, list(scan.roots))
    if args.tsv:
        write_audit_tsv(audit, args.tsv)
    from protocheck.reports.formats import renderer
    render = renderer("audit", args.format)
    if render is not None:
        write_output(render(data), args.output)
    else:
        if args.output:
            import io
            buf = io.StringIO()
            render_audit(audit, file=buf)
            write_output(buf.getvalue(), args.output)
        else:
            render_audit(audit)
    if not results:
        print("protocheck: no MR exam found in the input", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_DEVIATIONS if audit_has_errors(data) else EXIT_OK


def _unused_note(scan: ScanResult) -> None:
    """The audit report has no list of what was not used: inputs without MRI are named, other files counted."""
    from collections import Counter

    from protocheck.reports.textsafe import clean
    for item in scan.skipped:
        if item.kind == "not-mr":
            print(f"protocheck: {clean(item.reason)}", file=sys.stderr)
    kinds = Counter(item.kind for item in scan.skipped if item.kind != "not-mr")
    if kinds:
        print(f"protocheck: {sum(kinds.values())} file(s) not used ("
              + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items()))
              + "): `protocheck check` on the same input lists each with its reason", file=sys.stderr)


def _matched(scan: ScanResult, protocol: Protocol) -> tuple[int, int]:
    """(series matched to a sequence of ``protocol``, series that could be: localizers and derived left out)."""
    from protocheck.protocol.matching import match_exam
    matched = total = 0
    for exam in scan.exams:
        found, unmatched, _ = match_exam(exam, protocol)
        matched, total = matched + len(found), total + len(found) + len(unmatched)
    return matched, total


def _protocol_note(args: argparse.Namespace, scan: ScanResult, protocol: Protocol) -> None:
    """Say which protocol the audit uses and, when a quarter of the series or more match none of its sequences, a
    built-in protocol that matches more of them (a cord dataset audited with the brain protocol: 53 % matched,
    cord DWI and T1w taken for brain ones, against 100 % with als-spinal-cord)."""
    from protocheck.protocol.loader import list_builtin_protocols, load_protocol
    given = "" if getattr(args, "protocol_given", True) else " (the default; choose another with --protocol NAME|FILE)"
    print(f"protocheck: audit against protocol {protocol.name} {protocol.version}{given}", file=sys.stderr)
    matched, total = _matched(scan, protocol)
    if not total or matched * 4 > total * 3:
        return
    best = max(((_matched(scan, load_protocol(n))[0], n) for n in list_builtin_protocols() if n != protocol.name),
               default=(0, ""))
    hint = (f"; built-in protocol {best[1]} matches {best[0]} of them: try --protocol {best[1]}"
            if best[0] > matched else "")
    print(f"protocheck: {total - matched} of {total} series match no sequence of {protocol.name}{hint}",
          file=sys.stderr)


def audit_has_errors(data: dict[str, Any]) -> bool:
    """Exit 1 when any audit finding (compliance, harmonization, drift, completeness) is an error."""
    return any(f.get("severity") == "error" for f in data.get("findings", []))


def run_qualify(args: argparse.Namespace) -> int:
    """protocheck qualify: a site's test scans against the protocol, with a reproducible certificate."""
    from protocheck.checks.qualify import qualify
    check_output_path(args.output, _input_roots(args))
    protocol = _load_protocol(args.protocol, args)
    scan = scan_inputs(args, scan_options(args))
    cert = qualify(scan, protocol, args.site).to_dict()
    from protocheck.reports.formats import renderer
    render = renderer("certificate", args.format)
    if render is not None:
        write_output(render(cert), args.output)
    else:
        from protocheck.reports.certificate_console import render_certificate_console
        from protocheck.reports.console import make_console
        render_certificate_console(cert, make_console())
    return int(cert["exit_code"])


def run_listen(args: argparse.Namespace) -> int:
    """protocheck listen: a DICOM Storage SCP that checks each study once it is complete."""
    from protocheck.privacy import pseudonym_key
    from protocheck.service.listen import run_listener   # its own module: a failing import is a real breakage
    protocol = _load_protocol(args.protocol)
    options = ScanOptions(pseudonym_key=pseudonym_key(args.pseudonym_key, args.pseudonym_key_file))
    run_listener(port=args.port, ae_title=args.ae_title, protocol=protocol, out_dir=args.out,
                 options=options, allow_aes=args.allow_ae or None, allow_hosts=args.allow_host or None,
                 quiet_period=args.quiet_period, host=args.host, end_on_release=args.end_on_release,
                 max_studies=args.max_studies)
    return EXIT_OK
