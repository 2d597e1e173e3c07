"""Read .zip / .tar / .tar.gz exports in place (nothing is ever extracted to disk), within safety limits.

Every member is handed to the DICOM collector as ``"<archive name>:<member path>"`` with an opener that
returns a binary file object. Limits come from ``ScanOptions.archive_limits``:

- too many members, or a total uncompressed size over the limit: the whole archive is refused
  (``ArchiveError``), before anything is read for a zip (central directory) and as soon as it is known
  for a tar;
- a member larger than the member limit, or a zip member whose compression ratio is suspicious
  (a zip bomb): that member is skipped (``SkippedFile`` kind ``limit``);
- encrypted members, unsafe names (absolute or with ``..``), links and device members of a tar,
  corrupt members: skipped with the reason, never extracted, never a crash.

Nested archives (an archive inside an archive) are not opened: they are listed as skipped with the reason.
"""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Callable

from protocheck.errors import ArchiveError
from protocheck.model import ScanResult, SkippedFile
from protocheck.sources.options import ArchiveLimits, ScanOptions

ARCHIVE_SUFFIXES: tuple[str, ...] = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# Below this uncompressed size a high compression ratio is harmless (and normal for zero-padded headers).
RATIO_MIN_SIZE = 1024 * 1024
_CHUNK = 1024 * 1024

Opener = Callable[[], IO[bytes]]


def is_archive(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a file protocheck reads as an archive export (by name, then by content)."""
    p = Path(path)
    name = p.name.lower()
    if not any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        return False
    try:
        if not p.is_file():
            return False
        if name.endswith(".zip"):
            return zipfile.is_zipfile(p)
        return tarfile.is_tarfile(p)
    except OSError:
        return False


def _member_name_problem(name: str) -> str | None:
    """Why a member name is unsafe (absolute, drive letter, ``..``), or None when it is fine."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        return "absolute member path"
    if ".." in PurePosixPath(norm).parts:
        return "member path with '..'"
    if "\x00" in name:
        return "member path with a NUL byte"
    return None


def _is_nested_archive(name: str) -> bool:
    low = name.lower()
    return any(low.endswith(s) for s in ARCHIVE_SUFFIXES) or low.endswith((".gz", ".7z", ".rar"))


class _Feeder:
    """Hands members to a DicomCollector and records the members that were not read."""

    def __init__(self, path: Path, options: ScanOptions) -> None:
        from protocheck.sources.dicom.collector import DicomCollector  # late: A's module, heavy import
        self.path = path
        self.label = path.name
        self.limits: ArchiveLimits = options.archive_limits
        self.collector = DicomCollector(path, options)
        self.skipped: list[SkippedFile] = []
        self.n_seen = 0

    def name(self, member: str) -> str:
        return f"{self.label}:{member}"

    def skip(self, member: str, reason: str, kind: str) -> None:
        self.skipped.append(SkippedFile(self.name(member), reason, kind))

    def screen(self, member: str, size: int) -> bool:
        """Skip (with the reason) unsafe names, nested archives and over-size members; True if readable."""
        problem = _member_name_problem(member)
        if problem:
            self.skip(member, f"{problem}: unsafe member name, not read (an extraction could write outside "
                      "its folder; fix: re-export the archive with relative paths)", "invalid")
            return False
        if _is_nested_archive(member):
            self.skip(member, "archive inside an archive: not opened (fix: extract it and scan it "
                      "separately)", "ignored")
            return False
        if size > self.limits.max_member_size:
            self.skip(member, f"member of {size} bytes exceeds the member size limit of "
                      f"{self.limits.max_member_size} bytes: not read (fix: raise the archive member "
                      "limit or extract the archive)", "limit")
            return False
        return True

    def feed(self, member: str, opener: Opener, size: int, mtime: float) -> None:
        """Give one member to the collector; any failure of the reader becomes a SkippedFile."""
        self.n_seen += 1
        try:
            self.collector.add_fileobj(self.name(member), opener, size, mtime)
        except Exception as exc:  # noqa: BLE001 - a broken member must never stop the scan
            self.skip(member, f"corrupt archive member, not read: {type(exc).__name__}: {exc}"[:300],
                      "unreadable")

    def result(self) -> ScanResult:
        res = self.collector.finish()
        res.skipped.extend(self.skipped)
        res.n_files_seen = max(res.n_files_seen, self.n_seen)
        if str(self.path) not in res.roots:
            res.roots.insert(0, str(self.path))
        return res


def scan_archive(path: Path, options: ScanOptions) -> ScanResult:
    """Read the DICOM members of a .zip/.tar/.tar.gz export in place; refuse archives over the limits."""
    path = Path(path)
    if not path.is_file():
        raise ArchiveError("archive not found or not a regular file", path=str(path),
                           fix="give the path of an existing .zip/.tar/.tar.gz file")
    name = path.name.lower()
    if name.endswith(".zip"):
        return _scan_zip(path, options)
    if any(name.endswith(s) for s in ARCHIVE_SUFFIXES):
        return _scan_tar(path, options)
    raise ArchiveError("not an archive name protocheck reads", path=str(path),
                       fix="use a .zip, .tar, .tar.gz or .tgz export, or give the folder instead")


# --------------------------------------------------------------------------------------------- zip

def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArchiveError(f"corrupt or unreadable zip archive ({exc})", path=str(path),
                           fix="re-create the export, or extract it with another tool and scan the folder"
                           ) from None
    except OSError as exc:
        raise ArchiveError(f"cannot open the archive: {exc.strerror or exc}", path=str(path),
                           fix="check the file exists and is readable") from None


def _check_zip_totals(path: Path, infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(infos) > limits.max_members:
        raise ArchiveError(f"{len(infos)} members exceed the limit of {limits.max_members}", path=str(path),
                           where="central directory",
                           fix="extract the archive and scan the folder, or raise the member limit")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_size:
        raise ArchiveError(f"uncompressed size {total} bytes exceeds the limit of {limits.max_total_size} "
                           "bytes (possible zip bomb)", path=str(path), where="central directory",
                           fix="extract the archive and scan the folder, or raise the total size limit")


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Opener:
    return lambda: zf.open(info)


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    try:
        import datetime as _dt
        return _dt.datetime(*info.date_time).timestamp()
    except (ValueError, OverflowError, OSError):
        return 0.0


def _scan_zip(path: Path, options: ScanOptions) -> ScanResult:
    limits = options.archive_limits
    with _open_zip(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        _check_zip_totals(path, infos, limits)
        feeder = _Feeder(path, options)
        for info in infos:
            member = info.filename
            if not feeder.screen(member, info.file_size):
                continue
            if info.flag_bits & 0x1:
                feeder.skip(member, "encrypted member: not read (fix: export the archive without a "
                            "password)", "unreadable")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size >= RATIO_MIN_SIZE and ratio > limits.max_ratio:
                feeder.skip(member, f"compression ratio {ratio:.0f}:1 exceeds the limit of "
                            f"{limits.max_ratio:.0f}:1 (possible zip bomb): not read", "limit")
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                          zipfile.ZIP_LZMA):
                feeder.skip(member, f"unsupported zip compression method {info.compress_type}: not read "
                            "(fix: re-create the archive with deflate)", "unreadable")
                continue
            feeder.feed(member, _zip_opener(zf, info), info.file_size, _zip_mtime(info))
        return feeder.result()


# --------------------------------------------------------------------------------------------- tar

def _tar_kind_problem(m: tarfile.TarInfo) -> str | None:
    if m.issym() or m.islnk():
        return "link member (symbolic or hard link): not followed"
    if m.ischr() or m.isblk() or m.isfifo():
        return "device or pipe member: not read"
    if not m.isfile():
        return "not a regular file member: not read"
    return None


def _tar_opener(tf: tarfile.TarFile, m: tarfile.TarInfo, buffered: bool, limit: int) -> Opener:
    """Random-access opener for a plain tar; for a compressed stream, the member read once into memory."""
    if not buffered:
        return lambda: _checked(tf.extractfile(m), m)
    fobj = _checked(tf.extractfile(m), m)
    data = fobj.read(limit + 1)
    if len(data) != m.size:
        raise EOFError(f"member data truncated ({len(data)} of {m.size} bytes)")
    return lambda: io.BytesIO(data)


def _checked(fobj: IO[bytes] | None, m: tarfile.TarInfo) -> IO[bytes]:
    if fobj is None:
        raise ValueError(f"member {m.name!r} has no data")
    return fobj


def _tar_open(path: Path) -> tuple[tarfile.TarFile, bool]:
    """Open a tar: random access when uncompressed, a single forward stream when compressed."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        compressed = magic[:2] == b"\x1f\x8b" or magic[:3] == b"BZh" or magic[:6] == b"\xfd7zXZ\x00"
        if compressed:
            return tarfile.open(path, mode="r|*"), True
        return tarfile.open(path, mode="r:"), False
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise ArchiveError(f"corrupt or unreadable tar archive ({exc})", path=str(path),
                           fix="re-create the export, or extract it with another tool and scan the folder"
                           ) from None
    except OSError as exc:
        raise ArchiveError(f"cannot open the archive: {exc.strerror or exc}", path=str(path),
                           fix="check the file exists and is readable") from None


def _scan_tar(path: Path, options: ScanOptions) -> ScanResult:
    limits = options.archive_limits
    tf, streamed = _tar_open(path)
    archive_size = max(path.stat().st_size, 1)
    feeder = _Feeder(path, options)
    count = total = 0
    last = "(start)"
    with tf:
        members = iter(tf)
        while True:
            try:
                m = next(members)
            except StopIteration:
                break
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                feeder.skip(f"(after {last})", f"corrupt or truncated tar archive: reading stopped here "
                            f"({exc}); members after this point were not read", "unreadable")
                break
            last = m.name
            if m.isdir():
                continue
            count += 1
            total += max(m.size, 0)
            _check_tar_totals(path, count, total, archive_size, streamed, limits)
            _tar_member(feeder, tf, m, streamed, limits)
    return feeder.result()


def _check_tar_totals(path: Path, count: int, total: int, archive_size: int, streamed: bool,
                      limits: ArchiveLimits) -> None:
    if count > limits.max_members:
        raise ArchiveError(f"more than {limits.max_members} members (limit)", path=str(path),
                           fix="extract the archive and scan the folder, or raise the member limit")
    if total > limits.max_total_size:
        raise ArchiveError(f"uncompressed size exceeds the limit of {limits.max_total_size} bytes",
                           path=str(path),
                           fix="extract the archive and scan the folder, or raise the total size limit")
    if streamed and total >= RATIO_MIN_SIZE and total / archive_size > limits.max_ratio:
        raise ArchiveError(f"compression ratio above {limits.max_ratio:.0f}:1 (possible decompression bomb)",
                           path=str(path), fix="extract the archive with a trusted tool and scan the folder")


def _tar_member(feeder: _Feeder, tf: tarfile.TarFile, m: tarfile.TarInfo, streamed: bool,
                limits: ArchiveLimits) -> None:
    """Screen one tar member and feed it; problems become SkippedFiles."""
    problem = _tar_kind_problem(m)
    if problem:
        feeder.skip(m.name, problem, "ignored")
        return
    if not feeder.screen(m.name, m.size):
        return
    try:
        opener = _tar_opener(tf, m, streamed, limits.max_member_size)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        feeder.skip(m.name, f"corrupt archive member, not read: {exc}", "unreadable")
        return
    feeder.feed(m.name, opener, m.size, float(m.mtime or 0))
