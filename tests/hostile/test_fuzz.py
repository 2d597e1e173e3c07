"""Fuzz the DICOM reader with mutated real headers: no unhandled exception, no hang, every file accounted for.

Real headers of several vendors are mutated (bytes flipped, lengths changed to extreme values, elements cut,
ranges deleted, splices from another header) and fed to ``DicomCollector.add_fileobj`` as in-memory files,
both as the first file of a series (full read) and after the intact original (per-file partial read).
Runs are reproducible (``derandomize=True``, no example database). A SIGALRM watchdog per file turns a
hang into a recorded failure (it bounds time per file; nothing asserts on speed). Counts are printed.
"""
from __future__ import annotations

import faulthandler
import io
import logging
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore")

SEED_FILES = (   # (series folder, file index): small classic and enhanced headers of 5 vendors
    (corpus.GOOD_SERIES, 0),                          # GE classic
    ("dcm_qa_sag/2_gre_field_mapping", 0),            # Siemens classic (CSA)
    ("dcm_qa_philips_enh/cl/SN1901_445468", 0),       # Philips classic
    ("dcm_qa_canon_61/enh/SN3000_343001", 0),         # Canon enhanced
    (corpus.ENHANCED_FILE, 0),                        # Siemens XA enhanced
)
EXAMPLES_PER_RUN = int(os.environ.get("PROTOCHECK_FUZZ_EXAMPLES", "500"))  # x 2 runs x 2 read paths
PER_FILE_SECONDS = 10       # watchdog: a single file taking longer than this is a hang
EXTREME = (0, 1, 3, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF)


class Hang(Exception):
    """Raised by the watchdog when one file takes longer than PER_FILE_SECONDS."""


def _on_alarm(signum, frame):  # pragma: no cover - only on a hang
    raise Hang(f"reader still busy after {PER_FILE_SECONDS} s")


@pytest.fixture(scope="module")
def seeds(dicom_root: Path) -> list[bytes]:
    out = []
    for rel, i in SEED_FILES:
        files = corpus.files_of(dicom_root, rel)
        out.append(files[i].read_bytes())
    return out


@pytest.fixture(scope="module")
def collector_cls():
    try:
        from protocheck.sources.dicom.collector import DicomCollector
    except ImportError:
        pytest.skip("protocheck.sources.dicom.collector not implemented yet")
    return DicomCollector


def _mutate(data: bytes, ops: list[tuple], splice_src: bytes) -> bytes:
    """Apply the drawn operations in order; every position is taken modulo the current length."""
    b = bytearray(data)
    for op in ops:
        if not b:
            break
        kind, a, c, v = op
        pos = a % len(b)
        if kind == "flip":
            b[pos] ^= (v % 255) + 1
        elif kind == "len16":
            b[pos:pos + 2] = (EXTREME[v % len(EXTREME)] & 0xFFFF).to_bytes(2, "little")
        elif kind == "len32":
            b[pos:pos + 4] = (EXTREME[v % len(EXTREME)]).to_bytes(4, "little")
        elif kind == "cut":
            del b[pos:]
        elif kind == "delete":
            del b[pos:pos + 1 + c % 64]
        elif kind == "splice":
            s = c % max(len(splice_src), 1)
            b[pos:pos] = splice_src[s:s + 1 + v % 512]
        elif kind == "dup":
            b[pos:pos] = b[pos:pos + 1 + c % 256]
    return bytes(b)


# Positions: mostly in the first 8 KiB (meta + identity groups), sometimes anywhere.
_pos = st.one_of(st.integers(0, 8192), st.integers(0, 2 ** 31))
_op = st.tuples(st.sampled_from(["flip", "len16", "len32", "cut", "delete", "splice", "dup"]),
                _pos, st.integers(0, 2 ** 16), st.integers(0, 2 ** 16))
_case = st.tuples(st.integers(0, len(SEED_FILES) - 1), st.integers(0, len(SEED_FILES) - 1),
                  st.lists(_op, min_size=1, max_size=6))


class _Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.crashes: list[str] = []
        self.hangs: list[str] = []
        self.unaccounted: list[str] = []


def _read_one(collector_cls, original: bytes | None, mutated: bytes, tally: _Tally, label: str) -> None:
    """Feed (original then) mutated to a fresh collector under the watchdog; record any failure."""
    tally.tried += 1
    c = collector_cls("fuzz")
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(PER_FILE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if original is not None:
                c.add_fileobj("fuzz/original.dcm", lambda: io.BytesIO(original), len(original), 0.0)
            c.add_fileobj("fuzz/mutated.dcm", lambda: io.BytesIO(mutated), len(mutated), 0.0)
            result = c.finish()
    except Hang as exc:
        tally.hangs.append(f"{label}: {exc}")
        return
    except BaseException:  # noqa: BLE001 - anything escaping the reader is a crash
        tally.crashes.append(f"{label}: {traceback.format_exc(limit=-3)}")
        return
    finally:
        signal.alarm(0)
    n_files = sum(a.n_files for a in result.acquisitions())
    expected = 2 if original is not None else 1
    if n_files + len(result.skipped) < expected:
        tally.unaccounted.append(f"{label}: {n_files} read + {len(result.skipped)} skipped < {expected}")


def _run(collector_cls, seeds: list[bytes], tally: _Tally, examples: int) -> None:
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(_case)
    def fuzz(case):
        i, j, ops = case
        mutated = _mutate(seeds[i], ops, seeds[j])
        label = f"seed {SEED_FILES[i][0]} ops {ops}"
        _read_one(collector_cls, None, mutated, tally, label + " [full read]")
        _read_one(collector_cls, seeds[i], mutated, tally, label + " [per-file read]")

    fuzz()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the hang watchdog needs SIGALRM (POSIX)")
@pytest.mark.parametrize("run", [0, 1])
def test_fuzzed_headers_never_crash_nor_hang(collector_cls, seeds, run, capsys):
    tally = _Tally()
    pydicom_log = logging.getLogger("pydicom")
    was_disabled, pydicom_log.disabled = pydicom_log.disabled, True   # millions of log lines otherwise
    faulthandler.dump_traceback_later(PER_FILE_SECONDS * 30, exit=False, file=sys.__stderr__)
    try:
        if run == 0:
            _run(collector_cls, seeds, tally, EXAMPLES_PER_RUN)
        else:   # second run: same seeds rotated, so other combinations of seed and splice source occur
            _run(collector_cls, seeds[1:] + seeds[:1], tally, EXAMPLES_PER_RUN)
    finally:
        faulthandler.cancel_dump_traceback_later()
        pydicom_log.disabled = was_disabled
    with capsys.disabled():
        print(f"\n[fuzz run {run}] cases tried: {tally.tried}, crashes: {len(tally.crashes)}, "
              f"hangs: {len(tally.hangs)}, unaccounted: {len(tally.unaccounted)}")
    assert tally.tried >= EXAMPLES_PER_RUN
    assert not tally.crashes, "\n".join(tally.crashes[:5])
    assert not tally.hangs, "\n".join(tally.hangs[:5])
    assert not tally.unaccounted, "\n".join(tally.unaccounted[:5])
