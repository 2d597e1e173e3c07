"""check_exam: per-sequence verdicts, missing sequences, consistency rules, real DICOM integration."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "protocol"))
from protocol_helpers import acq, exam, flair, ge_dwi, siemens_t1  # noqa: E402

from protocheck.checks.compliance import check_exam, check_scan  # noqa: E402
from protocheck.checks.results import Severity, Status  # noqa: E402
from protocheck.model import ScanResult  # noqa: E402
from protocheck.protocol import load_protocol, load_protocol_text  # noqa: E402

P = load_protocol("als-brain-3t")


def _seq(result, sid):
    return next(s for s in result.sequences if s.sequence == sid)


def test_compliant_exam_and_missing_sequences():
    r = check_exam(exam(siemens_t1(), ge_dwi(MagneticFieldStrength=3.0), flair()), P)
    assert _seq(r, "t1w").status == "compliant", [f.message for f in _seq(r, "t1w").findings if f.is_problem]
    assert _seq(r, "dti").status == "compliant"
    swi = _seq(r, "swi")
    assert swi.status == "missing" and swi.findings[0].status is Status.MISSING
    assert swi.findings[0].severity is Severity.WARNING and swi.findings[0].check_id == "swi/present"
    fmri = _seq(r, "rsfmri")
    assert fmri.status == "absent_optional" and fmri.findings[0].status is Status.NOT_APPLICABLE
    assert r.verdict == "warnings"      # recommended SWI missing


def test_missing_required_is_error_and_deviation_verdict():
    r = check_exam(exam(siemens_t1()), P)
    dti = _seq(r, "dti")
    assert dti.status == "missing" and dti.findings[0].severity is Severity.ERROR
    assert r.verdict == "deviations"


def test_deviating_and_cannot_verify_statuses():
    t1 = siemens_t1(VoxelSize=[1.0, 1.0, 2.0], MagneticFieldStrength=1.5)
    r = check_exam(exam(t1), P)
    t1r = _seq(r, "t1w")
    assert t1r.status == "deviating"
    bad = {f.check_id: f for f in t1r.findings if f.status is Status.FAIL}
    assert bad["t1w/voxel-size-max"].severity is Severity.ERROR and "t1w/voxel-size" not in bad
    assert bad["t1w/field-strength"].found == "1.5 T"
    unknown = siemens_t1()
    del unknown.params["InversionTime"]
    r = check_exam(exam(unknown), P)
    t1r = _seq(r, "t1w")
    assert t1r.status == "cannot_verify"
    cv = [f for f in t1r.findings if f.status is Status.CANNOT_VERIFY]
    assert [f.check_id for f in cv] == ["t1w/inversion-time"]


CONSISTENCY = """name: cord
version: "1"
sequences:
  - id: mt1
    requirement: required
    identify: {all: [{parameter: SeriesDescription, matches: "MT1"}]}
    consistency:
      - id: mt-pair
        with: mt0
        parameters: [RepetitionTime, FlipAngle, Geometry]
        severity: error
        rationale: "MTR is invalid if MT-on and MT-off differ"
  - id: mt0
    requirement: required
    identify: {all: [{parameter: SeriesDescription, matches: "MT0"}]}
"""


def test_consistency_rule_pass_fail_and_unknown():
    proto = load_protocol_text(CONSISTENCY)
    geo = dict(VoxelSize=[0.9, 0.9, 5.0], AcquisitionMatrix=[192, 192], NumberOfSlices=15, SliceThickness=5.0,
               ImageOrientationPatientDICOM=[1, 0, 0, 0, 1, 0])
    on = acq("on", "GRE-MT1", RepetitionTime=0.035, FlipAngle=9, **geo)
    off = acq("off", "GRE-MT0", RepetitionTime=0.035, FlipAngle=9, **geo)
    r = check_exam(exam(on, off), proto)
    assert r.findings and all(f.status is Status.PASS for f in r.findings)
    assert {f.parameter for f in r.findings} >= {"RepetitionTime", "FlipAngle", "VoxelSize"}
    off2 = acq("off", "GRE-MT0", RepetitionTime=0.057, FlipAngle=9, **dict(geo, NumberOfSlices=None))
    r = check_exam(exam(on, off2), proto)
    by = {f.parameter: f for f in r.findings}
    assert by["RepetitionTime"].status is Status.FAIL and by["RepetitionTime"].severity is Severity.ERROR
    assert by["RepetitionTime"].check_id == "mt1/mt-pair" and "INCONSISTENT" in by["RepetitionTime"].message
    assert by["NumberOfSlices"].status is Status.CANNOT_VERIFY
    assert r.verdict == "deviations"


def test_check_scan_checks_every_exam():
    scan = ScanResult(exams=[exam(siemens_t1()), exam(ge_dwi())])
    results = check_scan(scan, P)
    assert len(results) == 2 and all(r.protocol_version == "1.1.0" for r in results)


# ------------------------------------------------------------------------------------- real DICOM headers

def _scan(folder: Path):
    try:
        from protocheck.sources.dicom import scan_dicom
    except ImportError:
        pytest.skip("protocheck.sources.dicom.scan_dicom not available")
    return scan_dicom(folder)


def _matched(dicom_root: Path, rel: str):
    folder = dicom_root / rel
    if not folder.is_dir():
        pytest.skip(f"{rel} not in the shared data")
    results = check_scan(_scan(folder), P)
    assert len(results) == 1
    return results[0]


@pytest.mark.parametrize("rel,sequence,variant", [
    ("dcm_qa_xa30/5_anat-T1w_acq-tfl", "t1w", "Siemens"),
    ("dcm_qa_ge/01_Ax_DWI_TENSOR_R2", "dti", "GE"),
    ("dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax", "dti", "Philips"),
    ("dcm_qa_xa30/10_DWI_dir80_PA", "dti", "Siemens"),
    ("dcm_qa_ge/05_3D_Ax_T1_MP_RAGE_R22", "t1w", "GE"),
    ("dcm_qa_philips_enh/cl/SN1301_458288", "t1w", "Philips"),
    ("dcm_qa_nih/20180918GE/mr_0004", "rsfmri", None),
    ("dcm_qa_spec/31_svs_se", "mrs", None),
])
def test_real_series_matched_to_the_right_sequence(dicom_root: Path, rel: str, sequence: str, variant):
    r = _matched(dicom_root, rel)
    assert [(m.sequence, m.variant) for m in r.matches] == [(sequence, variant)]
    seq = _seq(r, sequence)
    assert seq.findings and all(f.check_id.startswith(f"{sequence}/") for f in seq.findings)
    fs = next(f for f in seq.findings if f.check_id.endswith("/field-strength"))
    assert fs.provenance and (fs.status is Status.PASS) == (sequence != "mrs")   # the svs_se is a 7T Terra.X


def test_real_enhanced_dwi_findings_are_plausible(dicom_root: Path):
    r = _matched(dicom_root, "dcm_qa_xa30/10_DWI_dir80_PA")
    f = {x.check_id: x for x in _seq(r, "dti").findings}
    # dcm_qa_xa30 DWI_dir80 is a single b=2500 shell: a real deviation from the b=1000 DTI of the protocol
    assert f["dti/b-value-limit"].status is Status.FAIL and f["dti/b-value-limit"].found == "2500 s/mm²"
    assert "dti/b-value" not in f                       # graded: only the most severe failure is reported
    # one judgement of the one shell: its b-value is the error; its directions are counted there, not "no shell"
    assert f["dti/directions"].found == "20 directions at b=2500 (the shell nearest b=1000)"
    assert f["dti/directions"].status is Status.FAIL and f["dti/directions"].severity.value == "warning"
    assert f["dti/directions-minimum"].status is Status.PASS   # 20 >= 6: the tensor can be fitted
    assert f["dti/b0-volumes"].status is Status.PASS and f["dti/b0-volumes"].provenance
    assert _seq(r, "dti").status == "deviating"


def test_real_philips_dwi_trace_not_counted_and_pe_info(dicom_root: Path):
    r = _matched(dicom_root, "dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax")
    f = {x.check_id: x for x in _seq(r, "dti").findings}
    assert f["dti/sequence-type"].status is Status.PASS      # Philips SE without EP flag: variant rule
    pe = f.get("dti/phase-encoding")
    assert pe is not None and pe.severity is Severity.INFO


def test_real_localizer_and_field_map_never_matched(dicom_root: Path):
    loc = _matched(dicom_root, "dcm_qa_xa30i/2001_AAHead_Scout")
    assert not loc.matches and loc.support and loc.support[0].reasons
    fmap = _matched(dicom_root, "dcm_qa_xa30/9_gre_field_mapping")
    assert not fmap.matches and fmap.unmatched


def test_garbage_values_never_crash():
    weird = acq("w", "dti weird", ImageType="DIFFUSION", DiffusionShells=["x", None], VoxelSize="2x2x2",
                DiffusionDirectionsPerShell={"b": "many", 1000: "30"}, NumberOfB0Volumes="1",
                RepetitionTime=[1, "a"], EchoTimes="0.1", MagneticFieldStrength="3T", NumberOfVolumes=True,
                PhaseEncodingDirection=7, SequenceName=None, Manufacturer=["Philips"])
    r = check_exam(exam(weird), P)
    assert r.matches[0].sequence == "dti"
    assert all(f.status in (Status.PASS, Status.FAIL, Status.CANNOT_VERIFY) for f in _seq(r, "dti").findings)


_EXPECTED = {"T1w": "t1w", "DWI": "dti", "BOLD": "rsfmri", "MRS": "mrs"}


@pytest.mark.slow
def test_whole_shared_corpus_matches_by_kind(dicom_root: Path):
    """Every T1w/DWI/BOLD/MRS series of the shared corpus goes to its sequence; the rest is never matched.

    Exception: the dcm_qa TotalReadoutTime series are single-volume spin-echo EPI (SequenceName epse2d1,
    flip 90°), not BOLD, so they stay unmatched.
    """
    index = (dicom_root / "INDEX.tsv").read_text().splitlines()[1:]
    wrong = []
    for line in index:
        folder, kind = line.split("\t")[0], line.split("\t")[5]
        if not (dicom_root / folder).is_dir():
            continue
        for r in check_scan(_scan(dicom_root / folder), P):
            got = {m.sequence for m in r.matches}
            want = _EXPECTED.get(kind)
            if folder.startswith("dcm_qa/TotalReadoutTime"):
                want = None
            if got - {want} or (want and not got and not r.support):
                wrong.append((folder, kind, got))
    assert not wrong
