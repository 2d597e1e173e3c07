"""Small builders of synthetic Acquisitions and Exams for protocol tests."""

from __future__ import annotations

from typing import Any

from protocheck.model import Acquisition, Exam


def acq(key: str, description: str = "", roles: set[str] | None = None, **params: Any) -> Acquisition:
    """An Acquisition with the given parameters (provenance 'test')."""
    a = Acquisition(key=key, description=description)
    a.set("SeriesDescription", description or None, "test")
    for name, value in params.items():
        a.set(name, value, f"test {name}")
    if roles:
        a.roles |= roles
    return a


def siemens_t1(key: str = "t1", **over: Any) -> Acquisition:
    p: dict[str, Any] = dict(Manufacturer="Siemens", MagneticFieldStrength=2.89, MRAcquisitionType="3D",
                             ScanningSequence="GR\\IR", SequenceVariant="SK\\SP\\MP", SequenceName="*tfl3d1_16ns",
                             ImageType=["ORIGINAL", "PRIMARY", "M", "ND"], VoxelSize=[1.0, 1.0, 1.0],
                             RepetitionTime=2.3, InversionTime=0.9, EchoTime=0.00298, FlipAngle=9,
                             ParallelReductionFactorInPlane=2, SliceOrientation="sagittal")
    p.update(over)
    return acq(key, "t1_mprage_sag", **p)


def ge_dwi(key: str = "dwi", **over: Any) -> Acquisition:
    p: dict[str, Any] = dict(Manufacturer="GE MEDICAL SYSTEMS", MagneticFieldStrength=3.0, MRAcquisitionType="2D",
                             ScanningSequence=["EP", "SE"], ImageType=["ORIGINAL", "PRIMARY", "OTHER"],
                             DiffusionShells=[1000], DiffusionDirectionsPerShell={1000: 32}, NumberOfB0Volumes=4,
                             VoxelSize=[2.0, 2.0, 2.0], EchoTime=0.085, RepetitionTime=7.8,
                             ParallelReductionFactorInPlane=2, MultibandAccelerationFactor=1,
                             PhaseEncodingDirection="j-")
    p.update(over)
    return acq(key, "Ax DTI 32dir", **p)


def flair(key: str = "flair", **over: Any) -> Acquisition:
    p: dict[str, Any] = dict(Manufacturer="Siemens", MagneticFieldStrength=2.89, MRAcquisitionType="3D",
                             ScanningSequence="SE\\IR", SequenceName="*spcir_278ns", InversionTime=1.8,
                             RepetitionTime=5.0, EchoTime=0.39, VoxelSize=[1.0, 1.0, 1.0],
                             ImageType=["ORIGINAL", "PRIMARY", "M", "ND"])
    p.update(over)
    return acq(key, "t2_space_dark-fluid_sag", **p)


def exam(*acqs: Acquisition) -> Exam:
    return Exam(key="1.2.3", subject="sub-01", acquisitions=list(acqs))
