#!/usr/bin/env python3
"""DICOMweb audit benchmark: a real Orthanc on loopback holding the shared DICOM headers, read by protocheck.

    python benchmarks/dicomweb.py --shared ../shared [--workdir /tmp/pc-orthanc --keep] [--concurrency 8]

Starts Debian's Orthanc with its DICOMweb plugin as the tests do (``tests/sources/net/orthanc_server.py``),
uploads every file of ``data/dicom`` (files Orthanc refuses, e.g. the README, are counted and left out), then
times, in this process: a full audit scan (``scan_dicomweb`` with a fresh index folder), the re-audit with
nothing new (same index), and ``protocheck audit URL`` as a user types it (a fresh process, the index in a
temporary user cache: first run, then re-run). Prints instances/s and the HTTP requests by kind (QIDO-RS,
WADO-RS metadata, bulk data), counted by a wrapper of the HTTP session. ``--workdir`` + ``--keep`` keeps
Orthanc's database, so a later run skips the upload. Nothing is written into the repository.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "sources" / "net"))
sys.path.insert(0, str(REPO))

from orthanc_server import OrthancServer, find_dicomweb_plugin  # noqa: E402


def _upload_all(server: OrthancServer, root: Path) -> tuple[int, int]:
    """POST every file under ``root``; (stored, refused)."""
    files = sorted(p for p in root.rglob("*") if p.is_file())

    def one(path: Path) -> bool:
        try:
            answer = server.upload(path)
        except Exception:  # noqa: BLE001 - not DICOM (README, TSV) or refused: counted
            return False
        return answer.get("Status") in ("Success", "AlreadyStored")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ok = sum(pool.map(one, files))
    return ok, len(files) - ok


def _count_requests(counts: Counter) -> Any:
    """Patch requests.Session.get to count requests by kind (QIDO-RS / WADO-RS metadata / bulk); undo()."""
    import requests

    orig = requests.Session.get

    def get(self: Any, url: str, *a: Any, **k: Any) -> Any:
        counts[kind_of(url)] += 1
        return orig(self, url, *a, **k)

    requests.Session.get = get  # type: ignore[method-assign]
    return lambda: setattr(requests.Session, "get", orig)


def kind_of(url: str) -> str:
    """QIDO-RS, WADO-RS metadata or bulk data, from a DICOMweb URL."""
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith("/metadata"):
        return "wado-metadata"
    if path.endswith(("/studies", "/series", "/instances")):
        return "qido"
    return "bulk/other"


def _timed_scan(url: str, cache: Path, concurrency: int) -> tuple[float, Any, Counter]:
    from protocheck.sources.dicomweb import scan_dicomweb
    from protocheck.sources.options import NetworkOptions, ScanOptions
    counts: Counter = Counter()
    undo = _count_requests(counts)
    try:
        t0 = time.perf_counter()
        network = NetworkOptions(concurrency=concurrency) if concurrency else NetworkOptions()
        result = scan_dicomweb(url, ScanOptions(cache_dir=cache, network=network))
        return time.perf_counter() - t0, result, counts
    finally:
        undo()


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _cli(url: str, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "protocheck", "audit", url, "--protocol", "als-brain-3t",
                    "--format", "json", "-o", os.devnull], env=env, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--workdir", type=Path, help="Orthanc's folder (database kept with --keep)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--concurrency", type=int, default=0, help="series requests at once (0: the default)")
    ap.add_argument("--repeat", type=int, default=1, help="full audits (each with a fresh index); median reported")
    args = ap.parse_args()
    if shutil.which("Orthanc") is None and not Path("/usr/sbin/Orthanc").exists() or find_dicomweb_plugin() is None:
        print("Orthanc with its DICOMweb plugin is not installed (.ci/apt-packages)", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pc-orthanc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    server = OrthancServer(workdir)
    server.start()
    try:
        return _run(server, args)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(server: OrthancServer, args: argparse.Namespace) -> int:
    import json
    n_stored = len(json.loads(server.get("/instances")))
    if n_stored == 0:
        t0 = time.perf_counter()
        ok, refused = _upload_all(server, args.shared / "data" / "dicom")
        print(f"uploaded {ok} files ({refused} refused) in {time.perf_counter() - t0:.1f} s")
        n_stored = len(json.loads(server.get("/instances")))
    print(f"Orthanc holds {n_stored} instances")
    os.environ.update(PROTOCHECK_DICOMWEB_USER=server.user, PROTOCHECK_DICOMWEB_PASSWORD=server.password)
    import statistics
    pid = server.proc.pid if server.proc is not None else 0
    with tempfile.TemporaryDirectory(prefix="pc-dw-cache-") as tmp:
        rates = []
        for k in range(max(1, args.repeat)):
            cache = Path(tmp) / f"index{k}"
            cache.mkdir()
            o0, c0 = _cpu(pid), time.process_time()
            first, result, c1 = _timed_scan(server.dicomweb, cache, args.concurrency)
            o1, c1cpu = _cpu(pid) - o0, time.process_time() - c0
            n = sum(a.n_files for a in result.acquisitions())
            rates.append(n_stored / first)
            print(f"full audit scan:  {first:7.2f} s, {n_stored / first:7.1f} instances/s "
                  f"({n} instances in {len(list(result.acquisitions()))} MR series, {len(result.exams)} studies); "
                  f"CPU: Orthanc {o1:.2f} s, protocheck {c1cpu:.2f} s; load {os.getloadavg()[0]:.1f}; "
                  f"requests {dict(c1)}")
        if len(rates) > 1:
            print(f"median of {len(rates)} full audits: {statistics.median(rates):.1f} instances/s")
        again, result2, c2 = _timed_scan(server.dicomweb, cache, args.concurrency)
        same = _digest(result) == _digest(result2)
        print(f"re-audit (nothing new): {again:7.2f} s = {100 * again / first:.1f} % of the first; "
              f"requests {dict(c2)}; same result: {same}")
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "xdg")}
        t1, t2 = _cli(server.dicomweb, env), _cli(server.dicomweb, env)
        print(f"protocheck audit URL (fresh process): first {t1:.2f} s, re-run {t2:.2f} s")
    return 0


def _digest(result: Any) -> Any:
    return sorted((a.key, a.n_files, repr(sorted(a.params.items(), key=str))) for a in result.acquisitions())


if __name__ == "__main__":
    sys.exit(main())
