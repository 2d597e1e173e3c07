"""Start Debian's Orthanc (with the DICOMweb plugin) on loopback for the network tests, and stop it."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")
TEST_USER = "pcuser"
TEST_PASSWORD = "pc-secret-Pw0rd"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_dicomweb_plugin() -> Path | None:
    """The path of Orthanc's DICOMweb plugin, or None."""
    for d in PLUGIN_DIRS:
        p = Path(d) / "libOrthancDicomWeb.so"
        if p.is_file():
            return p
    return None


class OrthancServer:
    """One Orthanc process with a temporary storage folder, HTTP on a free port, basic auth on."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dicomweb = f"{self.url}/dicom-web"
        self.user, self.password = TEST_USER, TEST_PASSWORD
        self.proc: subprocess.Popen | None = None

    def _config(self) -> dict:
        plugin = find_dicomweb_plugin()
        return {
            "Name": "protocheck-test",
            "StorageDirectory": str(self.workdir / "db"),
            "IndexDirectory": str(self.workdir / "db"),
            "HttpPort": self.port,
            "HttpServerEnabled": True,
            "DicomServerEnabled": False,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {self.user: self.password},
            "Plugins": [str(plugin)] if plugin else [],
            "HttpThreadsCount": 4,
            "ConcurrentJobs": 1,
            "SaveJobs": False,
            "StableAge": 1,
            "UnknownSopClassAccepted": True,
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False,
                         "StudiesMetadata": "Full", "SeriesMetadata": "Full",
                         "Host": f"127.0.0.1:{self.port}", "Ssl": False},
        }

    def auth_header(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def start(self, timeout: float = 30.0) -> None:
        """Start Orthanc and wait (bounded) until its REST API answers."""
        exe = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
        cfg = self.workdir / "orthanc.json"
        cfg.write_text(json.dumps(self._config(), indent=1))
        log = open(self.workdir / "orthanc.log", "wb")
        self.proc = subprocess.Popen([exe, str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited early; see {self.workdir / 'orthanc.log'}")
            try:
                self.get("/system")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("Orthanc did not answer within %.0f s" % timeout)

    def get(self, path: str) -> bytes:
        req = urllib.request.Request(self.url + path, headers=self.auth_header())
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def upload(self, path: Path) -> dict:
        """POST one DICOM file to /instances; returns Orthanc's answer."""
        req = urllib.request.Request(self.url + "/instances", data=path.read_bytes(), method="POST",
                                     headers={**self.auth_header(), "Content-Type": "application/dicom"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        """Terminate the process (bounded wait, then kill)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
