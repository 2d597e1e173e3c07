"""Archives (.zip/.tar/.tar.gz) read in place: real series inside, limits, bombs, unsafe and broken members."""
from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
import warnings
import zipfile
from pathlib import Path

import pydicom
import pytest

from protocheck.errors import ArchiveError, ProtocheckError
from protocheck.sources.options import ArchiveLimits, ScanOptions

GOOD_SERIES = "hazen/tests/data/acr/GE_Signa_3T_T2"   # 11 real header-only files, one series


def _collector_ready() -> None:
    try:
        from protocheck.sources.dicom.collector import DicomCollector  # noqa: F401
    except ImportError:
        pytest.skip("protocheck.sources.dicom.collector not implemented yet")


@pytest.fixture(scope="module")
def series(dicom_root: Path) -> tuple[str, list[tuple[str, bytes]]]:
    files = sorted((dicom_root / GOOD_SERIES).iterdir())
    uid = str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID)
    return uid, [(f"exam/T2/{f.name}", f.read_bytes()) for f in files]


def _scan(path: Path, **limits):
    _collector_ready()
    from protocheck.sources.archives import scan_archive
    opts = ScanOptions(archive_limits=ArchiveLimits(**limits)) if limits else ScanOptions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scan_archive(path, opts)


def _zip(path: Path, members: list[tuple[str, bytes]], method=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data, compress_type=method)
    return path


def _tar(path: Path, members: list[tuple[str, bytes]], mode: str = "w", extra: list[tarfile.TarInfo] = ()) -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)
    return path


def _acq(result, uid):
    return next((a for a in result.acquisitions() if a.key == uid), None)


def _skip(result, suffix):
    return next((s for s in result.skipped if s.path.endswith(suffix)), None)


@pytest.mark.parametrize("kind", ["zip", "zip-stored", "tar", "tar.gz", "tgz"])
def test_real_series_read_in_place(tmp_path, series, kind):
    uid, members = series
    if kind.startswith("zip"):
        method = zipfile.ZIP_STORED if kind == "zip-stored" else zipfile.ZIP_DEFLATED
        path = _zip(tmp_path / "export.zip", members, method)
    else:
        mode = "w" if kind == "tar" else "w:gz"
        path = _tar(tmp_path / f"export.{kind}", members, mode)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = _scan(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "nothing may be extracted beside the archive"
    acq = _acq(result, uid)
    assert acq is not None and acq.n_files == 11, ([a.key for a in result.acquisitions()], result.skipped)
    assert not result.skipped


def test_is_archive(tmp_path, series):
    from protocheck.sources.archives import is_archive
    _, members = series
    assert is_archive(_zip(tmp_path / "a.zip", members[:1]))
    assert is_archive(_tar(tmp_path / "a.tar.gz", members[:1], "w:gz"))
    assert is_archive(_tar(tmp_path / "a.tgz", members[:1], "w:gz"))
    (tmp_path / "fake.zip").write_bytes(b"not a zip at all")
    assert not is_archive(tmp_path / "fake.zip")
    assert not is_archive(tmp_path / "missing.zip")
    (tmp_path / "x.dcm").write_bytes(members[0][1])
    assert not is_archive(tmp_path / "x.dcm")


def test_zip_bomb_member_refused(tmp_path, series):
    uid, members = series
    bomb = ("exam/bomb.dcm", b"\x00" * (8 * 1024 * 1024))       # 8 MiB of zeros: ratio ~1000:1
    result = _scan(_zip(tmp_path / "b.zip", members + [bomb]))
    s = _skip(result, "exam/bomb.dcm")
    assert s is not None and s.kind == "limit" and "ratio" in s.reason
    assert s.path == "b.zip:exam/bomb.dcm"
    assert _acq(result, uid).n_files == 11


def test_member_over_size_limit(tmp_path, series):
    uid, members = series
    big = ("exam/big.dcm", os.urandom(300_000))
    result = _scan(_zip(tmp_path / "s.zip", members + [big]), max_member_size=200_000)
    s = _skip(result, "exam/big.dcm")
    assert s is not None and s.kind == "limit" and "limit" in s.reason
    assert _acq(result, uid).n_files == 11


@pytest.mark.parametrize("fmt", ["zip", "tar", "tar.gz"])
def test_too_many_members_refuses_archive(tmp_path, series, fmt):
    _, members = series
    path = tmp_path / f"m.{fmt}"
    _zip(path, members) if fmt == "zip" else _tar(path, members, "w" if fmt == "tar" else "w:gz")
    with pytest.raises(ArchiveError) as exc:
        _scan(path, max_members=5)
    assert "m." in str(exc.value) and "limit" in str(exc.value)


@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_total_size_limit_refuses_archive(tmp_path, series, fmt):
    _, members = series
    path = tmp_path / f"t.{fmt}"
    _zip(path, members) if fmt == "zip" else _tar(path, members)
    with pytest.raises(ArchiveError, match="size"):
        _scan(path, max_total_size=50_000)


def test_gzip_bomb_tar_refused(tmp_path):
    _collector_ready()
    path = _tar(tmp_path / "bomb.tar.gz", [("zeros.dcm", b"\x00" * (16 * 1024 * 1024))], "w:gz")
    assert path.stat().st_size < 100_000
    with pytest.raises(ArchiveError, match="ratio"):
        _scan(path)


def _encrypt_flag(path: Path) -> None:
    """Set the 'encrypted' general-purpose bit on every local and central header (no real cipher needed)."""
    raw = bytearray(path.read_bytes())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = raw.find(sig)
        while i != -1:
            flags = struct.unpack_from("<H", raw, i + off)[0]
            struct.pack_into("<H", raw, i + off, flags | 0x1)
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))


def test_encrypted_member_reported(tmp_path, series):
    _, members = series
    path = _zip(tmp_path / "enc.zip", members[:2])
    _encrypt_flag(path)
    result = _scan(path)
    assert len(result.skipped) == 2
    assert all("encrypted" in s.reason for s in result.skipped)
    assert not list(result.acquisitions())


def test_unsafe_names_never_read(tmp_path, series):
    uid, members = series
    data = members[0][1]
    evil = [("../escape.dcm", data), ("/abs/path.dcm", data), ("a/../../up.dcm", data)]
    result = _scan(_zip(tmp_path / "evil.zip", members + evil))
    for name in ("../escape.dcm", "/abs/path.dcm", "a/../../up.dcm"):
        s = _skip(result, name)
        assert s is not None and s.kind == "invalid" and "unsafe" in s.reason, (name, result.skipped)
    assert _acq(result, uid).n_files == 11
    assert not (tmp_path.parent / "escape.dcm").exists()


def test_tar_links_devices_and_nested_archives(tmp_path, series):
    uid, members = series
    link = tarfile.TarInfo("exam/link.dcm")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("exam/hard.dcm")
    hard.type, hard.linkname = tarfile.LNKTYPE, members[0][0]
    dev = tarfile.TarInfo("exam/dev")
    dev.type = tarfile.CHRTYPE
    fifo = tarfile.TarInfo("exam/fifo")
    fifo.type = tarfile.FIFOTYPE
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("x.dcm", members[0][1])
    path = _tar(tmp_path / "odd.tar", members + [("exam/inner.zip", inner.getvalue())], "w",
                [link, hard, dev, fifo])
    result = _scan(path)
    for name in ("link.dcm", "hard.dcm", "dev", "fifo"):
        s = _skip(result, "exam/" + name)
        assert s is not None and s.kind == "ignored", (name, result.skipped)
    nested = _skip(result, "exam/inner.zip")
    assert nested is not None and "not opened" in nested.reason
    assert _acq(result, uid).n_files == 11


def test_corrupt_archives(tmp_path, series):
    _collector_ready()
    uid, members = series
    (tmp_path / "garbage.zip").write_bytes(os.urandom(2000))
    with pytest.raises(ArchiveError, match="garbage.zip"):
        _scan(tmp_path / "garbage.zip")
    (tmp_path / "garbage.tar.gz").write_bytes(b"\x1f\x8b" + os.urandom(2000))
    try:
        result = _scan(tmp_path / "garbage.tar.gz")
    except ProtocheckError as exc:
        assert "garbage.tar.gz" in str(exc)
    else:
        assert result.skipped and not list(result.acquisitions())
    # a tar.gz cut in the middle: the members before the cut are read, the rest reported
    full = _tar(tmp_path / "whole.tar.gz", members, "w:gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(full[: len(full) * 2 // 3])
    result = _scan(tmp_path / "cut.tar.gz")
    acq = _acq(result, uid)
    assert acq is None or 0 < acq.n_files < 11
    assert any("truncated" in s.reason or "corrupt" in s.reason for s in result.skipped)
    # a zip whose member data is damaged (CRC mismatch): reported, never raised
    zdata = bytearray(_zip(tmp_path / "crc.zip", members[:2], zipfile.ZIP_STORED).read_bytes())
    i = zdata.find(members[0][1][200:232])
    zdata[i:i + 32] = b"\xff" * 32
    (tmp_path / "crc.zip").write_bytes(bytes(zdata))
    result = _scan(tmp_path / "crc.zip")
    assert result.n_files_seen >= 2


def test_archive_not_modified(tmp_path, series):
    _, members = series
    path = _zip(tmp_path / "ro.zip", members)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    mtime = path.stat().st_mtime_ns
    _scan(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.zip"]
