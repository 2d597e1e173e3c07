"""The check's protocol loaded by a forked child while the inputs are read (protocol.ahead)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from protocheck.cli import main
from protocheck.errors import ProtocolError
from protocheck.protocol import ahead as ahead_mod
from protocheck.protocol.ahead import ProtocolAhead
from protocheck.protocol.loader import _BUILTIN_LOADED, load_protocol, resolve_protocol_path

REAL_CAN_FORK = ahead_mod._can_fork
SAMPLE = Path(__file__).resolve().parents[2] / "sample_headers" / "exam"
needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here: loaded in this process")


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(ahead_mod, "_can_fork", lambda: hasattr(os, "fork"))   # pytest may run threads
    _BUILTIN_LOADED.clear()
    yield
    _BUILTIN_LOADED.clear()


@needs_fork
def test_the_child_builds_the_same_protocol_and_keeps_it_in_the_cache(tmp_path):
    first = ProtocolAhead("als-brain-3t", tmp_path)
    assert first.pending
    protocol = first.result()
    assert not first.pending and protocol == load_protocol("als-brain-3t")
    assert list(tmp_path.glob("protocol-*.pickle"))   # stored by the child for the next run
    _BUILTIN_LOADED.clear()
    again = ProtocolAhead("als-brain-3t", tmp_path)
    assert not again.pending and again.result() == protocol   # from the cache folder: no child


@needs_fork
def test_an_invalid_protocol_raises_what_loading_it_here_raises(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nsequences: [{id: 3}]\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as here:
        load_protocol(str(bad))
    pending = ProtocolAhead(str(bad), None)
    assert pending.pending
    with pytest.raises(ProtocolError) as there:
        pending.result()
    assert str(there.value) == str(here.value)
    with pytest.raises(ProtocolError):   # a missing file: at once, no child
        ProtocolAhead(str(tmp_path / "none.yaml"), None)


@needs_fork
def test_poll_raises_the_error_once_the_child_is_done(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    pending = ProtocolAhead(str(bad), None)
    with pytest.raises(ProtocolError):
        for _ in range(2000):
            pending.poll(0, 0, "")
            threading.Event().wait(0.005)
    pending.close()


def test_no_child_from_a_process_with_threads(monkeypatch, tmp_path):
    monkeypatch.setattr(ahead_mod, "_can_fork", REAL_CAN_FORK)
    started = threading.Event()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: (started.set(), stop.wait(10)))
    thread.start()
    started.wait()
    try:
        loaded = ProtocolAhead("als-brain-3t", None)
    finally:
        stop.set()
        thread.join()
    assert not loaded.pending and loaded.result() == load_protocol("als-brain-3t")


@needs_fork
def test_the_command_with_an_invalid_protocol_fails_as_before(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nsequences: [{id: 3}]\n", encoding="utf-8")
    with pytest.raises(ProtocolError) as here:
        load_protocol(str(bad))
    assert main(["check", str(SAMPLE), "--protocol", str(bad), "--cache", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("protocheck: error: ") and str(here.value).splitlines()[0] in err
    assert resolve_protocol_path(str(bad)) == bad


@needs_fork
def test_the_protocol_is_built_from_the_text_its_identity_was_made_of(tmp_path):
    """The report key holds ``identity`` (the text read at the start): a file edited meanwhile changes nothing."""
    from protocheck.storage.protocol_cache import identity
    source = resolve_protocol_path("als-brain-3t").read_text(encoding="utf-8")
    mine = tmp_path / "mine.yaml"
    mine.write_text(source, encoding="utf-8")
    pending = ProtocolAhead(str(mine), None)
    mine.write_text(source.replace("name: als-brain-3t", "name: edited-meanwhile", 1), encoding="utf-8")
    assert pending.identity == identity(source, str(mine))
    assert pending.result().name == "als-brain-3t"


STORED = """\
import sys, pathlib, tempfile
from protocheck.protocol.ahead import ProtocolAhead
folder = pathlib.Path(tempfile.mkdtemp())
first = ProtocolAhead("als-brain-3t", folder)
first.result()   # stored in the folder (by the child, or here)
for name in [n for n in sys.modules if n.startswith("protocheck.protocol.") and n != "protocheck.protocol.ahead"
             and n != "protocheck.protocol.paths"]:
    del sys.modules[name]   # as in a new process
again = ProtocolAhead("als-brain-3t", folder)
assert again.stored and not again.pending and again.identity == first.identity
assert "protocheck.protocol.model" not in sys.modules   # nothing unpickled before it is asked for
assert again.result().name == "als-brain-3t" and "yaml" not in sys.modules
"""


def test_a_stored_protocol_is_unpickled_only_when_asked_for():
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", STORED], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
