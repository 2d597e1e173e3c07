"""DICOM JSON (PS3.18 F.2) of one instance -> the DICOM reader's per-file record, without pydicom elements.

A series' first instance is read as a full header (``dicom_json.dataset_from_json``: it describes the series);
every later instance needs only its per-file values (UIDs, instance, position, echo, image type, frames,
diffusion). Those are taken here straight from the JSON values, giving the same ``FileRecord`` a per-file read
of the file gives (``extract.extract_record``). The diffusion sample is left to the vendor code on a small
dataset of the elements a per-file read keeps, built once per distinct set of those values in a series (a
series' slices share them). Anything unusual (another SOP class than classic MR Image, a multi-frame object, a
multi-valued identity, a value of the wrong JSON type) returns None: the caller then takes the general path,
which reads the instance as a dataset and reports what is wrong exactly as it does for a file.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from protocheck.sources.dicom.extract import FileRecord, float_value, int_value, text_value
from protocheck.sources.dicom.registry import PER_FILE_PRIVATE
from protocheck.sources.dicom.sopclass import MR_IMAGE
from protocheck.sources.dicom.vendors import file_diffusion_sample, per_file_plan
from protocheck.sources.dicom_json import BulkFetcher, dataset_from_json

# The per-file public elements (fastscan.PUBLIC_TAGS) but the instance's identity, position and time: what the
# vendors' diffusion readers may look at (charset, image type, SOP class, modality, manufacturer, contrast,
# sequence names, echo, public diffusion elements, image comments, frames).
DIFFUSION_PUBLIC = ("00080005", "00080008", "00080016", "00080060", "00080070", "00089209", "00180024", "00180081",
                    "00180086", "00189005", "00189075", "00189076", "00189087", "00189089", "00189117", "00204000",
                    "00280008")
_ODD = frozenset("13579BDFbdf")
_NOT_PLAIN = object()   # a value of a JSON type a per-file value cannot have: the general path decides
_LATER = object()       # the vendor needs a group after its early one: the whole subset is read
MEMO_LIMIT = 4096        # distinct diffusion subsets remembered per series


def _values(obj: Mapping[str, Any], tag: str) -> list | None:
    """The Value list of ``tag`` (a lone string with backslashes split as a file's value is), None if absent."""
    elem = obj.get(tag)
    if elem is None:
        return None
    if not isinstance(elem, dict):
        raise TypeError(tag)
    vals = elem.get("Value")
    if vals is None:
        return None
    if not isinstance(vals, list):
        raise TypeError(tag)
    if len(vals) == 1 and isinstance(vals[0], str) and "\\" in vals[0]:
        return vals[0].split("\\")
    return vals


def _scalar(v: Any) -> Any:
    if v is None or isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return v
    raise TypeError(v)


def _one(obj: Mapping[str, Any], tag: str) -> Any:
    """The single value of ``tag`` (None when absent or empty); TypeError when multi-valued or not plain."""
    vals = _values(obj, tag)
    if not vals:
        return None
    if len(vals) > 1:
        raise TypeError(tag)
    return _scalar(vals[0])


def _position(vals: list | None) -> tuple[float, float, float] | None:
    if not vals or len(vals) != 3:
        return None
    try:
        return tuple(round(float(_scalar(x)), 2) for x in vals)  # type: ignore[return-value]  # three
    except (TypeError, ValueError):
        return None


def diffusion_subset(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The elements of an instance a vendor's per-file diffusion reader may read (public ones, then the private
    creators and per-file elements of the vendors' private groups), as DICOM JSON."""
    out = {t: obj[t] for t in DIFFUSION_PUBLIC if t in obj}
    wanted = _WANTED
    for tag in obj:
        keep = wanted.get(tag)
        if keep is None:
            keep = _wanted_private(tag)
            if len(wanted) < 65536:
                wanted[tag] = keep
        if keep:
            out[tag] = obj[tag]
    return out


def _group(tag: str) -> int:
    try:
        return int(tag[:4], 16)
    except ValueError:
        return 0xFFFF


def _asks_more(needs_more: Any, ds: Any) -> bool:
    """The vendor's "a later group is needed" on the early groups (any doubt: yes, as the file scanner does)."""
    try:
        return bool(needs_more(ds))
    except Exception:  # noqa: BLE001
        return True


_WANTED: dict[str, bool] = {}   # key -> a private creator or per-file element of a vendor's per-file group


def _wanted_private(tag: str) -> bool:
    if len(tag) != 8 or tag[3] not in _ODD:
        return False
    try:
        group, elem = int(tag[:4], 16), int(tag[4:], 16)
    except ValueError:
        return False
    lows = PER_FILE_PRIVATE.get(group)
    return lows is not None and (0x10 <= elem <= 0xFF or elem >= 0x1000 and elem & 0xFF in lows)


class SeriesRecords:
    """Per-file records of one series' later instances; the diffusion samples of equal subsets computed once."""

    def __init__(self, fetch_bulk: BulkFetcher | None = None, keep_bulk: frozenset[str] = frozenset()) -> None:
        self.fetch_bulk = fetch_bulk     # fetches the bulk values a per-file diffusion read needs (Siemens CSA)
        self.keep_bulk = keep_bulk if fetch_bulk is not None else frozenset()   # those tags (8 hex digits)
        self.memo: dict[str, Any] = {}
        self.datasets = 0                # small datasets built (for the benchmark's and the tests' eyes)

    def record(self, obj: Mapping[str, Any], name: str) -> FileRecord | None:
        """The record of one instance's DICOM JSON, or None when the general (dataset) path must read it."""
        try:
            return self._record(obj, name)
        except Exception:  # noqa: BLE001 - anything odd: the general path reads it and says what is wrong
            return None

    def _record(self, obj: Mapping[str, Any], name: str) -> FileRecord | None:
        sop_class = text_value(_one(obj, "00080016"))
        if sop_class != MR_IMAGE or "52009230" in obj or "52009229" in obj:
            return None
        rec = FileRecord(name=name, sop_class=sop_class)
        rec.sop_uid = text_value(_one(obj, "00080018"))
        rec.series_uid = text_value(_one(obj, "0020000E"))
        rec.study_uid = text_value(_one(obj, "0020000D"))
        rec.manufacturer = text_value(_one(obj, "00080070"))
        rec.instance_number = int_value(_one(obj, "00200013"))
        rec.position = _position(_values(obj, "00200032"))
        rec.acq_time = text_value(_one(obj, "00080032"))
        rec.echo_time = float_value(_one(obj, "00180081"))
        echoes = _values(obj, "00180086")
        rec.echo_number = int_value(_scalar(echoes[0])) if echoes else None
        rec.image_type = tuple(text_value(_scalar(x)).upper() for x in _values(obj, "00080008") or ())
        rec.n_frames = max(1, int_value(_one(obj, "00280008")) or 1)
        sample = self._diffusion(obj, rec.manufacturer)
        if sample is _NOT_PLAIN:
            return None
        if sample is not None:
            rec.diffusion.append((sample, 1))
        return rec

    def _diffusion(self, obj: Mapping[str, Any], manufacturer: str) -> Any:
        subset = diffusion_subset(obj)
        early, last, needs_more = per_file_plan(manufacturer)
        if needs_more is not None and early < last:   # as a file read stops early (Philips: group 2001) unless
            head = {t: e for t, e in subset.items() if _group(t) <= early}   # the vendor says a later one counts
            sample = self._sample(head, manufacturer, needs_more)
            if sample is not _LATER:
                return sample
        return self._sample(subset, manufacturer)

    def _sample(self, subset: dict[str, Any], manufacturer: str, needs_more: Any = None) -> Any:
        """The diffusion sample of one subset (remembered); _LATER when ``needs_more`` asks for later groups."""
        bulk = [t for t, e in subset.items() if isinstance(e, dict) and "BulkDataURI" in e]
        for tag in bulk:
            if tag not in self.keep_bulk:   # a value a partial file read would not see either
                del subset[tag]
        bulk = [t for t in bulk if t in subset]
        key = None if bulk else ("early:" if needs_more is not None else "") + json.dumps(subset, sort_keys=True)
        if key is not None and key in self.memo:
            return self.memo[key]
        sample: Any
        try:
            ds = dataset_from_json(subset, self.fetch_bulk if bulk else None)
            self.datasets += 1
            later = needs_more is not None and _asks_more(needs_more, ds)
            sample = _LATER if later else file_diffusion_sample(ds, manufacturer)
        except Exception:  # noqa: BLE001 - the general path reads the instance and reports the broken value
            sample = _NOT_PLAIN
        if key is not None and len(self.memo) < MEMO_LIMIT:
            self.memo[key] = sample
        return sample
