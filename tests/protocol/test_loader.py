"""Loader: built-in protocols, schema refusals that name the place, safe YAML, regexes, hashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocheck.errors import ProtocolError
from protocheck.protocol import list_builtin_protocols, load_protocol, load_protocol_text

MINIMAL = """\
name: mini
version: "0.1"
sequences:
  - id: t1w
    requirement: required
    identify:
      any:
        - {parameter: SeriesDescription, matches: "(?i)t1"}
    constraints:
      - id: tr
        parameter: RepetitionTime
        range: {min: 1.8, max: 2.6}
        severity: warning
"""


def _err(text: str, name: str = "p.yaml") -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        load_protocol_text(text, name)
    return info.value


def test_builtin_brain_protocol_loads_with_hash_and_version():
    p = load_protocol("als-brain-3t")
    assert "als-brain-3t" in list_builtin_protocols()
    assert p.name == "als-brain-3t" and p.version == "1.1.0"
    assert len(p.sha256) == 64
    ids = [s.id for s in p.sequences]
    assert ids == ["t1w", "dti", "flair", "swi", "rsfmri", "mrs"]
    req = {s.id: s.requirement for s in p.sequences}
    assert req["t1w"] == req["dti"] == req["flair"] == "required"
    assert req["swi"] == "recommended" and req["rsfmri"] == req["mrs"] == "optional"
    # the default field-strength constraint reaches every sequence
    assert all(any(c.id == "field-strength" for c in s.constraints) for s in p.sequences)


def test_mem_and_sug_only_rules_are_never_errors():
    """Rules whose source cites only [MEM]/[SUG] evidence must be warnings or info."""
    p = load_protocol("als-brain-3t")
    for s in p.sequences:
        allc = list(s.constraints) + [c for v in s.variants for c in v.constraints]
        for c in allc:
            if c.severity == "error" and c.id != "field-strength":
                assert "[SRC]" in (c.source or "") or "tensor" in (c.source or ""), (s.id, c.id)


def test_minimal_protocol_and_same_hash_for_same_content(tmp_path: Path):
    a = load_protocol_text(MINIMAL, "a.yaml")
    f = tmp_path / "b.json"
    import yaml
    f.write_text(json.dumps(yaml.safe_load(MINIMAL), indent=1))
    b = load_protocol(str(f))
    assert a.sha256 == b.sha256
    assert a.sequences[0].constraints[0].kind == "range"


def test_unknown_builtin_name_lists_the_known_ones():
    err = _err_load("no-such-protocol")
    assert "no-such-protocol" in str(err) and "als-brain-3t" in str(err)


def _err_load(name: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        load_protocol(name)
    return info.value


def test_bad_yaml_syntax_names_the_line():
    text = MINIMAL.replace("    requirement: required", "    requirement: [required")
    err = _err(text)
    assert "p.yaml" in str(err) and "line" in str(err) and "invalid YAML" in str(err)


def test_unknown_key_names_the_line_and_the_key():
    text = MINIMAL.replace("        severity: warning", "        severity: warning\n        sevrity: error")
    err = _err(text)
    assert "'sevrity'" in str(err) and "line 14" in str(err)


def test_wrong_type_names_the_line():
    text = MINIMAL.replace("range: {min: 1.8, max: 2.6}", "range: {min: fast, max: 2.6}")
    err = _err(text)
    assert "line 12" in str(err) and "fast" in str(err)


def test_bad_enum_is_explained():
    err = _err(MINIMAL.replace("requirement: required", "requirement: mandatory"))
    assert "mandatory" in str(err) and "required" in str(err) and "line 5" in str(err)


def test_python_tag_is_refused_with_line():
    text = MINIMAL + "title: !!python/object/apply:os.system ['echo pwned']\n"
    err = _err(text)
    assert "line 14" in str(err) and "python/object" in str(err)


def test_bad_regex_is_refused_with_its_place():
    err = _err(MINIMAL.replace('"(?i)t1"', '"(t1"'))
    assert "regular expression" in str(err) and "line 8" in str(err)


def test_not_a_mapping_is_refused():
    err = _err("- just\n- a list\n")
    assert "not a mapping" in str(err) and "p.yaml" in str(err)
    assert "not a mapping" in str(_err(""))


def test_two_kinds_in_one_constraint_refused():
    text = MINIMAL.replace("range: {min: 1.8, max: 2.6}", "range: {min: 1.8}\n        equals: 2")
    err = _err(text)
    assert "exactly one" in str(err) and "line" in str(err)


def test_unknown_parameter_suggests_the_closest():
    err = _err(MINIMAL.replace("parameter: RepetitionTime", "parameter: RepetitionTim"))
    assert "RepetitionTim'" in str(err) and "RepetitionTime" in str(err) and "line 11" in str(err)


def test_duplicate_key_refused():
    err = _err(MINIMAL.replace('version: "0.1"', 'version: "0.1"\nversion: "0.2"'))
    assert "duplicate key 'version'" in str(err) and "line 3" in str(err)


def test_json_syntax_error_names_line(tmp_path: Path):
    f = tmp_path / "p.json"
    f.write_text('{"name": "x",\n "version": }')
    err = _err_load(str(f))
    assert "line 2" in str(err) and "p.json" in str(err)


def test_json_schema_error_names_json_path(tmp_path: Path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"name": "x", "version": "1", "sequences": [
        {"id": "a", "requirement": "required", "identify": {"any": [{"parameter": "EchoTime", "bogus": 1}]}}]}))
    err = _err_load(str(f))
    assert "bogus" in str(err) and "sequences[0].identify.any[0]" in str(err)


def test_consistency_with_unknown_sequence_refused():
    text = MINIMAL + ("    consistency:\n      - id: pair\n        with: nope\n"
                      "        parameters: [RepetitionTime]\n        severity: error\n")
    err = _err(text)
    assert "unknown sequence 'nope'" in str(err) and "line 16" in str(err)


def test_variant_replaces_and_removes_constraints():
    text = MINIMAL + """    variants:
      - name: GE
        when: {Manufacturer: "(?i)^ge"}
        remove: [tr]
        constraints:
          - {id: te, parameter: EchoTime, range: {max: 0.005}, severity: info}
"""
    p = load_protocol_text(text)
    seq = p.sequences[0]
    ids = [c.id for c in seq.constraints_for(seq.variants[0])]
    assert ids == ["te"]
    assert [c.id for c in seq.constraints_for(None)] == ["tr"]


def test_spinal_cord_protocol_uses_consistency_and_loads():
    if "als-spinal-cord" not in list_builtin_protocols():
        pytest.skip("als-spinal-cord.yaml not written yet")
    p = load_protocol("als-spinal-cord")
    assert any(s.consistency for s in p.sequences)
