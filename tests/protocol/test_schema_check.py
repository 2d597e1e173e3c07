"""schema_check.surely_valid never vouches for a document jsonschema refuses; the fast loader path equals the slow one."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocheck.protocol import parsing
from protocheck.protocol.loader import list_builtin_protocols, load_protocol, load_protocol_text
from protocheck.protocol.schema_check import surely_valid
from protocheck.resources import builtin_protocol_dir, load_schema

SCHEMA = load_schema("protocol")
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _builtin_docs() -> list[dict[str, Any]]:
    return [yaml.safe_load((builtin_protocol_dir() / f"{n}.yaml").read_text()) for n in list_builtin_protocols()]


DOCS = _builtin_docs()


def _paths(x: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, path + (k,))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, path + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any, mode: str) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    if mode == "delete":
        del parent[last]
    elif mode == "add" and isinstance(parent, dict):
        parent[f"x{last}"] = value
    else:
        parent[last] = value
    return doc


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.just(float("nan")),
                   st.sampled_from(["", "error", "fatal", "T1w", "9bad", "RepetitionTime", "present", "nominal",
                                    "required", "SRC"]),
                   st.just([]), st.just({}), st.just([1, "a"]), st.just({"min": 1}), st.just({"absolute": -1}),
                   st.just(1.0), st.just(True))


def test_builtin_protocols_are_vouched_for_and_valid():
    for doc in DOCS:
        assert surely_valid(doc, SCHEMA)
        assert not list(VALIDATOR.iter_errors(doc))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_check_never_accepts_what_jsonschema_refuses(data: st.DataObject):
    doc = copy.deepcopy(data.draw(st.sampled_from(DOCS)))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths))
        mode = data.draw(st.sampled_from(["set", "delete", "add"])) if path else "set"
        doc = _set(doc, path, copy.deepcopy(data.draw(VALUES)), mode)   # st.just values are shared objects
    fast = surely_valid(doc, SCHEMA)
    slow = not list(VALIDATOR.iter_errors(doc))
    if fast:
        assert slow, f"fast check accepted a document jsonschema refuses: {doc!r}"[:400]


@pytest.mark.parametrize("value, ok", [(True, True), (1, False), ("yes", False)])
def test_const_and_types_follow_jsonschema(value: Any, ok: bool):
    schema = {"type": "object", "properties": {"p": {"const": True}, "n": {"type": "integer"}}}
    assert surely_valid({"p": value}, schema) is ok
    assert surely_valid({"n": 2.0}, schema) and not surely_valid({"n": True}, schema)


def test_unknown_keyword_leaves_the_verdict_to_jsonschema():
    assert not surely_valid("x", {"format": "email"})
    assert not surely_valid({"a": 1}, {"patternProperties": {"a": {}}})


def test_c_and_pure_loader_give_the_same_protocol():
    for name in list_builtin_protocols():
        path = builtin_protocol_dir() / f"{name}.yaml"
        text = path.read_text()
        fast = load_protocol(name)
        pure_data, _ = parsing.parse_pure(text, str(path))
        assert fast.document == pure_data
        assert fast.sha256 == load_protocol_text(text, str(path)).sha256


def test_yaml_errors_read_by_the_c_loader_keep_the_pure_messages():
    bad = "name: p\nversion: '1'\nsequences: [\n"
    with pytest.raises(Exception) as fast:
        load_protocol_text(bad, "p.yaml")
    with pytest.raises(Exception) as pure:
        parsing.parse_pure(bad, "p.yaml")
    assert str(fast.value) == str(pure.value) and "line" in str(fast.value)
