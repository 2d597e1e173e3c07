"""The Source registry: which source claims which input, and the command line's URL input going through it."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from protocheck import sources
from protocheck.errors import InputError
from protocheck.cli import main
from protocheck.model import ScanResult
from protocheck.sources.options import NetworkOptions
from protocheck.sources.registry import SOURCES, source_for


def test_each_input_is_claimed_by_its_source(tmp_path: Path) -> None:
    """URL, archive, DICOM JSON, summary, BIDS, and a DICOM tree for anything else; the DICOM tree is last."""
    with zipfile.ZipFile(tmp_path / "b.zip", "w"):
        pass
    (tmp_path / "inst.json").write_text(json.dumps([{"00080060": {"vr": "CS", "Value": ["MR"]}}]))
    (tmp_path / "summary.json").write_text(json.dumps({"schema": "protocheck-summary"}))
    (tmp_path / "bids" / "sub-01").mkdir(parents=True)
    (tmp_path / "dicom").mkdir()
    got = {name: source_for(tmp_path / name).name for name in ("b.zip", "inst.json", "summary.json", "bids",
                                                                  "dicom")}
    assert got == {"b.zip": "archive", "inst.json": "dicom-json", "summary.json": "summary", "bids": "bids",
                   "dicom": "dicom"}
    assert source_for("HTTPS://pacs.example/dicom-web").name == "dicomweb"
    assert not source_for("https://pacs.example/dicom-web").local
    assert SOURCES[-1].name == "dicom"


def test_url_on_the_command_line_carries_the_network_options(monkeypatch, tmp_path: Path, capsys) -> None:
    """A DICOMweb URL goes through sources.scan like any input; --study/--since/--timeout/--concurrency reach the
    source."""
    seen: dict = {}

    def fake_scan(url, options, **kwargs):
        seen.update(kwargs, url=url, network=options.network)
        return ScanResult(roots=[url])

    import protocheck.sources.dicomweb as dicomweb
    monkeypatch.setattr(dicomweb, "scan_dicomweb", fake_scan)
    main(["check", "https://pacs.example/dicom-web", "--study", "1.2.3", "--since", "20240101", "--timeout", "7",
          "--concurrency", "6", "--format", "json", "--no-cache"])
    capsys.readouterr()
    assert seen["url"] == "https://pacs.example/dicom-web"
    assert (seen["study"], seen["since"], seen["timeout"], seen["insecure"]) == ("1.2.3", "20240101", 7.0, False)
    assert seen["concurrency"] == 6 == seen["network"].concurrency
    assert isinstance(seen["network"], NetworkOptions)


def test_a_missing_local_input_is_refused_before_any_source(tmp_path: Path) -> None:
    """A path that does not exist is an input error (never taken for an empty DICOM tree)."""
    with pytest.raises(InputError):
        sources.scan([tmp_path / "nope"])
