"""The parser built for one subcommand parses and helps as the whole parser does."""
from __future__ import annotations

import pytest

from protocheck.cli import COMMANDS, build_parser

ARGVS = [
    ["check", "exam"],
    ["check", "a", "b", "--format", "json", "-o", "r.json", "--no-cache", "--workers", "3", "-q", "--site", "S"],
    ["check", "x", "--protocol=als-spinal-cord", "--pseudonym-key-file", "k", "--site-from", "InstitutionName"],
    ["inspect", "exam", "--provenance", "--format", "json"],
    ["audit", "root", "--tsv", "out", "--format", "html", "--cache", "c"],
    ["qualify", "exam", "--protocol", "p.yaml", "--site", "S"],
    ["listen", "--out", "reports", "--allow-ae", "A", "--allow-ae", "B", "--end-on-release"],
    ["protocols", "new", "--from-exam", "g1", "g2", "--no-vendor-variants"],
    ["protocols", "show", "als-brain-3t"],
    ["help", "cache"],
]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda a: " ".join(a[:2]))
def test_one_commands_parser_parses_as_the_whole_one(argv):
    assert build_parser(argv[0]).parse_args(argv) == build_parser().parse_args(argv)


@pytest.mark.parametrize("command", COMMANDS)
def test_one_commands_help_is_the_whole_ones(command, capsys):
    texts = []
    for parser in (build_parser(command), build_parser()):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] and "usage: protocheck " + command in texts[0]


def test_errors_are_the_whole_parsers(capsys):
    errors = []
    for parser in (build_parser("check"), build_parser()):
        with pytest.raises(SystemExit):
            parser.parse_args(["check", "x", "--bogus"])
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1] and "--bogus" in errors[0]
