"""DICOM JSON read straight into the DICOM reader's per-file records and raw datasets: the same values as the
files give (every shared header, as pydicom writes its DICOM JSON), and no crash on malformed JSON."""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path

import pydicom
import pytest

from protocheck.sources.dicom.reader import read_record
from protocheck.sources.dicom_json import dataset_from_json
from protocheck.sources.dicom_json_raw import Unusual, raw_dataset
from protocheck.sources.dicomweb_records import SeriesRecords

FIELDS = ("sop_class", "sop_uid", "series_uid", "study_uid", "manufacturer", "instance_number", "position",
          "acq_time", "echo_time", "echo_number", "image_type", "n_frames", "mrs", "diffusion", "positions",
          "echo_times", "skip")


def _sample(dicom_root: Path) -> list[Path]:
    """Per folder of the shared data: its first three files and every 7th (all vendors, DWI included)."""
    out = []
    for folder in sorted({p.parent for p in dicom_root.rglob("*") if p.is_file()}):
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix not in (".tsv", ".md", ".txt"))
        out += [p for i, p in enumerate(files) if i < 3 or i % 7 == 0]
    return out


def _as_json(path: Path) -> dict | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            return ds.to_json_dict(bulk_data_threshold=1 << 30)
        except Exception:  # noqa: BLE001 - not DICOM, or pydicom cannot write it as JSON: not this test's
            return None


@pytest.mark.slow
def test_records_from_json_equal_the_file_reader(dicom_root: Path):
    """Every classic MR image of the sample: record from its DICOM JSON == per-file record of the file."""
    compared = declined = 0
    problems: list[str] = []
    records: dict[str, SeriesRecords] = {}
    for path in _sample(dicom_root):
        obj = _as_json(path)
        if obj is None:
            continue
        maker = records.setdefault(str(path.parent), SeriesRecords())
        web = maker.record(obj, path.name)
        if web is None:
            declined += 1
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            disk = read_record(path.name, path)
        compared += 1
        for f in FIELDS:
            if getattr(web, f) != getattr(disk, f):
                problems.append(f"{path.relative_to(dicom_root)}: {f}: json={getattr(web, f)!r} "
                                f"file={getattr(disk, f)!r}")
    print(f"\nrecords from DICOM JSON vs files: {compared} compared, {declined} left to the dataset path, "
          f"{len(problems)} differences")
    assert compared > 300
    assert problems == []


def test_raw_dataset_values_equal_pydicom_reading_the_file(dicom_root: Path):
    """The raw dataset of a header's DICOM JSON decodes to the values pydicom reads from the file."""
    checked = 0
    for path in _sample(dicom_root)[::25]:
        obj = _as_json(path)
        if obj is None:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            disk = pydicom.dcmread(path, stop_before_pixels=True)
            web = dataset_from_json(obj)
            for elem in disk:
                if elem.VR in ("SQ", "UN") or elem.tag >> 16 & 1 or elem.tag in (0x7FE00010,):
                    continue
                assert web[elem.tag].value == elem.value, (path.name, elem.tag)
                checked += 1
    assert checked > 1000


def _mr(**extra: dict) -> dict:
    obj = {
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.4"]},
        "00080018": {"vr": "UI", "Value": ["1.2.3.4"]},
        "0020000E": {"vr": "UI", "Value": ["1.2.3"]},
        "00080070": {"vr": "LO", "Value": ["SIEMENS"]},
    }
    obj.update(extra)
    return obj


MALFORMED = [
    {"00200013": {"vr": "IS"}},                                             # no Value
    {"00200013": {"vr": "IS", "Value": ["12"]}},                            # number as a string
    {"00200032": {"vr": "DS", "Value": ["1.5\\-2\\3"]}},                    # multi-valued string in one
    {"00080008": {"vr": "CS", "Value": "ORIGINAL"}},                         # Value not a list
    {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^J", "Ideographic": "x"}]}},
    {"00100010": {"vr": "PN", "Value": [{"Alphabetic": 3}]}},
    {"00291010": {"vr": "OB", "InlineBinary": "not base64 !!"}},
    {"00291010": {"vr": "OB", "BulkDataURI": 17}},
    {"00180081": {"vr": "DS", "Value": [{"x": 1}]}},
    {"00180081": {"vr": "DS", "Value": [True]}},
    {"00280010": {"vr": "US", "Value": ["x"]}},
    {"00280010": {"vr": "US", "Value": [70000]}},
    {"00189089": {"vr": "FD", "Value": [None, 1, 0]}},
    {"00189117": {"vr": "SQ", "Value": ["not an item"]}},
    {"00189117": {"vr": "SQ", "Value": [{"00189087": {"vr": "FD", "Value": ["1000"]}}]}},
    {"00080005": {"vr": "CS", "Value": ["NOT A CHARSET"]}},
    {"00081030": {"vr": "LO", "Value": ["Étude 日本"]}},
    {"0019100C": {"vr": "UN", "InlineBinary": base64.b64encode(b"1000").decode()}},
    {"0019100C": {"vr": "IS", "Value": [1000]}, "00190010": {"vr": "LO", "Value": ["SIEMENS MR HEADER"]}},
    {"zzzz": {"vr": "CS", "Value": ["x"]}},
    {"00080060": "MR"},
    {"00080060": {"Value": ["MR"]}},
]


@pytest.mark.parametrize("extra", MALFORMED)
def test_malformed_json_never_crashes(extra: dict):
    """A record, or None (the dataset path decides); a dataset, or Unusual / NetworkError; never a crash."""
    from protocheck.errors import NetworkError
    obj = _mr(**extra)
    rec = SeriesRecords().record(obj, "s/x")
    assert rec is None or rec.series_uid == "1.2.3"
    try:
        raw_dataset(obj, lambda tag, uri: None)
    except Unusual:
        pass
    try:
        ds = dataset_from_json(obj)
    except NetworkError as exc:
        assert "malformed DICOM JSON" in str(exc)
        return
    for elem in ds:   # every value decodes (as pydicom decodes a file's), or says why in a pydicom error
        try:
            elem.value   # noqa: B018
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{elem.tag}: {exc}")


def test_values_as_the_file_reader_gives_them():
    obj = _mr(**{"00200013": {"vr": "IS", "Value": ["7"]}, "00200032": {"vr": "DS", "Value": [1.234, "-2", 3]},
                 "00180081": {"vr": "DS", "Value": [2.46]}, "00180086": {"vr": "IS", "Value": [2, 3]},
                 "00080008": {"vr": "CS", "Value": ["original", None, "M"]},
                 "00189087": {"vr": "FD", "Value": [1000.0]}, "00189075": {"vr": "CS", "Value": ["DIRECTIONAL"]},
                 "00189076": {"vr": "SQ", "Value": [{"00189089": {"vr": "FD", "Value": [1.0, 0.0, 0.0]}}]}})
    rec = SeriesRecords().record(obj, "s/x")
    assert rec is not None
    assert (rec.instance_number, rec.position, rec.echo_time, rec.echo_number) == (7, (1.23, -2.0, 3.0), 2.46, 2)
    assert rec.image_type == ("ORIGINAL", "", "M")
    assert [(s.bvalue, s.vector, s.directionality, n) for s, n in rec.diffusion] == \
        [(1000.0, (1.0, 0.0, 0.0), "DIRECTIONAL", 1)]
    enhanced = _mr(**{"52009230": {"vr": "SQ", "Value": []}})
    assert SeriesRecords().record(enhanced, "s/y") is None       # per-frame values: the dataset path
    other = _mr(**{"00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]}})
    assert SeriesRecords().record(other, "s/z") is None          # CT: the dataset path says "not MR"


def test_one_small_dataset_per_distinct_diffusion_values():
    maker = SeriesRecords()
    for i in range(50):
        obj = _mr(**{"00200013": {"vr": "IS", "Value": [i + 1]},
                     "0019100C": {"vr": "IS", "Value": [1000 if i % 2 else 0]},
                     "00190010": {"vr": "LO", "Value": ["SIEMENS MR HEADER"]}})
        assert maker.record(obj, f"s/{i}") is not None
    assert maker.datasets == 2


def test_lazy_cut_equals_the_whole_parse_and_doubt_parses_whole():
    from protocheck.sources.dicomweb_lazy import Cut, lazy_instances
    objs = [_mr(**{"00200013": {"vr": "IS", "Value": [i]},
                   "00189117": {"vr": "SQ", "Value": [{"00189087": {"vr": "FD", "Value": [1000.0]}}]}})
            for i in range(3)]
    body = b'[{\n\t"00080016" : {"vr" : "UI", "Value" : ["1.2.840.10008.5.1.4.1.1.4"]},\n\t"00200013" : ' \
           b'{"vr" : "IS", "Value" : [1]},\n\t"00189117" : {"vr" : "SQ", "Value" : [{\n\t\t"00189087" : ' \
           b'{"vr" : "FD", "Value" : [1000.0]}}]}\n}\n,{\n\t"00200013" : {"vr" : "IS", "Value" : [2]}\n}\n]'
    lazy = lazy_instances(body)
    assert lazy is not None and [x.full() for x in lazy] == json.loads(body)
    assert lazy[0]["00189117"]["Value"][0]["00189087"]["Value"] == [1000.0] and "00189087" not in lazy[0]
    assert lazy_instances(json.dumps(objs).encode()) is None           # compact JSON: parsed whole
    bad = body.replace(b'[{\n\t\t"00189087"', b'[{\n\t"00189087"')    # a nested key at the top indentation
    with pytest.raises(Cut):
        [x.full() for x in lazy_instances(bad)]   # type: ignore[union-attr]
    with pytest.raises(Cut):
        lazy_instances(bad)[0]["00189117"]        # type: ignore[index]
