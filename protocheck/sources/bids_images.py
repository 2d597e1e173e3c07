"""BIDS helpers: file-name entities, sidecar inheritance, NIfTI headers and .bval/.bvec tables.

Kept apart from ``bids.py`` (the dataset walk) so each stays short. Nothing here writes anything, and
nothing here raises on bad input: problems come back as text for a Note or a SkippedFile.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from protocheck import jsonsafe
from protocheck.model import Acquisition
from protocheck.sources.dicom.diffusion import DiffusionSample, summarize

IMAGE_EXTS = (".nii.gz", ".nii")
MAX_SIDECAR_BYTES = 16 * 1024 * 1024   # a dcm2niix sidecar is a few KB; a slice-timing list a few more
_ENTITY = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9.+]+)$")
ANNEX_PREFIXES = (b"/annex/", b".git/annex", b"../.git/annex")


def split_name(name: str) -> tuple[str, str]:
    """(stem, extension) of a BIDS file name, with double extensions (.nii.gz) kept together."""
    for ext in IMAGE_EXTS + (".json", ".bval", ".bvec", ".tsv"):
        if name.endswith(ext):
            return name[: -len(ext)], ext
    stem, dot, ext = name.rpartition(".")
    return (stem, "." + ext) if dot else (name, "")


def parse_entities(stem: str) -> tuple[dict[str, str], str | None]:
    """Entities (key -> label) and suffix of a BIDS stem such as ``sub-01_flip-1_mt-on_MTS``."""
    parts = stem.split("_")
    ents: dict[str, str] = {}
    suffix = None
    for i, part in enumerate(parts):
        m = _ENTITY.match(part)
        if i == len(parts) - 1:
            suffix = part if "-" not in part and part.isalnum() else None
        elif m:
            ents[m.group(1)] = m.group(2)
        else:
            return ents, None   # not a BIDS name
    return ents, suffix


def sidecar_applies(sidecar_stem: str, ents: dict[str, str], suffix: str | None) -> bool:
    """True when a sidecar's entities are a subset of the file's and its suffix is the same."""
    s_ents, s_suffix = parse_entities(sidecar_stem)
    if s_suffix is None or s_suffix != suffix:
        return False
    return all(ents.get(k) == v for k, v in s_ents.items())


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A JSON object from ``path``, or (None, reason) naming the error position."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({exc.__class__.__name__}: {exc})"
    try:
        data = jsonsafe.loads(text, MAX_SIDECAR_BYTES, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        return None, (f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} "
                      "(fix: correct the sidecar, e.g. re-export it with dcm2niix)")
    except ValueError as exc:
        return None, (f"cannot be used: {exc} (fix: write numbers, or null for an unknown value; a sidecar is a "
                      "flat JSON object)")
    if not isinstance(data, dict):
        return None, "is JSON but not an object of key/value pairs (fix: a sidecar is a JSON object)"
    return data, None


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser accepts them."""
    raise ValueError(f"{name} is not a JSON number")


def read_bidsignore(root: Path) -> list[re.Pattern[str]]:
    """The patterns of the dataset's .bidsignore (gitignore syntax, as the BIDS validator reads it)."""
    try:
        lines = (root / ".bidsignore").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [_glob_regex(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore pattern as a regex on a '/'-separated path relative to the root (leading '/' anchors it,
    a pattern without '/' matches at any depth, a trailing '/' or a folder match covers what is under it)."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        else:
            c = body[i]
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
            i += 1
    return re.compile(("^" if anchored else "^(?:.*/)?") + "".join(out) + "(?:/.*)?$")


def is_ignored(rel: str, patterns: list[re.Pattern[str]]) -> bool:
    """True when a path relative to the dataset root matches a .bidsignore pattern."""
    return any(p.match(rel) for p in patterns)


def annex_state(path: Path) -> str | None:
    """Why an image cannot be read (absent, empty, git-annex pointer), or None if it looks readable."""
    if path.is_symlink() and not path.exists():
        target = os.readlink(path)
        if ".git/annex" in target or "/annex/objects" in target:
            return "is a git-annex pointer whose content is not present (run `git annex get`)"
        return "is a broken symbolic link"
    try:
        size = path.stat().st_size
    except OSError:
        return "is absent"
    if size == 0:
        return "is empty"
    if size < 1024:
        try:
            head = path.read_bytes()[:64]
        except OSError as exc:
            return f"cannot be read ({exc})"
        if head.startswith(ANNEX_PREFIXES):
            return "is a git-annex pointer whose content is not present (run `git annex get`)"
    return None


def header_params(path: Path, acq: Acquisition, rel: str) -> str | None:
    """Fill VoxelSize, AcquisitionMatrix, NumberOfSlices/Volumes from a NIfTI header; reason on failure."""
    problem = annex_state(path)
    if problem:
        return problem
    try:
        import nibabel as nib
        hdr = nib.load(str(path)).header   # header only: the data array is never touched
        shape = tuple(int(x) for x in hdr.get_data_shape())
        zooms = tuple(float(z) for z in hdr.get_zooms())
    except Exception as exc:  # nibabel raises many kinds on corrupt files
        return f"has no readable NIfTI header ({exc.__class__.__name__}: {exc})"
    src = f"NIfTI header {rel}"
    if len(zooms) >= 3:
        acq.set("VoxelSize", [round(z, 4) for z in zooms[:3]], f"{src} pixdim[1:4], mm")
    if len(shape) >= 2:
        acq.set("AcquisitionMatrix", [shape[0], shape[1]], f"{src} dim[1:3] (reconstructed matrix)")
    if len(shape) >= 3:
        acq.set("NumberOfSlices", shape[2], f"{src} dim[3]")
    acq.set("NumberOfVolumes", shape[3] if len(shape) >= 4 else 1, f"{src} dim[4]")
    return None


def _numbers(path: Path) -> list[list[float]]:
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if line:
            rows.append([float(x) for x in line.replace(",", " ").split()])
    return rows


def diffusion_params(bval: Path, bvec: Path | None, acq: Acquisition) -> str | None:
    """Set the diffusion parameters from FSL-style .bval/.bvec; a reason when they are unreadable."""
    try:
        rows = _numbers(bval)
        bvals = [b for row in rows for b in row]
        vecs: list[tuple[float, float, float] | None] = [None] * len(bvals)
        if bvec is not None and bvec.is_file():
            vr = _numbers(bvec)
            if len(vr) == 3 and all(len(r) == len(bvals) for r in vr):
                vecs = [(vr[0][i], vr[1][i], vr[2][i]) for i in range(len(bvals))]
            elif len(vr) == len(bvals) and all(len(r) == 3 for r in vr):
                vecs = [(r[0], r[1], r[2]) for r in vr]
            else:
                acq.note("bvec-mismatch", f"{bvec.name} does not hold 3 x {len(bvals)} numbers: "
                         "directions not counted", "warning")
    except (OSError, ValueError) as exc:
        return f"{bval.name} cannot be read as numbers ({exc})"
    if not bvals:
        return f"{bval.name} is empty"
    samples = [DiffusionSample(b, v, "DIRECTIONAL" if b >= 50 and v is not None else None)
               for b, v in zip(bvals, vecs)]
    src = f"BIDS {bval.name}" + (f" + {bvec.name}" if bvec is not None and bvec.is_file() else "")
    summarize(samples, acq, src)
    if acq.get("NumberOfVolumes") is None:
        acq.set("NumberOfVolumes", len(bvals), f"BIDS {bval.name}: number of b-values")
    return None
