"""A hostile DICOMweb server on loopback: bulk data on another host, gzip bombs, endless and dripping
answers. Each must end in a skipped element or a one-line NetworkError, with no credential sent away."""

from __future__ import annotations

import json
import time
import zlib

import pytest

from protocheck.errors import NetworkError
from protocheck.sources.dicomweb import scan_dicomweb
from protocheck.sources.net.http import HttpClient
from protocheck.sources.options import ScanOptions

SECRET = "s3cret-Tok3n-value"
STUDY, SERIES, SOP = "1.2.3.4", "1.2.3.4.5", "1.2.3.4.5.6"
MR = "1.2.840.10008.5.1.4.1.1.4"


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_TOKEN", SECRET)
    monkeypatch.delenv("PROTOCHECK_DICOMWEB_USER", raising=False)


def _send(handler, body: bytes, ctype: str = "application/dicom+json", headers: dict | None = None) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(body)


def _el(vr: str, *values) -> dict:
    return {"vr": vr, "Value": list(values)}


def _instance(bulk_uri: str) -> dict:
    return {"00080016": _el("UI", MR), "00080018": _el("UI", SOP), "00080060": _el("CS", "MR"),
            "00080070": _el("LO", "SIEMENS"), "0020000D": _el("UI", STUDY), "0020000E": _el("UI", SERIES),
            "00200013": _el("IS", 1), "00180080": _el("DS", 2000),
            "00290010": _el("LO", "SIEMENS CSA HEADER"),
            "00291010": {"vr": "OB", "BulkDataURI": bulk_uri}}


def _pacs(paths: dict[str, bytes]):
    """A behaviour answering the QIDO/WADO paths of one study and series from ``paths``."""
    def behaviour(h) -> None:
        path = h.path.split("?")[0]
        for suffix, body in paths.items():
            if path.endswith(suffix):
                return _send(h, body)
        return _send(h, b"[]")
    return behaviour


def test_bulk_data_on_another_host_is_not_fetched_and_gets_no_credentials(http_server):
    foreign = http_server(lambda h: _send(h, b"\0" * 64, "application/octet-stream"))
    meta = json.dumps([_instance(foreign.replace("/dicom-web", "/bulk/csa"))]).encode()
    url = http_server(_pacs({"/studies": json.dumps([{"0020000D": _el("UI", STUDY)}]).encode(),
                             f"/studies/{STUDY}/series": json.dumps([{"0020000E": _el("UI", SERIES),
                                                                      "00080060": _el("CS", "MR")}]).encode(),
                             "/metadata": meta}))
    result = scan_dicomweb(url, ScanOptions(), study=STUDY)
    attacker = http_server.servers[0]
    assert attacker.hits == 0 and attacker.auth_headers == []
    assert len(result.exams) == 1, "the instance is still read, without the foreign bulk value"
    notes = [s for s in result.skipped if "another scheme, host or port" in s.reason]
    assert len(notes) == 1 and SECRET not in notes[0].reason


def test_same_host_bulk_uri_is_still_fetched(http_server):
    url = http_server(lambda h: _send(h, b"\0" * 8, "application/octet-stream"))
    client = HttpClient(url)
    assert client.get_bulk(url + "/bulk/1") == b"\0" * 8
    assert client.get_bulk("/dicom-web/bulk/1") == b"\0" * 8
    for other in ("https://127.0.0.1:%d/x", "http://localhost:%d/x"):
        with pytest.raises(NetworkError, match="not fetched"):
            client.get_bulk(other % http_server.servers[0].server_address[1])


def _gzip_bomb(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    parts = [comp.compress(block) for _ in range(size >> 20)]
    return b"".join(parts) + comp.flush()


def test_gzip_bomb_is_cut_at_the_cap(http_server):
    bomb = _gzip_bomb(100 << 20)            # 100 MiB of zeros, ~100 KB on the wire; the cap is 64 MiB
    url = http_server(lambda h: _send(h, bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(NetworkError, match="larger than 64 MiB") as info:
        scan_dicomweb(url, ScanOptions(), study=STUDY)
    assert SECRET not in str(info.value)


def test_gzip_within_the_cap_is_read(http_server):
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    body = comp.compress(b"[]") + comp.flush()
    url = http_server(lambda h: _send(h, body, headers={"Content-Encoding": "gzip"}))
    assert HttpClient(url).get_json("/studies") == []


def test_endless_answer_is_cut_at_the_cap(http_server):
    def endless(h) -> None:     # 80 MiB of blanks with no length: "endless" for a 64 MiB cap
        h.send_response(200)
        h.send_header("Content-Type", "application/dicom+json")
        h.end_headers()
        try:
            for _ in range(80 * 16):
                h.wfile.write(b" " * 65536)
        except OSError:
            pass
    url = http_server(endless)
    with pytest.raises(NetworkError, match="larger than 64 MiB"):
        scan_dicomweb(url, ScanOptions(), study=STUDY)


def test_dripping_server_hits_the_overall_deadline(http_server):
    def drip(h) -> None:        # a byte every 0.15 s: never a read time-out, 6 s in all
        h.send_response(200)
        h.send_header("Content-Type", "application/dicom+json")
        h.send_header("Content-Length", "40")
        h.end_headers()
        try:
            for _ in range(40):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.15)
        except OSError:
            pass
    url = http_server(drip)
    with pytest.raises(NetworkError, match="overall deadline") as info:
        scan_dicomweb(url, ScanOptions(), study=STUDY, timeout=0.25, retries=0)
    assert SECRET not in str(info.value)


def test_server_dripping_its_headers_hits_the_overall_deadline(http_server):
    def drip(h) -> None:        # the status line and headers a byte every 0.15 s (6 s in all)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[]"[:40]:
                h.wfile.write(bytes([byte]))
                h.wfile.flush()
                time.sleep(0.15)
        except OSError:
            pass
    url = http_server(drip)
    with pytest.raises(NetworkError, match="overall deadline"):
        scan_dicomweb(url, ScanOptions(), study=STUDY, timeout=0.25, retries=0)
