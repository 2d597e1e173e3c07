"""BIDS datasets as input: one Acquisition per image, one Exam per subject/session.

The dataset is walked directly (``sub-*/[ses-*/]<datatype>/``) rather than through pybids' index: on the
267-subject spine-generic dataset ``BIDSLayout(validate=False)`` takes ~1.8 s without metadata and ~7.6 s
with it, and aborts on an invalid JSON sidecar, whereas the walk below reads every sidecar once, applies the
BIDS inheritance principle itself and turns every bad file into a SkippedFile or a Note. Sidecar names are
the model's names (dcm2niix units: s, deg, mm). Nothing is ever written into the dataset.
"""
from __future__ import annotations

import csv
import datetime as _dt
from pathlib import Path
from typing import Any

from protocheck.errors import NoExamError
from protocheck.model import PARAMETER_NAMES, Acquisition, Exam, ScanResult, SkippedFile
from protocheck.sources.bids_images import (
    IMAGE_EXTS, diffusion_params, header_params, is_ignored, parse_entities, read_bidsignore, read_json,
    sidecar_applies, split_name,
)
from protocheck.sources.dicom.bounds import cut_parameter
from protocheck.sources.geometry import set_slice_orientation
from protocheck.sources.options import ScanOptions

NUMBER_PARAMS = frozenset({
    "MagneticFieldStrength", "RepetitionTime", "RepetitionTimeExcitation", "EchoTime", "InversionTime",
    "FlipAngle", "SliceThickness", "SpacingBetweenSlices", "PixelBandwidth",
    "ParallelReductionFactorInPlane", "MultibandAccelerationFactor", "PartialFourier",
    "EffectiveEchoSpacing", "TotalReadoutTime", "BandwidthPerPixelPhaseEncode", "NumberOfAverages",
    "EchoTrainLength", "SpectroscopyVoxelVolume",
})
LIST_PARAMS = frozenset({"ImageType", "EchoTimes", "ImageOrientationPatientDICOM", "EchoNumbers"})
BOOL_PARAMS = frozenset({"MTState"})
SERIAL_PARAMS = frozenset({"DeviceSerialNumber", "StationName"})
MRI_DATATYPES = ("anat", "func", "dwi", "fmap", "perf", "mrs")   # the BIDS datatypes of MRI
IGNORED_TOP = ("sourcedata", "derivatives", "code", "stimuli", "models")
NOT_SIDECARS = frozenset({"dataset_description.json", "participants.json", "genetic_info.json"})


def is_bids_dataset(path: Path) -> bool:
    """True for a folder with dataset_description.json, or with sub-* folders holding sidecars/images."""
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / "dataset_description.json").is_file():
        return True
    try:
        subs = [p for p in path.iterdir() if p.is_dir() and p.name.startswith("sub-")]
    except OSError:
        return False
    for sub in subs[:5]:
        for f in sub.rglob("*"):
            if f.name.endswith((".json",) + IMAGE_EXTS):
                return True
    return False


def _typed(name: str, value: Any) -> tuple[Any, str | None]:
    """The sidecar value checked against the type the model expects; (None, problem) if it is wrong."""
    if name in NUMBER_PARAMS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if name == "EchoTime" and isinstance(value, list) and value and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                return value[0], None
            return None, f"{name} is {value!r} ({type(value).__name__}), expected a number"
        return value, None
    if name in BOOL_PARAMS:
        return (value, None) if isinstance(value, bool) else (None, f"{name} is {value!r}, expected true/false")
    if name in LIST_PARAMS:
        if isinstance(value, list):
            return value, None
        return ([value], None) if isinstance(value, (str, int, float)) else (None, f"{name} is {value!r}")
    if name == "DiffusionBValues" or name.startswith("Diffusion") or name.startswith("NumberOf"):
        return None, None   # derived here from .bval and the header, never taken from a sidecar
    if name in SERIAL_PARAMS and isinstance(value, (int, float)) and not isinstance(value, bool):
        # a serial number written as a JSON number is text (DICOM LO): 45031.0 prints as 45031
        return (str(int(value)) if float(value).is_integer() else str(value)), None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value, None
    return None, f"{name} is {value!r} ({type(value).__name__}), expected text or a number"


class _Dataset:
    """One BIDS dataset being read: root, inheritable top-level sidecars, per-file tables."""

    def __init__(self, root: Path, options: ScanOptions) -> None:
        self.root = root
        self.options = options
        self.result = ScanResult(roots=[str(root)])
        self.json_cache: dict[Path, dict[str, Any] | None] = {}
        self.json_problems: dict[Path, str] = {}
        self.dir_cache: dict[tuple[Path, str], list[Path]] = {}
        self.participants = read_tsv(root / "participants.tsv", "participant_id")
        self.ignore = read_bidsignore(root)
        self.other_datatypes: set[str] = set()   # non-MRI datatype folders seen (eeg, beh, ...)

    def ignored(self, path: Path) -> bool:
        """True for a path the dataset's .bidsignore excludes."""
        return bool(self.ignore) and is_ignored(self.rel(path), self.ignore)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def sidecar(self, path: Path) -> dict[str, Any] | None:
        """Parsed sidecar (cached); an invalid one is reported once as a SkippedFile."""
        if path not in self.json_cache:
            data, problem = read_json(path)
            if problem:
                self.json_problems[path] = problem
                self.result.skipped.append(SkippedFile(self.rel(path), f"sidecar {problem}", "invalid"))
            self.json_cache[path] = data
        return self.json_cache[path]

    def listing(self, level: Path, ext: str) -> list[Path]:
        """Candidate files of one extension in one folder (cached: the root is listed once, not per file)."""
        key = (level, ext)
        if key not in self.dir_cache:
            try:
                self.dir_cache[key] = sorted(p for p in level.iterdir() if p.name.endswith(ext)
                                             and p.name not in NOT_SIDECARS and p.is_file())
            except OSError:
                self.dir_cache[key] = []
        return self.dir_cache[key]

    def applicable(self, image_dir: Path, stem: str, ext: str) -> list[Path]:
        """Files of extension ``ext`` that apply to one image by the inheritance principle, least specific
        first (top level first; within a level, fewer entities first). An image listed in .bidsignore is
        outside the specification, so only its own file (same name) applies to it."""
        if self.ignored(image_dir / (stem + ".nii.gz")) or self.ignored(image_dir / (stem + ".nii")):
            own = image_dir / (stem + ext)
            return [own] if own.is_file() else []
        ents, suffix = parse_entities(stem)
        levels = [self.root]
        for part in image_dir.relative_to(self.root).parts:
            levels.append(levels[-1] / part)
        out: list[Path] = []
        for level in levels:
            found = [p for p in self.listing(level, ext) if sidecar_applies(p.name[: -len(ext)], ents, suffix)]
            found.sort(key=lambda p: len(parse_entities(p.name[: -len(ext)])[0]))
            out.extend(found)
        return out

    def applies_to_image(self, sidecar: Path, images: dict[str, Path]) -> bool:
        """True when a sidecar of an image folder applies to one of its images (a shared, entity-less one)."""
        s_stem = split_name(sidecar.name)[0]
        return any(sidecar_applies(s_stem, *parse_entities(stem)) for stem in images)

    def inherited(self, image_dir: Path, stem: str) -> tuple[dict[str, Any], dict[str, str], list[str]]:
        """Merged metadata for one file (top level first, own sidecar last), key -> sidecar path, and the
        problems of applicable sidecars that could not be read ("file: reason")."""
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        problems: list[str] = []
        for p in self.applicable(image_dir, stem, ".json"):
            data = self.sidecar(p)
            if data is None:
                problems.append(f"{self.rel(p)}: {self.json_problems.get(p, 'unreadable')}")
            for k, v in (data or {}).items():
                merged[k] = v
                origin[k] = self.rel(p)
        return merged, origin, problems


def read_tsv(path: Path, key: str) -> dict[str, dict[str, str]]:
    """Rows of a BIDS .tsv keyed by column ``key``; {} when absent or unreadable."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    return {r.get(key, "").strip(): r for r in rows if r.get(key)}


def _parse_date(text: str | None) -> _dt.datetime | None:
    if not text or text.strip().lower() in ("n/a", ""):
        return None
    t = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return _dt.datetime.strptime(t[:26], fmt)
        except ValueError:
            continue
    return None


def _set_sidecar_params(acq: Acquisition, meta: dict[str, Any], origin: dict[str, str], own: str) -> None:
    """Copy the model's parameters from merged sidecar metadata, with provenance and type checks."""
    for name in PARAMETER_NAMES:
        if name not in meta:
            continue
        value, problem = _typed(name, meta[name])
        src_file = origin[name]
        src = f"BIDS sidecar {own}" if src_file.endswith("/" + own) or src_file == own \
            else f"BIDS sidecar {own} (inherited from {src_file})"
        if problem:
            acq.note("sidecar-bad-value", f"{src_file}: {problem}; the parameter is treated as unknown",
                     "warning")
            continue
        acq.set(name, cut_parameter(name, value), src)   # bounded like the DICOM value before any regex


PARTICIPANT_COLUMNS = {"Manufacturer": "manufacturer", "ManufacturersModelName": "manufacturers_model_name"}


def _participant_fallback(ds: _Dataset, acq: Acquisition, sub: str) -> None:
    """Manufacturer/model from participants.tsv when the sidecar lacks them (needed for vendor variants)."""
    row = ds.participants.get(f"sub-{sub}")
    if not row:
        return
    for name, col in PARTICIPANT_COLUMNS.items():
        v = (row.get(col) or "").strip()
        if name not in acq.params and v and v.lower() != "n/a":
            acq.set(name, v, f"participants.tsv column {col} (the sidecar lacks {name})")


def _roles(acq: Acquisition, meta: dict[str, Any], ents: dict[str, str], suffix: str | None) -> None:
    """Support roles from the sidecar: a GeneratedBy block or ImageType DERIVED/SECONDARY mean derived."""
    gen = meta.get("GeneratedBy")
    if isinstance(gen, list) and gen:
        first = gen[0] if isinstance(gen[0], dict) else {}
        what = f"{first.get('Name', '?')} {first.get('Version', '')}".strip()
        desc = first.get("Description")
        acq.roles.add("derived")
        acq.note("derived", f"sidecar GeneratedBy {what}" + (f" ({desc})" if desc else ""))
    itype = acq.get("ImageType") or []
    if isinstance(itype, list) and itype:
        up = [str(x).upper() for x in itype]
        if up[0] == "DERIVED" or (len(up) > 1 and up[1] == "SECONDARY"):
            acq.roles.add("derived")
            acq.note("derived", "ImageType " + "\\".join(up[:2]))
    if ents.get("part") == "phase" or suffix == "phase":
        acq.roles.add("phase")


def _acquisition(ds: _Dataset, folder: Path, stem: str, image: Path,
                 acq_times: dict[str, str]) -> Acquisition:
    """One Acquisition for one image of a BIDS MRI datatype folder."""
    rel_img = ds.rel(image)
    acq = Acquisition(key=rel_img, description=stem, folder=ds.rel(folder), source_kind="bids", n_files=1)
    ents, suffix = parse_entities(stem)
    own = stem + ".json"
    meta, origin, problems = ds.inherited(folder, stem)
    for unreadable in problems:
        acq.note("sidecar-invalid", f"cannot verify ({unreadable}): its parameters are unknown", "warning")
    _set_sidecar_params(acq, meta, origin, own)
    _participant_fallback(ds, acq, ents.get("sub", ""))
    acq.set("BIDSName", "_".join(p for p in stem.split("_") if not p.startswith(("sub-", "ses-"))),
            f"BIDS file name {rel_img}")
    if suffix:
        acq.set("BIDSSuffix", suffix, f"BIDS file name {rel_img}")
    acq.set("BIDSDatatype", folder.name, f"BIDS folder {ds.rel(folder)}")
    if ds.ignored(image):
        acq.note("bidsignore", f"{rel_img} is listed in .bidsignore (raw data outside the BIDS specification): "
                 "it is read as an acquisition by its name, not validated as BIDS")
    if "MTState" not in acq.params and ents.get("mt") in ("on", "off"):
        acq.set("MTState", ents["mt"] == "on", f"BIDS entity mt-{ents['mt']} in {rel_img}")
    sn = meta.get("SeriesNumber")
    if isinstance(sn, int) and not isinstance(sn, bool):
        acq.series_number = sn
    _roles(acq, meta, ents, suffix)
    set_slice_orientation(acq)
    problem = header_params(image, acq, rel_img)
    if problem:
        acq.note("image-header-unavailable", f"{rel_img} {problem}: voxel size, matrix, slice and "
                 "volume counts come from the sidecar only (unknown if absent there)")
    bvals, bvecs = ds.applicable(folder, stem, ".bval"), ds.applicable(folder, stem, ".bvec")
    if bvals:   # the most specific .bval/.bvec applies (inheritance principle)
        problem = diffusion_params(bvals[-1], bvecs[-1] if bvecs else None, acq)
        if problem:
            acq.note("bval-unreadable", problem, "warning")
    t = _parse_date(acq_times.get(f"{folder.name}/{stem}"))
    if t is not None:
        acq.acquired_at = t
    return acq


def _scans_times(exam_dir: Path, sub: str, ses: str | None) -> dict[str, str]:
    """acq_time per "<datatype>/<stem>" from the subject's or session's *_scans.tsv."""
    name = f"sub-{sub}" + (f"_ses-{ses}" if ses else "") + "_scans.tsv"
    out: dict[str, str] = {}
    for fname, row in read_tsv(exam_dir / name, "filename").items():
        stem = split_name(fname.split("/")[-1])[0]
        datatype = fname.split("/")[0] if "/" in fname else ""
        out[f"{datatype}/{stem}"] = row.get("acq_time", "")
    return out


def _images(ds: _Dataset, folder: Path) -> dict[str, Path]:
    """The images of one MRI datatype folder by stem; JSON-only sidecars are never series (a SkippedFile)."""
    images: dict[str, Path] = {}
    sidecars: list[Path] = []
    for f in sorted(folder.iterdir()):
        ds.result.n_files_seen += 1
        stem, ext = split_name(f.name)
        if ds.ignored(f) and ext not in IMAGE_EXTS:
            continue
        if ext in IMAGE_EXTS:
            if stem in images:   # .nii.gz sorts after .nii: keep the .nii.gz, say so
                ds.result.skipped.append(SkippedFile(ds.rel(images[stem]), f"both {stem}.nii and {stem}.nii.gz "
                                                     "exist: the .nii.gz is read (fix: keep one of them)",
                                                     "duplicate"))
            images[stem] = f
        elif ext == ".json":
            sidecars.append(f)
    for f in sidecars:
        if split_name(f.name)[0] not in images and not ds.applies_to_image(f, images):
            ds.result.skipped.append(SkippedFile(ds.rel(f), "a sidecar without its image is not a series "
                                                 "(physio, events and other JSON-only files are never checked)",
                                                 "ignored"))
    return images


def _exam(ds: _Dataset, exam_dir: Path, sub: str, ses: str | None) -> Exam | None:
    """One Exam for sub-X[/ses-Y]: every image of its MRI datatype folders (other datatypes are noted)."""
    key = f"sub-{sub}" + (f"/ses-{ses}" if ses else "")
    exam = Exam(key=key, subject=sub, session=ses, source_kind="bids", folder=key)
    times = _scans_times(exam_dir, sub, ses)
    for folder in sorted(p for p in exam_dir.iterdir() if p.is_dir() and not p.name.startswith(("ses-", "."))):
        if ds.ignored(folder):
            continue
        if folder.name not in MRI_DATATYPES:
            ds.other_datatypes.add(folder.name)
            continue
        for stem, image in _images(ds, folder).items():
            exam.acquisitions.append(_acquisition(ds, folder, stem, image, times))
    if not exam.acquisitions:
        return None
    dated = [a.acquired_at for a in exam.acquisitions if a.acquired_at]
    if dated:
        exam.date = min(dated).date()
    else:
        row = ds.participants.get(f"sub-{sub}", {})
        d = _parse_date(row.get("date_of_scan") or row.get("acq_time"))
        exam.date = d.date() if d else None
    return exam


def scan_bids(root: Path, options: ScanOptions) -> ScanResult:
    """Read a BIDS dataset into exams (one per subject/session); bad files become SkippedFiles/Notes."""
    root = Path(root)
    ds = _Dataset(root, options)
    res = ds.result
    if not (root / "dataset_description.json").is_file():
        res.skipped.append(SkippedFile("dataset_description.json", "missing: the folder is read as BIDS "
                                       "because of its sub-* folders (fix: add dataset_description.json)",
                                       "missing"))
    else:
        _refuse_derivative(root, ds.sidecar(root / "dataset_description.json"))
    for name in IGNORED_TOP:
        if (root / name).is_dir():
            res.skipped.append(SkippedFile(name + "/", f"{name}/ is not read: only raw acquisitions under "
                                           "sub-*/ are checked against a protocol", "ignored"))
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("sub-"))
    except OSError as exc:
        res.skipped.append(SkippedFile(".", f"cannot list the dataset folder ({exc})", "unreadable"))
        return res
    for sub_dir in subs:
        sub = sub_dir.name[4:]
        try:
            sessions = sorted(p for p in sub_dir.iterdir() if p.is_dir() and p.name.startswith("ses-")
                              and not ds.ignored(p))
            targets: list[tuple[Path, str | None]] = [(s, s.name[4:]) for s in sessions] or [(sub_dir, None)]
            if sessions:
                _note_bare_datatypes(ds, sub_dir)
            for exam_dir, ses in targets:
                exam = _exam(ds, exam_dir, sub, ses)
                if exam is not None:
                    res.exams.append(exam)
        except OSError as exc:
            res.skipped.append(SkippedFile(ds.rel(sub_dir), f"cannot be read ({exc})", "unreadable"))
        if options.progress:
            options.progress(res.n_files_seen, len(res.exams), ds.rel(sub_dir))
    if not res.exams:
        found = ", ".join(sorted(ds.other_datatypes)) or "no datatype folder"
        raise NoExamError(f"no MR exam in {root} (found: {found})",
                         fix="give a dataset with MRI images (anat, func, dwi, fmap, perf, mrs) under sub-*/")
    return res


def _refuse_derivative(root: Path, description: dict[str, Any] | None) -> None:
    """A derivative dataset (fMRIPrep output...) holds processed images, not acquisitions: InputError."""
    if not description or str(description.get("DatasetType", "")).lower() != "derivative":
        return
    gen = description.get("GeneratedBy")
    first = gen[0] if isinstance(gen, list) and gen and isinstance(gen[0], dict) else {}
    by = f" generated by {first.get('Name')}" if first.get("Name") else ""
    raise NoExamError(f"no MR exam in {root} (found: a derivative dataset{by}, DatasetType: derivative)",
                     fix="give the raw BIDS dataset the derivatives were computed from")


def _note_bare_datatypes(ds: _Dataset, sub_dir: Path) -> None:
    """Datatype folders beside ses-* folders are outside every session: BIDS does not allow them; not read."""
    for p in sorted(sub_dir.iterdir()):
        if p.is_dir() and not p.name.startswith(("ses-", ".")) and not ds.ignored(p):
            ds.result.skipped.append(SkippedFile(ds.rel(p) + "/", f"{p.name}/ is beside the ses-* folders of "
                                                 f"{sub_dir.name}: BIDS puts datatype folders inside a session; "
                                                 "not read (fix: move it into its ses-* folder)", "ignored"))
