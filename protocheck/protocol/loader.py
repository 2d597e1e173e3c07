"""Load a protocol (built-in name or YAML/JSON path), validate it, and build the typed model.

YAML is read with the safe loaders only (libyaml's ``CSafeLoader`` when available, else ``SafeLoader``: a
``!!python/...`` tag is refused, nothing is constructed or executed); every schema or semantic error names the
file, the line (from the YAML node marks) or JSON path, and the problem in plain words. Speed (a re-audit loads
a protocol in a few ms): the line map is composed only when an error is reported, any YAML problem met by the
C loader is re-read by the pure ``SafeLoader`` so the message is the same, and jsonschema is imported and run
only when the fast subset check (``schema_check.surely_valid``) does not vouch for the document.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocheck.errors import ProtocolError
from protocheck.model import PARAMETER_NAMES
from protocheck.protocol.model import (
    CONSTRAINT_KINDS, CRITERION_KINDS, DERIVED_PARAMETERS, GEOMETRY_PARAMETERS, Consistency, Constraint,
    BidsAccepts, Criterion, Identify, Longitudinal, LongitudinalRule, Protocol, Sequence, SourceRef, Variant,
    Version,
)
from protocheck.protocol.schema_check import surely_valid
from protocheck.results import Severity
from protocheck.protocol.tolerance import Tolerance
from protocheck.protocol.paths import list_builtin_protocols, resolve_protocol_path  # noqa: F401 (re-exported)
from protocheck.resources import builtin_protocol_dir, load_schema

if TYPE_CHECKING:
    import jsonschema

    from protocheck.protocol.parsing import Lines, Path_

KNOWN_PARAMETERS = frozenset(PARAMETER_NAMES) | frozenset(DERIVED_PARAMETERS)


_BUILTIN_LOADED: dict[tuple[str, int, int], Protocol] = {}   # (file, mtime_ns, size) -> validated built-in


def load_protocol(name_or_path: str, cache_dir: Path | None = None, text: str | None = None) -> Protocol:
    """Load, validate and build a protocol from a built-in name or a YAML/JSON file path (``text``: the file's
    text as the caller read it, so the protocol is the one that text gives).

    A built-in protocol is validated once per process and its (immutable) model reused while its file is
    unchanged; a user's file is read and validated on every call. With ``cache_dir`` (an existing folder outside
    the inputs), the model built from the same text is taken from there (``storage.protocol_cache``).
    """
    path = resolve_protocol_path(str(name_or_path))
    key = _builtin_key(path)
    if key is not None and key in _BUILTIN_LOADED:
        return _BUILTIN_LOADED[key]
    text = _read(path) if text is None else text
    if cache_dir is not None:
        from protocheck.storage import protocol_cache as cache
        protocol = cache.load(cache_dir, text, str(path), Protocol)
        if protocol is None:
            protocol = load_protocol_text(text, str(path))
            cache.store(cache_dir, text, str(path), protocol)
    else:
        protocol = load_protocol_text(text, str(path))
    if key is not None:
        _BUILTIN_LOADED[key] = protocol
    return protocol


def ready_protocol(name_or_path: str, cache_dir: Path | None = None, text: str | None = None) -> Protocol | None:
    """The protocol ``load_protocol`` gives when it needs no parsing (built in this process, or kept in
    ``cache_dir``), else None; the same ProtocolError for a missing or unreadable file."""
    path = resolve_protocol_path(str(name_or_path))
    key = _builtin_key(path)
    if key is not None and key in _BUILTIN_LOADED:
        return _BUILTIN_LOADED[key]
    if cache_dir is None:
        return None
    from protocheck.storage import protocol_cache as cache
    protocol = cache.load(cache_dir, _read(path) if text is None else text, str(path), Protocol)
    if protocol is not None and key is not None:
        _BUILTIN_LOADED[key] = protocol
    return protocol


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"cannot read the protocol file: {exc}", path=str(path),
                            fix="check the path and that the file is UTF-8 text") from None


def _builtin_key(path: Path) -> tuple[str, int, int] | None:
    """(file, mtime_ns, size) of a protocol shipped with protocheck; None for any other file."""
    try:
        if path.resolve().parent != builtin_protocol_dir().resolve():
            return None
        st = path.stat()
    except OSError:
        return None
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def load_protocol_text(text: str, filename: str = "<protocol>") -> Protocol:
    """Parse and validate protocol text (YAML or JSON) given its file name for error messages."""
    from protocheck.protocol.parsing import parse   # imports yaml: not needed for a cached protocol

    data, lines = parse(text, filename)
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "empty"
        raise ProtocolError(f"the document is {kind}, not a mapping of protocol fields",
                            path=filename, where="line 1",
                            fix="start the file with 'name:', 'version:' and 'sequences:' keys")
    _validate(data, filename, lines)
    builder = _Builder(filename, lines)
    protocol = builder.build(data)
    return protocol


# -------------------------------------------------------------------------------------------- validation

def _validate(data: dict[str, Any], filename: str, lines: Lines) -> None:
    """Validate against schemas/protocol.schema.json; raise the most specific error in plain words."""
    schema = load_schema("protocol")
    if surely_valid(data, schema):   # the fast subset check vouches for it: jsonschema would find nothing
        return
    import jsonschema   # ~0.1 s with its import: only for a document the fast check doubts

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: (-len(e.absolute_path), str(e.absolute_path)))
    if not errors:
        return
    err = _most_specific(errors[0])
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        path += tuple(extra[:1])
    from protocheck.protocol.parsing import where
    raise ProtocolError(_plain(err), path=filename, where=where(path, lines()),
                        fix="see the protocol language: run 'protocheck help protocol'")


def _most_specific(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Descend into oneOf/anyOf context to the deepest sub-error, which names the real problem."""
    while err.context:
        deeper = max(err.context, key=lambda e: len(e.absolute_path))
        if len(deeper.absolute_path) <= len(err.absolute_path) and err.validator == "oneOf":
            break
        err = deeper
    return err


def _plain(err: jsonschema.ValidationError) -> str:
    """A schema error in plain words."""
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        return f"unknown key {', '.join(repr(k) for k in extra)} (allowed here: {allowed})"
    if v == "required":
        return f"missing key: {err.message.split(' is a required')[0]}"
    if v == "type":
        return f"wrong type: {err.instance!r} should be {err.validator_value}"
    if v == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    if v == "oneOf" and isinstance(err.instance, dict):
        kinds = [k for k in CONSTRAINT_KINDS if k in err.instance]
        if len(kinds) > 1:
            return f"several kinds of check in one entry ({', '.join(kinds)}); give exactly one per entry"
        return f"no kind of check given (use exactly one of {', '.join(CONSTRAINT_KINDS)})"
    if v == "pattern":
        return f"{err.instance!r} is not a valid name here (expected pattern {err.validator_value})"
    if v == "dependentRequired":
        return f"incomplete entry: {err.message}"
    return err.message


# ---------------------------------------------------------------------------------------------- building

class _Builder:
    """Turns a schema-valid document into model objects, with semantic checks that name the place."""

    def __init__(self, filename: str, lines: Lines) -> None:
        self.filename = filename
        self.lines = lines

    def fail(self, message: str, path: Path_, fix: str) -> ProtocolError:
        from protocheck.protocol.parsing import where
        return ProtocolError(message, path=self.filename, where=where(path, self.lines()), fix=fix)

    def build(self, data: dict[str, Any]) -> Protocol:
        defaults = data.get("defaults", {}).get("constraints", [])
        default_cs = [self.constraint(c, ("defaults", "constraints", i)) for i, c in enumerate(defaults)]
        sequences = [self.sequence(s, ("sequences", i), default_cs) for i, s in enumerate(data["sequences"])]
        self.check_unique([s.id for s in sequences], ("sequences",), "sequence id")
        ids = {s.id for s in sequences}
        for i, seq in enumerate(sequences):
            for j, rule in enumerate(seq.consistency):
                for other in rule.with_:
                    if other not in ids:
                        raise self.fail(f"consistency rule '{rule.id}' refers to unknown sequence '{other}'",
                                        ("sequences", i, "consistency", j, "with"),
                                        f"use one of the sequence ids: {', '.join(sorted(ids))}")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        sources = tuple(SourceRef(s["id"], s["citation"], s.get("url"), s.get("evidence"))
                        for s in data.get("sources", []))
        return Protocol(name=data["name"], version=str(data["version"]), title=data.get("title", data["name"]),
                        sequences=tuple(sequences), sources=sources, description=data.get("description", ""),
                        field_strength=data.get("field_strength"), longitudinal=self.longitudinal(data),
                        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
                        path=self.filename, document=data)

    def check_unique(self, ids: list[str], path: Path_, what: str) -> None:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                raise self.fail(f"duplicate {what} '{x}'", path + (i,), f"give each {what} a distinct id")
            seen.add(x)

    def parameter(self, name: str, path: Path_, extra: tuple[str, ...] = ()) -> str:
        if name in KNOWN_PARAMETERS or name in extra:
            return name
        import difflib   # only for the error message

        close = difflib.get_close_matches(name, sorted(KNOWN_PARAMETERS) + list(extra), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "see PARAMETER_NAMES in protocheck/model.py"
        raise self.fail(f"unknown parameter '{name}'", path, hint)

    def regex(self, text: str, path: Path_) -> re.Pattern[str]:
        try:
            return re.compile(text)
        except re.error as exc:
            raise self.fail(f"invalid regular expression {text!r}: {exc}", path,
                            "correct the regex (Python syntax; quote it in YAML)") from None

    def criterion(self, d: dict[str, Any], path: Path_) -> Criterion:
        param = self.parameter(d["parameter"], path + ("parameter",))
        kind = next(k for k in CRITERION_KINDS if k in d)
        value = d[kind]
        pattern = self.regex(value, path + (kind,)) if kind == "matches" else None
        if kind == "range":
            self.check_range(value, path + (kind,))
        return Criterion(param, kind, value, float(d.get("weight", 1.0)), pattern)

    def identify(self, d: dict[str, Any], path: Path_, variant: bool = False) -> Identify:
        parts = {k: tuple(self.criterion(c, path + (k, i)) for i, c in enumerate(d.get(k, [])))
                 for k in ("all", "any", "none")}
        for key in ("bids", "coverage"):
            if variant and key in d:
                raise self.fail(f"'{key}' is declared by the sequence, not by a vendor variant", path + (key,),
                                f"move '{key}' to the sequence's own identify block")
        bids = d.get("bids")
        accepts = None
        if bids is not None:
            ents = tuple((k, self.regex(v, path + ("bids", "entities", k)))
                         for k, v in bids.get("entities", {}).items())
            accepts = BidsAccepts(tuple(bids.get("suffixes", ())), tuple(bids.get("datatypes", ())), ents)
        return Identify(parts["all"], parts["any"], parts["none"], accepts, tuple(d.get("coverage", ())))

    def check_range(self, r: dict[str, float], path: Path_) -> None:
        if "min" in r and "max" in r and r["min"] > r["max"]:
            raise self.fail(f"range min {r['min']} is greater than max {r['max']}", path, "swap min and max")

    def constraint(self, d: dict[str, Any], path: Path_) -> Constraint:
        param = self.parameter(d["parameter"], path + ("parameter",))
        kind = next(k for k in CONSTRAINT_KINDS if k in d)
        value = d[kind]
        pattern = self.regex(value, path + (kind,)) if kind == "matches" else None
        if kind in ("range", "each"):
            self.check_range(value, path + (kind,))
        tolerance = Tolerance.from_spec(d.get("tolerance") or (value.get("tolerance") if kind == "each" else None))
        return Constraint(id=d["id"], parameter=param, kind=kind, value=value, severity=Severity.of(d["severity"]),
                          label=d.get("label"), tolerance=tolerance, shell=d.get("shell"),
                          shell_tolerance=d.get("shell_tolerance"), must_match=bool(d.get("must_match", False)),
                          rationale=d.get("rationale"), source=d.get("source"), advice=d.get("advice"),
                          note=d.get("note"), pattern=pattern,
                          match_scope="vendor" if d.get("must_match") == "vendor" else "all")

    def variant(self, d: dict[str, Any], path: Path_, base_ids: set[str]) -> Variant:
        when = tuple((self.parameter(k, path + ("when", k)), self.regex(v, path + ("when", k)))
                     for k, v in d["when"].items())
        cs = tuple(self.constraint(c, path + ("constraints", i)) for i, c in enumerate(d.get("constraints", [])))
        self.check_unique([c.id for c in cs], path + ("constraints",), "constraint id")
        for i, rid in enumerate(d.get("remove", [])):
            if rid not in base_ids:
                raise self.fail(f"variant '{d['name']}' removes unknown constraint '{rid}'",
                                path + ("remove", i), f"use one of: {', '.join(sorted(base_ids))}")
        ident = self.identify(d["identify"], path + ("identify",), variant=True) if "identify" in d else None
        return Variant(d["name"], when, cs, tuple(d.get("remove", [])), ident)

    def version(self, d: dict[str, Any], path: Path_, base_ids: set[str]) -> Version:
        """An accepted exam-card version: its constraints replace base constraints of the same id."""
        when = tuple((self.parameter(k, path + ("when", k)), self.regex(v, path + ("when", k)))
                     for k, v in d.get("when", {}).items())
        cs = tuple(self.constraint(c, path + ("constraints", i)) for i, c in enumerate(d["constraints"]))
        for i, c in enumerate(cs):
            if c.id not in base_ids:
                raise self.fail(f"version '{d['name']}' constrains unknown constraint id '{c.id}'",
                                path + ("constraints", i, "id"), f"use one of: {', '.join(sorted(base_ids))}")
        return Version(d["name"], cs, when, d.get("until"), d.get("rationale"), d.get("source"))

    def longitudinal(self, data: dict[str, Any]) -> Longitudinal | None:
        """The per-subject rules across visits, or None when the protocol declares none."""
        d = data.get("longitudinal")
        if d is None:
            return None
        path: Path_ = ("longitudinal", "rules")
        rules = tuple(LongitudinalRule(r["id"], self.parameter(r["parameter"], path + (i, "parameter")), r["severity"],
                                       Tolerance.from_spec(r.get("tolerance")), r.get("rationale"), r.get("source"))
                      for i, r in enumerate(d.get("rules", [])))
        self.check_unique([r.id for r in rules], path, "longitudinal rule id")
        return Longitudinal(rules, bool(d.get("must_match", True)), d.get("rationale"), d.get("source"))

    def consistency(self, d: dict[str, Any], path: Path_) -> Consistency:
        params: list[str] = []
        for i, p in enumerate(d["parameters"]):
            if p == "Geometry":
                params.extend(GEOMETRY_PARAMETERS)
            else:
                params.append(self.parameter(p, path + ("parameters", i)))
        with_ = d.get("with", ())
        with_ = (with_,) if isinstance(with_, str) else tuple(with_)
        return Consistency(d["id"], with_, tuple(dict.fromkeys(params)), d["severity"],
                           Tolerance.from_spec(d.get("tolerance")),
                           d.get("rationale"), d.get("source"), d.get("advice"))

    def sequence(self, d: dict[str, Any], path: Path_, defaults: list[Constraint]) -> Sequence:
        removed = set(d.get("remove_defaults", []))
        own = [self.constraint(c, path + ("constraints", i)) for i, c in enumerate(d.get("constraints", []))]
        self.check_unique([c.id for c in own], path + ("constraints",), "constraint id")
        own_ids = {c.id for c in own}
        merged = [c for c in defaults if c.id not in removed and c.id not in own_ids] + own
        base_ids = {c.id for c in merged}
        variants = tuple(self.variant(v, path + ("variants", i), base_ids)
                         for i, v in enumerate(d.get("variants", [])))
        rules = tuple(self.consistency(c, path + ("consistency", i)) for i, c in enumerate(d.get("consistency", [])))
        self.check_unique([r.id for r in rules], path + ("consistency",), "consistency rule id")
        for i, r in enumerate(rules):
            if r.id in own_ids:
                raise self.fail(f"consistency rule id '{r.id}' is also a constraint id", path + ("consistency", i),
                                "give the rule an id no constraint of this sequence uses")
        ids = base_ids | {c.id for v in variants for c in v.constraints}
        versions = tuple(self.version(v, path + ("versions", i), ids) for i, v in enumerate(d.get("versions", [])))
        return Sequence(id=d["id"], requirement=d["requirement"], identify=self.identify(d["identify"],
                        path + ("identify",)), label=d.get("label", ""), description=d.get("description", ""),
                        constraints=tuple(merged), variants=variants, consistency=rules, versions=versions)
