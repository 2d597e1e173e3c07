"""Build deflate bombs from a real header: a Deflated Explicit VR Little Endian file whose dataset holds a
private OB element of ``size`` zero bytes before the rest of the header (a few hundred KB on disk).

Written in streaming fashion (never ``size`` bytes in memory), so the tests and benchmarks stay small.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info

DEFLATED = "1.2.840.10008.1.2.1.99"
BOMB_GROUP = 0x0009


def _body(ds: Dataset) -> bytes:
    buf = DicomBytesIO()
    buf.is_little_endian, buf.is_implicit_VR = True, False
    write_dataset(buf, ds)
    return buf.getvalue()


def deflate_stream(src: Path, size: int) -> tuple[FileMetaDataset, bytes]:
    """(file meta, raw-deflate dataset bytes) of ``src``'s header with a ``size``-byte zero element."""
    ds = pydicom.dcmread(src, stop_before_pixels=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = DEFLATED
    low, high = Dataset(), Dataset()
    for elem in ds:
        (low if elem.tag.group < BOMB_GROUP else high).add(elem)
    low.add_new(0x00090010, "LO", "PROTOCHECK BOMB")
    for part in (low, high):
        part.set_original_encoding(False, True)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [comp.compress(_body(low)), comp.compress(struct.pack("<HH2sHI", BOMB_GROUP, 0x1010, b"OB", 0, size))]
    block = b"\0" * (1 << 20)
    left = size
    while left > 0:
        n = min(left, len(block))
        out.append(comp.compress(block[:n]))
        left -= n
    out += [comp.compress(_body(high)), comp.flush()]
    return meta, b"".join(out)


def deflate_bomb(src: Path, dest: Path, size: int) -> Path:
    """Write a deflate-bomb DICOM file (preamble, meta, deflated dataset) to ``dest``."""
    meta, data = deflate_stream(src, size)
    buf = DicomBytesIO()
    buf.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(buf, meta, enforce_standard=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(buf.getvalue() + data)
    return dest
