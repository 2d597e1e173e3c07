"""Deflated Explicit VR Little Endian (PS3.5 A.5) read with a cap on the inflated size.

pydicom inflates a deflated dataset whole before parsing it, so a 1 MB file can claim gigabytes of memory
(a "deflate bomb"). Here the dataset is inflated lazily, only as far as the header parse reads (it stops
before the pixel data), and never past ``MAX_INFLATED`` bytes: past it the file is skipped with a reason.
Used by the file reader (folders and archive members) and by ``listen`` for received datasets.
"""
from __future__ import annotations

import io
import zlib
from typing import IO, Any, BinaryIO, Callable, cast

DEFLATED = "1.2.840.10008.1.2.1.99"
MAX_INFLATED = 64 * 1024 * 1024     # a header is kilobytes; an enhanced header a few megabytes
_CHUNK = 64 * 1024
_STEP = 1024 * 1024                 # inflated bytes produced per call (a 64 KiB chunk may hold 64 MiB)
_META_WINDOW = 4096                 # the file meta group (and its transfer syntax) lies within this


class InflateLimit(Exception):
    """The deflated dataset inflates past the cap before the header ends."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"deflated dataset inflates past {limit // (1024 * 1024)} MiB before its header "
                         "ends (a deflate bomb, or a header too large to check): not read")


class InflatingReader(io.RawIOBase):
    """A seekable, read-only view of an inflated raw-deflate stream, inflated on demand and capped."""

    def __init__(self, source: IO[bytes], limit: int = MAX_INFLATED) -> None:
        super().__init__()
        self._src = source
        self._z = zlib.decompressobj(-zlib.MAX_WBITS)
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self.limit = limit
        self.name = getattr(source, "name", None)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _fill(self, upto: int) -> None:
        """Inflate until ``upto`` bytes are available (or the stream ends); InflateLimit past the cap."""
        while len(self._buf) < upto and not self._eof:
            room = min(self.limit - len(self._buf) + 1, _STEP)   # never more than a step at once
            data = self._z.unconsumed_tail or self._src.read(_CHUNK)
            if not data:
                self._buf += self._z.flush()
                self._eof = True
            else:
                self._buf += self._z.decompress(data, room)
                self._eof = self._z.eof
            if len(self._buf) > self.limit:
                raise InflateLimit(self.limit)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            self._fill(self.limit + 1)
            size = len(self._buf) - self._pos
        self._fill(self._pos + size)
        out = bytes(self._buf[self._pos:self._pos + size])
        self._pos += len(out)
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            self._fill(self.limit + 1)
            offset += len(self._buf)
        self._pos = max(0, offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def is_deflated(fh: IO[bytes]) -> bool:
    """True when the file's meta group names the deflated transfer syntax (the file is rewound)."""
    start = fh.tell()
    head = fh.read(_META_WINDOW)
    fh.seek(start)
    return DEFLATED.encode() in head


def read_deflated(fh: IO[bytes], stop_when: Callable[[Any, Any, int], bool], force: bool,
                  limit: int = MAX_INFLATED) -> Any:
    """Read a deflated file's meta and header (up to ``stop_when``) with the inflated size capped."""
    from pydicom.dataset import FileDataset
    from pydicom.filereader import _read_file_meta_info, read_preamble

    preamble = read_preamble(cast(BinaryIO, fh), force)
    meta = _read_file_meta_info(cast(BinaryIO, fh))
    if str(meta.get("TransferSyntaxUID", "")) != DEFLATED:
        return None
    return FileDataset(getattr(fh, "name", None) or "", read_dataset_deflated(fh, stop_when, limit),
                       preamble, meta, False, True)


def read_dataset_deflated(raw: IO[bytes], stop_when: Callable[[Any, Any, int], bool] | None = None,
                          limit: int = MAX_INFLATED) -> Any:
    """The dataset of a raw-deflate stream (explicit VR little endian inside), inflated lazily, capped."""
    from pydicom.filereader import read_dataset

    reader = InflatingReader(raw, limit)
    return read_dataset(cast(BinaryIO, reader), False, True, stop_when=stop_when, defer_size=None)
