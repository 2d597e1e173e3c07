"""The ``protocheck`` command line: argument parsing, error handling and exit codes.

Exit codes: 0 compliant (warnings allowed), 1 deviations at error severity (or a required sequence
missing; for ``qualify``: not qualified), 2 the tool could not do its job (bad arguments, unreadable
protocol, no input, internal error). Errors print one message naming the file, the place and the fix,
never a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
import warnings
from pathlib import Path

from protocheck import __version__
from protocheck.errors import ProtocheckError

FORMATS = ("console", "json", "tsv", "html")
EXIT_OK, EXIT_DEVIATIONS, EXIT_FAILURE = 0, 1, 2


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="DICOM folder or file, BIDS dataset, .zip/.tar export, summary .json, or DICOMweb URL")
    p.add_argument("--include-identifiers", action="store_true",
                   help="opt in: show patient identifiers (PatientID, dates...) in outputs; off by default")
    _add_key_options(p)
    p.add_argument("--site-column", metavar="COLUMN", help="participants.tsv column that names the site")
    p.add_argument("--site-map", metavar="FILE", type=Path,
                   help="file of 'pattern<TAB>site' lines matched against exam folders")
    p.add_argument("--site-from", metavar="FIELD",
                   help="header field giving the site: InstitutionName, StationName or DeviceSerialNumber")
    p.add_argument("--cache", metavar="DIR", type=Path,
                   help="folder for the incremental index (never inside the input tree)")
    p.add_argument("--workers", type=int, default=1, help="reader processes (default 1; 0: automatic, 2 on large trees)")
    p.add_argument("--study", metavar="UID", help="DICOMweb: check this StudyInstanceUID")
    p.add_argument("--since", metavar="YYYYMMDD", help="DICOMweb: every study since this date")
    p.add_argument("--auth-file", metavar="FILE", type=Path,
                   help="DICOMweb: file with 'user:password' or a bearer token (never on the command line)")
    p.add_argument("--ca-bundle", metavar="FILE", type=Path, help="DICOMweb: CA bundle to verify TLS with")
    p.add_argument("--insecure", action="store_true", help="DICOMweb: do not verify TLS certificates")
    p.add_argument("-v", "--verbose", action="store_true", help="list every match reason and skipped file")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")


def _add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pseudonym-key", metavar="KEY",
                   help="secret key for the keyed-hash subject pseudonyms (default: this installation's own "
                        "secret, created in the user's config folder on first use)")
    p.add_argument("--pseudonym-key-file", metavar="FILE", type=Path,
                   help="file holding the pseudonym key (mode 600), e.g. one key shared by a trial's sites")


def _add_output_options(p: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    p.add_argument("--format", choices=formats, default="console", help="report format (default console)")
    p.add_argument("-o", "--output", metavar="FILE", type=Path,
                   help="write the report to FILE instead of standard output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="protocheck", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"protocheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="check exams against a protocol")
    _add_input_options(p)
    _add_output_options(p)
    p.add_argument("--protocol", default="als-brain-3t", help="built-in name or protocol file (default als-brain-3t)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    p.add_argument("--summary", metavar="FILE", type=Path,
                   help="also write a federated summary (no patient identifiers) for protocheck audit")
    p.add_argument("--site", metavar="NAME", help="name every exam's site NAME (e.g. for a site's own --summary)")

    p = sub.add_parser("inspect", help="print what protocheck read from each series")
    _add_input_options(p)
    _add_output_options(p, ("console", "json"))
    p.add_argument("--provenance", action="store_true", help="show where each value came from")

    p = sub.add_parser("audit", help="multicentre audit: compliance matrix, inventory, harmonization, drift")
    _add_input_options(p)
    _add_output_options(p, ("console", "json", "html"))
    p.add_argument("--protocol", default="als-brain-3t", help="built-in name or protocol file")
    p.add_argument("--tsv", metavar="DIR", type=Path, help="also write the audit tables as TSV files in DIR")

    p = sub.add_parser("qualify", help="qualify a candidate site's test scans against a protocol")
    _add_input_options(p)
    _add_output_options(p, ("console", "json", "html"))
    p.add_argument("--protocol", required=True, help="built-in name or protocol file")
    p.add_argument("--site", required=True, help="name of the candidate site")

    p = sub.add_parser("listen", help="receive exams over DICOM (C-STORE) and check each one")
    p.add_argument("--port", type=int, default=11112)
    p.add_argument("--ae-title", default="PROTOCHECK")
    p.add_argument("--protocol", default="als-brain-3t")
    p.add_argument("--out", type=Path, required=True, help="folder for the reports")
    p.add_argument("--allow-ae", action="append", default=[], metavar="AET", help="calling AE title allowed")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST", help="calling host allowed")
    p.add_argument("--quiet-period", type=float, default=60.0, help="seconds of silence that end a study")
    p.add_argument("--end-on-release", action="store_true",
                   help="a study is complete when the sending association is released")
    p.add_argument("--max-studies", type=int, default=32, help="studies received at once (default 32)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    _add_key_options(p)
    p.add_argument("--debug", action="store_true")

    p = sub.add_parser("protocols", help="list the built-in protocols, or validate a protocol file")
    p.add_argument("validate", nargs="?", metavar="FILE", help="protocol file to validate")
    p.add_argument("--debug", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run protocheck; returns the exit code (0 compliant, 1 deviations, 2 could not do its job)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_FAILURE
    from protocheck import cli_run
    if not getattr(args, "debug", False):
        warnings.simplefilter("ignore")   # library warnings quote header values (identifiers); we report instead
    _log_to_stderr()
    try:
        return getattr(cli_run, f"run_{args.command}")(args)
    except ProtocheckError as exc:
        print(f"protocheck: error: {_clean(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("protocheck: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:   # an internal error must still end with exit 2 and a clear line
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"protocheck: internal error: {type(exc).__name__}: {_clean(exc)}. Please report it with the "
              f"command you ran (--debug shows the traceback).", file=sys.stderr)
        return EXIT_FAILURE


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a line is logged."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001
        pass


class _CleanLog(logging.Filter):
    """Log lines (listen's AE titles, server answers) with control characters replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        from protocheck.reports.textsafe import clean
        record.msg, record.args = clean(record.getMessage()), ()
        return True


def _log_to_stderr() -> None:
    """Warnings of protocheck's loggers to standard error, one cleaned line each (as before: no prefix)."""
    logger = logging.getLogger("protocheck")
    if not any(isinstance(f, _CleanLog) for h in logger.handlers for f in h.filters):
        handler = _Stderr()
        handler.addFilter(_CleanLog())
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


def _clean(exc: BaseException) -> str:
    """An error message with control characters replaced (it may quote a file name or a header value)."""
    from protocheck.reports.textsafe import clean
    return clean(exc)


def entry_point() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
