"""Agreement of protocheck's DICOM parameters with the dcm2niix reference sidecars (dicom_ref/mapping.tsv).

Every `unique` mapping row is compared field by field; the table field x vendor (agree / compared) is printed.
Each remaining disagreement must be listed, with its reason, in tests/data/dcm2niix_known_differences.tsv;
an unlisted disagreement fails, and so does a listed one that no longer occurs. A listed difference whose
`changed_in` names the dcm2niix change (pull request / commit, with its date) that made the reference outdated
is a superseded reference value: the reference's ConversionSoftwareVersion must predate that change, and the
pair is shown in the table (column "superseded") but not counted in the agreement, since the reference no longer
states what dcm2niix does.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from protocheck.sources.dicom import scan_dicom

KNOWN = Path(__file__).resolve().parents[2] / "data" / "dcm2niix_known_differences.tsv"
MIN_AGREEMENT = 0.995
FLOAT_FIELDS = ("MagneticFieldStrength", "RepetitionTime", "RepetitionTimeExcitation", "EchoTime",
                "InversionTime", "FlipAngle", "SliceThickness", "SpacingBetweenSlices", "PixelBandwidth",
                "ParallelReductionFactorInPlane", "MultibandAccelerationFactor", "PartialFourier",
                "EffectiveEchoSpacing", "TotalReadoutTime")
TEXT_FIELDS = ("Manufacturer", "ManufacturersModelName", "SoftwareVersions", "ReceiveCoilName",
               "MRAcquisitionType", "ScanningSequence", "SequenceVariant", "ScanOptions", "SequenceName",
               "PulseSequenceName", "PhaseEncodingDirection", "PhaseEncodingAxis")
DIFFUSION_FIELDS = ("DiffusionShells", "DiffusionDirectionsPerShell", "NumberOfB0Volumes")
COMPONENT_SUFFIXES = {"MAGNITUDE", "PHASE", "REAL", "IMAGINARY", "FIELDMAPHZ"}


def _rows(ref_root: Path) -> list[dict[str, str]]:
    with open(ref_root / "mapping.tsv", newline="") as fh:
        return [r for r in csv.DictReader(fh, delimiter="\t") if r["status"] == "unique"]


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "\\".join(str(x).strip() for x in v)
    return str(v).strip()


def _float_equal(ours: Any, ref: Any) -> bool:
    try:
        a, b = float(ours), float(ref)
    except (TypeError, ValueError):
        return False
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)


def _image_type(v: Any) -> list[str]:
    items = v if isinstance(v, (list, tuple)) else str(v).split("\\")
    out: list[str] = []
    for x in items:
        out.extend(p for p in str(x).strip().upper().replace("\\", "_").split("_") if p)
    return out


def _image_type_equal(ours: Any, ref: list[str]) -> bool:
    """dcm2niix splits ImageType on '\\' and '_' and appends the complex component / FIELDMAPHZ."""
    mine, theirs = _image_type(ours), [str(x).upper() for x in ref]
    while theirs and theirs[-1] in COMPONENT_SUFFIXES and theirs[-1] not in mine[len(theirs) - 1:]:
        theirs = theirs[:-1]
    return mine == theirs


def _axis(vec: tuple[float, ...], norm: float) -> tuple[float, ...]:
    """A gradient direction as an axis: v and -v are the same tensor direction (sign of first non-zero > 0)."""
    u = [round(c / norm, 3) + 0.0 for c in vec]
    lead = next((c for c in u if c != 0.0), 0.0)
    return tuple(-c + 0.0 for c in u) if lead < 0 else tuple(u)


def _reference_diffusion(sidecar: Path) -> dict[str, Any]:
    bval, bvec = sidecar.with_suffix(".bval"), sidecar.with_suffix(".bvec")
    if not bval.is_file():
        return {}
    bvals = [float(x) for x in bval.read_text().split()]
    vecs: list[tuple[float, ...]] = []
    if bvec.is_file():
        rows = [[float(x) for x in line.split()] for line in bvec.read_text().splitlines() if line.strip()]
        vecs = list(zip(*rows)) if len(rows) == 3 else []
    shells: dict[int, set] = {}
    n_b0 = 0
    for i, b in enumerate(bvals):
        sh = 0 if b < 50 else int(round(b / 50.0) * 50)
        if sh == 0:
            n_b0 += 1
            continue
        dirs = shells.setdefault(sh, set())
        if i < len(vecs):
            n = math.sqrt(sum(c * c for c in vecs[i]))
            if n > 1e-6:
                dirs.add(_axis(vecs[i], n))
    return {"DiffusionShells": sorted(shells), "NumberOfB0Volumes": n_b0,
            "DiffusionDirectionsPerShell": {k: len(v) for k, v in sorted(shells.items())}}


def _pick(result: Any) -> Any:
    acqs = list(result.acquisitions())
    if not acqs:
        return None
    return max(acqs, key=lambda a: a.n_files)


def _compare(acq: Any, ref: dict[str, Any], sidecar: Path) -> list[tuple[str, str, str, bool]]:
    """(field, ours, reference, agree) for every field the reference has a value for."""
    out: list[tuple[str, str, str, bool]] = []
    special = sidecar.stem.endswith(("_ph", "_fieldmaphz", "_real", "_imaginary"))
    for name in TEXT_FIELDS + FLOAT_FIELDS:
        if name not in ref or (special and name == "PhaseEncodingDirection"):
            continue
        ours = acq.get(name)
        if name == "EchoTime":
            echoes = acq.get("EchoTimes") or ([] if ours is None else [ours])
            echoes = echoes if isinstance(echoes, (list, tuple)) else [echoes]
            ok = any(_float_equal(e, ref[name]) for e in echoes)
            out.append((name, _text(echoes), _text(ref[name]), ok))
            continue
        ok = _float_equal(ours, ref[name]) if name in FLOAT_FIELDS else (
            ours is not None and _text(ours) == _text(ref[name]))
        out.append((name, "" if ours is None else _text(ours), _text(ref[name]), ok))
    if "ImageType" in ref and not special:
        ours = acq.get("ImageType")
        out.append(("ImageType", _text(ours or ""), _text(ref["ImageType"]),
                    ours is not None and _image_type_equal(ours, ref["ImageType"])))
    for name, value in _reference_diffusion(sidecar).items():
        ours = acq.get(name)
        if isinstance(ours, dict):
            ours = {int(k): int(v) for k, v in ours.items()}
        out.append((name, json.dumps(ours), json.dumps(value), ours == value))
    return out


def _known() -> dict[tuple[str, str, str], dict[str, str]]:
    if not KNOWN.is_file():
        return {}
    with open(KNOWN, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r.get("folder") and not r["folder"].startswith("#")]
    return {(r["folder"], r["sidecar"], r["field"]): r for r in rows}


@pytest.fixture(scope="module")
def comparison(dicom_root: Path, dicom_ref_root: Path) -> list[dict[str, Any]]:
    """One record per (mapping row, field) comparison."""
    scans: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for row in _rows(dicom_ref_root):
        folder = row["dicom_dir"]
        if folder not in scans:
            scans[folder] = _pick(scan_dicom(dicom_root / folder))
        acq = scans[folder]
        sidecar = dicom_ref_root / row["sidecar"]
        ref = json.loads(sidecar.read_text())
        if acq is None:
            records.append({"vendor": row["vendor"], "folder": folder, "sidecar": row["sidecar"],
                            "field": "(series)", "ours": "", "ref": "present", "agree": False})
            continue
        for field, ours, theirs, ok in _compare(acq, ref, sidecar):
            records.append({"vendor": row["vendor"], "folder": folder, "sidecar": row["sidecar"],
                            "field": field, "ours": ours, "ref": theirs, "agree": ok,
                            "version": str(ref.get("ConversionSoftwareVersion", ""))})
    return records


def _superseded(records: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """The (folder, sidecar, field) pairs whose reference predates the dcm2niix change named in changed_in."""
    out = set()
    for key, row in _known().items():
        if row.get("changed_in"):
            out.add(key)
    return out & {(r["folder"], r["sidecar"], r["field"]) for r in records if not r["agree"]}


def _table(records: list[dict[str, Any]], superseded: set[tuple[str, str, str]]) -> str:
    vendors = sorted({r["vendor"] for r in records})
    fields = sorted({r["field"] for r in records})
    cell: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        old = (r["folder"], r["sidecar"], r["field"]) in superseded
        for key in ((r["field"], r["vendor"]), ("ALL", r["vendor"])):
            cell[key][2] += int(old)
            cell[key][0] += int(r["agree"])
            cell[key][1] += int(not old)
    width = max(len(f) for f in fields + ["field"]) + 2
    lines = ["dcm2niix agreement (agree / compared; +n superseded reference values not counted)",
             "field".ljust(width) + "".join(v.ljust(14) for v in vendors)]
    for f in fields + ["ALL"]:
        row = f.ljust(width)
        for v in vendors:
            a, n, old = cell.get((f, v), (0, 0, 0))
            row += ((f"{a}/{n}" + (f" +{old}" if old else "")) if n or old else "-").ljust(14)
        lines.append(row)
    pct = "  ".join(f"{v} {100.0 * cell[('ALL', v)][0] / max(1, cell[('ALL', v)][1]):.2f}%" for v in vendors)
    lines.append("per vendor: " + pct)
    return "\n".join(lines)


def _version_date(version: str) -> str:
    """'v1.0.20230706' -> '20230706' (dcm2niix versions carry their build date)."""
    return version.rsplit(".", 1)[-1][:8]


def test_dcm2niix_agreement(comparison: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """Agreement >= 99.5% per vendor; every disagreement listed in the known-differences file, and only those."""
    superseded = _superseded(comparison)
    table = _table(comparison, superseded)
    print(table)
    with capsys.disabled():
        print("\n" + table)
    known = _known()
    failing = {(r["folder"], r["sidecar"], r["field"]): r for r in comparison if not r["agree"]}
    unlisted = [f"{k[0]} | {k[1]} | {k[2]}: ours={failing[k]['ours']!r} ref={failing[k]['ref']!r}"
                for k in failing if k not in known]
    stale = [" | ".join(k) for k in known if k not in failing]
    assert not unlisted, "disagreements not in tests/data/dcm2niix_known_differences.tsv:\n" + "\n".join(unlisted)
    assert not stale, "listed known differences that no longer occur (remove them):\n" + "\n".join(stale)
    for key in superseded:   # a superseded reference must be no newer than the last build without the change
        changed = known[key]["changed_in"]
        last_without = changed.rsplit("@after-", 1)[-1].strip()[:8]
        assert _version_date(failing[key]["version"]) <= last_without, (key, changed)
    per_vendor: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in comparison:
        if (r["folder"], r["sidecar"], r["field"]) in superseded:
            continue
        per_vendor[r["vendor"]][0] += int(r["agree"])
        per_vendor[r["vendor"]][1] += 1
    low = {v: f"{a}/{n}" for v, (a, n) in per_vendor.items() if a < MIN_AGREEMENT * n}
    assert not low, f"agreement below {MIN_AGREEMENT:.1%} of (series, field) pairs: {low}"


def test_known_differences_have_reasons() -> None:
    """Each listed difference names the folder, sidecar, field, both values and a reason."""
    for key, row in _known().items():
        assert all(row.get(c) not in (None, "") for c in ("reason",)), f"{key}: no reason given"
        assert row.get("ours") is not None and row.get("reference") is not None, f"{key}: values missing"
