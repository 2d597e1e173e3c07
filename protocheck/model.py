"""The normalized model every source produces and every check consumes.

An ``Acquisition`` is one series (DICOM) or one image (BIDS) with its parameters named and scaled as BIDS
sidecars are (seconds, degrees, mm), each value carrying its provenance. An ``Exam`` groups the
acquisitions of one study/session; a ``ScanResult`` holds every exam found under the inputs plus every
file that was skipped, with the reason. Nothing here holds patient identifiers unless the user opted in.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
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
    "PixelBandwidth", "PhaseEncodingDirection", "InPlanePhaseEncodingDirectionDICOM",
    "ParallelReductionFactorInPlane", "MultibandAccelerationFactor", "PartialFourier",
    "EffectiveEchoSpacing", "TotalReadoutTime", "BandwidthPerPixelPhaseEncode",
    "DiffusionBValues", "DiffusionShells", "DiffusionDirectionsPerShell", "NumberOfB0Volumes",
    "NumberOfDiffusionDirections", "MTState", "SliceOrientation", "FieldOfView",
    "NumberOfAverages", "EchoTrainLength", "NonlinearGradientCorrection", "SOPClassUID",
    "ImageOrientationPatientDICOM", "SpectroscopyVoxelVolume",
    "BIDSName", "BIDSSuffix",   # BIDS sources only: file name without sub-/ses- entities, and its suffix
)


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
class Note:
    """Something a user should know about an acquisition or a file, that is not a protocol finding."""

    code: str          # stable, e.g. "derived", "localizer", "image-header-unavailable", "xa-classic-export"
    message: str
    severity: str = "info"   # info / warning


@dataclass
class Acquisition:
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
class Exam:
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

    def manufacturer(self) -> str | None:
        for a in self.acquisitions:
            m = a.get("Manufacturer")
            if m:
                return m
        return None


@dataclass
class SkippedFile:
    """A file or object that was not used, and why. Reports list every one of them."""

    path: str             # relative to the scan root (or "archive.zip:member")
    reason: str           # human sentence: what is wrong and, if any, the fix
    kind: str = "skipped"  # not-dicom / non-image / unreadable / invalid / duplicate / ignored / limit


@dataclass
class ScanResult:
    """Everything read from the inputs: exams, skipped files, and source-level problems."""

    roots: list[str] = field(default_factory=list)
    exams: list[Exam] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    n_files_seen: int = 0

    def acquisitions(self) -> Iterable[Acquisition]:
        for exam in self.exams:
            yield from exam.acquisitions

    def merge(self, other: "ScanResult") -> None:
        self.roots.extend(other.roots)
        self.exams.extend(other.exams)
        self.skipped.extend(other.skipped)
        self.n_files_seen += other.n_files_seen
