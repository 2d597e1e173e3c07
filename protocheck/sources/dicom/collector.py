"""Group DICOM files into series (SeriesInstanceUID) and exams (StudyInstanceUID); memory follows series."""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import IO, Any, Callable

from protocheck.sources.dicom import _pydicom  # noqa: F401  (first: pydicom without requests)
from pydicom.dataset import Dataset

from protocheck.model import Acquisition, Exam, ScanResult, SkippedFile
from protocheck.privacy import damaged_identity, parse_dicom_date, pseudonym
from protocheck.sources.dicom import common, diffusion, enhanced, reader, vendors
from protocheck.sources.dicom.bounds import bound_dataset
from protocheck.sources.dicom.compact import (
    DenseIntSet, HashSet, IntSet, SharedParameters, pack_position, unpack_position,
)
from protocheck.sources.options import ScanOptions


def _h64(uid: str) -> int:
    """A 64-bit hash of a UID for duplicate detection, the same in every process (not ``hash``: the index's
    block summaries, a worker's included, are merged by another process, a later run's)."""
    return int.from_bytes(blake2b(uid.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class _Series:
    """Per-series aggregate: one Acquisition plus folded per-file values (compact sets, created when needed)."""

    __slots__ = ("acq", "folders", "sops", "instances", "positions", "echo_times", "diff",
                 "n_images", "multiframe", "pixel_spacing", "sop_classes")

    def __init__(self, acq: Acquisition) -> None:
        self.acq = acq
        self.folders: list[str] = []
        self.sops = HashSet()
        self.instances = DenseIntSet()
        self.positions = IntSet()      # packed positions (compact.pack_position)
        self.echo_times: set[float] | None = None
        self.diff: diffusion.DiffusionAggregate | None = None
        self.n_images = 0
        self.multiframe = False
        self.pixel_spacing: tuple = (None, "")
        self.sop_classes: tuple[str, ...] = ()


@dataclass
class _Study:
    subject: str
    date: _dt.date | None = None
    identifiers: dict[str, str] = field(default_factory=dict)
    series: list[str] = field(default_factory=list)


class DicomCollector:
    """Accepts files/openers/datasets one by one; ``finish()`` returns the ScanResult."""

    def __init__(self, root: str | os.PathLike[str], options: ScanOptions | None = None) -> None:
        self.root = os.fspath(root)
        self.options = options or ScanOptions()
        self.series: dict[str, _Series] = {}
        self.studies: dict[str, _Study] = {}
        self.skipped: list[SkippedFile] = []
        self.n_files = 0
        self._last_group: dict[str, int] = {}   # folder -> per-file last group of the series last seen there
        self._shared = SharedParameters()
        self._partial: set[str] = set()   # a block's sub-collector: series known elsewhere, folded partially
        self._exact = True                # False: a partial series' diffusion order counted its own files

    # --- inputs -------------------------------------------------------------------------------
    def add_path(self, path: str | os.PathLike[str], rel: str | None = None) -> None:
        """Read one file from disk (per-file read if its series is known, else full)."""
        path = os.fspath(path)
        name = rel if rel is not None else self._rel(path)
        self._add(name, path)

    def add_fileobj(self, name: str, opener: Callable[[], IO[bytes]], size: int | None = None,
                    mtime: float | None = None) -> None:
        """Read one archive member (or any file-like) in place through ``opener``."""
        self._add(name, opener)

    def add_dataset(self, ds: Dataset, name: str) -> None:
        """Add an already parsed dataset (DICOMweb, network)."""
        self._add(name, ds)

    def add_record(self, rec: reader.FileRecord, full_source: reader.Source | None = None) -> None:
        """Fold a FileRecord (e.g. from a worker process); ``full_source`` is read if the series is new."""
        self.n_files += 1
        if rec.skip is not None:
            self.skipped.append(rec.skip)
            return
        if not rec.series_uid:
            self.skipped.append(SkippedFile(rec.name, "missing SeriesInstanceUID (0020,000E): the file cannot "
                                            "be grouped into a series", "invalid"))
            return
        s = self.series.get(rec.series_uid)
        if s is None:
            ds = rec_ds = None
            if full_source is not None:
                try:
                    rec_ds = reader.read_header(full_source, True)
                except reader.ReadSkip as exc:
                    self.skipped.append(SkippedFile(rec.name, exc.reason, exc.kind))
                    return
                ds = rec_ds
            why = damaged_identity(ds) if ds is not None else None
            if why:
                self.skipped.append(SkippedFile(rec.name, why, "invalid"))
                return
            s = self._new_series(rec, ds)
        self._fold(s, rec)

    def _add(self, name: str, source: reader.Source) -> None:
        full = self.options.full_read or isinstance(source, Dataset)
        folder = os.path.dirname(name)
        group = self._last_group.get(folder, 0xFFFF)   # unknown folder: read everything (first file is full)
        rec = reader.read_record(name, source, full=full or group == 0xFFFF, last_group=group)
        if rec.skip is None and rec.manufacturer:
            g = vendors.per_file_last_group(rec.manufacturer)   # max: a folder may mix vendors
            self._last_group[folder] = max(g, self._last_group.get(folder, 0)) if folder in self._last_group else g
        new = rec.skip is None and bool(rec.series_uid) and rec.series_uid not in self.series
        self.add_record(rec, full_source=source if new else None)
        if self.options.progress is not None:
            self.options.progress(self.n_files, len(self.series), name)

    def _rel(self, path: str) -> str:
        if os.path.isdir(self.root):
            try:
                return os.path.relpath(path, self.root)
            except ValueError:
                return path
        return os.path.basename(path)

    # --- series -------------------------------------------------------------------------------
    def _new_series(self, rec: reader.FileRecord, ds: Dataset | None) -> _Series:
        s = describe_series(rec, ds)
        self._shared.share(s.acq)
        self.series[rec.series_uid] = s
        self._study(rec, ds).series.append(rec.series_uid)
        return s

    def adopt(self, rec: reader.FileRecord, series: _Series, study: _Study) -> None:
        """Take a new series read elsewhere (a worker's or the index's seed), then fold ``rec`` into it."""
        self._shared.share(series.acq)
        uid = series.acq.key   # the UID's text once per series, not once per place that names it
        self.series[uid] = series
        self.studies.setdefault(rec.study_uid or "unknown-study", study).series.append(uid)
        self.add_record(rec)

    # --- block summaries (incremental index) -----------------------------------------------------
    def sub(self, known: Any = (), assume: bool = False) -> "DicomCollector":
        """An empty collector with this one's root and options, for one block of files: the series of ``known``
        that are here (with ``assume``: all of them) get empty partial aggregates there (their files are folded
        into those, merged later)."""
        c = DicomCollector(self.root, self.options)
        for uid in known:
            if (assume or uid in self.series) and uid not in c.series:
                c.series[uid] = _Series(Acquisition(key=uid, source_kind="dicom"))
                c._partial.add(uid)
        return c

    def summary(self) -> tuple:
        """This sub-collector's whole state as plain picklable data: a block's pre-merged summary."""
        return self.n_files, self.skipped, self.studies, self.series, self._partial, self._exact

    def merge(self, summary: tuple) -> bool:
        """Take a block's summary as if its files were folded here one by one, in walk order; False (nothing
        taken) when that would differ: a series new there is already here, a partial one is not, a SOP
        instance is here already (a duplicate), or a diffusion order counted files without instance numbers."""
        n_files, skipped, studies, series, partial, exact = summary
        if not exact or any((uid in partial) != (uid in self.series) for uid in series):
            return False
        if any(not self.series[uid].sops.isdisjoint(series[uid].sops) for uid in partial):
            return False
        self.n_files += n_files
        self.skipped.extend(skipped)
        for uid in partial:
            _absorb(self.series[uid], series[uid])
        for study_uid, st in studies.items():
            mine = self.studies.setdefault(study_uid, st)
            for uid in st.series:
                self._shared.share(series[uid].acq)
                self.series[uid] = series[uid]
                if mine is not st:
                    mine.series.append(uid)
        return True

    def _study(self, rec: reader.FileRecord, ds: Dataset | None) -> _Study:
        key = rec.study_uid or "unknown-study"
        st = self.studies.get(key)
        if st is None:
            st = self.studies[key] = new_study(rec, ds, self.options)
        return st

    def _fold(self, s: _Series, rec: reader.FileRecord) -> None:
        if rec.sop_uid:
            if not s.sops.add_new(_h64(rec.sop_uid)):
                self.skipped.append(SkippedFile(rec.name, f"duplicate SOPInstanceUID {rec.sop_uid} (same image "
                                                "already read from another file)", "duplicate"))
                return
        s.acq.n_files += 1
        if rec.sop_class not in s.sop_classes:
            s.sop_classes += (rec.sop_class,)
        folder = os.path.dirname(rec.name) or "."
        if folder not in s.folders:
            s.folders.append(folder)
        if rec.instance_number is not None:
            s.instances.add(rec.instance_number)
        order = float(rec.instance_number if rec.instance_number is not None else s.acq.n_files)
        if rec.diffusion and rec.instance_number is None and self._partial:
            self._exact = self._exact and s.acq.key not in self._partial
        if rec.positions:
            s.positions.update(map(pack_position, rec.positions))
        elif rec.position is not None:
            s.positions.add(pack_position(rec.position))
        if rec.echo_times or rec.echo_time is not None:
            if s.echo_times is None:
                s.echo_times = set()
            s.echo_times.update(rec.echo_times or (rec.echo_time,))  # type: ignore[arg-type]  # one is set
        s.n_images += rec.n_frames
        if rec.diffusion and s.diff is None:
            s.diff = diffusion.DiffusionAggregate()
        for i, (sample, count) in enumerate(rec.diffusion):
            s.diff.add(sample, order + i / 1e6, count)  # type: ignore[union-attr]  # made above

    # --- result -------------------------------------------------------------------------------
    def finish(self) -> ScanResult:
        """Finalize every series (counts, slices, volumes, diffusion) and group them into exams."""
        result = ScanResult(roots=[self.root], skipped=list(self.skipped), n_files_seen=self.n_files)
        _note_unreadable_files(self.series.values(), self.skipped)
        for study_uid, st in self.studies.items():
            exam = Exam(key=study_uid, subject=st.subject, date=st.date, source_kind="dicom",
                        identifiers=dict(st.identifiers))
            for uid in st.series:
                exam.acquisitions.append(_finalize(self.series[uid]))
            exam.acquisitions.sort(key=lambda a: (a.series_number if a.series_number is not None else 1 << 30,
                                                  a.key))
            folders = [a.folder.split("; ")[0] for a in exam.acquisitions]
            exam.folder = os.path.commonpath(folders) if folders and all(folders) else ""
            result.exams.append(exam)
        result.exams.sort(key=lambda e: (e.folder, e.key))
        return result


def _absorb(s: _Series, part: _Series) -> None:
    """Add a partial aggregate of the same series (files folded elsewhere, later in walk order) to ``s``."""
    s.acq.n_files += part.acq.n_files
    s.sop_classes += tuple(c for c in part.sop_classes if c not in s.sop_classes)
    s.folders.extend(f for f in part.folders if f not in s.folders)
    s.sops.join(part.sops)   # ``merge`` found them disjoint
    s.instances.union(part.instances)
    s.positions.union(part.positions)
    if part.echo_times:
        s.echo_times = (s.echo_times or set()) | part.echo_times
    s.n_images += part.n_images
    if part.diff:
        if s.diff is None:
            s.diff = diffusion.DiffusionAggregate()
        s.diff.absorb(part.diff)


_UNREADABLE_KINDS = ("invalid", "unreadable")


def describe_series(rec: reader.FileRecord, ds: Dataset | None) -> _Series:
    """A new series aggregate, described by its representative (full) header when there is one."""
    acq = Acquisition(key=rec.series_uid, source_kind="dicom")
    s = _Series(acq)
    if ds is not None:
        bound_dataset(ds)   # every text value cut to its VR's maximum before any regex reads it
        try:
            _describe(ds, acq, rec)
            s.pixel_spacing = common.pixel_spacing(ds)
            s.multiframe = enhanced.is_multiframe(ds)
        except Exception as exc:   # a damaged element decoded lazily: keep the series, say what is lost
            acq.note("header-damaged", f"{rec.name}: part of the header could not be decoded "
                     f"({type(exc).__name__}: {exc}); the values it holds are unknown", "warning")
    if not rec.manufacturer:
        acq.note("manufacturer-missing", "Manufacturer (0008,0070) is missing: vendor-specific values "
                 "could not be read", "warning")
    return s


def new_study(rec: reader.FileRecord, ds: Dataset | None, options: ScanOptions) -> _Study:
    """The study a series' first file opens: subject pseudonym, date, identifiers only when asked for."""
    st = _Study(subject=_top_folder(rec.name) or "unknown")
    if ds is not None:
        pid = str(ds.get("PatientID", "") or "") + "|" + str(ds.get("PatientName", "") or "")
        if pid != "|":
            st.subject = pseudonym(pid, options.pseudonym_key)
        st.date = parse_dicom_date(ds.get("StudyDate")) or parse_dicom_date(ds.get("SeriesDate"))
        if options.include_identifiers:
            for kw in ("PatientID", "PatientName", "PatientBirthDate", "AccessionNumber", "StudyDate",
                       "StudyID"):
                v = ds.get(kw)
                if v not in (None, ""):
                    st.identifiers[kw] = str(v)
    return st


def series_seed(rec: reader.FileRecord, ds: Dataset, options: ScanOptions) -> tuple[_Series, _Study]:
    """A worker's seed of a new series: (series aggregate, its study), adopted by the parent's collector."""
    return describe_series(rec, ds), new_study(rec, ds, options)


def _note_unreadable_files(series: Any, skipped: list[SkippedFile]) -> None:
    """Note on a series the truncated or unreadable files of its folder (when no other series shares it).

    A file cut short cannot be read, so nothing in it says which series it belonged to; its folder does when
    the folder holds one series (the usual export layout). The series is then incomplete as received.
    """
    bad: dict[str, list[SkippedFile]] = {}
    for sk in skipped:
        if sk.kind in _UNREADABLE_KINDS:
            bad.setdefault(os.path.dirname(sk.path) or ".", []).append(sk)
    if not bad:
        return
    owners: dict[str, list[_Series]] = {}
    for s in series:
        for folder in s.folders:
            owners.setdefault(folder, []).append(s)
    for folder, files in bad.items():
        if len(owners.get(folder, [])) != 1:
            continue
        s = owners[folder][0]
        names = ", ".join(os.path.basename(f.path) for f in files[:3]) + (" …" if len(files) > 3 else "")
        s.acq.note("file-unreadable", f"{len(files)} unreadable file(s) in its folder ({names}): "
                   f"{files[0].reason}; the series is incomplete as received", "warning")


def _top_folder(name: str) -> str:
    parts = re.split(r"[\\/]", name)
    return parts[0] if len(parts) > 1 else ""


def _describe(ds: Dataset, acq: Acquisition, rec: reader.FileRecord) -> None:
    """Series-level parameters from the representative (full) header."""
    acq.description = str(ds.get("SeriesDescription", "") or "").strip()
    try:
        acq.series_number = int(ds.get("SeriesNumber")) if ds.get("SeriesNumber") not in (None, "") else None
    except (TypeError, ValueError):
        acq.series_number = None
    common.public_params(ds, acq)
    acq.acquired_at = common.acquired_at(ds)
    if rec.mrs:
        acq.roles.add("mrs")
        acq.note("mrs", "MR spectroscopy object (role mrs)")
    vendors.series_params(ds, acq)
    if enhanced.is_multiframe(ds):
        n = rec.n_frames if not rec.mrs else len(enhanced.frames(ds)) or rec.n_frames   # framescan keeps 2 items
        acq.set("NumberOfFrames", n, "DICOM (0028,0008) NumberOfFrames")
    common.assign_roles(ds, acq)


def _finalize(s: _Series) -> Acquisition:
    acq = s.acq
    acq.folder = "; ".join(s.folders)
    if reader.MR_IMAGE in s.sop_classes and not reader.MULTIFRAME_SOPS.isdisjoint(s.sop_classes):
        acq.note("mixed-export", "the same series arrived both as classic and as enhanced DICOM: file and "
                 "image counts mix both exports (fix: keep only one export of the series)", "warning")
    acq.set("NumberOfFiles", acq.n_files, "count of files in the series")
    n_slices = acq.get("NumberOfSlices")
    if n_slices is None and s.positions:
        n_slices = len(s.positions)
        acq.set("NumberOfSlices", n_slices, "distinct ImagePositionPatient values")
    if n_slices:
        mosaic = "MOSAIC" in [str(x).upper() for x in (acq.get("ImageType") or [])]
        per_vol = 1 if mosaic else n_slices
        vols = max(1, round(s.n_images / per_vol))
        acq.set("NumberOfVolumes", vols, "images / slices" if not mosaic else "mosaic files")
    else:
        per_vol = 1
    if s.echo_times:
        acq.set("EchoTimes", sorted(round(t / 1000.0, 6) for t in s.echo_times), "distinct EchoTime values, ms->s")
    _voxel(acq, s)
    if s.diff:
        untagged = vendors.untagged_diffusion(acq.get("Manufacturer"))
        if untagged is not None:
            s.diff.fill_untagged(s.n_images, untagged)
        volumes = s.diff.volumes(per_vol)
        diffusion.summarize(volumes, acq, "per-file/per-frame diffusion b-value and vector")
    if not s.multiframe and n_slices and acq.get("MRAcquisitionType") != "3D" and s.instances:
        lo, hi = min(s.instances), max(s.instances)
        if hi - lo + 1 > len(s.instances):
            gaps = hi - lo + 1 - len(s.instances)
            if s.n_images % per_vol == 0 and s.n_images // per_vol > 1:
                # whole volumes of equal size: numbering in blocks (Philips numbers instances so), not a loss
                acq.note("instance-gaps", f"instance numbers {lo}-{hi} have {gaps} gap(s), but the images "
                         f"make {s.n_images // per_vol} whole volumes of {per_vol}", "info")
            else:
                acq.note("slice-missing", f"instance numbers {lo}-{hi} have {gaps} gap(s): files of this series "
                         "may be missing", "warning")
    return acq


def _voxel(acq: Acquisition, s: _Series) -> None:
    ps, src = s.pixel_spacing
    if not ps:
        return
    spacing, how = acq.get("SpacingBetweenSlices"), "SpacingBetweenSlices"
    if spacing is None and len(s.positions) > 1:
        pts = sorted(map(unpack_position, s.positions))
        d = [sum((a - b) ** 2 for a, b in zip(p, q)) ** 0.5 for p, q in zip(pts, pts[1:])]
        spacing, how = round(min(d), 4), "distance between slice positions"
    if spacing is None:
        spacing, how = acq.get("SliceThickness"), "SliceThickness"
    if spacing is None:
        return
    acq.set("VoxelSize", [round(ps[0], 6), round(ps[1], 6), round(float(spacing), 6)], f"{src} + {how}")
