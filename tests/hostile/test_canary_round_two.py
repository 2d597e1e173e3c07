"""Privacy canary, round two: identifiers in folder names (as PACS exports name them), in what ``listen``
logs and writes, and in every message added for hostile input (damaged identifiers, deflate bombs, site
claims) must not reach any output unless --include-identifiers."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import pydicom
import pytest

import bombs
import hostile_corpus as corpus
from test_canary import CANARY_DATE, _leaks, _outputs, _phi_attributes, plant

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def named_tree(tmp_path: Path, dicom_root: Path) -> tuple[Path, dict[str, str]]:
    """Series under a folder named by the patient and the study date, plus hostile files from the same
    headers: a PatientID with a wrong VR and a deflate bomb."""
    phi = _phi_attributes()
    root = tmp_path / "site" / "export"
    planted: dict[str, str] = {}
    folder = None
    for rel, n in ((corpus.GOOD_SERIES, 3), (corpus.SIEMENS_SERIES, 2)):
        for f in corpus.files_of(dicom_root, rel)[:n]:
            ds = pydicom.dcmread(f)
            planted = plant(ds, phi)
            folder = folder or f"{planted['PatientName']}^PN_{CANARY_DATE}"
            corpus.save(ds, root / folder / Path(rel).name / f.name)
    src = corpus.files_of(dicom_root, corpus.OTHER_SERIES)[0]
    ds = pydicom.dcmread(src)
    plant(ds, phi)
    corpus.save(ds, root / folder / "bomb" / "canary.dcm")
    bombs.deflate_bomb(root / folder / "bomb" / "canary.dcm", root / folder / "bomb" / "bomb.dcm", 80 << 20)
    raw = bytearray((root / folder / "bomb" / "canary.dcm").read_bytes())
    (root / folder / "bomb" / "canary.dcm").unlink()
    i = raw.index(planted["PatientID"].encode())
    raw[i - 4:i - 2] = b"FD"                      # PatientID under a wrong VR (a series of its own)
    (root / folder / "badvr").mkdir()
    (root / folder / "badvr" / "bad.dcm").write_bytes(bytes(raw))
    return root, planted


def test_no_identifier_from_folder_names_or_new_messages(cli, named_tree, tmp_path):
    root, planted = named_tree
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    streams: list[str] = []
    for fmt in cli.formats:
        rc, out, err = cli("check", root, "--format", fmt, "-o", out_dir / f"check.{fmt}", "--verbose",
                           "--summary", out_dir / f"summary_{fmt}.json")
        assert rc in (0, 1), err
        streams += [out, err]
        rc, out, err = cli("check", root, "--format", fmt, "--verbose")
        streams += [out, err]
    for fmt in ("console", "json"):
        rc, out, err = cli("inspect", root, "--format", fmt, "--provenance")
        streams += [out, err]
    rc, out, err = cli("audit", root, "--format", "json", "--tsv", out_dir / "tsv")
    streams += [out, err]
    rc, out, err = cli("audit", out_dir / "summary_json.json", out_dir / "summary_tsv.json")   # two claims
    streams += [out, err]
    text = "\n".join(streams) + _outputs(out_dir)
    assert "damaged identifying element PatientID" in text and "deflate" in text
    assert "folder-" in text
    leaks = _leaks(text, planted)
    print(f"\n[canary round two] canaries: {len(planted)}, leaks: {len(leaks)}")
    assert not leaks, f"patient identifiers leaked: {leaks}"


def test_folder_names_are_kept_with_include_identifiers(cli, named_tree):
    root, planted = named_tree
    rc, out, err = cli("check", root, "--format", "json", "--include-identifiers")
    assert rc in (0, 1), err
    assert planted["PatientName"] in out


def test_listen_logs_and_reports_hold_no_identifier(tmp_path, dicom_root, caplog):
    pytest.importorskip("pynetdicom")
    from pynetdicom import AE
    from protocheck.sources.listen import run_listener
    from protocheck.sources.options import ScanOptions

    phi = _phi_attributes()
    files, planted = [], {}
    for f in corpus.files_of(dicom_root, corpus.GOOD_SERIES)[:3]:
        ds = pydicom.dcmread(f)
        planted = plant(ds, phi)
        files.append(corpus.save(ds, tmp_path / "send" / f.name))
    bomb = bombs.deflate_bomb(files[0], tmp_path / "send" / "bomb.dcm", 80 << 20)
    other = pydicom.dcmread(corpus.files_of(dicom_root, corpus.OTHER_SERIES)[0])
    plant(other, phi)
    bad = bytearray(corpus.save(other, tmp_path / "other.dcm").read_bytes())    # a study of its own
    i = bad.index(planted["PatientID"].encode())
    bad[i - 4:i - 2] = b"FD"
    (tmp_path / "send" / "bad.dcm").write_bytes(bytes(bad))
    stop, reports, info, ready = threading.Event(), [], {}, threading.Event()

    def on_ready(port: int) -> None:
        info["port"] = port
        ready.set()

    caplog.set_level(logging.DEBUG)
    t = threading.Thread(target=run_listener, args=(0, "PROTOCHECK", "als-brain-3t", tmp_path / "out",
                                                    ScanOptions()),
                         kwargs=dict(host="127.0.0.1", quiet_period=0.3, on_report=reports.append,
                                     stop_event=stop, ready=on_ready), daemon=True)
    t.start()
    assert ready.wait(10)
    try:
        ae = AE(ae_title="SCANNER1")
        ae.add_requested_context(str(pydicom.dcmread(files[0]).SOPClassUID),
                                 ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99"])
        assoc = ae.associate("127.0.0.1", info["port"], ae_title="PROTOCHECK")
        assert assoc.is_established
        for p in [*files, bomb, tmp_path / "send" / "bad.dcm"]:
            assoc.send_c_store(p)
        assoc.release()
        for _ in range(100):
            if reports:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        t.join(30)
    assert reports
    logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("protocheck"))
    text = logs + "\n" + "\n".join(r.line for r in reports) + _outputs(tmp_path / "out")
    leaks = _leaks(text, planted)
    print(f"\n[canary listen] log lines: {logs.count(chr(10)) + 1}, leaks: {len(leaks)}")
    assert not leaks, f"patient identifiers leaked from listen: {leaks}"
