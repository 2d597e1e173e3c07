"""pybids as the reference, not the engine: on every MRI dataset of bids-examples protocheck's walk finds the
same subjects, sessions and image files as ``bids.BIDSLayout(validate=False)``.

Justified differences (each one is computed, not waived wholesale):
- a datatype folder beside ses-* folders (``sub-01/anat`` next to ``sub-01/ses-1``): BIDS puts datatype folders
  inside a session; pybids indexes it, protocheck lists it as not read;
- both ``X.nii`` and ``X.nii.gz``: protocheck reads the ``.nii.gz`` and lists the ``.nii`` as a duplicate.
Derivative datasets and datasets without MRI are refused by design (test_bids_walk.py).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from protocheck.errors import InputError
from protocheck.sources.bids import MRI_DATATYPES, scan_bids
from protocheck.sources.options import ScanOptions

bids = pytest.importorskip("bids", reason="pybids is the reference of this test (pip install '.[test]')")


def _datasets(shared: Path) -> list[Path]:
    root = shared / "data" / "bids" / "bids-examples"
    if not root.is_dir():
        pytest.skip("bids-examples not found in ../shared")
    out = []
    for ds in sorted(p for p in root.iterdir() if (p / "dataset_description.json").is_file()):
        desc = json.loads((ds / "dataset_description.json").read_text(encoding="utf-8"))
        if str(desc.get("DatasetType", "")).lower() != "derivative":
            out.append(ds)
    return out


def _reference(ds: Path) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """Subjects, (subject, session) pairs and MRI image files as pybids indexes them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layout = bids.BIDSLayout(str(ds), validate=False, derivatives=False)
        files = layout.get(datatype=list(MRI_DATATYPES), extension=[".nii", ".nii.gz"])
    images = {Path(f.path).relative_to(ds).as_posix() for f in files}
    subjects = {f.split("/")[0][4:] for f in images}
    sessions = {(f.split("/")[0][4:], f.split("/")[1][4:]) for f in images if f.split("/")[1].startswith("ses-")}
    return subjects, sessions, images


def _justified(ds: Path, images: set[str]) -> set[str]:
    """The reference's files protocheck does not read, by the documented reasons above."""
    out = set()
    for f in images:
        parts = f.split("/")
        sub_dir = ds / parts[0]
        if len(parts) == 3 and any(p.name.startswith("ses-") for p in sub_dir.iterdir() if p.is_dir()):
            out.add(f)                                   # datatype folder beside ses-*
        elif f.endswith(".nii") and (ds / (f + ".gz")).exists():
            out.add(f)                                   # the .nii of a .nii/.nii.gz pair
    return out


@pytest.mark.slow
def test_walk_finds_what_pybids_finds(shared):
    compared = 0
    differences = []
    for ds in _datasets(shared):
        ref_subjects, ref_sessions, ref_images = _reference(ds)
        try:
            scan = scan_bids(ds, ScanOptions())
        except InputError:
            assert not ref_images, f"{ds.name}: refused but pybids finds MRI images {sorted(ref_images)[:3]}"
            continue
        images = {a.key for a in scan.acquisitions()}
        expected = ref_images - _justified(ds, ref_images)
        subjects = {e.subject for e in scan.exams}
        sessions = {(e.subject, e.session) for e in scan.exams if e.session}
        if images != expected:
            differences.append((ds.name, sorted(images ^ expected)[:5]))
        if subjects != {f.split("/")[0][4:] for f in expected}:
            differences.append((ds.name, "subjects", sorted(subjects ^ ref_subjects)[:5]))
        if sessions - ref_sessions:
            differences.append((ds.name, "sessions", sorted(sessions ^ ref_sessions)[:5]))
        compared += 1
    assert not differences, differences
    assert compared >= 60
