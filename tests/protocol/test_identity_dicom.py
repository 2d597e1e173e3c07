"""Identity from real DICOM headers (../shared/data/dicom): b=0-only companions are not DTI nor BOLD, one
coherent judgement per diffusion shell, BOLD recognised without its EP flag; and the protocol language's
BIDS/coverage declarations."""

from __future__ import annotations

from pathlib import Path

import pytest
from protocol_helpers import acq

from protocheck.checks.compliance import check_exam
from protocheck.checks.results import Status
from protocheck.errors import ProtocolError
from protocheck.protocol import load_protocol, load_protocol_text
from protocheck.protocol.matching import match_series
from protocheck.sources import scan
from protocheck.sources.options import ScanOptions

P = load_protocol("als-brain-3t")
CORD = load_protocol("als-spinal-cord")


def _series(folder: Path):
    if not folder.is_dir():
        pytest.skip(f"{folder} not in the shared data")
    result = scan(str(folder), ScanOptions())
    (exam,) = result.exams
    return exam


def _b0_only(dicom_root: Path, rel: str, tmp_path: Path):
    """The b=0 files of a real diffusion series, linked into a folder of their own: a b=0-only series as a
    reverse-phase-encoding companion is acquired (the files are read in place, never copied or written)."""
    src = dicom_root / rel
    if not src.is_dir():
        pytest.skip(f"{rel} not in the shared data")
    out = tmp_path / "b0"
    out.mkdir()
    for f in sorted(src.iterdir()):
        one = scan(str(f), ScanOptions())
        a = one.exams[0].acquisitions[0] if one.exams else None
        if a is not None and a.get("DiffusionShells") == []:
            (out / f.name).symlink_to(f)
    assert any(out.iterdir()), "the series has b=0 files"
    return scan(str(out), ScanOptions()).exams[0]


@pytest.mark.parametrize("rel", ["dcm_qa_ge/01_Ax_DWI_TENSOR_R2", "dcm_qa_philips/Vanderbilt_2018/601_WIP_dti_ax"])
def test_b0_only_series_is_a_companion_not_dti_nor_bold(dicom_root, tmp_path, rel):
    exam = _b0_only(dicom_root, rel, tmp_path)
    (b0,) = exam.acquisitions
    assert b0.get("NumberOfDiffusionDirections") == 0 and b0.get("NumberOfB0Volumes") >= 1
    info = match_series(b0, P)
    assert info.sequence is None                       # was 'dti' (and GE reverse b0 'rsfmri') before
    assert any("distortion-correction companion" in r for r in info.reasons)
    result = check_exam(exam, P)
    dti = next(s for s in result.sequences if s.sequence == "dti")
    assert dti.status == Status.MISSING.value or all(f.status is Status.MISSING for f in dti.findings)


def test_canon_dti_at_b1500_gets_one_coherent_judgement(dicom_root):
    """Canon DTI, one shell b=1500 with 12 directions: one b-value judgement (protocol 1.1: outside the usable
    850-1150 s/mm², so the error tier replaces the off-nominal warning) and a direction-count warning for the
    same shell; never an error 'no shell at b=1000' contradicting the b-value judgement."""
    exam = _series(dicom_root / "dcm_qa_canon_61" / "enh" / "SN6000_346001")
    result = check_exam(exam, P)
    f = {x.check_id: x for x in next(s for s in result.sequences if s.sequence == "dti").findings}
    b_value = [x for k, x in f.items() if k in ("dti/b-value", "dti/b-value-limit") and x.status is Status.FAIL]
    assert [(x.check_id, x.severity.value, x.found) for x in b_value] == [("dti/b-value-limit", "error", "1500 s/mm²")]
    assert f["dti/directions"].found == "12 directions at b=1500 (the shell nearest b=1000)"
    assert f["dti/directions"].severity.value == "warning"
    assert f["dti/directions-minimum"].status is Status.PASS
    assert not any("no shell" in (x.found or "") for x in f.values())


def test_multi_shell_is_judged_at_the_shell_nearest_the_protocol_b_value():
    a = acq("ms", "dwi_multishell", ScanningSequence="EP\\SE", ImageType=["ORIGINAL", "PRIMARY", "DIFFUSION"],
            DiffusionShells=[1000, 2000], DiffusionDirectionsPerShell={1000: 32, 2000: 64}, NumberOfB0Volumes=6,
            NumberOfDiffusionDirections=96, Manufacturer="Siemens", MagneticFieldStrength=3.0)
    seq = P.sequence("dti")
    from protocheck.protocol.rules import evaluate_constraints
    f = {x.check_id: x for x in evaluate_constraints(list(seq.constraints), a, seq)}
    assert f["dti/b-value"].status is Status.PASS and f["dti/b-value"].found == "1000 s/mm²"   # not 2000
    assert f["dti/directions"].found == "32 directions at b=1000"


@pytest.mark.parametrize("rel", ["dcm_qa_ge/SliceTiming/2_Ax_fMRI_HB8_72sl_int_asc", "dcm_qa_mosaic/ep2d_Asc_2",
                                 "dcm_qa_nih/20180918GE/mr_0004"])
def test_real_bold_is_rsfmri_not_swi(dicom_root, rel):
    (a,) = _series(dicom_root / rel).acquisitions
    assert match_series(a, P).sequence == "rsfmri"


def test_philips_gr_bold_without_ep_flag_is_rsfmri_from_its_volumes():
    """Philips writes ScanningSequence GR for FE-EPI BOLD (no EP): the long time series names it, and the
    echo time alone (30 ms >= 15 ms) never makes it an SWI."""
    bold = acq("pb", "WIP rs_fMRI SENSE", Manufacturer="Philips", ScanningSequence="GR", MRAcquisitionType="2D",
               EchoTime=0.03, RepetitionTime=2.0, NumberOfVolumes=200, ImageType=["ORIGINAL", "PRIMARY", "M", "FFE"])
    assert match_series(bold, P).sequence == "rsfmri"
    only_te = acq("g", "", Manufacturer="Philips", MRAcquisitionType="3D", EchoTime=0.025)  # a bare sidecar
    info = match_series(only_te, P)
    assert info.sequence is None and "timing parameter alone" in " ".join(info.reasons)


def test_bids_label_is_never_matched_to_a_sequence_it_contradicts():
    t2 = acq("t2", "sub-01_T2w", BIDSSuffix="T2w", BIDSDatatype="anat", BIDSName="T2w", ScanningSequence="GR",
             EchoTime=0.03, MRAcquisitionType="3D")
    assert match_series(t2, P).sequence is None                  # was SWI from TE >= 15 ms
    task = acq("b", "sub-01_task-nback_bold", BIDSSuffix="bold", BIDSDatatype="func", BIDSName="task-nback_bold")
    info = match_series(task, P)
    assert info.sequence is None and "task-nback does not match" in info.reasons[-1]
    rest = acq("r", "sub-01_task-rest_bold", BIDSSuffix="bold", BIDSDatatype="func", BIDSName="task-rest_bold")
    assert match_series(rest, P).sequence == "rsfmri"
    flair = acq("f", "sub-01_FLAIR", BIDSSuffix="FLAIR", BIDSDatatype="anat", BIDSName="FLAIR",
                SequenceVariant="SK\\SP\\MP")                       # SPACE-FLAIR is magnetization-prepared
    info = match_series(flair, P)
    assert info.sequence == "flair" and any("taken by its BIDS label" in r for r in info.reasons)


def test_coverage_keeps_cord_series_out_of_the_brain_protocol_and_back():
    cord_dwi = acq("d", "sub-01_dwi", BIDSSuffix="dwi", BIDSDatatype="dwi", BIDSName="dwi",
                   ReceiveCoilName="Spine_32", DiffusionShells=[800], DiffusionDirectionsPerShell={800: 30},
                   NumberOfDiffusionDirections=30, NumberOfB0Volumes=5)
    info = match_series(cord_dwi, P)
    assert info.sequence is None and "covers cervical-cord (receive coil Spine_32)" in info.reasons[-1]
    assert match_series(cord_dwi, CORD).sequence == "dwi"
    brain_t1 = acq("t", "t1_mprage_brain", SeriesDescription="T1 MPRAGE brain", BIDSSuffix="T1w", BIDSName="T1w")
    assert match_series(brain_t1, CORD).sequence is None
    assert match_series(brain_t1, P).sequence == "t1w"


def test_protocol_language_bids_and_coverage_are_validated():
    base = """name: p
version: "1"
sequences:
  - id: a
    requirement: required
    identify:
      bids: {suffixes: [T1w], datatypes: [anat], entities: {acq: "(?i)mprage"}}
      coverage: [brain]
      any: [{parameter: SeriesDescription, matches: "t1"}]
"""
    seq = load_protocol_text(base).sequences[0]
    assert seq.identify.bids.suffixes == ("T1w",) and seq.identify.coverage == ("brain",)
    with pytest.raises(ProtocolError, match="coverage"):
        load_protocol_text(base.replace("coverage: [brain]", "coverage: [knee]"))
    with pytest.raises(ProtocolError, match="invalid regular expression"):
        load_protocol_text(base.replace('"(?i)mprage"', '"(unclosed"'))
    variant = base + """    variants:
      - name: GE
        when: {Manufacturer: GE}
        identify: {coverage: [brain]}
"""
    with pytest.raises(ProtocolError, match="declared by the sequence, not by a vendor variant"):
        load_protocol_text(variant)


@pytest.mark.parametrize("elements, regions", [
    ("HC7;NC1,2", {"cervical-cord"}),                 # spine-generic cord DWI: lowest head ring + neck
    ("HE4;NE1,2", {"cervical-cord"}),
    ("HC5-7;NC1,2;SP1", {"brain", "cervical-cord"}),  # head-and-neck T1w
    ("HC1-7", {"brain"}),
    ("HEA;HEP", {"brain"}),
    ("BO1,2", set()),
])
def test_active_coil_elements_tell_the_anatomy(elements, regions):
    from protocheck.protocol.identity import coverage_of
    a = acq("e", "", ReceiveCoilActiveElements=elements)
    found = coverage_of(a)
    assert (set(found[0]) if found else set()) == regions


def test_spine_generic_cord_dwi_with_neck_elements_is_not_brain_dti(spine_generic: Path):
    from protocheck.sources.bids import scan_bids
    scan_result = scan_bids(spine_generic, ScanOptions())
    dwi = next(a for a in scan_result.acquisitions() if a.key.endswith("sub-mgh01_dwi.nii.gz"))
    assert dwi.get("ReceiveCoilActiveElements") == "HC7;NC1,2"
    info = match_series(dwi, P)
    assert info.sequence is None and "covers cervical-cord (active coil elements HC7;NC1,2)" in info.reasons[-1]
    assert match_series(dwi, CORD).sequence == "dwi"
