"""Matching of synthetic series to the built-in brain protocol: reasons, variants, support, ties, unknowns."""

from __future__ import annotations

from protocol_helpers import acq, exam, flair, ge_dwi, siemens_t1

from protocheck.protocol import load_protocol, load_protocol_text
from protocheck.protocol.matching import match_exam, match_series

P = load_protocol("als-brain-3t")


def test_t1_dwi_flair_matched_with_reasons_and_variant():
    matches, unmatched, support = match_exam(exam(siemens_t1(), ge_dwi(), flair()), P)
    got = {m.series: m for m in matches}
    assert {k: m.sequence for k, m in got.items()} == {"t1": "t1w", "dwi": "dti", "flair": "flair"}
    assert "ScanningSequence contains IR" in got["t1"].reasons
    assert got["t1"].variant == "Siemens" and got["dwi"].variant == "GE"
    assert any(r.startswith("DiffusionShells") for r in got["dwi"].reasons)
    assert not unmatched and not support


def test_localizer_and_derived_never_matched_but_listed():
    loc = siemens_t1("loc", roles={"localizer"})
    loc.note("localizer", "localizer: Siemens scout series")
    adc = ge_dwi("adc", roles={"derived"}, ImageType=["DERIVED", "PRIMARY", "DIFFUSION", "ADC"])
    matches, unmatched, support = match_exam(exam(loc, adc), P)
    assert not matches and not unmatched
    reasons = {m.series: m.reasons for m in support}
    assert reasons["loc"] == ["localizer: Siemens scout series"] and reasons["adc"] == ["derived"]


def test_mrs_non_image_object_is_matched_not_support():
    mrs = acq("svs", "svs_se_30", roles={"non-image", "mrs"}, SOPClassUID="1.3.12.2.1107.5.9.1")
    matches, _, support = match_exam(exam(mrs), P)
    assert [m.sequence for m in matches] == ["mrs"] and not support


def test_field_map_and_t2w_are_unmatched_with_reason():
    fmap = acq("fm", "gre_field_mapping", ScanningSequence="GR", MRAcquisitionType="2D", EchoTime=0.00492,
               EchoTimes=[0.00492, 0.00738], Manufacturer="Siemens")
    t2 = acq("t2", "T2w", ScanningSequence="SE", MRAcquisitionType="3D", EchoTime=0.12, SequenceName="*spc_1")
    matches, unmatched, _ = match_exam(exam(fmap, t2), P)
    assert not matches
    assert all(m.sequence is None and m.reasons[0] == "matches no protocol sequence" for m in unmatched)


def test_description_alone_does_not_beat_sequence_tags():
    """A 2D series named 'mprage' is not a 3D T1w: the all-criterion MRAcquisitionType=3D fails."""
    fake = acq("x", "mprage_2d_sag", MRAcquisitionType="2D", ScanningSequence="GR\\IR", SequenceVariant="MP")
    info = match_series(fake, P)
    assert info.sequence is None


def test_unknown_values_neither_satisfy_nor_violate():
    """With MRAcquisitionType unknown the 'all' criterion does not fail; the sequence tags still identify."""
    a = siemens_t1()
    del a.params["MRAcquisitionType"]
    info = match_series(a, P)
    assert info.sequence == "t1w"
    assert "MRAcquisitionType is 3D" not in info.reasons
    assert match_series(acq("empty"), P).sequence is None


def test_ties_are_flagged_ambiguous():
    text = """name: tie
version: "1"
sequences:
  - id: a
    requirement: required
    identify: {any: [{parameter: SeriesDescription, matches: "(?i)t1"}]}
  - id: b
    requirement: optional
    identify: {any: [{parameter: SeriesDescription, matches: "(?i)mprage"}]}
"""
    info = match_series(acq("s", "t1_mprage"), load_protocol_text(text))
    assert info.sequence == "a" and info.ambiguous_with == ["b"]


def test_philips_dwi_without_ep_flag_is_matched_with_philips_variant():
    ph = ge_dwi("ph", Manufacturer="Philips Medical Systems", ScanningSequence="SE",
                ImageType=["ORIGINAL", "PRIMARY", "M_SE", "M", "SE"])
    info = match_series(ph, P)
    assert info.sequence == "dti" and info.variant == "Philips"
