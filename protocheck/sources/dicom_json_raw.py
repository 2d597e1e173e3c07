"""DICOM JSON (PS3.18 F.2) -> a dataset of raw elements, decoded by pydicom only when read.

``Dataset.from_json`` builds a pydicom element for every value, nested sequences included (a Philips header is
thousands), and checks its bulk data handler's signature for each: most of a DICOMweb read went there. Here each
element's JSON value is written back in its explicit VR little endian form (text in the header's character set,
numbers as DICOM text or binary, sequences as items of defined length) and handed to pydicom as a raw element,
as a file read does: only the elements the extraction reads are ever decoded. Anything unusual (a value of the
wrong JSON type, a character set the text cannot be written in) raises ``Unusual``; the caller then uses
pydicom's own converter, which reports the broken value as before.
"""
from __future__ import annotations

import base64
import struct
from typing import Any, Callable

from pydicom.charset import convert_encodings
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

TEXT_VRS = frozenset({"SH", "LO", "ST", "LT", "UC", "UT", "PN"})           # written in the character set
ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UR"})
NUMBER_TEXT_VRS = frozenset({"DS", "IS"})
BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q"}
BYTES_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_ITEM = b"\xfe\xff\x00\xe0"
_PLAIN = TEXT_VRS | ASCII_VRS | NUMBER_TEXT_VRS | {"UI"}   # one string value is written as it is
_PACK = {vr: struct.Struct("<" + fmt) for vr, fmt in BINARY.items()}
_LONG, _SHORT = struct.Struct("<HH2s2xI"), struct.Struct("<HH2sH")
Bulk = Callable[[int, str], "bytes | None"]   # (tag, BulkDataURI) -> value, or None: the element is left out


class Unusual(Exception):
    """The JSON holds something this converter does not write back: pydicom's converter decides."""


def _encodings(obj: dict[str, Any], parent: Any) -> Any:
    elem = obj.get("00080005")
    if not isinstance(elem, dict) or not elem.get("Value"):
        return parent
    names = [str(v or "").strip() for v in elem["Value"]]
    from pydicom.charset import python_encoding
    if any(n and n not in python_encoding for n in names):
        raise Unusual("character set")   # unknown: pydicom's converter reads it (and warns)
    return convert_encodings(names)


def _text(values: list, vr: str, encodings: Any) -> bytes:
    parts = []
    for v in values:
        if v is None:
            v = ""
        elif vr == "PN" and isinstance(v, dict):
            v = "=".join(str(v.get(k, "") or "") for k in ("Alphabetic", "Ideographic", "Phonetic")).rstrip("=")
        elif not isinstance(v, str):
            raise Unusual(vr)
        parts.append(v)
    text = "\\".join(parts)
    if text.isascii():
        return text.encode("ascii")
    if vr not in TEXT_VRS or len(encodings) != 1 or "2022" in encodings[0]:
        raise Unusual(vr)   # code extensions (ISO 2022) and odd text: pydicom's converter
    try:
        return text.encode(encodings[0], "strict")   # exactly, or not at all (never replacement characters)
    except (LookupError, UnicodeError):
        raise Unusual("encoding") from None


def _number_text(values: list, vr: str) -> bytes:
    parts = []
    for v in values:
        if v is None:
            parts.append("")
        elif isinstance(v, bool):
            raise Unusual(vr)
        elif isinstance(v, int):
            parts.append(str(v))
        elif isinstance(v, float):
            parts.append(str(int(v)) if vr == "IS" and v.is_integer() else repr(v))
        elif isinstance(v, str):   # a number sent as a string: kept as the text it is
            parts.append(v)
        else:
            raise Unusual(vr)
    return "\\".join(parts).encode("ascii", "strict") if all(p.isascii() for p in parts) else _bad(vr)


def _bad(vr: str) -> bytes:
    raise Unusual(vr)


def _binary(values: list, vr: str) -> bytes:
    if vr == "AT":
        try:
            tags = [int(str(v), 16) for v in values]
            return b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in tags)
        except (TypeError, ValueError, struct.error):
            raise Unusual("AT") from None
    fmt = BINARY[vr]
    if any(v is None or isinstance(v, bool) or not isinstance(v, (int, float)) for v in values):
        raise Unusual(vr)
    try:
        return struct.pack(f"<{len(values)}{fmt}", *values)
    except struct.error:
        raise Unusual(vr) from None


def _value(tag: int, elem: dict[str, Any], encodings: Any, bulk: Bulk) -> tuple[str, bytes] | None:
    """(VR, value bytes, even length) of one element; None when it is left out (bulk data not fetched)."""
    vr = elem.get("vr")
    if not isinstance(vr, str):
        raise Unusual("vr")
    if len(elem) == 2:   # the common case: {"vr", "Value": [one plain text or number]}
        values = elem.get("Value")
        if values.__class__ is list and len(values) == 1:
            v = values[0]
            if v.__class__ is str and vr in _PLAIN and v.isascii():
                data = v.encode("ascii")
                return vr, data + (b"\0" if vr == "UI" else b" ") * (len(data) & 1)
            if vr in NUMBER_TEXT_VRS and (v.__class__ is int or v.__class__ is float):
                data = _number_text(values, vr)
                return vr, data + b" " * (len(data) & 1)
            if vr in BINARY and (v.__class__ is float or v.__class__ is int):
                try:
                    return vr, _PACK[vr].pack(v)
                except struct.error:
                    raise Unusual(vr) from None
    if "BulkDataURI" in elem:
        uri = elem["BulkDataURI"]
        if not isinstance(uri, str) or vr == "SQ":
            raise Unusual("BulkDataURI")
        got = bulk(tag, uri)
        return None if got is None else (vr, got + b"\0" * (len(got) & 1))
    if "InlineBinary" in elem:
        try:
            data = base64.b64decode(elem["InlineBinary"], validate=False)
        except Exception:  # noqa: BLE001
            raise Unusual("InlineBinary") from None
        return vr, data + b"\0" * (len(data) & 1)
    values = elem.get("Value")
    if values is None:
        return vr, b""
    if not isinstance(values, list):
        raise Unusual("Value")
    if vr == "SQ":
        return vr, b"".join(_item(item, encodings, bulk) for item in values)
    if vr in TEXT_VRS or vr in ASCII_VRS:
        data = _text(values, vr, encodings)
    elif vr == "UI":
        data = _text(values, vr, encodings)
        return vr, data + b"\0" * (len(data) & 1)
    elif vr in NUMBER_TEXT_VRS:
        data = _number_text(values, vr)
    elif vr in BINARY or vr == "AT":
        return vr, _binary(values, vr)
    else:
        raise Unusual(vr)   # OB/OW... given as Value, or an unknown VR
    return vr, data + b" " * (len(data) & 1)


def _header(tag: int, vr: str, length: int) -> bytes:
    if vr in LONG_VRS:
        return _LONG.pack(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)
    if length > 0xFFFF:
        raise Unusual("length")
    return _SHORT.pack(tag >> 16, tag & 0xFFFF, vr.encode("ascii"), length)


def _item(item: Any, encodings: Any, bulk: Bulk) -> bytes:
    if not isinstance(item, dict):
        raise Unusual("item")
    encodings = _encodings(item, encodings)
    out = []
    for tag, vr, data in _elements(item, encodings, bulk):
        out.append(_header(tag, vr, len(data)))
        out.append(data)
    body = b"".join(out)
    return _ITEM + struct.pack("<I", len(body)) + body


def _elements(obj: dict[str, Any], encodings: Any, bulk: Bulk) -> list[tuple[int, str, bytes]]:
    out = []
    for key, elem in obj.items():
        try:
            tag = int(key, 16)
        except (TypeError, ValueError):
            raise Unusual("tag") from None
        if len(key) != 8 or not isinstance(elem, dict):
            raise Unusual("element")
        got = _value(tag, elem, encodings, bulk)
        if got is not None:
            out.append((tag, got[0], got[1]))
    out.sort()   # by tag (unique: the VR and value are never compared)
    return out


def raw_dataset(obj: dict[str, Any], bulk: Bulk) -> Dataset:
    """The dataset of one DICOM JSON object, its elements raw (explicit VR little endian); Unusual if it cannot."""
    encodings = _encodings(obj, ["iso8859"])
    raw = {}
    for tag, vr, data in _elements(obj, encodings, bulk):
        if vr == "UN":   # an element sent as UN: typed from the dictionaries when read, as a file's is
            raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), None, len(data), data, 0, True, True)
        else:
            raw[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr, len(data), data, 0, False, True)
    ds = Dataset()
    ds.set_original_encoding(False, True, encodings)
    ds._dict.update(raw)
    return ds
