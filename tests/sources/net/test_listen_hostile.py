"""``listen`` against a hostile sender (pynetdicom SCU on loopback): deflate bombs are refused with a failure
status, small deflated instances are read, and an instance over the size cap aborts the association."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pydicom
import pytest

pynetdicom = pytest.importorskip("pynetdicom")
from pynetdicom import AE  # noqa: E402

from protocheck.sources.listen import run_listener  # noqa: E402
from protocheck.sources.options import ScanOptions  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hostile"))
import bombs  # noqa: E402

SERIES = "dcm_qa_nih/20180918Si/mr_0003"
DEFLATED = "1.2.840.10008.1.2.1.99"


def _start(tmp_path: Path, **kw):
    stop, reports, info, ready = threading.Event(), [], {}, threading.Event()

    def on_ready(port: int) -> None:
        info["port"] = port
        ready.set()

    t = threading.Thread(target=lambda: info.setdefault("result", run_listener(
        0, "PROTOCHECK", None, tmp_path / "out", ScanOptions(), host="127.0.0.1", quiet_period=0.3,
        on_report=reports.append, stop_event=stop, ready=on_ready, **kw)), daemon=True)
    t.start()
    assert ready.wait(10)
    return t, stop, reports, info


def _send_files(port: int, paths: list[Path], syntax: str):
    ae = AE(ae_title="SCANNER1")
    ae.add_requested_context(pydicom.dcmread(paths[0], stop_before_pixels=True).SOPClassUID, [syntax])
    assoc = ae.associate("127.0.0.1", port, ae_title="PROTOCHECK")
    assert assoc.is_established
    statuses = []
    for p in paths:
        rsp = assoc.send_c_store(p)          # a path: sent as encoded in the file (deflated stays deflated)
        statuses.append(getattr(rsp, "Status", None))
    if assoc.is_established:
        assoc.release()
    return assoc, statuses


def _first(dicom_root: Path) -> Path:
    return next(p for p in sorted((dicom_root / SERIES).iterdir()) if p.is_file())


def test_deflate_bomb_is_refused_not_answered_success(tmp_path, dicom_root, caplog):
    bomb = bombs.deflate_bomb(_first(dicom_root), tmp_path / "bomb.dcm", 256 * 1024 * 1024)
    small = bombs.deflate_bomb(_first(dicom_root), tmp_path / "small.dcm", 16)
    t, stop, reports, info = _start(tmp_path)
    try:
        _, statuses = _send_files(info["port"], [bomb, small], DEFLATED)
    finally:
        stop.set()
        t.join(30)
    assert statuses[0] == 0xA700, f"bomb answered {statuses[0]!r}"
    assert statuses[1] == 0, "a small deflated instance is read"
    assert len(reports) == 1 and reports[0].n_instances == 1
    assert any("deflate" in r.getMessage() for r in caplog.records)


def test_instance_over_the_size_cap_aborts_the_association(tmp_path, dicom_root, caplog):
    t, stop, reports, info = _start(tmp_path, max_instance=64 * 1024)
    f = max((p for p in (dicom_root / SERIES).iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
    assert f.stat().st_size > 64 * 1024
    try:
        assoc, statuses = _send_files(info["port"], [f], "1.2.840.10008.1.2.1")
    finally:
        stop.set()
        t.join(30)
    assert statuses in ([None], []) and assoc.is_aborted
    assert reports == []
    assert any("exceeds" in r.getMessage() for r in caplog.records)
