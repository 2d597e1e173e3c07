"""The ``protocols`` and ``help`` subcommands: list, show, validate and create protocols; shipped help topics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from protocheck.errors import InputError
from protocheck.sources.options import ScanOptions

EXIT_OK = 0


def run_protocols(args: argparse.Namespace) -> int:
    """protocheck protocols [list|show NAME|validate FILE|new --from-exam PATH]."""
    from protocheck.protocol.loader import list_builtin_protocols, load_protocol
    from protocheck.resources import builtin_protocol_dir
    if args.action == "validate":
        proto = load_protocol(args.file)
        print(f"{args.file}: valid protocol {proto.name} {proto.version} ({len(proto.sequences)} sequences)")
        return EXIT_OK
    if args.action == "show":
        if args.name not in list_builtin_protocols():
            raise InputError(f"no built-in protocol named {args.name!r}", path=args.name,
                             fix="run 'protocheck protocols list' for the names")
        path = next(builtin_protocol_dir().glob(f"{args.name}.*"))
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return EXIT_OK
    if args.action == "new":
        return _new_protocol(args)
    for name in list_builtin_protocols():
        proto = load_protocol(name)
        print(f"{name}\t{proto.version}\t{getattr(proto, 'title', '') or ''}")
    print("\n'protocheck protocols show NAME' prints one (a start for your own); 'protocheck help protocol' "
          "describes the language.", file=sys.stderr)
    return EXIT_OK


def _new_protocol(args: argparse.Namespace) -> int:
    """protocheck protocols new --from-exam PATH: a protocol YAML from a golden exam, validated before it is
    written."""
    import yaml
    from protocheck.protocol.from_exam import protocol_from_exam, protocol_name
    from protocheck.protocol.loader import load_protocol_text
    from protocheck.sources import scan
    from protocheck.cli_run import _check_output_path, write_output
    _check_output_path(args.output, [Path(p).resolve() for p in args.from_exam])
    result = scan(args.from_exam, ScanOptions(workers=0))
    exams = [e for e in result.exams if e.acquisitions]
    if len(exams) != 1:
        found = "no MR exam" if not exams else f"{len(exams)} exams (" + ", ".join(
            sorted({e.folder or "." for e in exams})[:5]) + ")"
        raise InputError(f"a golden exam is one exam, and the input holds {found}", path=", ".join(args.from_exam),
                         fix="give the folder (or folders) of one exam with --from-exam")
    origin = Path(args.from_exam[0]).resolve().name
    doc = protocol_from_exam(exams[0], protocol_name(args.name or origin), origin, args.vendor_variants)
    text = ("# protocheck protocol written from a golden exam: edit it, then check with --protocol FILE\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None))
    proto = load_protocol_text(text, str(args.output or "<new protocol>"))   # never write what would not load
    write_output(text, args.output)
    if args.output:
        print(f"protocheck: wrote {args.output}: protocol {proto.name} with {len(proto.sequences)} sequences "
              f"from {len(exams[0].acquisitions)} series", file=sys.stderr)
    return EXIT_OK


def run_help(args: argparse.Namespace) -> int:
    """protocheck help [TOPIC]: the help topics shipped with protocheck."""
    from protocheck import help as topics
    if not args.topic:
        print("help topics (protocheck help TOPIC):")
        for name, summary in topics.list_topics():
            print(f"  {name:10s} {summary}")
        return EXIT_OK
    sys.stdout.write(topics.topic(args.topic))
    return EXIT_OK
