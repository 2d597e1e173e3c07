"""``protocheck listen``: a DICOM Storage SCP that checks each received MR study against a protocol.

Only headers are kept: pixel, spectroscopy, overlay and waveform payloads are dropped in the C-STORE
handler and nothing is written to disk but the reports. Each study is folded into its own DicomCollector
(memory follows series, not images); a cap on studies in flight refuses new studies with a log line.
A study is complete after ``quiet_period`` seconds without a new instance, or, with
``end_on_release=True``, as soon as the association that sent it is released (what most consoles and
PACS do after a push). Calling AE titles and hosts outside the allow-lists are rejected at association.
SIGINT (Ctrl-C) or ``stop_event`` stops accepting, lets transfers in flight finish (bounded) and writes the
reports of every study received.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from protocheck.errors import NetworkError
from protocheck.logs import logger
from protocheck.service.reporting import StudyReport, write_study_reports
from protocheck.sources.net.store import StudyStore, strip_bulk, study_label
from protocheck.sources.options import ScanOptions

log = logger("protocheck.listen")

MR_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.2": "MR Spectroscopy Storage",
    "1.2.840.10008.5.1.4.1.1.4.3": "Enhanced MR Color Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}
STATUS_OK, STATUS_OUT_OF_RESOURCES, STATUS_CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000
DRAIN_SECONDS = 30.0
MAX_PDU = 1024 * 1024                      # the largest PDU we accept (advertised at association)
MAX_INSTANCE = 2 * 1024 ** 3               # bytes received for one instance before the association is aborted
DEFLATED = "1.2.840.10008.1.2.1.99"


class _Capped:
    """Wraps one association's socket ``recv``: refuses a PDU over ``max_pdu`` and an instance over
    ``max_instance`` bytes (pynetdicom buffers both whole before any handler runs)."""

    def __init__(self, sock: Any, max_pdu: int, max_instance: int) -> None:
        self.recv = sock.recv
        self.max_pdu = max_pdu
        self.max_instance = max_instance
        self.received = 0
        sock.recv = self

    def __call__(self, nr_bytes: int) -> bytearray:
        if nr_bytes > self.max_pdu + 64:
            log.warning("listen: association aborted: a PDU of %d bytes exceeds the limit of %d", nr_bytes,
                        self.max_pdu)
            raise OSError("PDU over the limit")
        self.received += nr_bytes
        if self.received > self.max_instance:
            log.warning("listen: association aborted: an instance exceeds %d MiB", self.max_instance >> 20)
            raise OSError("instance over the limit")
        return self.recv(nr_bytes)


class _Listener:
    """The state shared by the SCP's event handlers (one per ``run_listener`` call)."""

    def __init__(self, store: StudyStore, allow_aes: set[str] | None, allow_hosts: set[str] | None,
                 end_on_release: bool, max_instance: int = MAX_INSTANCE) -> None:
        self.store = store
        self.max_instance = max_instance
        self.allow_aes = allow_aes
        self.allow_hosts = allow_hosts
        self.end_on_release = end_on_release
        self.per_assoc: dict[int, set[str]] = {}
        self.released: list[set[str]] = []
        self.lock = threading.Lock()
        self.n_refused = 0

    def on_requested(self, event: Any) -> None:
        """Reject associations from calling AE titles or hosts outside the allow-lists."""
        assoc = event.assoc
        primitive = assoc.requestor.primitive
        ae = str(getattr(primitive, "calling_ae_title", "") or assoc.requestor.ae_title or "").strip()
        host = assoc.requestor.address
        if self.allow_aes is not None and ae not in self.allow_aes:
            self._reject(assoc, f"calling AE title {ae!r} is not on the allow-list", (0x01, 0x01, 0x03))
        elif self.allow_hosts is not None and host not in self.allow_hosts:
            self._reject(assoc, f"host {host} is not on the allow-list", (0x01, 0x01, 0x03))

    def _reject(self, assoc: Any, why: str, rsd: tuple[int, int, int]) -> None:
        self.n_refused += 1
        log.warning("listen: association rejected: %s (fix: add it with --allow-ae/--allow-host)", why)
        assoc.acse.send_reject(*rsd)
        assoc.is_rejected = True
        assoc.is_established = False
        assoc.kill()

    def on_open(self, event: Any) -> None:
        """Cap the PDU and instance sizes of a new connection."""
        sock = getattr(event.assoc.dul, "socket", None)
        if sock is not None:
            _Capped(sock, MAX_PDU, self.max_instance)

    def on_store(self, event: Any) -> int:
        """Keep the header of an MR instance (pixels dropped at once); accept and ignore anything else."""
        from protocheck.sources.dicom.inflate import InflateLimit

        capped = getattr(getattr(event.assoc.dul, "socket", None), "recv", None)
        if isinstance(capped, _Capped):
            capped.received = 0           # the next instance starts counting afresh
        try:
            ds = _decode(event)
            event.request.DataSet = None      # release the received bytes (pixels) right away
            strip_bulk(ds)
            ds.file_meta = event.file_meta
        except InflateLimit as exc:
            log.warning("listen: instance refused: %s", exc)
            return STATUS_OUT_OF_RESOURCES
        except Exception as exc:  # noqa: BLE001 - a broken instance must not stop the listener
            log.warning("listen: undecodable instance from %s (%s)", event.assoc.requestor.ae_title,
                        type(exc).__name__)
            return STATUS_CANNOT_UNDERSTAND
        ae = (event.assoc.requestor.ae_title or "").strip() or "unknown-ae"
        study = str(ds.get("StudyInstanceUID", "") or "unknown-study")
        sop_class = str(ds.get("SOPClassUID", "") or event.request.AffectedSOPClassUID or "")
        if sop_class not in MR_STORAGE:
            self.store.touch(study)
            log.debug("listen: ignored a non-MR instance (%s) from %s", sop_class, ae)
            return STATUS_OK
        sop = str(ds.get("SOPInstanceUID", "") or event.request.AffectedSOPInstanceUID or "instance")
        try:
            if not self.store.add(ds, f"{ae}/{sop}", ae):
                return STATUS_OUT_OF_RESOURCES
        except Exception as exc:  # noqa: BLE001 - report, refuse this instance, keep listening
            log.warning("listen: instance of study %s not read (%s: %s)", study_label(study),
                        type(exc).__name__, str(exc)[:200])
            return STATUS_CANNOT_UNDERSTAND
        with self.lock:
            self.per_assoc.setdefault(id(event.assoc), set()).add(study)
        return STATUS_OK

    def on_released(self, event: Any) -> None:
        """Remember the studies sent on a released association (complete when --end-on-release)."""
        with self.lock:
            studies = self.per_assoc.pop(id(event.assoc), set())
            if self.end_on_release and studies:
                self.released.append(studies)

    def on_aborted(self, event: Any) -> None:
        with self.lock:
            self.per_assoc.pop(id(event.assoc), None)

    def take_released(self) -> set[str]:
        with self.lock:
            out: set[str] = set().union(*self.released) if self.released else set()
            self.released.clear()
            return out


def _decode(event: Any) -> Any:
    """The received dataset; a deflated one is inflated lazily, capped, and only up to its pixel data."""
    if str(event.context.transfer_syntax) != DEFLATED:
        return event.dataset
    from protocheck.sources.dicom.inflate import read_dataset_deflated

    raw = event.request.DataSet
    raw.seek(0)
    return read_dataset_deflated(raw, lambda tag, vr, length: tag in (0x7FE00010, 0x7FE00008, 0x7FE00009))


def _make_ae(ae_title: str, listener: _Listener, max_associations: int) -> Any:
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts

    ae = AE(ae_title=ae_title)
    ae.maximum_associations = max_associations
    ae.maximum_pdu_size = MAX_PDU
    seen = set()
    for uid in list(MR_STORAGE) + [cx.abstract_syntax for cx in AllStoragePresentationContexts]:
        if uid is not None and uid not in seen:
            seen.add(uid)
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
    return ae


def _handlers(listener: _Listener) -> list:
    from pynetdicom import evt

    return [(evt.EVT_CONN_OPEN, listener.on_open),
            (evt.EVT_REQUESTED, listener.on_requested), (evt.EVT_C_STORE, listener.on_store),
            (evt.EVT_RELEASED, listener.on_released), (evt.EVT_ABORTED, listener.on_aborted),
            (evt.EVT_C_ECHO, lambda e: STATUS_OK)]


def _resolve_protocol(protocol: Any) -> Any:
    if protocol is None or not isinstance(protocol, (str, os.PathLike)):
        return protocol
    from protocheck.protocol.loader import load_protocol
    return load_protocol(os.fspath(protocol))


def _complete(store: StudyStore, studies: Iterable, protocol: Any, out_dir: Path, options: ScanOptions,
              on_report: Callable[[StudyReport], None] | None, reports: list[StudyReport]) -> None:
    for st in studies:
        try:
            rep = write_study_reports(st, protocol, out_dir, options.include_identifiers)
        except Exception as exc:  # noqa: BLE001 - one bad study never stops the listener
            log.error("listen: study %s could not be checked (%s: %s)", study_label(st.uid),
                      type(exc).__name__, str(exc)[:300])
            continue
        reports.append(rep)
        log.warning("listen: %s", rep.line)
        if on_report is not None:
            on_report(rep)


def run_listener(port: int, ae_title: str, protocol: Any, out_dir: str | os.PathLike,
                 options: ScanOptions | None = None, allow_aes: Iterable[str] | None = None,
                 allow_hosts: Iterable[str] | None = None, quiet_period: float = 60.0,
                 on_report: Callable[[StudyReport], None] | None = None, *, host: str = "0.0.0.0",
                 end_on_release: bool = False, max_studies: int = 32, max_associations: int = 10,
                 max_instance: int = MAX_INSTANCE,
                 stop_event: threading.Event | None = None,
                 ready: Callable[[int], None] | None = None) -> list[StudyReport]:
    """Run a Storage SCP until SIGINT or ``stop_event``; check each complete study and write its reports."""
    options = options or ScanOptions()
    protocol = _resolve_protocol(protocol)
    out = Path(out_dir)
    store = StudyStore(options, max_studies, label=f"dicom://{ae_title}")
    listener = _Listener(store, set(a.strip() for a in allow_aes) if allow_aes else None,
                         set(allow_hosts) if allow_hosts else None, end_on_release, max_instance)
    ae = _make_ae(ae_title, listener, max_associations)
    try:
        server = ae.start_server((host, port), block=False, evt_handlers=_handlers(listener))
    except OSError as exc:
        raise NetworkError(f"cannot listen on {host}:{port} ({exc.strerror})", where="--port",
                           fix="choose a free port (ports below 1024 need privileges)") from None
    bound = server.server_address[1]
    if allow_aes is None and allow_hosts is None:
        log.warning("listen: no --allow-ae/--allow-host given: any DICOM node reaching port %d may send", bound)
    log.warning("listen: %s listening on %s:%d (quiet period %g s%s)", ae_title, host, bound, quiet_period,
                ", study ends on association release" if end_on_release else "")
    if ready is not None:
        ready(bound)
    stop = stop_event or threading.Event()
    tick = max(0.05, min(1.0, quiet_period / 4))
    reports: list[StudyReport] = []
    try:
        while not stop.wait(tick):
            done = store.pop_quiet(quiet_period)
            released = listener.take_released()
            if released:
                done += store.pop(released)
            _complete(store, done, protocol, out, options, on_report, reports)
    except KeyboardInterrupt:
        log.warning("listen: interrupted: finishing transfers in flight, then writing the reports")
    finally:
        _drain(ae, server)
        _complete(store, store.pop(), protocol, out, options, on_report, reports)
    return reports


def _drain(ae: Any, server: Any) -> None:
    """Stop accepting, wait (bounded) for associations in flight, then stop the AE."""
    import time

    in_flight = list(server.active_associations)
    server.shutdown()
    deadline = time.monotonic() + DRAIN_SECONDS
    while any(a.is_alive() for a in in_flight) and time.monotonic() < deadline:
        time.sleep(0.1)
    ae.shutdown()
