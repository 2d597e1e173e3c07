#!/usr/bin/env python3
"""Archive-scale benchmark: protocheck check vs plain pydicom on a corpus built from the real shared headers.

    python benchmarks/run.py --files 20000 --shared ../shared [--corpus /tmp/pc-corpus] [--mode grow|fixed]
                             [--repeat 3]

Builds N files from the shared ``data/dicom`` headers (copies with new UIDs, so series multiply with
``--mode grow``, or only SOP instances multiply with ``--mode fixed``), then measures, each in a fresh child
process: plain pydicom ``dcmread(stop_before_pixels=True)`` (1 process), ``protocheck`` scan + compliance
check (als-brain-3t) with 1 and 2 workers and an index, and the re-audit with the index (three times, each a
fresh process: the median is the re-audit's time), then the default command as a user types it
(``protocheck check CORPUS``, no flag: user cache folder, automatic workers, console report on a pipe): first
run, unchanged re-run, re-run with 1 % of the files touched and with 1 % changed (``--only default``: only this). Prints files/s,
peak memory (ru_maxrss of the measuring process and, separately, of its largest worker; and on Linux the peak
proportional set size of all its processes together, sampled twice a second) and ratios. ``--repeat N``
runs N rounds of the speed measurements and also prints the median of the rounds' ratios: on a shared machine
the speed of a process drifts from minute to minute, and one round can land on a slow spell.
The corpus goes to ``--corpus`` or a temporary folder outside the repository; it is never committed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# dcm2niix: BIDS sidecars only; every folder level (its default depth, 5, misses the corpus's deepest files); one
# sidecar per series (its default name, here "%f_%p_%t_%s", is the same for every copy of a series: later copies
# would overwrite earlier ones)
D2N_ARGS = ("-b", "o", "-d", "9", "-f", "%p_%s_%j")
REAUDITS = 3   # re-audits per round (each a fresh process), the median taken: a 0.1 s run is at the machine's mercy


def _header(path: str) -> tuple[list[bytes], tuple[bytes, int, bytes]]:
    """The file's Study/Series/SOP Instance UIDs and its pixel tail (see ``_pixel_tail``)."""
    import pydicom
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception:  # noqa: BLE001 - not DICOM: copied unchanged
        return [], NO_PIXELS
    uids = [str(ds.get(k, "") or "").encode() for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
    return uids, _pixel_tail(ds)


NO_PIXELS = (b"", 0, b"")


def _pixel_tail(ds: object) -> tuple[bytes, int, bytes]:
    """The Pixel Data element the shared header-only file lost, as (element header, zero bytes, trailer): an
    image's files carry their pixels, and dcm2niix converts (writes a sidecar for) only files that do. The zeros
    are written as a hole (a sparse file): disk use stays that of the headers. Non-images (no Rows/Columns),
    big-endian or deflated files, and files with elements after (7FE0,0010) get nothing."""
    import struct
    from pydicom.uid import UID
    try:
        ts = UID(str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2")))   # type: ignore[attr-defined]
        if ("Rows" not in ds or "Columns" not in ds or "PixelData" in ds or max(ds.keys()) >= 0x7FE00010  # type: ignore[operator,attr-defined]
                or ts.is_deflated or not ts.is_little_endian):
            return NO_PIXELS
        size = (int(ds.Rows) * int(ds.Columns) * int(ds.get("NumberOfFrames", 1) or 1)   # type: ignore[attr-defined]
                * int(ds.get("SamplesPerPixel", 1) or 1) * ((int(ds.get("BitsAllocated", 16) or 16) + 7) // 8))  # type: ignore[attr-defined]
    except (TypeError, ValueError, AttributeError):
        return NO_PIXELS
    size += size & 1
    tag = struct.pack("<HH", 0x7FE0, 0x0010)
    if ts.is_compressed:   # encapsulated: empty offset table, one fragment, sequence delimiter
        item = struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE000, size)
        return tag + b"OB\0\0\xff\xff\xff\xff" + item, size, struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    if ts.is_implicit_VR:
        return tag + struct.pack("<I", size), size, b""
    return tag + b"OW\0\0" + struct.pack("<I", size), size, b""


def _write(out: Path, data: bytes, tail: tuple[bytes, int, bytes]) -> None:
    head, hole, trailer = tail
    with open(out, "wb") as f:
        f.write(data + head)
        if hole:
            f.seek(hole, os.SEEK_CUR)   # a hole: the pixels read as zeros and take no disk space
            if trailer:
                f.write(trailer)
            else:
                f.truncate()


def _variant(uid: bytes, k: int) -> bytes:
    """A UID of the same length (so every element length stays valid), different for each copy k."""
    if not uid or k == 0:
        return uid
    digits = str(int.from_bytes(hashlib.sha256(uid + str(k).encode()).digest()[:12], "big")).encode()
    tail, out, j = uid[-14:], bytearray(), 0
    for c in tail:
        if 48 <= c <= 57:
            out.append(digits[j % len(digits)])
            j += 1
        else:
            out.append(c)
    if out and out[0] == 48 and tail[0] != 48:
        out[0] = 49
    return uid[:-14] + bytes(out)


def build_corpus(shared: Path, dest: Path, n: int, mode: str, pixels: bool = True) -> int:
    """Write n files under dest from the shared headers (image files with their Pixel Data as a sparse hole unless
    ``pixels`` is false); returns the number written (reuses a complete corpus of the same kind)."""
    stamp = dest / ".corpus.json"
    kind = {"n": n, "mode": mode, "pixels": pixels}
    if stamp.is_file() and json.loads(stamp.read_text()) == kind:
        return n
    if dest.exists():
        shutil.rmtree(dest)
    src_root = shared / "data" / "dicom"
    sources = sorted(str(p) for p in src_root.rglob("*") if p.is_file() and p.suffix not in (".md", ".tsv"))
    meta = [(s, *_header(s), open(s, "rb").read()) for s in sources]
    for i in range(n):
        src, uids, tail, data = meta[i % len(meta)]
        k = i // len(meta)
        for j, uid in enumerate(uids):
            if uid and (mode == "grow" or j == 2):
                data = data.replace(uid, _variant(uid, k))
        out = dest / f"copy{k:05d}" / os.path.relpath(src, src_root)
        out.parent.mkdir(parents=True, exist_ok=True)
        _write(out, data, tail if pixels else NO_PIXELS)
    stamp.write_text(json.dumps(kind))
    return n


def _peak_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(me, 1), round(kids, 1)


def child(kind: str, corpus: str, workers: int, cache: str | None, report: bool = False) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    sys.path.insert(0, str(REPO))
    # streamed, never held: a list of a million paths would be counted as the measured program's memory
    files = (os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if not f.startswith("."))
    t0 = time.perf_counter()
    extra: dict = {}
    n_files = 0
    if kind == "pydicom":
        import pydicom
        for f in files:
            n_files += 1
            try:
                pydicom.dcmread(f, stop_before_pixels=True)
            except Exception:  # noqa: BLE001
                pass
    else:
        from protocheck.checks.compliance import check_scan
        from protocheck.protocol.loader import load_protocol
        from protocheck.sources import scan
        from protocheck.sources.options import ScanOptions
        opts = ScanOptions(workers=workers, cache_dir=Path(cache) if cache else None)
        result = scan([corpus], opts)
        protocol = load_protocol("als-brain-3t", opts.cache_dir)
        findings = check_scan(result, protocol, opts.cache_dir)
        n_files = result.n_files_seen
        extra = {"series": sum(1 for _ in result.acquisitions()), "exams": len(result.exams),
                 "skipped": len(result.skipped), "exam_results": len(findings)}
        if report:   # the full JSON report, built and streamed as `protocheck check --format json` does
            from protocheck.reports.json_report import json_blocks, report_to_dict
            extra["report_bytes"] = 0
            with open(os.devnull, "w", encoding="utf-8") as fh:
                for block in json_blocks(report_to_dict(findings, result, protocol, lazy=True)):
                    fh.write(block)
                    extra["report_bytes"] += len(block.encode("utf-8"))
    dt = time.perf_counter() - t0
    me, kids = _peak_mb()
    print(json.dumps({"kind": kind, "files": n_files, "seconds": round(dt, 3),
                      "files_per_s": round(n_files / dt, 1), "peak_mb": me, "worker_peak_mb": kids, **extra}))


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of a process and all its descendants (Linux): each shared page is counted once in
    the total, so forked workers add only what they do not share with their parent."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total


def measure(kind: str, corpus: Path, workers: int = 1, cache: Path | None = None, report: bool = False) -> dict:
    cmd = [sys.executable, "-W", "ignore", __file__, "--child", kind, "--corpus", str(corpus),
           "--workers", str(workers)] + (["--cache", str(cache)] if cache else []) + (["--report"] if report else [])
    pss = 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        while proc.poll() is None:   # all processes together, sampled twice a second
            pss = max(pss, _tree_pss_kb(proc.pid))
            time.sleep(0.5)
        out = proc.stdout.read().strip().splitlines()
    if proc.returncode or not out:
        sys.exit(f"the {kind} measurement failed (exit {proc.returncode})")
    row = json.loads(out[-1])
    row["total_pss_mb"] = round(pss / 1024, 1)
    print(f"  {kind:10s} workers={workers} cache={'yes' if cache else 'no ':3s} {row['files']:>8d} files "
          f"{row['seconds']:>8.2f} s {row['files_per_s']:>9.1f} files/s  peak {row['peak_mb']:>7.1f} MB "
          f"(workers {row['worker_peak_mb']:.1f} MB; all processes {row['total_pss_mb']:.1f} MB) "
          f"series={row.get('series', '-')}" + (f" JSON report {row['report_bytes']:,} bytes" if report else ""),
          flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20000, help="corpus size (files), up to 1,000,000")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="the shared data folder")
    ap.add_argument("--corpus", type=Path, help="where to build the corpus (default: a temp folder)")
    ap.add_argument("--mode", choices=("grow", "fixed"), default="grow",
                    help="grow: new study/series UIDs per copy (series grow with files); fixed: new SOP UIDs only")
    ap.add_argument("--header-only", action="store_true",
                    help="image files without their Pixel Data, as the shared headers are (dcm2niix then parses and "
                         "skips every file, writing no sidecar)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not measure plain pydicom")
    ap.add_argument("--only", choices=("speed", "memory", "default", "compare"),
                    help="memory: one 2-worker run only; default: only the default command (no flags); compare: "
                         "the default command's first run against dcm2niix (and plain pydicom), interleaved")
    ap.add_argument("--keep", action="store_true", help="keep the corpus afterwards")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of the speed measurements (each with a fresh index); with more than one, the "
                         "median of the rounds' ratios is printed too (a shared machine's speed drifts)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--cache", help=argparse.SUPPRESS)
    ap.add_argument("--report", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child == "build":
        build_corpus(a.shared, a.corpus, a.files, a.mode, not a.header_only)
        return
    if a.child:
        child(a.child, str(a.corpus), a.workers, a.cache, a.report)
        return
    if not 1 <= a.files <= 1_000_000:
        sys.exit("--files must be between 1 and 1,000,000")
    if not (a.shared / "data" / "dicom").is_dir():
        sys.exit(f"{a.shared}/data/dicom not found (give --shared PATH to the shared data folder)")
    corpus = a.corpus or Path(tempfile.gettempdir()) / f"protocheck-bench-{a.mode}-{a.files}"
    if str(corpus.resolve()).startswith(str(REPO)):
        sys.exit("the corpus must be outside the repository")
    t = time.perf_counter()
    # built in a child process: ru_maxrss survives exec on Linux, so the measuring children must start small
    subprocess.run([sys.executable, __file__, "--child", "build", "--corpus", str(corpus), "--shared", str(a.shared),
                    "--files", str(a.files), "--mode", a.mode, *(["--header-only"] if a.header_only else [])],
                   check=True)
    print(f"corpus: {a.files} files ({a.mode}) in {corpus} [{time.perf_counter() - t:.0f} s]", flush=True)
    # byte-compile protocheck as pip does at install (pydicom's modules are compiled in site-packages): with
    # PYTHONDONTWRITEBYTECODE set, every child would otherwise compile protocheck's sources again
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "protocheck")], check=True)
    if a.only == "memory":
        measure("protocheck", corpus, 2, report=True)
    elif a.only == "compare":
        compare_rounds(corpus, a.repeat, a.skip_baseline)
    elif a.only == "default":
        shares = [default_command_round(corpus) for _ in range(max(1, a.repeat))]
        if len(shares) > 1:
            print(f"median of {len(shares)} rounds: unchanged re-run {statistics.median(shares):.1f}% of the first run "
                  f"(rounds: {', '.join(f'{x:.1f}%' for x in shares)})")
    else:
        rounds = [speed_round(corpus, a.skip_baseline) for _ in range(max(1, a.repeat))]
        if len(rounds) > 1:
            speed = [r[0] for r in rounds if r[0] is not None]
            if speed:
                print(f"median of {len(speed)} rounds: 2 workers + index {statistics.median(speed):.1f}x plain pydicom "
                      f"(rounds: {', '.join(f'{x:.1f}x' for x in speed)})")
            print(f"median of {len(rounds)} rounds: re-audit {statistics.median(r[1] for r in rounds):.1f}% of the first "
                  f"run (rounds: {', '.join(f'{r[1]:.1f}%' for r in rounds)})")
        default_command_round(corpus)
    if not a.keep and a.corpus is None:
        shutil.rmtree(corpus, ignore_errors=True)


def speed_round(corpus: Path, skip_baseline: bool) -> tuple[float | None, float]:
    """One round: plain pydicom, protocheck with 1 worker, then 2 workers with a fresh index and its re-audit;
    returns (2-worker speed-up over pydicom, re-audit time in % of the first run)."""
    cache = Path(tempfile.mkdtemp(prefix="protocheck-bench-cache-"))
    try:
        base = None if skip_baseline else measure("pydicom", corpus)
        one = measure("protocheck", corpus, 1)
        two = measure("protocheck", corpus, 2, cache)
        agains = [measure("protocheck", corpus, 2, cache) for _ in range(REAUDITS)]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    ratio = None
    if base:
        ratio = two["files_per_s"] / base["files_per_s"]
        print(f"speed-up vs plain pydicom (1 process): 1 worker {one['files_per_s'] / base['files_per_s']:.1f}x, "
              f"2 workers + index (first run) {ratio:.1f}x")
    times = [r["seconds"] for r in agains]
    share = 100 * statistics.median(times) / two["seconds"]
    print(f"re-audit with the index (median of {len(times)}: {', '.join(f'{t:.3f}' for t in times)} s): "
          f"{statistics.median(times):.3f} s = {share:.1f}% of the first run ({two['seconds']:.2f} s)", flush=True)
    return ratio, share


def compare_rounds(corpus: Path, repeat: int, skip_baseline: bool) -> None:
    """Interleaved rounds of dcm2niix (``-b o``: BIDS sidecars only, into a temporary folder), the default
    command's first run (fresh user cache) and, unless skipped, plain pydicom; prints same-round ratios."""
    exe = shutil.which("dcm2niix")
    n = sum(1 for d, _, fs in os.walk(corpus) for f in fs if not f.startswith("."))
    d2n_rates, py_rates, ours = [], [], []
    for _ in range(max(1, repeat)):
        if exe:
            out = Path(tempfile.mkdtemp(prefix="protocheck-bench-dcm2niix-"))
            t = time.perf_counter()
            done = subprocess.run([exe, *D2N_ARGS, "-o", str(out), str(corpus)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, errors="replace")
            d2n = time.perf_counter() - t
            sidecars = sum(1 for _ in out.glob("*.json"))
            shutil.rmtree(out, ignore_errors=True)
            found = re.search(r"Found (\d+) DICOM file", done.stdout)
            d2n_rates.append(n / d2n)
            print(f"  dcm2niix {' '.join(D2N_ARGS)} {n:>8d} files {d2n:>8.2f} s {n / d2n:>9.1f} files/s "
                  f"({found.group(1) if found else '?'} DICOM files found, {sidecars} sidecars written)", flush=True)
        home = Path(tempfile.mkdtemp(prefix="protocheck-bench-xdg-"))
        try:
            secs, rc, _ = _run_default(corpus, {**os.environ, "XDG_CACHE_HOME": str(home), "COLUMNS": "130"})
        finally:
            shutil.rmtree(home, ignore_errors=True)
        ours.append(n / secs)
        print(f"  protocheck check (default, first run) {secs:>6.2f} s {n / secs:>9.1f} files/s (exit {rc})", flush=True)
        if not skip_baseline:
            py_rates.append(measure("pydicom", corpus)["files_per_s"])
    empty = Path(tempfile.mkdtemp(prefix="protocheck-bench-empty-"))
    home = Path(tempfile.mkdtemp(prefix="protocheck-bench-xdg-"))
    try:   # start-up: the whole command on a folder with nothing to read (interpreter, imports, exit)
        starts = [_run_default(empty, {**os.environ, "XDG_CACHE_HOME": str(home)})[0] for _ in range(5)]
    finally:
        shutil.rmtree(empty, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    print(f"start-up (the default command on an empty folder, median of 5): {statistics.median(starts):.3f} s")
    for name, rates in (("dcm2niix", d2n_rates), ("plain pydicom", py_rates)):
        if rates:
            ratios = [o / r for o, r in zip(ours, rates)]
            print(f"default command vs {name}: median {statistics.median(ratios):.2f}x "
                  f"(rounds: {', '.join(f'{x:.2f}x' for x in ratios)})")
    if not exe:
        print("dcm2niix is not on PATH (Debian: apt-get install dcm2niix): not compared")


def _run_default(corpus: Path, env: dict) -> tuple[float, int, int]:
    """``protocheck check CORPUS``, no flag, as a user types it (a fresh process, stdout a pipe):
    (wall seconds, exit code, bytes of report)."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-W", "ignore", "-m", "protocheck", "check", str(corpus)], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, done.returncode, len(done.stdout)


def default_command_round(corpus: Path) -> float:
    """The default command on a fresh user cache folder: first run, unchanged re-runs (median of REAUDITS),
    then 1 % of the files touched (new mtime: read again), then 1 % changed (new content); returns the unchanged re-run in % of the first."""
    home = Path(tempfile.mkdtemp(prefix="protocheck-bench-xdg-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(home), "COLUMNS": "130"}
    try:
        first, rc, size = _run_default(corpus, env)
        print(f"  default command, first run (empty user cache): {first:.2f} s (exit {rc}, report {size:,} bytes)")
        agains = [_run_default(corpus, env)[0] for _ in range(REAUDITS)]
        again = statistics.median(agains)
        print(f"  unchanged re-run (median of {', '.join(f'{t:.3f}' for t in agains)} s): {again:.3f} s "
              f"= {100 * again / first:.1f}% of the first run", flush=True)
        files = sorted(os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if not f.startswith("."))
        touched = files[::100]
        for f in touched:   # a new mtime: protocheck must read these files again
            st = os.stat(f)
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        after, rc, _ = _run_default(corpus, env)
        print(f"  1% touched ({len(touched):,} of {len(files):,} files): {after:.2f} s = "
              f"{100 * after / first:.1f}% of the first run (exit {rc})", flush=True)
        _changed_round(corpus, env, files[50::100], first)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 100 * again / first


def _changed_round(corpus: Path, env: dict, chosen: list[str], first: float) -> None:
    """The default command after 1 % of the files changed content (a new SOP Instance UID of the same length
    written in place over every copy of it: the file meta's (0002,0003) and the data set's (0008,0018), which the
    records read; the pixel holes stay holes), then the files restored (the corpus stays as built)."""
    import warnings

    import pydicom
    warnings.simplefilter("ignore")   # UIDs _variant made may have a component with a leading zero: pydicom warns
    saved: list[tuple[str, list[int], bytes]] = []
    try:
        for f in chosen:
            try:
                uid = str(pydicom.dcmread(f, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
                          .get("SOPInstanceUID", "") or "").encode()
            except Exception:  # noqa: BLE001 - not DICOM: left alone
                continue
            with open(f, "r+b") as fh:
                head = fh.read(1 << 18)
                places, at = [], head.find(uid) if uid else -1
                while at >= 0:
                    places.append(at)
                    at = head.find(uid, at + 1)
                for at in places:
                    fh.seek(at)
                    fh.write(_variant(uid, 999_999))
            if places:
                saved.append((f, places, uid))
        secs, rc, _ = _run_default(corpus, env)
        print(f"  1% changed ({len(saved):,} files with a new SOP Instance UID): {secs:.2f} s = "
              f"{100 * secs / first:.1f}% of the first run (exit {rc})", flush=True)
    finally:
        for f, places, uid in saved:
            with open(f, "r+b") as fh:
                for at in places:
                    fh.seek(at)
                    fh.write(uid)


if __name__ == "__main__":
    main()
