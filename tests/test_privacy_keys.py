"""The pseudonym key is never a public constant: an installation secret (0600, created on first use) or a
key file; pseudonyms made without a key cannot be recomputed by someone who only knows protocheck."""
from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pytest

from protocheck.errors import InputError
from protocheck.privacy import pseudonym


def pseudonym_key(*args):
    from protocheck.privacy import pseudonym_key as key
    return key(*args)


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return tmp_path / "cfg" / "protocheck"


def test_default_pseudonym_is_not_the_public_constant(config):
    public = "s-" + hmac.new(b"protocheck", b"123|DOE^JOHN", hashlib.sha256).hexdigest()[:12]
    assert pseudonym("123|DOE^JOHN", None) != public


def test_installation_secret_created_0600_on_first_use_and_kept(config):
    first = pseudonym_key()
    path = config / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(config.stat().st_mode) == 0o700
    assert len(first) >= 32 and pseudonym_key() == first
    assert pseudonym("x", None) == pseudonym("x", first)


def test_processes_creating_the_secret_at_once_all_get_the_same_one(config):
    """Workers starting together on a first run: each gets the one secret (never an empty file), no temporary
    file is left beside it."""
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    read_end, write_end = os.pipe()
    children = []
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                from protocheck.privacy import installation_secret
                os.write(write_end, (installation_secret("pseudonym.key") + "\n").encode())
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    os.close(write_end)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    with os.fdopen(read_end) as fh:
        got = fh.read().split()
    assert statuses == [0] * 8 and len(got) == 8 and len(set(got)) == 1 and len(got[0]) >= 32
    assert sorted(p.name for p in config.iterdir()) == ["pseudonym.key"]


def test_a_secret_linked_first_by_another_process_is_the_one_used(config, monkeypatch):
    """The link of this process' secret fails because another process linked its own meanwhile: theirs is read."""
    from protocheck import privacy
    real_link = os.link

    def late_link(src, dst):
        (config / "pseudonym.key").write_text("theirs-" + "0" * 40 + "\n")
        os.chmod(config / "pseudonym.key", 0o600)
        return real_link(src, dst)

    monkeypatch.setattr(privacy.os, "link", late_link)
    assert privacy.installation_secret("pseudonym.key") == "theirs-" + "0" * 40
    assert sorted(p.name for p in config.iterdir()) == ["pseudonym.key"]


def test_secret_readable_by_others_is_refused(config):
    pseudonym_key()
    os.chmod(config / "pseudonym.key", 0o644)
    from protocheck.privacy import _SECRETS
    _SECRETS.clear()
    with pytest.raises(InputError, match="chmod 600"):
        pseudonym_key()


def test_key_file(tmp_path, config):
    f = tmp_path / "trial.key"
    f.write_text("a-long-shared-trial-secret-0123456789\n")
    os.chmod(f, 0o600)
    assert pseudonym_key(None, f) == "a-long-shared-trial-secret-0123456789"
    f.write_text("short")
    with pytest.raises(InputError, match="too short"):
        pseudonym_key(None, f)
    with pytest.raises(InputError, match="cannot read"):
        pseudonym_key(None, tmp_path / "missing.key")


def test_cli_key_file_option_for_check_and_listen():
    from protocheck.cli import build_parser
    parser = build_parser()
    for argv in (["check", "x", "--pseudonym-key-file", "k"], ["listen", "--out", "o", "--pseudonym-key-file", "k"]):
        assert str(parser.parse_args(argv).pseudonym_key_file) == "k"
