"""DICOMweb input against a real Orthanc holding the real headers: same parameters as reading the files."""

from __future__ import annotations

from pathlib import Path

import pytest

from protocheck.errors import NetworkError
from protocheck.sources.dicom import scan_dicom
from protocheck.sources.dicom.collector import DicomCollector
from protocheck.sources.dicomweb import _studies, scan_dicomweb
from protocheck.sources.net.http import HttpClient, load_credentials
from protocheck.sources.options import ScanOptions

pytestmark = pytest.mark.orthanc


def _by_series(scan) -> dict:
    return {a.key: a for a in scan.acquisitions()}


def _diff(file_acq, web_acq) -> list[str]:
    out = []
    for name in sorted(set(file_acq.params) | set(web_acq.params)):
        fv, wv = file_acq.get(name), web_acq.get(name)
        if fv != wv:
            out.append(f"{name}: files={fv!r} dicomweb={wv!r}")
    for attr in ("n_files", "roles", "description", "series_number"):
        if getattr(file_acq, attr) != getattr(web_acq, attr):
            out.append(f"{attr}: files={getattr(file_acq, attr)!r} dicomweb={getattr(web_acq, attr)!r}")
    return out


@pytest.fixture(scope="module")
def web_scan(orthanc_loaded, monkeypatch_module=None):
    server, _ = orthanc_loaded
    import os
    old = {k: os.environ.get(k) for k in ("PROTOCHECK_DICOMWEB_USER", "PROTOCHECK_DICOMWEB_PASSWORD",
                                          "PROTOCHECK_DICOMWEB_TOKEN")}
    os.environ["PROTOCHECK_DICOMWEB_USER"] = server.user
    os.environ["PROTOCHECK_DICOMWEB_PASSWORD"] = server.password
    os.environ.pop("PROTOCHECK_DICOMWEB_TOKEN", None)
    try:
        return scan_dicomweb(server.dicomweb, ScanOptions())
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _file_side(dicom_root: Path, folders: list[str]) -> dict:
    """Series read from the files. A SeriesInstanceUID found in several folders (a classic and an enhanced
    export of one series) is one series on a server: its folders are read together, as Orthanc holds them."""
    where: dict[str, list[str]] = {}
    out = {}
    for folder in folders:
        for key, acq in _by_series(scan_dicom(dicom_root / folder, ScanOptions())).items():
            where.setdefault(key, []).append(folder)
            out[key] = acq
    for key, several in where.items():
        if len(several) > 1:
            collector = DicomCollector(dicom_root, ScanOptions())
            for folder in several:
                for path in sorted((dicom_root / folder).iterdir()):
                    collector.add_path(path, f"{folder}/{path.name}")
            out[key] = _by_series(collector.finish())[key]
    return {k: (v, where[k]) for k, v in out.items()}


@pytest.mark.slow
def test_every_unique_series_has_the_same_parameters_as_the_files(orthanc_loaded, web_scan, dicom_root: Path):
    """Each ``unique`` folder of mapping.tsv: every normalized parameter equal between files and DICOMweb."""
    _, folders = orthanc_loaded
    web = _by_series(web_scan)
    n_series = n_fields = 0
    problems: list[str] = []
    for key, (facq, its_folders) in _file_side(dicom_root, folders).items():
        wacq = web.get(key)
        if wacq is None:
            problems.append(f"{its_folders}: series missing from DICOMweb")
            continue
        n_series += 1
        n_fields += len(set(facq.params) | set(wacq.params))
        problems += [f"{its_folders}: {d}" for d in _diff(facq, wacq)]
    print(f"\nDICOMweb vs files: {len(folders)} folders, {n_series} series, {n_fields} fields compared, "
          f"{len(problems)} differences")
    assert n_series >= len(folders) - 1
    assert n_fields > 20 * n_series
    assert problems == []


def test_dicomweb_acquisitions_are_marked_and_carry_no_credentials(orthanc_loaded, web_scan):
    server, _ = orthanc_loaded
    assert web_scan.exams and all(e.source_kind == "dicomweb" for e in web_scan.exams)
    assert all(a.source_kind == "dicomweb" for a in web_scan.acquisitions())
    assert web_scan.roots == [server.dicomweb]
    assert server.password not in repr(web_scan)


def test_study_filter_and_since(dicomweb_env, orthanc_loaded, web_scan):
    server = dicomweb_env
    one = web_scan.exams[0].key
    only = scan_dicomweb(server.dicomweb, ScanOptions(), study=one)
    assert [e.key for e in only.exams] == [one]
    assert len(list(only.acquisitions())) == len(web_scan.exams[0].acquisitions)
    future = scan_dicomweb(server.dicomweb, ScanOptions(), since="2999-01-01")
    assert future.exams == []
    client = HttpClient(server.dicomweb, credentials=load_credentials())
    since_1990 = set(_studies(client, None, "19900101"))   # a study without StudyDate matches no range
    assert len(since_1990) >= len(web_scan.exams) - 2 and since_1990 <= {e.key for e in web_scan.exams}


def test_wrong_password_is_a_clear_error_without_the_password(orthanc, monkeypatch):
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_USER", orthanc.user)
    monkeypatch.setenv("PROTOCHECK_DICOMWEB_PASSWORD", "not-the-Right-0ne")
    with pytest.raises(NetworkError) as info:
        scan_dicomweb(orthanc.dicomweb, ScanOptions(), retries=0)
    msg = str(info.value)
    assert "401" in msg and "PROTOCHECK_DICOMWEB_USER" in msg
    assert "not-the-Right-0ne" not in msg and orthanc.password not in msg


def test_no_credentials_is_a_clear_error(orthanc, monkeypatch):
    for k in ("PROTOCHECK_DICOMWEB_USER", "PROTOCHECK_DICOMWEB_PASSWORD", "PROTOCHECK_DICOMWEB_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(NetworkError, match="requires credentials"):
        scan_dicomweb(orthanc.dicomweb, ScanOptions(), retries=0)


def test_auth_file_gives_credentials(orthanc_loaded, web_scan, tmp_path, monkeypatch):
    server, _ = orthanc_loaded
    for k in ("PROTOCHECK_DICOMWEB_USER", "PROTOCHECK_DICOMWEB_PASSWORD", "PROTOCHECK_DICOMWEB_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    auth = tmp_path / "auth.txt"
    auth.write_text(f"# test\nuser = {server.user}\npassword = {server.password}\n")
    one = web_scan.exams[0].key
    result = scan_dicomweb(server.dicomweb, ScanOptions(), study=one, auth_file=auth)
    assert [e.key for e in result.exams] == [one]
