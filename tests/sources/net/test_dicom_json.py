"""DICOM JSON -> Dataset: inline binary decoded, bulk data fetched only for private elements, UN re-typed."""

from __future__ import annotations

import base64

import pytest

from protocheck.errors import NetworkError
from protocheck.sources.dicom_json import dataset_from_json, prune_instance, tag_value, wants_bulk
from protocheck.sources.net.http import first_multipart_part


def _obj() -> dict:
    return {
        "00080060": {"vr": "CS", "Value": ["MR"]},
        "00180080": {"vr": "DS", "Value": [2000.5]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00291010": {"vr": "OB", "BulkDataURI": "http://x/bulk/csa"},
        "00290010": {"vr": "LO", "Value": ["SIEMENS CSA HEADER"]},
        "00431039": {"vr": "UN", "InlineBinary": base64.b64encode(b"1000\\8\\0\\0 ").decode()},
        "00430010": {"vr": "LO", "Value": ["GEMS_PARM_01"]},
        "7FE00010": {"vr": "OW", "BulkDataURI": "http://x/bulk/pixels"},
        "52009229": {"vr": "SQ", "Value": [{"00189087": {"vr": "FD", "Value": [1000.0]},
                                             "00291020": {"vr": "OB", "BulkDataURI": "http://x/bulk/s"}}]},
    }


def test_bulk_fetched_only_for_private_elements_never_pixels():
    asked: list[str] = []

    def fetch(uri: str) -> bytes:
        asked.append(uri)
        return b"SV10\x04\x03\x02\x01"

    ds = dataset_from_json(_obj(), fetch)
    assert sorted(asked) == ["http://x/bulk/csa", "http://x/bulk/s"]
    assert ds[0x00291010].value == b"SV10\x04\x03\x02\x01"
    assert 0x7FE00010 not in ds                                    # never fetched, removed
    assert ds.RepetitionTime == 2000.5 and ds.Modality == "MR"
    assert ds[0x52009229][0][0x00291020].value.startswith(b"SV10")
    assert not wants_bulk(0x7FE00010) and not wants_bulk(0x60003000) and wants_bulk(0x00291010)


def test_without_fetcher_bulk_elements_are_absent_and_inline_binary_decoded():
    ds = dataset_from_json(_obj(), None)
    assert 0x00291010 not in ds and 0x7FE00010 not in ds
    assert 0x00291020 not in ds[0x52009229][0]
    elem = ds[0x00431039]                                         # UN re-typed with the GE dictionary
    assert elem.VR == "IS" and list(elem.value) == [1000, 8, 0, 0]


def test_malformed_json_is_a_network_error():
    with pytest.raises(NetworkError, match="malformed DICOM JSON"):
        dataset_from_json({"00180080": {"vr": "DS", "Value": "not-a-list"}}, None, where="http://x/m")
    with pytest.raises(NetworkError, match="not a JSON object"):
        dataset_from_json(["x"], None)   # type: ignore[arg-type]


def test_prune_and_tag_value():
    pruned = prune_instance(_obj(), 0x0029, frozenset({"00291010"}))
    assert set(pruned) == {"00080060", "00180080", "00100010", "00291010", "00290010"}
    assert tag_value(_obj(), 0x00080060) == "MR" and tag_value(_obj(), 0x00200013) is None
    assert tag_value("junk", 0x00080060) is None   # type: ignore[arg-type]


def test_multipart_bulk_answer():
    body = (b"--B1\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\xff\r\n--B1--\r\n")
    assert first_multipart_part(body, 'multipart/related; type="application/octet-stream"; boundary=B1',
                                "x") == b"\x00\x01\r\n\xff"
