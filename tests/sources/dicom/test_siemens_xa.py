"""Siemens XA (no CSA) on real headers and synthetic ones; manufacturer normalisation; Philips per-frame copies."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from protocheck.model import Acquisition
from protocheck.sources.dicom import scan_dicom, siemens
from protocheck.sources.dicom.common import normalise_manufacturer, public_params


def _acq(dicom_root: Path, folder: str):
    acqs = list(scan_dicom(dicom_root / folder).acquisitions())
    return max(acqs, key=lambda a: a.n_files)


def test_xa_enhanced_cmrr_bold(dicom_root: Path) -> None:
    """XA30 enhanced CMRR BOLD: SDS classic attributes, Phoenix in (0021,1019), SDI polarity/bandwidth."""
    acq = _acq(dicom_root, "dcm_qa_xa30/7_func-bold_task-fa_run-1")
    assert acq.get("Manufacturer") == "Siemens"
    assert "Siemens Healthineers" in acq.provenance("Manufacturer")
    assert acq.get("ScanningSequence") == "EP"
    assert acq.get("SequenceVariant") == "SK\\SS"
    assert acq.get("ScanOptions") == "PFP\\FS"
    assert acq.get("PixelBandwidth") == 2298
    assert acq.get("PhaseEncodingDirection") == "j-"
    assert acq.get("PartialFourier") == 0.875
    assert acq.get("MultibandAccelerationFactor") == 3          # CMRR: sWipMemBlock.alFree[13], not lMultiBandFactor
    assert "alFree[13]" in acq.provenance("MultibandAccelerationFactor")
    assert acq.get("EffectiveEchoSpacing") == pytest.approx(0.000540003, rel=1e-4)
    assert acq.get("TotalReadoutTime") == pytest.approx(0.0340202, rel=1e-4)
    assert acq.get("ReceiveCoilName") == "HeadNeck_64"


def test_xa_enhanced_product_epi_row_polarity(dicom_root: Path) -> None:
    """Sagittal product EPI: ROW phase encoding, product multiband, SequenceName from (0018,9005)."""
    acq = _acq(dicom_root, "dcm_qa_sag/XA30/enhanced/5_Product_EPI_Sag_Ascending")
    assert acq.get("PhaseEncodingDirection") == "i"
    assert acq.get("MultibandAccelerationFactor") == 3
    assert "lMultiBandFactor" in acq.provenance("MultibandAccelerationFactor")
    assert acq.get("SequenceName") == "*epfid2d1_86"
    assert acq.get("InPlanePhaseEncodingDirectionDICOM") == "ROW"


def test_xa_classic_export_reads_phoenix(dicom_root: Path) -> None:
    """XA classic (interoperability) export: the Phoenix text is at top level; the warning names what is missing."""
    acq = _acq(dicom_root, "dcm_qa_xa30i/2001_AAHead_Scout")
    assert acq.get("ParallelReductionFactorInPlane") == 3
    assert acq.get("PartialFourier") == 0.75
    notes = [n.message for n in acq.notes if n.code == "xa-classic-export"]
    assert len(notes) == 1 and "(0021,1153)" in notes[0] and "(0021,1019)" not in notes[0]


def test_csa_coil_from_phoenix(dicom_root: Path) -> None:
    """VE11 classic: ReceiveCoilName is the Phoenix tCoilID (as dcm2niix), not the (0051,100F) element string."""
    acq = _acq(dicom_root, "dcm_qa_nih/20180918Si/mr_0003")
    assert acq.get("ReceiveCoilName") == "Head_32"


def test_philips_enhanced_classic_attributes_last_frame(dicom_root: Path) -> None:
    """Philips enhanced fieldmap: ScanningSequence from the last frame's private (2005,140F) copy."""
    acq = _acq(dicom_root, "dcm_qa_fmap/Philips/fmap")
    assert acq.get("ScanningSequence") == "RM"
    assert acq.get("SequenceVariant") == "SS"
    assert acq.get("SequenceName") == "FFE"


@pytest.mark.parametrize("raw,name", [
    ("SIEMENS", "Siemens"), ("Siemens Healthineers", "Siemens"), ("GE MEDICAL SYSTEMS", "GE"),
    ("Philips Medical Systems", "Philips"), ("Philips", "Philips"), ("CANON_MEC", "Canon"),
    ("TOSHIBA_MEC", "Toshiba"), ("UIH", "UIH"), ("United Imaging Healthcare", "UIH"), ("Bruker BioSpin", "Bruker"),
    ("Hitachi Medical Corporation", "Hitachi"), ("ACME scanners", None), ("", None),
])
def test_manufacturer_normalised_as_dcm2niix(raw: str, name: str | None) -> None:
    assert normalise_manufacturer(raw) == name


def test_unknown_manufacturer_keeps_dicom_spelling() -> None:
    ds = Dataset()
    ds.Manufacturer = "ACME scanners"
    acq = Acquisition("x")
    public_params(ds, acq)
    assert acq.get("Manufacturer") == "ACME scanners"


def _xa_synthetic(asc: str, inplane: str, positive: int) -> Dataset:
    """A minimal XA enhanced header: shared SDS item with Phoenix text, per-frame SDI item, FOV geometry."""
    sds = Dataset()
    sds.add_new(0x00210010, "LO", "SIEMENS MR SDS 01")
    sds.add_new(0x00211019, "OB", ("### ASCCONV BEGIN ###\n" + asc + "\n### ASCCONV END ###").encode())
    sds.add_new(0x0021105A, "CS", "EP")
    fov = Dataset()
    fov.InPlanePhaseEncodingDirection = inplane
    shared = Dataset()
    shared.add_new(0x00210010, "LO", "SIEMENS MR SDS 01")
    shared.add_new(0x002110FE, "SQ", Sequence([sds]))
    shared.MRFOVGeometrySequence = Sequence([fov])
    sdi = Dataset()
    sdi.add_new(0x00210011, "LO", "SIEMENS MR SDI 02")
    sdi.add_new(0x0021111C, "IS", str(positive))
    sdi.add_new(0x00211153, "FD", 20.0)
    sdi.add_new(0x00211158, "SH", "100p*100")
    frame = Dataset()
    frame.add_new(0x00210011, "LO", "SIEMENS MR SDI 02")
    frame.add_new(0x002111FE, "SQ", Sequence([sdi]))
    ds = Dataset()
    ds.Manufacturer = "Siemens Healthineers"
    ds.SoftwareVersions = "syngo MR XA60"
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    ds.PerFrameFunctionalGroupsSequence = Sequence([frame])
    return ds


@pytest.mark.parametrize("inplane,positive,expected", [
    ("COLUMN", 1, "j-"), ("COLUMN", 0, "j"), ("ROW", 1, "i"), ("ROW", 0, "i-"),
])
def test_xa_synthetic_polarity_and_echo_spacing(inplane: str, positive: int, expected: str) -> None:
    ds = _xa_synthetic("sPat.lAccelFactPE\t = \t2\nsSliceAcceleration.lMultiBandFactor\t = \t4\n"
                       "sKSpace.ucPhasePartialFourier\t = \t4", inplane, positive)
    acq = Acquisition("x")
    public_params(ds, acq)
    siemens.series_params(ds, acq)
    assert acq.get("PhaseEncodingDirection") == expected
    assert acq.get("ScanningSequence") == "EP"
    assert acq.get("ParallelReductionFactorInPlane") == 2
    assert acq.get("MultibandAccelerationFactor") == 4
    assert acq.get("PartialFourier") == 0.75
    assert acq.get("EffectiveEchoSpacing") == pytest.approx(1 / (20.0 * 100))
    assert acq.get("TotalReadoutTime") == pytest.approx(99 / (20.0 * 100), rel=1e-5)


def test_xa_cmrr_wip_multiband_only_for_cmrr_sequences() -> None:
    """alFree[13] is the CMRR multiband factor; in a product sequence it means something else."""
    asc = 'tSequenceFileName\t = \t""%SiemensSeq%\\\\ep2d_bold""\nsWipMemBlock.alFree[13]\t = \t52\n' \
          "sSliceAcceleration.lMultiBandFactor\t = \t1"
    acq = Acquisition("x")
    siemens.series_params(_xa_synthetic(asc, "ROW", 1), acq)
    assert acq.get("MultibandAccelerationFactor") == 1


def test_broken_xa_private_values_do_not_crash() -> None:
    ds = _xa_synthetic("sPat.lAccelFactPE = garbage", "ROW", 1)
    ds.SharedFunctionalGroupsSequence[0][0x002110FE].value[0][0x00211019].value = b"\xff\xfe no ascconv"
    acq = Acquisition("x")
    public_params(ds, acq)
    siemens.series_params(ds, acq)
    assert acq.get("ParallelReductionFactorInPlane") is None
    assert acq.get("PhaseEncodingDirection") == "i"
