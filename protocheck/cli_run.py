"""What each ``protocheck`` subcommand does, once its arguments are parsed (see ``cli.py``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from rich.console import Console

from protocheck.errors import InputError, ProtocheckError, ReportError
from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions

EXIT_OK, EXIT_DEVIATIONS, EXIT_FAILURE = 0, 1, 2


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def scan_options(args: argparse.Namespace) -> ScanOptions:
    """The ScanOptions of the command-line flags."""
    return ScanOptions(
        include_identifiers=args.include_identifiers, pseudonym_key=args.pseudonym_key,
        site_column=args.site_column, site_map=args.site_map, site_from=args.site_from,
        cache_dir=args.cache, workers=max(0, args.workers))


def _input_roots(args: argparse.Namespace) -> list[Path]:
    return [Path(p).resolve() for p in args.paths if not _is_url(p)]


@contextlib.contextmanager
def _progress(options: ScanOptions) -> Iterator[None]:
    """A rich progress line on long scans, only when standard error is a terminal."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("reading headers…")
        start = time.monotonic()

        def report(files: int, series: int, _current: str) -> None:
            rate = files / max(time.monotonic() - start, 1e-3)
            progress.update(task, description=f"reading headers: {files:,} files, {series:,} series, "
                                              f"{rate:,.0f} files/s")
        options.progress = report
        yield
    options.progress = None


def _scan_url(url: str, args: argparse.Namespace, options: ScanOptions) -> ScanResult:
    try:
        from protocheck.sources.dicomweb import scan_dicomweb
    except ImportError as exc:
        raise InputError(f"DICOMweb input is not available in this installation ({exc})", path=url,
                         fix="pip install 'protocheck[net]'") from exc
    return scan_dicomweb(url, options, study=args.study, since=args.since, auth_file=args.auth_file,
                         ca_bundle=args.ca_bundle, insecure=args.insecure)


def scan_inputs(args: argparse.Namespace, options: ScanOptions) -> ScanResult:
    """Read every input (DICOM, BIDS, archive, summary, DICOMweb) into one ScanResult with sites."""
    from protocheck.sources import scan
    result = ScanResult()
    local = [p for p in args.paths if not _is_url(p)]
    with _progress(options):
        if local:
            result.merge(scan(local, options))
        for url in (p for p in args.paths if _is_url(p)):
            result.merge(_scan_url(url, args, options))
    try:
        from protocheck.sources.sites import assign_sites
    except ImportError:
        return result
    assign_sites(result, None, options)   # once, over every input root (scan.roots)
    return result


def _check_output_path(output: Path | None, roots: list[Path]) -> None:
    """Never write into an input tree: refuse an output path inside any input folder."""
    if output is None:
        return
    target = output.resolve()
    for root in roots:
        base = root if root.is_dir() else root.parent
        if target == base or base in target.parents:
            raise ReportError("the output file is inside the input tree, and protocheck never writes there",
                              path=str(output), fix="write the report to a folder outside the exam/dataset")


def write_output(text: str | Callable[[IO[str]], None], output: Path | None) -> None:
    """Write a report (its text, or a writer of it to a text file) to ``output`` (or standard output)."""
    write = text if callable(text) else lambda fh: fh.write(text)
    if output is None:
        write(sys.stdout)
        sys.stdout.flush()
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            write(fh)
    except OSError as exc:
        raise ReportError(f"cannot write the report: {exc.strerror}", path=str(output),
                          fix="choose a writable path with -o") from exc


def _load_protocol(name: str, args: argparse.Namespace | None = None) -> Any:
    """The protocol; with --cache, the model built earlier from the same text is reused (the folder is first
    checked to lie outside every input: nothing is ever written into an input tree)."""
    from protocheck.protocol.loader import load_protocol
    cache = getattr(args, "cache", None)
    if cache is not None:
        from protocheck.sources.index import check_cache_location
        for root in _input_roots(args):
            cache = check_cache_location(cache, root)
        cache = cache if Path(cache).is_dir() else None
    return load_protocol(name, cache)


def _html(kind: str, data: dict[str, Any]) -> str:
    try:
        from protocheck.reports import html
    except ImportError as exc:
        raise ReportError("the HTML report is not available in this installation", fix="use --format json") from exc
    return getattr(html, f"render_{kind}_html")(data)


def run_check(args: argparse.Namespace) -> int:
    """protocheck check: scan, match, check, report; exit 0/1/2."""
    from protocheck.checks.compliance import check_scan
    from protocheck.reports.json_report import report_to_dict
    roots = _input_roots(args)
    _check_output_path(args.output, roots)
    _check_output_path(args.summary, roots)
    protocol = _load_protocol(args.protocol, args)
    options = scan_options(args)
    scan = scan_inputs(args, options)
    if args.site:
        for exam in scan.exams:
            exam.site = args.site
    results = check_scan(scan, protocol, options.cache_dir)
    report = report_to_dict(results, scan, protocol, include_identifiers=args.include_identifiers,
                            lazy=args.format == "json")   # JSON is streamed: exams built as they are written
    if args.summary:
        from protocheck.sources.summary import write_summary
        write_summary(results, scan, args.summary, options, protocol=protocol)
    _emit_check(report, args)
    if not results:
        print("protocheck: no MR exam found in the input (see the files not used above)", file=sys.stderr)
        return EXIT_FAILURE
    return report["exit_code"]


def _emit_check(report: dict[str, Any], args: argparse.Namespace) -> None:
    if args.format == "json":
        from protocheck.reports.json_report import write_json
        write_output(lambda fh: write_json(report, fh), args.output)
    elif args.format == "tsv":
        from protocheck.reports.tsv import render_tsv
        write_output(render_tsv(report), args.output)
    elif args.format == "html":
        write_output(_html("check", report), args.output)
    else:
        from protocheck.reports.console import make_console, render_console
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                render_console(report, make_console(fh), quiet=args.quiet, verbose=args.verbose)
        else:
            render_console(report, quiet=args.quiet, verbose=args.verbose)


def run_inspect(args: argparse.Namespace) -> int:
    """protocheck inspect: one JSON object per series with every normalized parameter."""
    from protocheck.reports.json_report import acquisition_to_inspect
    _check_output_path(args.output, _input_roots(args))
    scan = scan_inputs(args, scan_options(args))
    series = [acquisition_to_inspect(a, args.provenance) for a in scan.acquisitions()]
    if args.format == "json":
        write_output(json.dumps(series, indent=2, ensure_ascii=False) + "\n", args.output)
    else:
        from protocheck.reports.inspect_console import render_inspect
        render_inspect(series, scan, Console(), provenance=args.provenance)
    if not series:
        print("protocheck: no MR series found in the input", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    """protocheck audit: compliance matrix, inventory, harmonization and drift over many sessions."""
    from protocheck.checks.audit import build_audit
    from protocheck.checks.compliance import check_scan
    roots = _input_roots(args)
    _check_output_path(args.output, roots)
    if args.tsv:
        _check_output_path(args.tsv / "x", roots)
    protocol = _load_protocol(args.protocol, args)
    options = scan_options(args)
    scan = scan_inputs(args, options)
    results = check_scan(scan, protocol, options.cache_dir)
    audit = build_audit(results, protocol)
    from protocheck.reports.audit_console import render_audit
    from protocheck.reports.audit_tsv import write_audit_tsv
    from protocheck.checks.audit import audit_to_json
    data = audit_to_json(audit, list(scan.roots))
    if args.tsv:
        write_audit_tsv(audit, args.tsv)
    if args.format == "json":
        write_output(json.dumps(data, indent=2, ensure_ascii=False) + "\n", args.output)
    elif args.format == "html":
        write_output(_html("audit", data), args.output)
    else:
        render_audit(audit, file=args.output.open("w", encoding="utf-8") if args.output else None)
    if not results:
        print("protocheck: no MR exam found in the input", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_DEVIATIONS if audit_has_errors(data) else EXIT_OK


def audit_has_errors(data: dict[str, Any]) -> bool:
    """Exit 1 when any audit finding (compliance, harmonization, drift, completeness) is an error."""
    return any(f.get("severity") == "error" for f in data.get("findings", []))


def run_qualify(args: argparse.Namespace) -> int:
    """protocheck qualify: a site's test scans against the protocol, with a reproducible certificate."""
    from protocheck.checks.qualify import qualify
    _check_output_path(args.output, _input_roots(args))
    protocol = _load_protocol(args.protocol, args)
    scan = scan_inputs(args, scan_options(args))
    cert = qualify(scan, protocol, args.site).to_dict()
    if args.format == "json":
        write_output(json.dumps(cert, indent=2, ensure_ascii=False) + "\n", args.output)
    elif args.format == "html":
        write_output(_html("certificate", cert), args.output)
    else:
        from protocheck.reports.certificate_console import render_certificate_console
        from protocheck.reports.console import make_console
        render_certificate_console(cert, make_console())
    return int(cert["exit_code"])


def run_listen(args: argparse.Namespace) -> int:
    """protocheck listen: a DICOM Storage SCP that checks each study once it is complete."""
    try:
        from protocheck.sources.listen import run_listener
    except ImportError as exc:
        raise ProtocheckError(f"the DICOM listener is not available ({exc})", fix="pip install 'protocheck[net]'")
    protocol = _load_protocol(args.protocol)
    run_listener(port=args.port, ae_title=args.ae_title, protocol=protocol, out_dir=args.out,
                 options=ScanOptions(), allow_aes=args.allow_ae or None, allow_hosts=args.allow_host or None,
                 quiet_period=args.quiet_period, host=args.host, end_on_release=args.end_on_release,
                 max_studies=args.max_studies)
    return EXIT_OK


def run_protocols(args: argparse.Namespace) -> int:
    """protocheck protocols [FILE]: list the built-in protocols, or validate one protocol file."""
    from protocheck.protocol.loader import list_builtin_protocols, load_protocol
    if args.validate:
        proto = load_protocol(args.validate)
        print(f"{args.validate}: valid protocol {proto.name} {proto.version} "
              f"({len(proto.sequences)} sequences)")
        return EXIT_OK
    for name in list_builtin_protocols():
        proto = load_protocol(name)
        print(f"{name}\t{proto.version}\t{getattr(proto, 'title', '') or ''}")
    return EXIT_OK
