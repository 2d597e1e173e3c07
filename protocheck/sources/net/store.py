"""The listener's studies in flight: headers folded into one DicomCollector per study (memory follows the
number of series, never pixels), a cap on studies in flight, and completion after a quiet period."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from protocheck.logs import logger
from protocheck.model import ScanResult
from protocheck.sources.options import ScanOptions

log = logger("protocheck.listen")

# Bulk payloads dropped as soon as a dataset arrives: pixels, float pixels, spectroscopy, overlays, waveforms.
BULK_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009, 0x56000020, 0x56000010, 0x54001010, 0x00880200)


def strip_bulk(ds: Dataset) -> Dataset:
    """Remove pixel/spectroscopy/overlay/waveform payloads in place (headers only are kept)."""
    for tag in BULK_TAGS:
        if tag in ds:
            del ds[tag]
    for elem in list(ds.keys()):
        group = elem >> 16
        if 0x6000 <= group <= 0x60FF and (elem & 0xFFFF) == 0x3000:   # overlay data
            del ds[elem]
    return ds


def study_label(study_uid: str) -> str:
    """A short stable label for file names and log lines (a hash, not the UID itself)."""
    return hashlib.sha256(study_uid.encode()).hexdigest()[:12]


@dataclass
class PendingStudy:
    """One study being received: its collector, when it last got an instance, who sent it."""

    uid: str
    collector: Any
    first_seen: float
    last_seen: float
    calling_aes: set[str] = field(default_factory=set)
    n_instances: int = 0
    n_ignored: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class StudyStore:
    """Thread-safe map of studies in flight, bounded by ``max_studies``."""

    def __init__(self, options: ScanOptions, max_studies: int = 32, label: str = "listen") -> None:
        self.options = options
        self.max_studies = max(1, int(max_studies))
        self.label = label
        self._studies: dict[str, PendingStudy] = {}
        self._lock = threading.Lock()
        self._refused: set[str] = set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._studies)

    def add(self, ds: Dataset, name: str, calling_ae: str) -> bool:
        """Fold one received header into its study; False when the cap on studies in flight is reached."""
        from protocheck.sources.dicom.collector import DicomCollector

        uid = str(ds.get("StudyInstanceUID", "") or "unknown-study")
        now = time.monotonic()
        with self._lock:
            st = self._studies.get(uid)
            if st is None:
                if len(self._studies) >= self.max_studies:
                    if uid not in self._refused:
                        self._refused.add(uid)
                        log.warning("listen: %d studies already in flight (cap --max-studies %d): refusing "
                                    "study %s until one completes (the sender may retry)",
                                    len(self._studies), self.max_studies, study_label(uid))
                    return False
                st = PendingStudy(uid, DicomCollector(self.label, self.options), now, now)
                self._studies[uid] = st
                self._refused.discard(uid)
                log.info("listen: receiving study %s from %s", study_label(uid), calling_ae)
        with st.lock:
            st.collector.add_dataset(ds, name)
            st.last_seen = time.monotonic()
            st.n_instances += 1
            st.calling_aes.add(calling_ae)
        return True

    def touch(self, uid: str) -> None:
        """Count an ignored (non-MR) instance of a study in flight as activity."""
        with self._lock:
            st = self._studies.get(uid)
        if st is not None:
            with st.lock:
                st.last_seen = time.monotonic()
                st.n_ignored += 1

    def pop_quiet(self, quiet_period: float) -> list[PendingStudy]:
        """Remove and return the studies that received nothing for ``quiet_period`` seconds."""
        now = time.monotonic()
        with self._lock:
            done = [u for u, s in self._studies.items() if now - s.last_seen >= quiet_period]
            return [self._studies.pop(u) for u in done]

    def pop(self, uids: set[str] | None = None) -> list[PendingStudy]:
        """Remove and return the given studies (all when ``uids`` is None)."""
        with self._lock:
            keys = list(self._studies) if uids is None else [u for u in uids if u in self._studies]
            return [self._studies.pop(u) for u in keys]


def finish_study(st: PendingStudy) -> ScanResult:
    """The ScanResult of one received study (source kind ``listen``)."""
    with st.lock:
        result = st.collector.finish()
    for exam in result.exams:
        exam.source_kind = "dicom"
    return result
