"""Privacy canary: unique values planted in every PHI attribute of real headers must not reach any output
(every format of check, inspect and audit, the --summary file, stdout and stderr) unless the user opts in
with --include-identifiers (then they appear in the JSON report)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import hostile_corpus as corpus

pytestmark = pytest.mark.filterwarnings("ignore")

CANARY_DATE = "19230517"         # full dates must not leak (a year-month reduction is allowed)
CANARY_TIME = "235917"
TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC"}


def _phi_attributes() -> frozenset[str]:
    try:
        from protocheck.privacy import PHI_ATTRIBUTES
    except ImportError:
        pytest.skip("protocheck.privacy.PHI_ATTRIBUTES not available yet")
    return PHI_ATTRIBUTES


def plant(ds: Dataset, phi: frozenset[str]) -> dict[str, str]:
    """Set every PHI attribute that can carry a unique value to a canary; returns keyword -> canary."""
    planted: dict[str, str] = {}
    for i, kw in enumerate(sorted(phi)):
        tag = tag_for_keyword(kw)
        if tag is None:
            continue
        vr = dictionary_VR(tag)
        if vr in TEXT_VRS:
            value = f"CANARY{i:02d}Q7731"
            ds[tag] = pydicom.DataElement(tag, vr, value + ("^PN" if vr == "PN" else ""))
            planted[kw] = value
        elif vr == "DA":
            ds[tag] = pydicom.DataElement(tag, vr, CANARY_DATE)
            planted[kw] = CANARY_DATE
        elif vr == "TM":
            ds[tag] = pydicom.DataElement(tag, vr, CANARY_TIME + ".7731")
            planted[kw] = CANARY_TIME
        elif vr == "DT":
            ds[tag] = pydicom.DataElement(tag, vr, CANARY_DATE + CANARY_TIME)
            planted[kw] = CANARY_DATE + CANARY_TIME
        elif vr == "SQ" and kw == "OtherPatientIDsSequence":
            item = Dataset()
            item.PatientID = "CANARYSEQPID7731"
            ds[tag] = pydicom.DataElement(tag, vr, Sequence([item]))
            planted[kw] = "CANARYSEQPID7731"
    return planted


@pytest.fixture
def canary_tree(tmp_path: Path, dicom_root: Path) -> tuple[Path, dict[str, str]]:
    phi = _phi_attributes()
    root = tmp_path / "site" / "exam"
    planted: dict[str, str] = {}
    for rel, n in ((corpus.GOOD_SERIES, 4), (corpus.SIEMENS_SERIES, 2), (corpus.ENHANCED_FILE, 1)):
        for f in corpus.files_of(dicom_root, rel)[:n]:
            ds = pydicom.dcmread(f)
            planted = plant(ds, phi)
            corpus.save(ds, root / Path(rel).name / f.name)
    assert {"PatientName", "PatientID", "AccessionNumber", "StudyDate"} <= set(planted)
    return root, planted


def _leaks(text: str, planted: dict[str, str]) -> list[str]:
    found = []
    for kw, value in planted.items():
        if value in text:
            found.append(f"{kw}={value}")
    if "1923-05-17" in text:
        found.append("StudyDate as ISO 1923-05-17")
    return found


def _outputs(out_dir: Path) -> str:
    texts = []
    for p in sorted(out_dir.rglob("*")):
        if p.is_file():
            texts.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_no_identifier_reaches_any_output(cli, canary_tree, tmp_path: Path):
    root, planted = canary_tree
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    streams: list[str] = []
    runs = 0
    for fmt in cli.formats:
        rc, out, err = cli("check", root, "--format", fmt, "-o", out_dir / f"check.{fmt}",
                           "--summary", out_dir / f"summary_{fmt}.json", "--verbose")
        assert rc in (0, 1), f"check --format {fmt}: exit {rc}: {err}"
        streams += [out, err]
        rc, out, err = cli("check", root, "--format", fmt)
        streams += [out, err]
        runs += 2
    for fmt in ("console", "json"):
        rc, out, err = cli("inspect", root, "--format", fmt, "--provenance")
        assert rc in (0, 1), f"inspect --format {fmt}: exit {rc}: {err}"
        streams += [out, err]
        runs += 1
    for fmt in ("console", "json", "html"):
        rc, out, err = cli("audit", root, "--format", fmt, "-o", out_dir / f"audit.{fmt}",
                           "--tsv", out_dir / f"audit_tsv_{fmt}")
        assert rc in (0, 1), f"audit --format {fmt}: exit {rc}: {err}"
        streams += [out, err]
        runs += 1
    leaks = _leaks("\n".join(streams) + _outputs(out_dir), planted)
    print(f"\n[canary] runs: {runs}, canaries planted: {len(planted)}, leaks: {len(leaks)}")
    assert not leaks, f"patient identifiers leaked into outputs: {leaks}"


def test_include_identifiers_opt_in_works(cli, canary_tree, tmp_path: Path):
    root, planted = canary_tree
    report = tmp_path / "with_ids.json"
    rc, out, err = cli("check", root, "--format", "json", "-o", report, "--include-identifiers")
    assert rc in (0, 1), err
    text = report.read_text(encoding="utf-8")
    assert planted["PatientID"] in text or planted["PatientName"] in text, \
        "--include-identifiers must put the patient identifiers in the JSON report"
