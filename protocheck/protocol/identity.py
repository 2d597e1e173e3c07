"""What a series is, from evidence that names it: BIDS labels, covered anatomy, diffusion companions.

A curator's BIDS suffix (and datatype, entities) is a label: a sequence that declares the labels it accepts
(``identify.bids``) is never given a series labelled otherwise, and an accepted label is positive evidence.
Covered anatomy (``identify.coverage``) is read from the series' names or its receive coil;
where nothing tells, it neither holds nor fails. Timing parameters (echo, repetition, inversion times, flip
angle) describe how a series was acquired, not what it is: they can support a match, never make one alone.
"""

from __future__ import annotations

import re
from typing import Any

from protocheck.model import Acquisition
from protocheck.protocol.model import BidsAccepts, Identify

# Parameters that support an identification but are never enough on their own (issue: "TE >= 15 ms" is not SWI).
TIMING_PARAMETERS = frozenset({
    "EchoTime", "EchoTimes", "LastEchoTime", "NumberOfEchoes", "RepetitionTime", "RepetitionTimeExcitation",
    "InversionTime", "FlipAngle", "Duration", "EchoTrainLength",
})

_CORD_WORDS = re.compile(r"(?i)spine|spinal|\bcord|c-?sp|cervical|neck")
_BRAIN_WORDS = re.compile(r"(?i)brain|head|cerebr|skull")
_NAME_CORD = re.compile(r"(?i)spine|spinal|\bcord|c-?spine|cervical")
_NAME_BRAIN = re.compile(r"(?i)\bbrain|cerebr")


def coverage_of(acq: Acquisition) -> tuple[frozenset[str], str] | None:
    """The anatomy a series covers and the evidence in words; None when nothing tells.

    The series' own names come first, then the receive coil elements that were active (Siemens
    ReceiveCoilActiveElements, e.g. "HC7;NC1,2": neck elements and only the lowest head ring image the cord, not
    the brain), then a spine or neck coil without a head part (a head coil also images
    the upper cervical cord, as at spine-generic sites with a head matrix, so it tells nothing). BodyPartExamined
    is not used:
    it is set once per exam at registration and often left at a default (spine-generic cord series say BRAIN,
    GE head-and-neck T1w say HEAD), so it cannot contradict a sequence."""
    for name in ("SeriesDescription", "ProtocolName"):
        text = acq.get(name)
        if isinstance(text, str):
            cord, brain = bool(_NAME_CORD.search(text)), bool(_NAME_BRAIN.search(text))
            if cord != brain:
                return frozenset({"cervical-cord"} if cord else {"brain"}), f"{name} {text!r}"
    elements = acq.get("ReceiveCoilActiveElements")
    regions = _element_regions(elements) if isinstance(elements, str) else frozenset()
    if regions:
        return regions, f"active coil elements {elements.strip()}"
    coil = acq.get("ReceiveCoilName")
    if isinstance(coil, str) and _CORD_WORDS.search(coil) and not _BRAIN_WORDS.search(coil):
        return frozenset({"cervical-cord"}), f"receive coil {coil.strip()}"
    return None


# Siemens coil element groups (CoilString / ReceiveCoilActiveElements): head rings, numbered from the top, with
# the number of the lowest ring, which sits at the skull base and images the neck; neck and spine elements.
_HEAD_RINGS = {"HC": 7, "HE": 4}
_HEAD_WHOLE = ("HEA", "HEP")
_NECK_SPINE = ("NC", "NE", "SP")
_ELEMENT = re.compile(r"^([A-Z]+)([0-9,\-]*)$")


def _numbers(spec: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, spec.split(",")):
        lo, _, hi = part.partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def _element_regions(text: str) -> frozenset[str]:
    """Regions imaged by the active coil elements: brain when a head element above the lowest ring is active,
    cervical cord when a neck or spine element is; empty when the string says neither."""
    regions = set()
    for token in text.replace(" ", "").upper().split(";"):
        m = _ELEMENT.match(token)
        if not m:
            continue
        group, nums = m.group(1), _numbers(m.group(2))
        if group in _HEAD_WHOLE or (group in _HEAD_RINGS and any(n < _HEAD_RINGS[group] for n in nums)):
            regions.add("brain")
        elif group in _NECK_SPINE:
            regions.add("cervical-cord")
    return frozenset(regions)


def coverage_verdict(acq: Acquisition, ident: Identify) -> str | None:
    """Why the series' anatomy contradicts the sequence's declared coverage; None when it does not."""
    if not ident.coverage:
        return None
    found = coverage_of(acq)
    if found is None or found[0] & set(ident.coverage):
        return None
    return (f"covers {' and '.join(sorted(found[0]))} ({found[1]}), the sequence covers "
            f"{' and '.join(ident.coverage)}")


def _entities(acq: Acquisition) -> dict[str, str]:
    name = acq.get("BIDSName")
    out: dict[str, str] = {}
    if isinstance(name, str):
        for part in name.split("_")[:-1]:
            key, dash, label = part.partition("-")
            if dash:
                out[key] = label
    return out


def bids_verdict(acq: Acquisition, accepts: BidsAccepts | None) -> tuple[bool | None, str]:
    """(True, words) when the series' BIDS labels are accepted, (False, why) when they contradict the sequence,
    (None, '') when the series has no BIDS label or the sequence declares none."""
    suffix = acq.get("BIDSSuffix")
    if accepts is None or not isinstance(suffix, str):
        return None, ""
    if accepts.suffixes and suffix not in accepts.suffixes:
        return False, f"BIDS suffix {suffix} is not one of {', '.join(accepts.suffixes)}"
    datatype = acq.get("BIDSDatatype")
    if accepts.datatypes and isinstance(datatype, str) and datatype not in accepts.datatypes:
        return False, f"BIDS datatype {datatype} is not one of {', '.join(accepts.datatypes)}"
    ents = _entities(acq)
    for key, pattern in accepts.entities:
        label = ents.get(key)
        if label is None or not pattern.search(label):
            shown = f"{key}-{label}" if label is not None else f"no {key} entity"
            return False, f"BIDS {shown} does not match {key}-{pattern.pattern}"
    if not accepts.suffixes:
        return None, ""
    return True, f"BIDS suffix {suffix}"


def is_identity_evidence(parameter: str) -> bool:
    """True for a parameter that names what a series is (sequence type, image type, names, b-values...)."""
    return parameter not in TIMING_PARAMETERS


def companion_reason(acq: Acquisition) -> str | None:
    """A b=0-only diffusion series is a distortion-correction companion (reverse phase encoding), not a DTI."""
    shells: Any = acq.get("DiffusionShells")
    n_b0 = acq.get("NumberOfB0Volumes")
    if shells == [] and isinstance(n_b0, int) and n_b0 > 0:
        pe = acq.get("PhaseEncodingDirection")
        pe_text = f", phase encoding {pe}" if isinstance(pe, str) else ""
        return (f"b=0-only diffusion series ({n_b0} b=0 volume(s){pe_text}): a distortion-correction companion, "
                "not a diffusion acquisition")
    return None
