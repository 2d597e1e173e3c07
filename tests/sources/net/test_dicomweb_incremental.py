"""Incremental DICOMweb audit against the real Orthanc: a re-audit with nothing new sends only QIDO-RS queries and
gives the same result; a study with one more instance is read again (only its series), the others are not."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from protocheck.errors import InputError
from protocheck.sources.dicomweb import scan_dicomweb
from protocheck.sources.options import NetworkOptions, ScanOptions

pytestmark = pytest.mark.orthanc


def kind_of(url: str) -> str:
    """qido / wado-metadata / bulk, from a DICOMweb request URL."""
    path = url.split("?", 1)[0].rstrip("/")
    if path.endswith("/metadata"):
        return "wado-metadata"
    if path.endswith(("/studies", "/series", "/instances")):
        return "qido"
    return "bulk"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> tuple[Counter, list[str]]:
    """Every GET protocheck's HTTP session sends, counted by kind (and the metadata URLs kept)."""
    counts: Counter = Counter()
    metadata: list[str] = []
    orig = requests.Session.get

    def get(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        counts[kind_of(url)] += 1
        if kind_of(url) == "wado-metadata":
            metadata.append(url)
        return orig(self, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "get", get)
    return counts, metadata


def _digest(result) -> list:
    return sorted((e.key, e.subject, [(a.key, a.n_files, sorted((k, repr(p.value)) for k, p in a.params.items()))
                                      for a in e.acquisitions]) for e in result.exams)


def _delete(server, orthanc_id: str) -> None:
    req = urllib.request.Request(f"{server.url}/instances/{orthanc_id}", method="DELETE",
                                 headers=server.auth_header())
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


def test_reaudit_sends_only_qido_and_a_grown_study_is_read_again(dicomweb_env, orthanc_loaded, dicom_root: Path,
                                                                  tmp_path: Path, counted):
    server, folders = orthanc_loaded
    counts, metadata = counted
    files = sorted(p for p in (dicom_root / folders[0]).iterdir() if p.is_file())
    answer = server.upload(files[-1])            # stored already: gives its Orthanc IDs
    _delete(server, answer["ID"])                # the study now lacks one instance
    try:
        options = ScanOptions(cache_dir=tmp_path / "cache", network=NetworkOptions(concurrency=3))
        first = scan_dicomweb(server.dicomweb, options)
        n_series = len(list(first.acquisitions()))
        assert counts["wado-metadata"] >= n_series > 0 and first.digest is not None
        counts.clear()
        again = scan_dicomweb(server.dicomweb, options)
        assert dict(counts) == {"qido": 1}       # one /studies page: no series query, no metadata, no bulk
        assert _digest(again) == _digest(first) and again.digest == first.digest
        assert [s.reason for s in again.skipped] == [s.reason for s in first.skipped]
    finally:
        assert server.upload(files[-1])["Status"] == "Success"   # the study grows back
    counts.clear()
    metadata.clear()
    grown = scan_dicomweb(server.dicomweb, options)
    study = answer["ParentStudy"]
    uid = json.loads(server.get(f"/studies/{study}"))["MainDicomTags"]["StudyInstanceUID"]
    assert metadata and all(f"/studies/{uid}/" in url for url in metadata)   # only the grown study's series
    fresh = scan_dicomweb(server.dicomweb, ScanOptions())
    assert _digest(grown) == _digest(fresh) != _digest(first)
    assert grown.digest != first.digest


def test_concurrency_out_of_range_is_an_input_error(dicomweb_env, orthanc):
    with pytest.raises(InputError, match="--concurrency") as info:
        scan_dicomweb(orthanc.dicomweb, ScanOptions(), concurrency=0)
    assert "from 1 to" in str(info.value)


def test_series_over_the_size_cap_are_read_per_instance(dicomweb_env, orthanc_loaded, monkeypatch, counted):
    """A series whose metadata answer exceeds the cap is read instance by instance: the same result."""
    import functools

    import protocheck.sources.dicomweb as dicomweb
    server, _ = orthanc_loaded
    counts, _ = counted
    whole = scan_dicomweb(server.dicomweb, ScanOptions())
    per_series = counts["wado-metadata"]
    counts.clear()
    monkeypatch.setattr(dicomweb, "HttpClient", functools.partial(dicomweb.HttpClient, max_bytes=2_000_000))
    capped = scan_dicomweb(server.dicomweb, ScanOptions())
    assert counts["wado-metadata"] > 2 * per_series       # long series' instances one by one
    assert _digest(capped) == _digest(whole)
