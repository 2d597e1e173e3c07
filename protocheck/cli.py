"""The ``protocheck`` command line: argument parsing, error handling and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

from protocheck import __version__
from protocheck.errors import ProtocheckError

FORMATS = ("console", "json", "tsv", "html")
EXIT_OK, EXIT_DEVIATIONS, EXIT_FAILURE = 0, 1, 2
PROTOCOL_ACTIONS = ("list", "show", "new", "validate")
COMMANDS = ("check", "inspect", "audit", "qualify", "listen", "protocols", "help")

DESCRIPTION = """\
Check MRI exams against a multicentre acquisition protocol (ALS trials).
protocheck reads DICOM exams, BIDS datasets, .zip/.tar exports or a PACS over
DICOMweb, matches each series to the protocol's sequences and reports every
deviation: the value expected, the value found, its severity, what to change."""

EPILOG = """\
examples:
  protocheck check sample_headers/exam          one exam, protocol als-brain-3t
  protocheck check /archive --format html -o report.html
  protocheck audit /archive --protocol als-spinal-cord   (coordinators)
  protocheck protocols show als-brain-3t        a protocol to start from
  protocheck protocols new --from-exam GOLDEN -o my-protocol.yaml
  protocheck listen --out reports/              a DICOM node for your scanner

"protocheck COMMAND --help" lists a command's options; "protocheck help TOPIC"
explains a topic: protocol (the protocol language), auth-file (DICOMweb
credentials), cache (the incremental index that makes re-checks fast).

exit codes: 0 compliant (warnings allowed); 1 deviations at error severity or
a required sequence missing (qualify: not qualified); 2 protocheck could not do
its job (bad arguments, unreadable protocol, no exam found).
Patient identifiers appear in no output unless you pass --include-identifiers."""


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="DICOM folder or file, BIDS dataset, .zip/.tar export, summary .json, or DICOMweb URL")
    p.add_argument("-v", "--verbose", action="store_true", help="list every match reason and skipped file")
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")
    g = p.add_argument_group("privacy")
    g.add_argument("--include-identifiers", action="store_true",
                   help="opt in: show patient identifiers (PatientID, dates...) in outputs; off by default")
    _add_key_options(g)
    g = p.add_argument_group("sites (which site each exam comes from)")
    g.add_argument("--site-column", metavar="COLUMN", help="participants.tsv column that names the site")
    g.add_argument("--site-map", metavar="FILE", type=Path,
                   help="file of 'pattern<TAB>site' lines matched against exam folders")
    g.add_argument("--site-from", metavar="FIELD",
                   help="header field giving the site: InstitutionName, StationName or DeviceSerialNumber")
    g = p.add_argument_group("speed (see: protocheck help cache)")
    c = g.add_mutually_exclusive_group()
    c.add_argument("--cache", metavar="DIR", type=Path,
                   help="folder of the incremental index, which makes a re-check of an unchanged archive take "
                        "seconds (default: protocheck in the user's cache folder, e.g. ~/.cache/protocheck; "
                        "never inside the input)")
    c.add_argument("--no-cache", action="store_true", help="read every file again and keep no index")
    g.add_argument("--workers", type=int, default=0, metavar="N",
                   help="reader processes (default 0: automatic, 2 on trees of 2,000 files or more)")
    g = p.add_argument_group("network (DICOMweb input: PATH is an http(s):// URL)")
    g.add_argument("--study", metavar="UID", help="check this StudyInstanceUID only")
    g.add_argument("--since", metavar="YYYYMMDD", help="every study since this date")
    g.add_argument("--auth-file", metavar="FILE", type=Path,
                   help="credentials file: a 'token=...' line (bearer token), or 'user=...' and 'password=...' "
                        "lines (see: protocheck help auth-file); never put credentials on the command line")
    g.add_argument("--ca-bundle", metavar="FILE", type=Path, help="CA bundle (PEM) to verify the server's TLS with")
    g.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (testing only)")
    g.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="seconds to wait for each answer of a slow server (default 30)")
    g.add_argument("--concurrency", type=int, default=4, metavar="N",
                   help="series metadata requests sent at once (default 4, at most 64)")


def _add_key_options(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--pseudonym-key", metavar="KEY",
                   help="secret key for the keyed-hash subject pseudonyms (default: this installation's own "
                        "secret, created in the user's config folder on first use)")
    p.add_argument("--pseudonym-key-file", metavar="FILE", type=Path,
                   help="file holding the pseudonym key (mode 600), e.g. one key shared by a trial's sites")


def _add_output_options(p: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    p.add_argument("--format", choices=formats, default="console", help="report format (default console)")
    p.add_argument("-o", "--output", metavar="FILE", type=Path,
                   help="write the report to FILE instead of standard output")


def _protocol_option(p: argparse.ArgumentParser, required: bool = False) -> None:
    if required:
        p.add_argument("--protocol", required=True, metavar="NAME|FILE",
                       help="built-in protocol name (protocheck protocols) or protocol file")
    else:
        p.add_argument("--protocol", default="als-brain-3t", metavar="NAME|FILE",
                       help="built-in protocol name (protocheck protocols) or protocol file (default als-brain-3t)")


def _add_check_commands(sub: argparse._SubParsersAction, only: str | None = None) -> None:
    p = sub.add_parser("check", help="check exams against a protocol",
                       description="Check every exam under PATH against a protocol; exit 0 compliant, "
                                   "1 deviations, 2 could not check.")
    if only in (None, "check"):
        _add_check_options(p)
    p = sub.add_parser("inspect", help="print what protocheck read from each series",
                       description="Print every series' parameters in BIDS names and units.")
    if only in (None, "inspect"):
        _add_input_options(p)
        _add_output_options(p, ("console", "json"))
        p.add_argument("--provenance", action="store_true", help="show where each value came from")
    p = sub.add_parser("audit", help="multicentre audit: compliance matrix, inventory, harmonization, drift",
                       description="For coordinators: site x sequence compliance, scanner inventory, "
                                   "cross-site harmonization, drift through time and completeness.")
    if only in (None, "audit"):
        _add_input_options(p)
        _add_output_options(p, ("console", "json", "html"))
        _protocol_option(p)
        p.add_argument("--tsv", metavar="DIR", type=Path, help="also write the audit tables as TSV files in DIR")
    p = sub.add_parser("qualify", help="qualify a candidate site's test scans against a protocol",
                       description="A candidate site's test scans against the protocol: qualified, qualified "
                                   "with conditions, or not qualified, with a reproducible certificate.")
    if only in (None, "qualify"):
        _add_input_options(p)
        _add_output_options(p, ("console", "json", "html"))
        _protocol_option(p, required=True)
        p.add_argument("--site", required=True, metavar="NAME", help="name of the candidate site")


def _add_check_options(p: argparse.ArgumentParser) -> None:
    _add_input_options(p)
    _add_output_options(p)
    _protocol_option(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    p.add_argument("--summary", metavar="FILE", type=Path,
                   help="also write a federated summary (no patient identifiers) for protocheck audit")
    p.add_argument("--site", metavar="NAME", help="name every exam's site NAME (e.g. for a site's own --summary)")


def _add_listen(sub: argparse._SubParsersAction, only: str | None = None) -> None:
    p = sub.add_parser("listen", help="receive exams over DICOM (C-STORE) and check each one",
                       description="A DICOM node (Storage SCP): add it as a destination on the scanner or PACS; "
                                   "each study is checked once complete and its report written to --out.")
    if only not in (None, "listen"):
        return
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for the reports (JSON, one per study)")
    _protocol_option(p)
    p.add_argument("--port", type=int, default=11112, help="TCP port to listen on (default 11112)")
    p.add_argument("--ae-title", default="PROTOCHECK", metavar="AET",
                   help="this node's AE title, as configured on the scanner (default PROTOCHECK)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    p.add_argument("--allow-ae", action="append", default=[], metavar="AET",
                   help="calling AE title allowed to send (repeat for several; default: any)")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="calling host allowed to send (repeat for several; default: any)")
    p.add_argument("--quiet-period", type=float, default=60.0, metavar="SECONDS",
                   help="seconds without new images after which a study is complete (default 60)")
    p.add_argument("--end-on-release", action="store_true",
                   help="a study is complete when the sending association is released")
    p.add_argument("--max-studies", type=int, default=32, metavar="N",
                   help="studies received at once (default 32)")
    _add_key_options(p)
    p.add_argument("--debug", action="store_true", help="show a traceback on internal errors")


def _add_protocols(sub: argparse._SubParsersAction, only: str | None = None) -> None:
    p = sub.add_parser("protocols", help="list, show, validate or create protocols",
                       description="Built-in protocols and your own: 'protocheck protocols' lists them, "
                                   "'protocols FILE' validates a file (see: protocheck help protocol).")
    if only not in (None, "protocols"):
        return
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    acts.add_parser("list", help="list the built-in protocols (the default)")
    a = acts.add_parser("show", help="print a built-in protocol (YAML), a start for your own")
    a.add_argument("name", metavar="NAME", help="built-in protocol name (protocheck protocols list)")
    a = acts.add_parser("validate", help="validate a protocol file")
    a.add_argument("file", metavar="FILE", help="protocol file (YAML or JSON)")
    a = acts.add_parser("new", help="write a protocol from a reference ('golden') exam",
                        description="Write a protocol (YAML) whose sequences are the series of a golden exam: "
                                    "each identified by what the series shows, each parameter with a tolerance, "
                                    "as vendor variants when the exam's vendor is named. Edit it, then check "
                                    "other exams with --protocol FILE.")
    a.add_argument("--from-exam", required=True, nargs="+", action="extend", metavar="PATH",
                   help="the golden exam: its DICOM folder, export or BIDS session (several paths: one exam)")
    a.add_argument("-o", "--output", metavar="FILE", type=Path,
                   help="write the protocol to FILE (default: standard output)")
    a.add_argument("--name", metavar="NAME", help="the protocol's name (default: from the exam's folder)")
    a.add_argument("--vendor-variants", action=argparse.BooleanOptionalAction, default=True,
                   help="put scanner-specific values in a variant for the exam's vendor (default on)")
    for a in (p, *acts.choices.values()):
        a.add_argument("--debug", action="store_true", help="show a traceback on internal errors")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand (``only``: the options of that subcommand alone, the others
    listed without theirs: a check does not build the ~100 options of the commands it does not run)."""
    parser = argparse.ArgumentParser(prog="protocheck", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"protocheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check_commands(sub, only)
    _add_listen(sub, only)
    _add_protocols(sub, only)
    p = sub.add_parser("help", help="help topics shipped with protocheck (protocol, auth-file, cache)")
    p.add_argument("topic", nargs="?", metavar="TOPIC", help="topic name; none: list the topics")
    return parser


def _normalize(argv: list[str]) -> list[str]:
    """``protocheck protocols FILE`` (the older form) means ``protocols validate FILE``."""
    if len(argv) >= 2 and argv[0] == "protocols" and not argv[1].startswith("-") and argv[1] not in PROTOCOL_ACTIONS:
        return [argv[0], "validate", *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Run protocheck; returns the exit code (0 compliant, 1 deviations, 2 could not do its job)."""
    argv = _normalize(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    args.protocol_given = any(a == "--protocol" or a.startswith("--protocol=") for a in argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_FAILURE
    if args.command in ("protocols", "help"):
        from protocheck import cli_protocols
        runner: ModuleType = cli_protocols
    else:
        from protocheck import cli_run
        runner = cli_run
    if not getattr(args, "debug", False):
        warnings.simplefilter("ignore")   # library warnings quote header values (identifiers); we report instead
    from protocheck.logs import to_stderr
    to_stderr(_log_to_stderr)   # when a logger is made: logging is not imported before
    try:
        return getattr(runner, f"run_{args.command}")(args)
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
            import traceback
            traceback.print_exc()
        print(f"protocheck: internal error: {type(exc).__name__}: {_clean(exc)}. Please report it with the "
              f"command you ran (--debug shows the traceback).", file=sys.stderr)
        return EXIT_FAILURE


def _log_to_stderr() -> None:
    """Warnings of protocheck's loggers to standard error, one cleaned line each (as before: no prefix)."""
    import logging

    class _Stderr(logging.StreamHandler):
        """A handler writing to whatever ``sys.stderr`` is when a line is logged."""

        @property
        def stream(self):  # noqa: ANN202
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

    logger = logging.getLogger("protocheck")
    if not any(getattr(f, "protocheck_clean", False) for h in logger.handlers for f in h.filters):
        handler = _Stderr()
        clean = _CleanLog()
        clean.protocheck_clean = True   # type: ignore[attr-defined]
        handler.addFilter(clean)
        handler.setLevel(logging.WARNING)
        logger.addHandler(handler)


def _clean(exc: BaseException) -> str:
    """An error message with control characters replaced (it may quote a file name or a header value)."""
    from protocheck.reports.textsafe import clean
    return clean(exc)


def entry_point() -> None:
    """The ``protocheck`` command (and ``python -m protocheck``): main() in a process of its own."""
    import protocheck
    protocheck.LEAN_PYDICOM = True   # this process never decodes pixels: pydicom without NumPy (start-up)
    _leave(main())


def _leave(code: int) -> None:
    """End the command with ``code``: output flushed and exit handlers run as at any exit, without the interpreter
    freeing every object one by one first (~40 ms after a check of a few thousand files). The usual exit where
    another thread still runs (it would be waited for) or a stream cannot be flushed (Python reports it)."""
    import atexit
    import threading
    if threading.active_count() != 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        sys.exit(code)
    atexit._run_exitfuncs()   # logging.shutdown, multiprocessing's clean-up...
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os._exit(code)


if __name__ == "__main__":
    entry_point()
