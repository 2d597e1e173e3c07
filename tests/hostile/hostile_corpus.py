"""Build a bad-input corpus at test time from real headers (never committed, never written near the input).

Every builder writes into a folder under ``tmp_path`` and returns the file names it planted. Structural
damage (lengths, VRs, truncation) is done on bytes; semantic damage (missing tags, garbage dates, nested
references) with pydicom on a copy of a real header.
"""
from __future__ import annotations

import os
import random
import shutil
import struct
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

# Real series used as raw material (relative to the shared dicom folder). Small classic files (~17 KB).
GOOD_SERIES = "hazen/tests/data/acr/GE_Signa_3T_T2"          # 11 files, one series (the "good" neighbours)
OTHER_SERIES = "dcm_qa_ge/01_Ax_DWI_TENSOR_R2"              # 14 files, another series (raw material)
SIEMENS_SERIES = "dcm_qa_sag/2_gre_field_mapping"           # 5 files, Siemens classic
ENHANCED_FILE = "dcm_qa_xa30/5_anat-T1w_acq-tfl"            # 1 enhanced multi-frame file (Siemens XA30)

MARKER = b"HOSTILEMARKER_16"   # 16-byte value of a planted private OB element, found again in the bytes
PRIVATE_CREATOR_TAG = 0x00190010   # private block (0019,10xx) sorts inside the header, before group 0020
PRIVATE_CREATOR = "PROTOCHECK HOSTILE"


def files_of(dicom_root: Path, rel: str) -> list[Path]:
    """The files of one real series folder, sorted."""
    return sorted(p for p in (dicom_root / rel).iterdir() if p.is_file())


def copy_series(dicom_root: Path, rel: str, dest: Path) -> list[Path]:
    """Copy a real series folder into ``dest`` (tmp_path); returns the copies."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files_of(dicom_root, rel):
        target = dest / f.name
        shutil.copyfile(f, target)
        out.append(target)
    return out


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def save(ds: Dataset, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=False)
    return path


def with_marker(src: Path) -> bytes:
    """The bytes of ``src`` re-written with a private OB element whose value is MARKER (explicit VR LE)."""
    ds = read(src)
    block = ds.private_block(0x0019, PRIVATE_CREATOR, create=True)
    block.add_new(0xF0, "OB", MARKER)
    import io
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    raw = buf.getvalue()
    assert raw.count(MARKER) == 1, "marker must be unique"
    return raw


def patch_marker(raw: bytes, *, length: int | None = None, vr: bytes | None = None) -> bytes:
    """Patch the declared length (4 bytes before the value) and/or the VR of the MARKER element."""
    i = raw.index(MARKER)
    b = bytearray(raw)
    # explicit VR OB: tag(4) VR(2) reserved(2) length(4) value
    if length is not None:
        b[i - 4:i] = struct.pack("<I", length)
    if vr is not None:
        b[i - 8:i - 6] = vr
    return bytes(b)


def meta_end(raw: bytes) -> int:
    """Offset just after the file meta group (from (0002,0000) FileMetaInformationGroupLength)."""
    # (0002,0000) UL 4 <value>: at 132: tag(4) 'UL' len(2) value(4)
    if raw[132:136] == b"\x02\x00\x00\x00" and raw[136:138] == b"UL":
        return 144 + struct.unpack("<I", raw[140:144])[0]
    return 132


def first_element_end(raw: bytes) -> int:
    """Offset just after the first data-set element after the meta group (explicit VR LE assumed)."""
    p = meta_end(raw)
    vr = raw[p + 4:p + 6]
    if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR", b"OD", b"OL", b"OV", b"SV", b"UV"):
        return p + 12 + struct.unpack("<I", raw[p + 8:p + 12])[0]
    return p + 8 + struct.unpack("<H", raw[p + 6:p + 8])[0]


def truncation_points(raw: bytes) -> list[int]:
    """Every 1% of the header length, plus just after the preamble, the meta group and the first element."""
    n = len(raw)
    points = {n * k // 100 for k in range(0, 100)}
    points |= {128, 132, meta_end(raw), first_element_end(raw), meta_end(raw) + 4}
    return sorted(p for p in points if 0 <= p < n)


def build_truncated(src: Path, dest: Path) -> list[str]:
    """One file per truncation point of ``src``; returns the names."""
    dest.mkdir(parents=True, exist_ok=True)
    raw = src.read_bytes()
    names = []
    for p in truncation_points(raw):
        name = f"cut_{p:06d}.dcm"
        (dest / name).write_bytes(raw[:p])
        names.append(name)
    return names


def build_not_dicom(dest: Path) -> dict[str, bytes]:
    """A zero-byte file, text, PNG bytes and random bytes."""
    rng = random.Random(7731)
    png = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x02\x00\x00\x00"
           + b"\x90wS\xde" + b"\x00" * 64)
    files = {
        "empty.dcm": b"",
        "notes.txt": b"Patient was cooperative.\nScan repeated twice.\n" * 20,
        "image.png": png,
        "random.bin": bytes(rng.getrandbits(8) for _ in range(4096)),
        "random_small": bytes(rng.getrandbits(8) for _ in range(7)),
        "fake_dicm": b"\x00" * 128 + b"DICM" + bytes(rng.getrandbits(8) for _ in range(600)),
    }
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (dest / name).write_bytes(data)
    return files


def build_structural(src: Path, dest: Path) -> dict[str, str]:
    """Damaged lengths / VRs / absurd private size, each from ``src`` with a new series; name -> what."""
    dest.mkdir(parents=True, exist_ok=True)
    raw = with_marker(src)
    cases = {
        "absurd_private_size.dcm": (patch_marker(raw, length=0xFFFFFFF0), "private element of 0xFFFFFFF0 bytes"),
        "length_past_eof.dcm": (patch_marker(raw, length=len(raw) * 3), "length past end of file"),
        "length_plus3.dcm": (patch_marker(raw, length=len(MARKER) + 3), "length 3 bytes too long"),
        "odd_length.dcm": (patch_marker(raw, length=len(MARKER) - 1), "odd length, misaligned"),
        "undefined_length.dcm": (patch_marker(raw, length=0xFFFFFFFF), "undefined length on OB"),
        "bad_vr_zz.dcm": (patch_marker(raw, vr=b"ZZ"), "unknown VR ZZ"),
        "bad_vr_nul.dcm": (patch_marker(raw, vr=b"\x00\x00"), "VR of NUL bytes"),
        "bad_vr_sq.dcm": (patch_marker(raw, vr=b"SQ"), "OB value declared as a sequence"),
        "no_preamble_meta.dcm": (raw[132:], "no preamble, meta group first"),
        "preamble_only.dcm": (raw[:132], "preamble and DICM only"),
    }
    for name, (data, _) in cases.items():
        (dest / name).write_bytes(data)
    return {name: what for name, (_, what) in cases.items()}


def build_semantic(src: Path, dest: Path) -> dict[str, str]:
    """Files with missing identity tags, garbage dates and broken strings, each in its own new series."""
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}

    ds = read(src)
    del ds.SeriesInstanceUID
    save(ds, dest / "no_series_uid.dcm")
    out["no_series_uid.dcm"] = "missing SeriesInstanceUID"

    ds = read(src)
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    del ds.Manufacturer
    save(ds, dest / "no_manufacturer.dcm")
    out["no_manufacturer.dcm"] = ds.SeriesInstanceUID

    ds = read(src)
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.StudyDate = "***"
    ds.ContentDate = ""
    ds.SeriesDate = "2024133"
    ds.AcquisitionDate = "99999999"
    ds.StudyTime = "**:**"
    save(ds, dest / "garbage_dates.dcm")
    out["garbage_dates.dcm"] = ds.SeriesInstanceUID

    ds = read(src)
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 999"
    ds["SeriesDescription"].value = b"T2 \xff\xfe\x80\x81 bad bytes"
    ds["ProtocolName"].value = b"\xc3\x28\xa0\xa1"
    save(ds, dest / "bad_charset.dcm")
    out["bad_charset.dcm"] = ds.SeriesInstanceUID
    return out


def build_enhanced_nested_ref(src: Path, dest: Path) -> tuple[str, str]:
    """An enhanced file whose nested ReferencedSeriesSequence carries another SeriesInstanceUID."""
    ds = read(src)
    other = generate_uid()
    item = Dataset()
    item.SeriesInstanceUID = other
    item.StudyInstanceUID = generate_uid()
    ds.ReferencedSeriesSequence = Sequence([item])
    for fg in list(ds.get("SharedFunctionalGroupsSequence") or [])[:1]:
        deriv = Dataset()
        src_item = Dataset()
        src_item.ReferencedSOPInstanceUID = generate_uid()
        src_item.SeriesInstanceUID = other
        deriv.SourceImageSequence = Sequence([src_item])
        fg.DerivationImageSequence = Sequence([deriv])
    save(ds, dest / "enhanced_nested.dcm")
    return str(ds.SeriesInstanceUID), other


def build_dicomdir(sources: list[Path], dest: Path) -> Path:
    """A real DICOMDIR written by pydicom's FileSet (with its instances) into ``dest``."""
    from pydicom.fileset import FileSet
    fs = FileSet()
    for p in sources:
        ds = pydicom.dcmread(p)
        for kw in ("PatientID", "StudyID"):
            if not ds.get(kw):
                setattr(ds, kw, "HOSTILE1")
        fs.add(ds)
    fs.write(dest)
    return dest / "DICOMDIR"


def make_symlink_loop(dest: Path) -> Path | None:
    """A folder holding a link back to its parent (a loop); None where links cannot be made."""
    loop_dir = dest / "looped"
    loop_dir.mkdir(parents=True, exist_ok=True)
    link = loop_dir / "back_to_parent"
    try:
        os.symlink(dest, link, target_is_directory=True)
    except (OSError, NotImplementedError):
        return None
    return link
