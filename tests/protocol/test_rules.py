"""Rule semantics: every constraint kind, units in texts, cannot_verify, grading."""

from __future__ import annotations

from typing import Any

import pytest
from protocol_helpers import acq, ge_dwi, siemens_t1

from protocheck.checks.results import Severity, Status
from protocheck.protocol import load_protocol, load_protocol_text
from protocheck.protocol.rules import evaluate_constraint, evaluate_constraints, fmt_value, value_of


def _proto(constraints_yaml: str):
    text = f"""name: t
version: "1"
sequences:
  - id: seq
    label: SEQ
    requirement: required
    identify:
      any: [{{parameter: SeriesDescription, matches: "x"}}]
    constraints:
{constraints_yaml}"""
    return load_protocol_text(text, "t.yaml").sequences[0]


def _eval(c_yaml: str, **params: Any):
    seq = _proto(c_yaml)
    return [evaluate_constraint(c, acq("s1", **params), seq) for c in seq.constraints]


@pytest.mark.parametrize("c_yaml,params,status", [
    ("      - {id: a, parameter: MRAcquisitionType, equals: '3D', severity: error}", {"MRAcquisitionType": "3D"}, "pass"),
    ("      - {id: a, parameter: MRAcquisitionType, equals: '3D', severity: error}", {"MRAcquisitionType": "2D"}, "fail"),
    ("      - {id: a, parameter: PhaseEncodingDirection, one_of: [j, j-], severity: warning}",
     {"PhaseEncodingDirection": "j-"}, "pass"),
    ("      - {id: a, parameter: PhaseEncodingDirection, one_of: [j, j-], severity: warning}",
     {"PhaseEncodingDirection": "i"}, "fail"),
    ("      - {id: a, parameter: ScanningSequence, contains: EP, severity: error}", {"ScanningSequence": "EP\\SE"}, "pass"),
    ("      - {id: a, parameter: ScanningSequence, contains: EP, severity: error}", {"ScanningSequence": ["SE"]}, "fail"),
    ("      - {id: a, parameter: ImageType, contains: P, severity: info}", {"ImageType": ["ORIGINAL", "PRIMARY"]}, "fail"),
    ("      - {id: a, parameter: SequenceName, matches: '(?i)tfl', severity: info}", {"SequenceName": "*tfl3d1"}, "pass"),
    ("      - {id: a, parameter: RepetitionTime, range: {min: 1.8, max: 2.6}, severity: warning}",
     {"RepetitionTime": 2.3}, "pass"),
    ("      - {id: a, parameter: RepetitionTime, range: {min: 1.8, max: 2.6}, severity: warning}",
     {"RepetitionTime": 0.0065}, "fail"),
    ("      - {id: a, parameter: RepetitionTime, nominal: 2.3, tolerance: {relative: 0.1}, severity: warning}",
     {"RepetitionTime": 2.5}, "pass"),
    ("      - {id: a, parameter: RepetitionTime, nominal: 2.3, tolerance: {absolute: 0.1}, severity: warning}",
     {"RepetitionTime": 2.5}, "fail"),
    ("      - {id: a, parameter: VoxelSize, each: {max: 1.2}, severity: warning}", {"VoxelSize": [1, 1, 1.2]}, "pass"),
    ("      - {id: a, parameter: VoxelSize, each: {max: 1.2}, severity: warning}", {"VoxelSize": [1, 1, 1.3]}, "fail"),
    ("      - {id: a, parameter: VoxelSize, each: {nominal: 2, tolerance: {absolute: 0.2}}, severity: warning}",
     {"VoxelSize": [2, 2, 2.1]}, "pass"),
    ("      - {id: a, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000, shell_tolerance: 100,"
     " severity: warning}", {"DiffusionDirectionsPerShell": {1000: 32, 2000: 64}}, "pass"),
    ("      - {id: a, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000, shell_tolerance: 100,"
     " severity: warning}", {"DiffusionDirectionsPerShell": {"1000": 12}}, "fail"),
    ("      - {id: a, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000, shell_tolerance: 100,"
     " severity: warning}", {"DiffusionDirectionsPerShell": {2000: 64}}, "pass"),   # judged at the nearest shell
    ("      - {id: a, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000, shell_tolerance: 100,"
     " severity: warning}", {"DiffusionDirectionsPerShell": {}}, "fail"),            # b=0 only: nothing to count
    ("      - {id: a, parameter: EchoTimes, present: true, severity: info}", {"EchoTimes": [0.005, 0.01]}, "pass"),
    ("      - {id: a, parameter: EchoTimes, present: true, severity: info}", {}, "fail"),
])
def test_constraint_kinds(c_yaml: str, params: dict, status: str):
    (f,) = _eval(c_yaml, **params)
    assert f.status.value == status, f.message
    assert f.check_id == "seq/a" and f.series == "s1"


@pytest.mark.parametrize("c_yaml", [
    "      - {id: a, parameter: RepetitionTime, range: {min: 1.8}, severity: error}",
    "      - {id: a, parameter: MRAcquisitionType, equals: '3D', severity: warning}",
    "      - {id: a, parameter: VoxelSize, each: {max: 1.2}, severity: warning}",
    "      - {id: a, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000, severity: error}",
    "      - {id: a, parameter: Duration, range: {min: 360}, severity: warning}",
])
def test_unknown_value_is_cannot_verify_never_pass(c_yaml: str):
    (f,) = _eval(c_yaml)
    assert f.status is Status.CANNOT_VERIFY and f.found is None
    assert f.severity in (Severity.WARNING, Severity.INFO)   # an unknown value is never reported as an error
    assert "could not be read" in f.message


def test_texts_carry_units_and_read_well():
    (f,) = _eval("      - {id: dirs, parameter: DiffusionDirectionsPerShell, min_count: 30, shell: 1000,"
                 " severity: warning}", DiffusionDirectionsPerShell={1000: 32})
    assert f.expected == "≥ 30 directions at b=1000"
    assert f.message == "SEQ: 32 directions at b=1000, protocol requires at least 30 at b=1000: OK"
    assert f.provenance == "test DiffusionDirectionsPerShell"
    (f,) = _eval("      - {id: tr, parameter: RepetitionTime, range: {min: 1.8, max: 2.6}, severity: warning,"
                 " advice: 'Set TR 2.3 s', rationale: why, source: R16}", RepetitionTime=2.3)
    assert f.expected == "1800–2600 ms" and f.found == "2300 ms"      # TR/TE/TI always in ms (one unit)
    assert f.message == "SEQ: TR 2300 ms, protocol requires 1800–2600 ms: OK"
    assert (f.advice, f.rationale, f.source) == ("Set TR 2.3 s", "why", "R16")
    (f,) = _eval("      - {id: te, parameter: EchoTime, range: {max: 0.005}, severity: warning}", EchoTime=0.00298)
    assert f.expected == "≤ 5 ms" and f.found == "2.98 ms"
    assert fmt_value("VoxelSize", [1.0, 1.0, 1.0]) == "1.0 × 1.0 × 1.0 mm"


def test_graded_constraints_report_only_the_most_severe_failure():
    seq = _proto("""      - {id: b-warn, parameter: PrimaryShell, range: {min: 900, max: 1100}, severity: warning}
      - {id: b-err, parameter: PrimaryShell, range: {min: 700, max: 1500}, severity: error}
""")
    mild = evaluate_constraints(list(seq.constraints), acq("s", DiffusionShells=[1200]), seq)
    assert [(f.check_id, f.status.value) for f in mild] == [("seq/b-warn", "fail"), ("seq/b-err", "pass")]
    bad = evaluate_constraints(list(seq.constraints), acq("s", DiffusionShells=[2500]), seq)
    assert [(f.check_id, f.status.value, f.severity.value) for f in bad] == [("seq/b-err", "fail", "error")]
    unknown = evaluate_constraints(list(seq.constraints), acq("s"), seq)
    assert len(unknown) == 1 and unknown[0].status is Status.CANNOT_VERIFY


def test_derived_parameters():
    a = acq("s", NumberOfVolumes=200, RepetitionTime=2.0, VoxelSize=[2.0, 2.0, 3.0], EchoTimes=[0.005, 0.01, 0.03],
            DiffusionDirectionsPerShell={1000: 30, 2000: 60})
    assert value_of(a, "Duration")[0] == 400.0
    assert value_of(a, "VoxelAnisotropy")[0] == 1.5
    assert value_of(a, "NumberOfEchoes")[0] == 3 and value_of(a, "LastEchoTime")[0] == 0.03
    assert value_of(a, "PrimaryShell")[0] == 2000.0
    assert value_of(acq("x"), "Duration") == (None, None)


def test_builtin_t1_vendor_trap_ge_tr_is_info_only():
    p = load_protocol("als-brain-3t")
    t1 = p.sequence("t1w")
    ge = siemens_t1(Manufacturer="GE MEDICAL SYSTEMS", RepetitionTime=0.0072, InversionTime=0.45)
    variant = t1.variant_for(ge)
    assert variant is not None and variant.name == "GE"
    fs = {f.check_id: f for f in evaluate_constraints(t1.constraints_for(variant), ge, t1)}
    assert fs["t1w/repetition-time"].status is Status.PASS and fs["t1w/repetition-time"].severity is Severity.INFO
    assert "per-shot" in fs["t1w/repetition-time"].message
    assert fs["t1w/inversion-time"].status is Status.PASS
    # the same values on a Siemens would be deviations
    si = siemens_t1(RepetitionTime=0.0072)
    fs = {f.check_id: f for f in evaluate_constraints(t1.constraints_for(t1.variant_for(si)), si, t1)}
    assert fs["t1w/repetition-time"].status is Status.FAIL and fs["t1w/repetition-time"].severity is Severity.WARNING


def test_builtin_dti_ok_and_deviations():
    p = load_protocol("als-brain-3t")
    dti = p.sequence("dti")
    good = ge_dwi()
    fs = evaluate_constraints(dti.constraints_for(dti.variant_for(good)), good, dti)
    assert all(f.status is Status.PASS for f in fs), [f.message for f in fs if f.status is not Status.PASS]
    bad = ge_dwi(DiffusionShells=[700], DiffusionDirectionsPerShell={700: 12}, NumberOfB0Volumes=0)
    fs = {f.check_id: f for f in evaluate_constraints(dti.constraints_for(None), bad, dti)}
    assert fs["dti/directions"].status is Status.FAIL and fs["dti/directions"].severity is Severity.WARNING
    assert fs["dti/b0-volumes"].status is Status.FAIL and fs["dti/b0-volumes"].severity is Severity.ERROR
    # 700 is off nominal (±3 %) and outside 850-1150 (unusable): only the most severe tier is reported
    assert fs["dti/b-value-limit"].status is Status.FAIL and fs["dti/b-value-limit"].severity is Severity.ERROR
    assert "dti/b-value" not in fs
