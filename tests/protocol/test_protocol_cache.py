"""Protocols kept in the cache folder: the same text is not parsed again; any other text, code or a damaged
file is built afresh; nothing is written where the folder does not exist or lies inside an input."""
from __future__ import annotations

from pathlib import Path

import pytest

from protocheck.cli import main
from protocheck.protocol import cache, loader
from protocheck.protocol import load_protocol


@pytest.fixture()
def user_protocol(tmp_path: Path) -> Path:
    """A user's copy of the built-in brain protocol (built-ins are also kept per process)."""
    p = tmp_path / "site-protocol.yaml"
    p.write_text(Path(load_protocol("als-brain-3t").path).read_text(encoding="utf-8"), encoding="utf-8")
    return p


@pytest.fixture()
def builds(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = loader.load_protocol_text
    monkeypatch.setattr(loader, "load_protocol_text", lambda text, name: seen.append(name) or real(text, name))
    return seen


def test_same_text_is_taken_from_the_cache(user_protocol, tmp_path, builds):
    folder = tmp_path / "cache"
    folder.mkdir()
    first = load_protocol(str(user_protocol), folder)
    assert builds == [str(user_protocol)] and len(list(folder.glob("protocol-*.pickle"))) == 1
    builds.clear()
    again = load_protocol(str(user_protocol), folder)
    assert builds == [] and again == first and again.sha256 == first.sha256 and again is not first
    text = user_protocol.read_text(encoding="utf-8").replace('version: "1.1.0"\ntitle', 'version: "1.1.1"\ntitle')
    user_protocol.write_text(text, encoding="utf-8")
    assert load_protocol(str(user_protocol), folder).version == "1.1.1" and builds == [str(user_protocol)]


def test_damaged_file_other_code_or_missing_folder_build_afresh(user_protocol, tmp_path, builds, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir()
    good = load_protocol(str(user_protocol), folder)
    for f in folder.glob("protocol-*.pickle"):
        f.write_bytes(b"damaged")
    builds.clear()
    assert load_protocol(str(user_protocol), folder) == good and builds
    monkeypatch.setattr(cache, "code_fingerprint", lambda: b"another version")
    builds.clear()
    assert load_protocol(str(user_protocol), folder) == good and builds
    builds.clear()
    assert load_protocol(str(user_protocol), tmp_path / "absent") == good and builds
    assert not (tmp_path / "absent").exists()


def test_cli_never_writes_a_cached_protocol_into_the_input(tmp_path, capsys):
    inp = tmp_path / "in"
    (inp / "cache").mkdir(parents=True)
    (inp / "x.dcm").write_bytes(b"not dicom")
    code = main(["check", "--format", "json", "--cache", str(inp / "cache"), str(inp)])
    assert code == 2 and list((inp / "cache").iterdir()) == []
    assert "inside the input tree" in capsys.readouterr().err
