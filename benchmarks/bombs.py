#!/usr/bin/env python3
"""Peak memory of protocheck against bombs (issue 17): a deflate bomb given to ``check`` (a folder and a zip),
and a gzip bomb answered by a DICOMweb server. Each run is a fresh ``protocheck`` process under
``/usr/bin/time -v`` (its "Maximum resident set size"); a normal header folder is measured as the reference.

    python benchmarks/bombs.py --shared ../shared [--size-mb 2150]

The bombs are built in a temporary folder (a few MB on disk, ``--size-mb`` once inflated) and removed after.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))
import bombs  # noqa: E402  (the tests' bomb builder: one definition of the attack)

SERIES = "hazen/tests/data/acr/GE_Signa_3T_T2"


def peak_mb(args: list[str]) -> tuple[float, int, str]:
    """(peak RSS in MB, exit code, last line of stderr) of ``protocheck ARGS`` in a fresh process."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "protocheck", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    lines = [x for x in proc.stderr.splitlines() if x.startswith("protocheck")]
    return (int(rss.group(1)) / 1024 if rss else float("nan")), proc.returncode, (lines[-1] if lines else "")


def _gzip_bomb(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    return b"".join(comp.compress(block) for _ in range(size >> 20)) + comp.flush()


def serve(body: bytes) -> tuple[ThreadingHTTPServer, str]:
    """A loopback DICOMweb "server" answering every GET with ``body`` (gzip-encoded JSON)."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/dicom-web"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--size-mb", type=int, default=2150, help="inflated size of the bombs (default 2150 MB)")
    a = ap.parse_args()
    src = sorted((a.shared / "data" / "dicom" / SERIES).iterdir())
    size = a.size_mb << 20
    tmp = Path(tempfile.mkdtemp(prefix="pc-bombs-"))
    try:
        normal = tmp / "normal"
        normal.mkdir()
        for f in src:
            shutil.copyfile(f, normal / f.name)
        bomb_dir = tmp / "bomb"
        bomb = bombs.deflate_bomb(src[0], bomb_dir / "bomb.dcm", size)
        with zipfile.ZipFile(tmp / "bomb.zip", "w", zipfile.ZIP_STORED) as zf:
            zf.write(bomb, "exam/bomb.dcm")
        gz = _gzip_bomb(size)
        srv, url = serve(gz)
        print(f"deflate bomb: {bomb.stat().st_size / 1e6:.2f} MB on disk, {a.size_mb} MB inflated; "
              f"gzip bomb: {len(gz) / 1e6:.2f} MB sent, {a.size_mb} MB inflated")
        runs = [("check, normal folder (11 headers)", ["check", str(normal), "--format", "json"]),
                ("check, deflate bomb in a folder", ["check", str(bomb_dir), "--format", "json"]),
                ("check, deflate bomb in a zip", ["check", str(tmp / "bomb.zip"), "--format", "json"]),
                ("check, DICOMweb gzip bomb", ["check", url, "--study", "1.2.3", "--format", "json"])]
        print(f"{'run':<40} {'peak RSS':>10}  exit  last message")
        for label, args in runs:
            mb, rc, line = peak_mb(args)
            print(f"{label:<40} {mb:>7.1f} MB  {rc:>4}  {line[:110]}")
        srv.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
