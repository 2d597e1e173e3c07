"""The normalized model every source produces and every check consumes.

An ``Acquisition`` is one series (DICOM) or one image (BIDS) with its parameters named and scaled as BIDS
sidecars are (seconds, degrees, mm), each value carrying its provenance. An ``Exam`` groups the
acquisitions of one study/session; a ``ScanResult`` holds every exam found under the inputs plus every
file that was skipped, with the reason. Nothing here holds patient identifiers unless the user opted in.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any, Iterable

# Public parameter names (BIDS names and units). These names are part of the public interface.
PARAMETER_NAMES: tuple[str, ...] = (
    "Manufacturer", "ManufacturersModelName", "SoftwareVersions", "DeviceSerialNumber",
    "StationName", "InstitutionName", "MagneticFieldStrength", "ReceiveCoilName",
    "MRAcquisitionType", "ScanningSequence", "SequenceVariant", "ScanOptions", "SequenceName",
    "PulseSequenceName", "ImageType", "SeriesDescription", "ProtocolName", "Modality",
    "RepetitionTime", "RepetitionTimeExcitation", "EchoTime", "EchoTimes", "EchoNumbers",
    "InversionTime", "FlipAngle", "SliceThickness", "SpacingBetweenSlices", "VoxelSize",
    "AcquisitionMatrix", "NumberOfSlices", "NumberOfVolumes", "NumberOfFiles", "NumberOfFrames",
    "PixelBandwidth", "PhaseEncodingDirection", "PhaseEncodingAxis", "InPlanePhaseEncodingDirectionDICOM",
    "ParallelReductionFactorInPlane", "MultibandAccelerationFactor", "PartialFourier",
    "EffectiveEchoSpacing", "TotalReadoutTime", "BandwidthPerPixelPhaseEncode",
    "DiffusionBValues", "DiffusionShells", "DiffusionDirectionsPerShell", "NumberOfB0Volumes",
    "NumberOfDiffusionDirections", "MTState", "SliceOrientation", "FieldOfView",
    "NumberOfAverages", "EchoTrainLength", "NonlinearGradientCorrection", "SOPClassUID",
    "ImageOrientationPatientDICOM", "SpectroscopyVoxelVolume", "ReceiveCoilActiveElements",
    "BIDSName", "BIDSSuffix",   # BIDS sources only: file name without sub-/ses- entities, and its suffix
    "BIDSDatatype",             # BIDS sources only: the datatype folder (anat, func, dwi, fmap, perf, mrs)
)


class TextEnum(str, Enum):
    """An enum whose members are their text: equal to it, hashed like it, and printed as it ("error")."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Pickled:
    """Base of the model's dataclasses: pickled as a constructor call with the fields in order.

    An archive's snapshot (and its cached check results) holds tens of thousands of these; the default pickling
    (object creation, then a __dict__ update per object) loads several times slower.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple:
        return (self.__class__, tuple(map(self.__getattribute__, field_names(self.__class__))))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: Any) -> tuple[str, ...]:
    """The init fields of a dataclass, in order (every field of the pickled classes is an init field)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls) if f.init)
    return names


@dataclass(frozen=True, slots=True)
class Parameter:
    """A normalized value and where it came from (tag, private header field, sidecar, derivation).

    Slotted: an archive's series hold tens of these each, and memory must follow the number of series."""

    value: Any
    source: str

    def __reduce__(self) -> tuple:
        # pickled as a constructor call: dataclasses' slotted __setstate__ is ~3x slower to load (snapshots)
        return (Parameter, (self.value, self.source))


@dataclass
class Note(Pickled):
    """Something a user should know about an acquisition or a file, that is not a protocol finding."""

    code: str          # stable, e.g. "derived", "localizer", "image-header-unavailable", "xa-classic-export"
    message: str
    severity: str = "info"   # info / warning


@dataclass
class Acquisition(Pickled):
    """One series (DICOM) or one image (BIDS): identity, normalized parameters with provenance, notes."""

    key: str                                  # SeriesInstanceUID, or BIDS path relative to the dataset
    description: str = ""                     # SeriesDescription (or BIDS file name)
    series_number: int | None = None
    folder: str = ""                          # files' folder relative to the scan root ("; "-joined if several)
    source_kind: str = "dicom"                # dicom / bids / summary / dicomweb
    n_files: int = 0
    params: dict[str, Parameter] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)   # "localizer", "derived", "non-image", "mrs", "phase", ...
    acquired_at: _dt.datetime | None = None         # acquisition date-time; internal, reduced in reports

    def get(self, name: str, default: Any = None) -> Any:
        """The value of parameter ``name``, or ``default`` when it could not be read."""
        p = self.params.get(name)
        return default if p is None else p.value

    def set(self, name: str, value: Any, source: str) -> None:
        """Record a parameter; ``None`` values are never stored (absent means unknown)."""
        if value is None:
            return
        self.params[name] = Parameter(value, source)

    def provenance(self, name: str) -> str | None:
        p = self.params.get(name)
        return None if p is None else p.source

    def note(self, code: str, message: str, severity: str = "info") -> None:
        if not any(n.code == code and n.message == message for n in self.notes):
            self.notes.append(Note(code, message, severity))

    @property
    def is_support(self) -> bool:
        """True for localizers, derived maps and non-image objects: never a protocol acquisition."""
        return bool(self.roles & {"localizer", "derived", "non-image"})


@dataclass
class Exam(Pickled):
    """The acquisitions of one study (DICOM StudyInstanceUID) or one BIDS subject/session."""

    key: str                                   # StudyInstanceUID or "sub-X[/ses-Y]"
    subject: str = ""                          # pseudonymous key (folder label, BIDS label or keyed hash)
    session: str | None = None                 # visit label (BIDS session) if any
    site: str | None = None
    date: _dt.date | None = None               # internal; reports reduce it (see privacy)
    visit_rank: int | None = None              # chronological rank within its site (summaries keep it, not dates)
    source_kind: str = "dicom"
    folder: str = ""                           # common folder of the exam, relative to the scan root
    acquisitions: list[Acquisition] = field(default_factory=list)
    identifiers: dict[str, str] = field(default_factory=dict)   # only filled with --include-identifiers
    root: str = ""                             # the input it was read from: BIDS labels are unique only there

    def scope(self) -> str:
        """The input its key and subject label are unique in: the root for BIDS labels (and anything read
        from a summary); "" for DICOM UIDs and keyed pseudonyms, which mean the same across inputs."""
        return self.root if self.source_kind == "bids" or self.root.lower().endswith(".json") else ""

    def manufacturer(self) -> str | None:
        for a in self.acquisitions:
            m = a.get("Manufacturer")
            if m:
                return m
        return None


@dataclass
class SkippedFile(Pickled):
    """A file or object that was not used, and why. Reports list every one of them."""

    path: str             # relative to the scan root (or "archive.zip:member")
    reason: str           # human sentence: what is wrong and, if any, the fix
    kind: str = "skipped"  # not-dicom / non-image / unreadable / invalid / duplicate / ignored / limit


@dataclass
class ScanResult(Pickled):
    """Everything read from the inputs: exams, skipped files, and source-level problems."""

    roots: list[str] = field(default_factory=list)
    exams: list[Exam] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_files_seen: int = 0
    # identifies the content as read (set by an index-backed scan: reading code, options, root and a digest of
    # everything the result holds); cached check results are keyed by it. Code that changes what was read resets it.
    digest: bytes | None = field(default=None, compare=False, repr=False)

    def acquisitions(self) -> Iterable[Acquisition]:
        for exam in self.exams:
            yield from exam.acquisitions

    def merge(self, other: "ScanResult") -> None:
        """Add another input's result (the digest stays known only if both are)."""
        empty = not (self.roots or self.exams or self.skipped or self.n_files_seen)
        if empty:
            self.digest = other.digest
        elif self.digest is not None and other.digest is not None:
            self.digest = hashlib.blake2b(self.digest + other.digest, digest_size=16).digest()
        else:
            self.digest = None
        self.roots.extend(other.roots)
        self.exams.extend(other.exams)
        self.skipped.extend(other.skipped)
        self.n_files_seen += other.n_files_seen
