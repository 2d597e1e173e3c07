"""DICOMweb failure modes on loopback: each is a NetworkError with a clear message and no credential."""

from __future__ import annotations

import socket
import time

import pytest

from protocheck.errors import InputError, NetworkError
from protocheck.sources.dicomweb import normalize_since, scan_dicomweb
from protocheck.sources.net.http import Credentials, load_credentials
from protocheck.sources.options import ScanOptions

SECRET = "s3cret-Tok3n-value"


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_TOKEN", SECRET)
    monkeypatch.delenv("PROTOCHECK_DICOMWEB_USER", raising=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send(handler, code: int, body: bytes, ctype: str = "application/dicom+json") -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_unreachable_server(monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}/dicom-web"
    with pytest.raises(NetworkError) as info:
        scan_dicomweb(url, ScanOptions(), retries=1)
    msg = str(info.value)
    assert "cannot connect" in msg and "gave up after 2 attempts" in msg and url in msg
    assert SECRET not in msg


def test_wrong_credentials(http_server):
    url = http_server(lambda h: _send(h, 401, b"{}"))
    with pytest.raises(NetworkError) as info:
        scan_dicomweb(url, ScanOptions())
    msg = str(info.value)
    assert "HTTP 401" in msg and "PROTOCHECK_DICOMWEB_TOKEN" in msg and SECRET not in msg
    assert http_server.servers[0].hits == 1          # no retry on 401
    assert http_server.servers[0].auth_headers == [f"Bearer {SECRET}"]


def test_forbidden(http_server):
    url = http_server(lambda h: _send(h, 403, b"{}"))
    with pytest.raises(NetworkError, match="refused access"):
        scan_dicomweb(url, ScanOptions())


def test_slow_server_times_out(http_server):
    def slow(h):
        time.sleep(1.5)
        _send(h, 200, b"[]")
    url = http_server(slow)
    with pytest.raises(NetworkError) as info:
        scan_dicomweb(url, ScanOptions(), timeout=0.3, retries=1)
    assert "time-out" in str(info.value) and SECRET not in str(info.value)
    assert http_server.servers[0].hits == 2


def test_malformed_json(http_server):
    url = http_server(lambda h: _send(h, 200, b"<html>login page</html>", "text/html"))
    with pytest.raises(NetworkError) as info:
        scan_dicomweb(url, ScanOptions())
    assert "malformed JSON" in str(info.value) and SECRET not in str(info.value)


def test_wrong_json_shape(http_server):
    url = http_server(lambda h: _send(h, 200, b'{"not": "a list"}'))
    with pytest.raises(NetworkError, match="not a JSON array"):
        scan_dicomweb(url, ScanOptions())


def test_server_error_is_retried_then_reported(http_server):
    url = http_server(lambda h: _send(h, 503, b""))
    with pytest.raises(NetworkError, match="HTTP 503"):
        scan_dicomweb(url, ScanOptions(), retries=2)
    assert http_server.servers[0].hits == 3


def test_empty_server_gives_no_exam(http_server):
    url = http_server(lambda h: _send(h, 200, b"[]"))
    result = scan_dicomweb(url, ScanOptions())
    assert result.exams == [] and result.roots == [url]


def test_credentials_in_url_are_refused():
    with pytest.raises(NetworkError) as info:
        scan_dicomweb("http://bob:hunter22@127.0.0.1:1/dicom-web", ScanOptions())
    assert "hunter22" not in str(info.value) and "refused" in str(info.value)


def test_bad_inputs():
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        normalize_since("last tuesday")
    assert normalize_since("2024-03-05") == "20240305"
    with pytest.raises(InputError, match="not a DICOM UID"):
        scan_dicomweb("http://127.0.0.1:1/dicom-web", ScanOptions(), study="1.2;DROP")


def test_credentials_sources(tmp_path):
    assert load_credentials(env={}) is None
    assert load_credentials(env={"PROTOCHECK_DICOMWEB_TOKEN": "t"}) == Credentials(token="t")
    basic = load_credentials(env={"PROTOCHECK_DICOMWEB_USER": "u", "PROTOCHECK_DICOMWEB_PASSWORD": "p"})
    assert basic == Credentials(user="u", password="p") and "p" not in repr(basic).replace("Credentials", "")
    f = tmp_path / "auth.json"
    f.write_text('{"token": "abc"}')
    assert load_credentials(f, env={}) == Credentials(token="abc")
    f.write_text("nothing useful\n")
    with pytest.raises(NetworkError, match="no 'token'"):
        load_credentials(f, env={})
    with pytest.raises(NetworkError, match="cannot read"):
        load_credentials(tmp_path / "missing", env={})


def test_compressed_answers_are_asked_only_from_other_machines():
    """A loopback server is asked for plain answers (compressing costs it more than it saves), others gzip."""
    from protocheck.sources.net.http import HttpClient
    for url in ("http://127.0.0.1:8042/dicom-web", "http://localhost/dicom-web", "http://[::1]:80/dicom-web"):
        assert HttpClient(url).encodings == "identity", url
    assert HttpClient("https://pacs.example.org/dicom-web").encodings == "gzip, deflate"
    assert HttpClient("http://10.0.0.7/dicom-web").encodings == "gzip, deflate"
