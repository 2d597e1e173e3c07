"""The DICOM reader's per-file records as the incremental index stores them (``protocheck.storage.index``).

The index is generic storage; this module tells it how a ``FileRecord`` becomes plain values and back, and opens
the index of one input root with that codec.
"""
from __future__ import annotations

import os
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

from protocheck.model import SkippedFile
from protocheck.sources.dicom.diffusion import DiffusionSample
from protocheck.sources.options import ScanOptions
from protocheck.storage.index import Index

if TYPE_CHECKING:   # the record class lives beside the extraction, which imports pydicom and every vendor: an
    from protocheck.sources.dicom.extract import FileRecord   # unchanged tree's re-check needs neither

_FIELDS = ("name", "sop_class", "sop_uid", "series_uid", "study_uid", "manufacturer", "instance_number",
           "position", "acq_time", "echo_time", "echo_number", "image_type", "n_frames", "mrs")
_PLAIN = itemgetter(*_FIELDS)   # the plain fields' values as one tuple
RECORD_VALUES = 5   # a record tuple's values (the stamp follows: ``touched``, ``refold.same_row``)


def record_tuple(rec: FileRecord) -> tuple:
    """A FileRecord as a tuple of plain values (marshal-able: unpacked much faster than pickled objects); its
    content stamp last (``RECORD_VALUES``: what a file read again is compared on comes before it)."""
    d = rec.__dict__
    skip = rec.skip
    return (_PLAIN(d),
            tuple((s.bvalue, s.vector, s.directionality, n) for s, n in rec.diffusion),
            tuple(rec.positions), tuple(rec.echo_times),
            None if skip is None else (skip.path, skip.reason, skip.kind), d.get("stamp"))


def record_from(t: tuple) -> FileRecord:
    """The FileRecord of ``record_tuple``."""
    from protocheck.sources.dicom.extract import FileRecord   # imported when a record is first needed
    rec = FileRecord.__new__(FileRecord)
    d = dict(zip(_FIELDS, t[0]))
    d["diffusion"] = [(DiffusionSample(b, v, k), n) for b, v, k, n in t[1]]
    d["positions"], d["echo_times"] = list(t[2]), list(t[3])
    d["skip"] = None if t[4] is None else SkippedFile(*t[4])
    d["stamp"] = t[5]
    rec.__dict__.update(d)
    return rec


def open_index(cache_dir: Path, root: str | os.PathLike[str], options: ScanOptions) -> Index:
    """The incremental index of ``root`` in ``cache_dir``, storing the DICOM reader's records."""
    return Index(cache_dir, root, options, (record_tuple, record_from))
