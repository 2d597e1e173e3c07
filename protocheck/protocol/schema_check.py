"""A small, fast "is this document surely valid?" check for the JSON Schema subset the protocol schema uses.

jsonschema costs ~0.1 s per load (import and validation), which a re-audit of an unchanged archive cannot
afford. ``surely_valid`` answers True only when the document is valid under the schema's keywords, which it
evaluates with jsonschema's (Draft 2020-12) semantics; on any failure, doubt or unknown keyword it answers
False and the loader runs jsonschema itself, which then finds and words the error. Validation is never
skipped: a document accepted here is one jsonschema accepts too (tests/protocol/test_schema_check.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$defs", "$comment"})
_SCALARS = (str, bool, int, float, type(None))


class _Unsure(Exception):
    """The schema uses something this checker does not evaluate: leave the verdict to jsonschema."""


def surely_valid(instance: Any, schema: dict[str, Any]) -> bool:
    """True when ``instance`` is certainly valid under ``schema``; False when invalid or in doubt."""
    try:
        return _Checker(schema).valid(instance, schema)
    except (_Unsure, RecursionError, TypeError, ValueError, KeyError, re.error):
        return False


@lru_cache(maxsize=64)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _is_type(x: Any, name: str) -> bool:
    """JSON Schema types as jsonschema checks them (bool is no number; 1.0 is an integer)."""
    if name == "string":
        return isinstance(x, str)
    if name == "object":
        return isinstance(x, dict)
    if name == "array":
        return isinstance(x, list)
    if name == "boolean":
        return isinstance(x, bool)
    if name == "null":
        return x is None
    if isinstance(x, bool):
        return False
    if name == "number":
        return isinstance(x, (int, float))
    if name == "integer":
        return isinstance(x, int) or (isinstance(x, float) and x.is_integer())
    raise _Unsure(name)


def _same(a: Any, b: Any) -> bool:
    """enum/const equality for scalars (True is not 1); anything else is left to jsonschema."""
    if not isinstance(a, _SCALARS) or not isinstance(b, _SCALARS):
        raise _Unsure("non-scalar enum")
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a == b


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


class _Checker:
    """Evaluates one schema's keywords on one instance (recursively, with local ``#/$defs/`` refs)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.keywords: dict[str, Callable[[Any, Any, dict[str, Any]], bool]] = {
            "type": self.k_type, "enum": lambda x, v, s: any(_same(x, e) for e in v),
            "const": lambda x, v, s: _same(x, v), "$ref": self.k_ref, "properties": self.k_properties,
            "additionalProperties": self.k_additional, "required": self.k_required,
            "minProperties": lambda x, v, s: not isinstance(x, dict) or len(x) >= v,
            "maxProperties": lambda x, v, s: not isinstance(x, dict) or len(x) <= v,
            "propertyNames": lambda x, v, s: not isinstance(x, dict) or all(self.valid(k, v) for k in x),
            "dependentRequired": self.k_dependent, "items": self.k_items,
            "minItems": lambda x, v, s: not isinstance(x, list) or len(x) >= v,
            "minLength": lambda x, v, s: not isinstance(x, str) or len(x) >= v,
            "pattern": lambda x, v, s: not isinstance(x, str) or _pattern(v).search(x) is not None,
            "minimum": lambda x, v, s: not _number(x) or x >= v,
            "exclusiveMinimum": lambda x, v, s: not _number(x) or x > v,
            "oneOf": lambda x, v, s: sum(1 for sub in v if self.valid(x, sub)) == 1,
        }

    def valid(self, x: Any, schema: Any) -> bool:
        """Every keyword of ``schema`` holds for ``x``."""
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, dict):
            raise _Unsure("schema")
        for key, value in schema.items():
            if key in _ANNOTATIONS:
                continue
            check = self.keywords.get(key)
            if check is None:
                raise _Unsure(key)
            if not check(x, value, schema):
                return False
        return True

    def k_type(self, x: Any, v: Any, s: dict[str, Any]) -> bool:
        return any(_is_type(x, t) for t in v) if isinstance(v, list) else _is_type(x, v)

    def k_ref(self, x: Any, v: str, s: dict[str, Any]) -> bool:
        if not v.startswith("#/$defs/") or "/" in v[8:] or "~" in v:
            raise _Unsure(v)
        return self.valid(x, self.root["$defs"][v[8:]])

    def k_properties(self, x: Any, v: dict[str, Any], s: dict[str, Any]) -> bool:
        if not isinstance(x, dict):
            return True
        return all(self.valid(x[k], sub) for k, sub in v.items() if k in x)

    def k_additional(self, x: Any, v: Any, s: dict[str, Any]) -> bool:
        if not isinstance(x, dict):
            return True
        if "patternProperties" in s:
            raise _Unsure("patternProperties")
        known = s.get("properties", {})
        return all(self.valid(val, v) for k, val in x.items() if k not in known)

    def k_required(self, x: Any, v: list[str], s: dict[str, Any]) -> bool:
        return not isinstance(x, dict) or all(k in x for k in v)

    def k_dependent(self, x: Any, v: dict[str, list[str]], s: dict[str, Any]) -> bool:
        if not isinstance(x, dict):
            return True
        return all(all(r in x for r in req) for k, req in v.items() if k in x)

    def k_items(self, x: Any, v: Any, s: dict[str, Any]) -> bool:
        if "prefixItems" in s:
            raise _Unsure("prefixItems")
        return not isinstance(x, list) or all(self.valid(item, v) for item in x)
