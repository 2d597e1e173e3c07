"""The first hour of a new user: help texts, defaults that scale (user cache, automatic workers), protocols to
start from, help topics shipped in the package, an audit that says which protocol it uses."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from protocheck import cli
from protocheck.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_headers" / "exam"


def _options(parser) -> list:
    return [a for a in parser._actions if a.option_strings]


def _subparsers(parser) -> dict:
    found = {}
    for action in parser._actions:
        for name, sub in getattr(action, "choices", {}).items() if hasattr(action, "add_parser") else ():
            found[name] = sub
            found.update({f"{name} {k}": v for k, v in _subparsers(sub).items()})
    return found


def test_top_level_help_is_a_real_text(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "exit codes:" in out and "protocheck help TOPIC" in out.replace('"', "")
    assert "argument parsing" not in out   # not the module docstring
    assert max(len(line) for line in out.splitlines()) <= 80


def test_every_option_of_every_command_has_help():
    missing = [f"{name} {a.option_strings[-1]}" for name, sub in _subparsers(build_parser()).items()
               for a in _options(sub) if not a.help]
    assert missing == []


def test_network_options_are_in_their_own_group(capsys):
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    group = out.split("network (DICOMweb")[1]
    for option in ("--study", "--since", "--auth-file", "--ca-bundle", "--insecure"):
        assert option in group
        assert option not in out.split("network (DICOMweb")[0].split("options:")[1]


def test_auth_file_format_is_one_and_the_same_everywhere(capsys):
    from protocheck.sources.net.http import load_credentials
    main(["check", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    readme = " ".join((REPO / "README.md").read_text().split())
    for doc in (text, readme):
        assert "'token=...'" in doc.replace("`", "'") and "'user=...' and 'password=...'" in doc.replace("`", "'")
    assert "user:password" not in text + readme


def test_auth_file_topic_matches_the_parser(tmp_path):
    from protocheck import help as topics
    from protocheck.sources.net.http import load_credentials
    text = topics.topic("auth-file")
    blocks = re.findall(r"\n {7}(token=\S+|user=\S+\n {7}password=\S+)", text)
    assert len(blocks) == 2
    for i, block in enumerate(blocks):
        f = tmp_path / f"auth{i}"
        f.write_text(re.sub(r"\n +", "\n", block))
        creds = load_credentials(f, env={})
        assert (creds.token if i == 0 else creds.user)


def test_help_topics_live_in_the_package_and_protocol_errors_point_to_them(tmp_path, capsys):
    assert main(["help"]) == 0
    assert {"protocol", "auth-file", "cache"} <= set(re.findall(r"^  (\S+)", capsys.readouterr().out, re.M))
    assert main(["help", "protocol"]) == 0
    assert "nominal" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: '1'\nsequences: [{id: a, requirement: sometimes, identify: {all: []}}]\n")
    assert main(["protocols", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "protocheck help protocol" in err and "DESIGN.md" not in err
    assert main(["help", "no-such-topic"]) == 2
    import protocheck.help
    assert Path(protocheck.help.__file__).parent.joinpath("protocol.md").is_file()


def test_protocols_show_prints_a_builtin_protocol_that_loads(tmp_path, capsys):
    from protocheck.protocol.loader import load_protocol_text
    assert main(["protocols", "show", "als-spinal-cord"]) == 0
    assert load_protocol_text(capsys.readouterr().out).name == "als-spinal-cord"
    assert main(["protocols", "show", "nope"]) == 2
    assert main(["protocols"]) == 0 and "als-brain-3t" in capsys.readouterr().out


def test_protocols_file_still_validates(capsys):
    path = REPO / "protocheck" / "protocol" / "builtin" / "als-brain-3t.yaml"
    assert main(["protocols", str(path)]) == 0
    assert "valid protocol als-brain-3t" in capsys.readouterr().out


def test_listen_help_works_after_a_plain_install(capsys):
    import pynetdicom  # noqa: F401 - a core dependency now
    import requests  # noqa: F401
    assert main(["listen", "--help"]) == 0
    assert "--quiet-period SECONDS" in capsys.readouterr().out


def test_defaults_are_the_fast_path():
    args = build_parser().parse_args(["check", "x"])
    assert args.workers == 0 and args.cache is None and not args.no_cache


def test_the_index_goes_to_the_user_cache_by_default(_own_user_cache, tmp_path, capsys):
    exam = tmp_path / "exam"
    shutil.copytree(SAMPLE, exam)
    before = sorted(p.relative_to(exam) for p in exam.rglob("*"))
    assert main(["check", str(exam)]) == 1
    first = capsys.readouterr().out
    index = list((_own_user_cache / "protocheck").glob("index-*.sqlite"))
    assert index and (_own_user_cache / "protocheck" / "reports.sqlite").is_file()
    assert oct((_own_user_cache / "protocheck").stat().st_mode & 0o777) == oct(0o700)
    assert main(["check", str(exam)]) == 1
    assert capsys.readouterr().out == first          # the stored report of the unchanged exam
    assert sorted(p.relative_to(exam) for p in exam.rglob("*")) == before   # nothing written into the input


def test_a_changed_exam_is_never_answered_with_the_stored_report(tmp_path, capsys):
    exam = tmp_path / "exam"
    shutil.copytree(SAMPLE, exam)
    assert main(["check", "--format", "tsv", str(exam)]) == 1
    first = capsys.readouterr().out
    shutil.rmtree(exam / "01_DWI")   # the DTI removed: now missing
    main(["check", "--format", "tsv", str(exam)])
    again = capsys.readouterr().out
    main(["check", "--format", "tsv", "--no-cache", str(exam)])
    assert again == capsys.readouterr().out != first


def test_no_cache_writes_nothing(_own_user_cache, capsys):
    assert main(["check", "--no-cache", str(SAMPLE)]) == 1
    assert not (_own_user_cache / "protocheck").exists()


def test_default_cache_inside_the_input_is_left_out(monkeypatch, tmp_path, capsys):
    exam = tmp_path / "exam"
    shutil.copytree(SAMPLE, exam)
    monkeypatch.setenv("XDG_CACHE_HOME", str(exam / ".cache"))
    assert main(["check", str(exam)]) == 1
    assert not (exam / ".cache").exists()
    assert main(["check", "--cache", str(exam / "c"), str(exam)]) == 2
    assert "inside the input" in capsys.readouterr().err


def test_an_unwritable_default_cache_does_not_stop_a_check(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert main(["check", str(SAMPLE)]) == 1


def test_empty_folder_says_it_holds_no_file(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["check", str(tmp_path / "empty")]) == 2
    out, err = capsys.readouterr()
    assert "not used above" not in err and "listed below" not in out
    assert "holds no file" in err


def test_audit_names_its_protocol_and_suggests_a_better_one(spine_generic, capsys):
    assert main(["audit", "--format", "json", "--no-cache", str(spine_generic)]) in (0, 1)
    err = capsys.readouterr().err
    assert "audit against protocol als-brain-3t" in err and "the default" in err
    assert "try --protocol als-spinal-cord" in err
    main(["audit", "--format", "json", "--no-cache", "--protocol", "als-spinal-cord", str(spine_generic)])
    err = capsys.readouterr().err
    assert "audit against protocol als-spinal-cord" in err and "try --protocol" not in err
