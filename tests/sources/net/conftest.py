"""Fixtures of the network tests: Debian's Orthanc on loopback with the real headers uploaded, and tiny
loopback HTTP servers that misbehave. Everything binds 127.0.0.1 and stops by itself."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest

from orthanc_server import OrthancServer, find_dicomweb_plugin


def unique_folders(dicom_ref_root: Path) -> list[str]:
    """The DICOM folders of mapping.tsv with status ``unique`` (one reference sidecar set per series)."""
    rows = (dicom_ref_root / "mapping.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return sorted({r.split("\t")[0] for r in rows if len(r.split("\t")) > 4 and r.split("\t")[4] == "unique"})


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """A running Orthanc with the DICOMweb plugin, HTTP on a free loopback port, basic auth on."""
    if shutil.which("Orthanc") is None and not Path("/usr/sbin/Orthanc").exists():
        pytest.skip("Debian's Orthanc is not installed (run .ci/apt-packages: orthanc orthanc-dicomweb)")
    if find_dicomweb_plugin() is None:
        pytest.skip("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def orthanc_loaded(orthanc: OrthancServer, dicom_root: Path, dicom_ref_root: Path) -> tuple[OrthancServer, list[str]]:
    """Orthanc holding every file of the ``unique`` folders of mapping.tsv (uploaded via POST /instances)."""
    folders = unique_folders(dicom_ref_root)
    for folder in folders:
        for path in sorted((dicom_root / folder).iterdir()):
            if path.is_file():
                answer = orthanc.upload(path)
                assert answer.get("Status") in ("Success", "AlreadyStored"), (path.name, answer)
    return orthanc, folders


@pytest.fixture
def dicomweb_env(monkeypatch: pytest.MonkeyPatch, orthanc: OrthancServer) -> OrthancServer:
    """The Orthanc test user's credentials in the environment variables protocheck reads."""
    monkeypatch.delenv("PROTOCHECK_DICOMWEB_TOKEN", raising=False)
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_USER", orthanc.user)
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_PASSWORD", orthanc.password)
    return orthanc


@pytest.fixture
def http_server() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], str]]:
    """Start a tiny loopback HTTP server whose GET is ``behaviour(handler)``; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(behaviour: Callable[[BaseHTTPRequestHandler], None]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.server.hits += 1  # type: ignore[attr-defined]
                self.server.auth_headers.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
                behaviour(self)

            def log_message(self, *args: object) -> None:
                pass

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        srv.hits = 0  # type: ignore[attr-defined]
        srv.auth_headers = []  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/dicom-web"

    start.servers = servers  # type: ignore[attr-defined]
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()
