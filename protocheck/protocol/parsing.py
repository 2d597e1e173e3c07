"""Safe parsing of protocol text: YAML (libyaml's CSafeLoader when available, else SafeLoader) or JSON.

No ``!!python/...`` tag is honoured (a refused tag is an error naming its line) and duplicate keys are refused.
The map JSON path -> line that error messages need is composed only when one is reported; any problem the C
loader meets is re-read by the pure ``SafeLoader``, so every message is the same whichever loader parsed.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import yaml

from protocheck import jsonsafe
from protocheck.errors import ProtocolError

Path_ = tuple[Any, ...]
Lines = Callable[[], dict[Path_, int]]      # the line map, composed on first use (only errors need it)
_CSafeLoader = getattr(yaml, "CSafeLoader", None)   # libyaml: same safe constructor, C parser


MAX_PROTOCOL_BYTES = 4 * 1024 * 1024    # the built-in protocols are 30 KB
MAX_DEPTH = 64                          # a protocol nests about 8 levels
MAX_NODES = 200_000                     # values once aliases are expanded (the built-ins: about 1,700)


def parse(text: str, filename: str) -> tuple[Any, Lines]:
    """Parse YAML (or JSON) safely; return the data and a (lazy) map JSON path -> 1-based line.

    Bounded: a file over MAX_PROTOCOL_BYTES, YAML aliases expanding past MAX_NODES values (a 445-byte alias
    bomb expands to gigabytes when walked) and nesting deeper than MAX_DEPTH are refused with their place."""
    if len(text) > MAX_PROTOCOL_BYTES:
        raise ProtocolError(f"the file is larger than {MAX_PROTOCOL_BYTES // (1024 * 1024)} MiB", path=filename,
                            fix="a protocol is a few kilobytes of YAML or JSON: check the file")
    try:
        data, lines = _parse(text, filename)
    except RecursionError:
        raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels", path=filename,
                            fix="a protocol nests only a few levels: check the file") from None
    _check_depth(data, filename)
    return data, lines


def _parse(text: str, filename: str) -> tuple[Any, Lines]:
    if filename.lower().endswith(".json"):
        data, lines = _parse_json(text, filename)
        return data, lambda: lines
    _bound_aliases(text, filename)
    if _CSafeLoader is not None:
        fast = _parse_c(text)
        if fast is not None:
            return fast[0], _lazy_lines(text, filename)
    data, lines = parse_pure(text, filename)   # also the reporter: the same messages as ever
    return data, lambda: lines


def _bound_aliases(text: str, filename: str) -> None:
    """ProtocolError when YAML aliases expand the document past MAX_NODES values (a 445-byte alias bomb
    expands to gigabytes when walked); anchors that merely share a block, as the built-ins do, are fine."""
    loader = (_CSafeLoader or yaml.SafeLoader)(text)
    try:
        first_alias = None
        while loader.check_token():
            token = loader.get_token()
            if isinstance(token, yaml.AliasToken):
                first_alias = token.start_mark
                break
        if first_alias is None:
            return
        loader = (_CSafeLoader or yaml.SafeLoader)(text)
        node = loader.get_single_node()
    except yaml.YAMLError:
        return   # a syntax error: the parser reports it with its place
    finally:
        loader.dispose()
    if node is not None and _expanded_size(node) > MAX_NODES:
        raise ProtocolError(f"YAML aliases (*) expand the document past {MAX_NODES:,} values (an alias bomb)",
                            path=filename, where=_mark_text(first_alias),
                            fix="write the repeated part out, or reuse a block only a few times")


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has once every alias is expanded (each node's size computed once)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        kids = [k for pair in node.value for k in pair] if isinstance(node, yaml.MappingNode) else \
            node.value if isinstance(node, yaml.SequenceNode) else []
        if done:
            sizes[id(node)] = min(1 + sum(sizes[id(k)] for k in kids), MAX_NODES + 1)
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
    return sizes[id(root)]


def _check_depth(data: Any, filename: str) -> None:
    """ProtocolError when the data nests deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProtocolError(f"nested deeper than {MAX_DEPTH} levels", path=filename,
                                fix="a protocol nests only a few levels: check the file")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _parse_json(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """JSON data, and its line map (duplicate keys are refused as in YAML)."""
    try:
        data = jsonsafe.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc.msg}", path=filename,
                            where=f"line {exc.lineno}, column {exc.colno}",
                            fix="correct the JSON syntax at that place") from None
    except ValueError as exc:
        raise ProtocolError(f"the JSON cannot be used: {exc}", path=filename,
                            fix="a protocol is plain data a few levels deep: check the file") from None
    try:
        return data, _line_map(yaml.compose(text, Loader=yaml.SafeLoader), filename)
    except yaml.YAMLError:
        return data, {}


def _parse_c(text: str) -> tuple[Any] | None:
    """(data,) read with libyaml, or None on any problem (a YAML error, a refused tag, a duplicate key)."""
    loader = _CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None or _has_duplicate_key(node):
            return None
        return (loader.construct_document(node),)
    except Exception:  # noqa: BLE001 - the pure SafeLoader re-reads the text and words the error
        return None
    finally:
        loader.dispose()


def _has_duplicate_key(root: yaml.Node) -> bool:
    """Whether any mapping of the composed tree repeats a key (the loaders would silently keep the last)."""
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            keys = [k.value for k, _ in n.value]
            if len(set(keys)) != len(keys):
                return True
            stack.extend(v for _, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return False


def _lazy_lines(text: str, filename: str) -> Lines:
    """The line map of valid YAML, composed by the pure SafeLoader on first use."""
    memo: list[dict[Path_, int]] = []

    def lines() -> dict[Path_, int]:
        if not memo:
            try:
                memo.append(_line_map(yaml.compose(text, Loader=yaml.SafeLoader), filename))
            except yaml.YAMLError:
                memo.append({})
        return memo[0]
    return lines


def parse_pure(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Parse YAML with the pure-Python SafeLoader; every problem becomes a ProtocolError naming the line."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _line_map(node, filename)
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ProtocolError(f"refused YAML tag: {exc.problem}; protocol files may contain only plain data",
                            path=filename, where=_mark_text(mark),
                            fix="remove the '!!' tag and write the value as plain text, number, list or mapping"
                            ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError(f"invalid YAML: {problem}", path=filename, where=_mark_text(mark),
                            fix="correct the YAML syntax (indentation, quotes, colons) at that place") from None
    finally:
        loader.dispose()
    return data, lines


def _mark_text(mark: Any) -> str | None:
    if mark is None:
        return None
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _line_map(node: yaml.Node, filename: str) -> dict[Path_, int]:
    """Walk the composed YAML tree: path -> line; duplicate mapping keys are refused."""
    lines: dict[Path_, int] = {}

    def walk(n: yaml.Node, path: Path_) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in n.value:
                key = key_node.value
                if key in seen:
                    raise ProtocolError(f"duplicate key '{key}'", path=filename,
                                        where=f"line {key_node.start_mark.line + 1}",
                                        fix="keep only one of the entries with this key")
                seen.add(key)
                lines[path + (key,)] = key_node.start_mark.line + 1
                walk(value_node, path + (key,))
                lines[path + (key,)] = key_node.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, path + (i,))

    walk(node, ())
    return lines


def where(path: Path_, lines: dict[Path_, int]) -> str:
    """'line N (at sequences[0].constraints[2])' or just the JSON path when no line is known."""
    json_path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top level)"
    for i in range(len(path), -1, -1):
        if path[:i] in lines:
            return f"line {lines[path[:i]]} (at {json_path})"
    return f"at {json_path}"
