"""Print every rule of the built-in protocols as a Markdown table (sequence, parameter, value, tier, must-match,
source, evidence tag), for review by an MRI physicist: ``python scripts/rule_table.py [protocol ...]``."""

from __future__ import annotations

import re
import sys
from typing import Any, Iterator

from protocheck.protocol import load_protocol
from protocheck.protocol.loader import list_builtin_protocols
from protocheck.protocol.model import Constraint, Protocol, cited_source_ids
from protocheck.protocol.rules import expected_text

TIERS = {"error": "unusable (error)", "warning": "off nominal (warning)", "info": "info"}
HEADER = ("| protocol | sequence | scope | rule | parameter | value | tier | must-match | source | evidence |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def evidence(protocol: Protocol, source: str | None) -> str:
    """The evidence tags a rule rests on: those written in its source, else those of the sources it cites."""
    tags = re.findall(r"\[(SRC|MEM|SUG)\]", source or "")
    if not tags:
        tags = [s.evidence for s in (protocol.source(i) for i in cited_source_ids(source)) if s and s.evidence]
    return "/".join(dict.fromkeys(tags)) or "—"


def _cell(text: Any) -> str:
    return str(text if text not in (None, "") else "—").replace("|", "\\|").replace("\n", " ")


def _row(p: Protocol, seq: str, scope: str, c: Constraint) -> str:
    match = {"vendor": "within vendor"}.get(c.match_scope, "all sites") if c.must_match else ""
    cells = (p.name, seq, scope, c.id, c.parameter, expected_text(c), TIERS[c.severity], match, c.source,
             evidence(p, c.source))
    return "| " + " | ".join(_cell(x) for x in cells) + " |"


def rows(p: Protocol) -> Iterator[str]:
    """One Markdown row per constraint, variant change, accepted version, cross-series and longitudinal rule."""
    defaults = {d["id"] for d in p.document.get("defaults", {}).get("constraints", [])}
    shown: set[str] = set()
    for s in p.sequences:
        for c in s.constraints:
            if c.id in defaults:
                if c.id not in shown:
                    shown.add(c.id)
                    yield _row(p, "(every sequence)", "default", c)
                continue
            yield _row(p, s.id, "base", c)
        for v in s.variants:
            for c in v.constraints:
                yield _row(p, s.id, f"variant {v.name}", c)
            for rid in v.remove:
                yield "| " + " | ".join(_cell(x) for x in (p.name, s.id, f"variant {v.name}", rid, "", "removed",
                                                            "", "", "", "")) + " |"
        for ver in s.versions:
            for c in ver.constraints:
                yield _row(p, s.id, f"accepted version {ver.name} (info)", c)
        for r in s.consistency:
            cells = (p.name, s.id, "MT/series pair" if r.with_ else "repeats", r.id, ", ".join(r.parameters),
                     "equal to " + ", ".join(r.with_ or ("first series",)), TIERS[r.severity], "", r.source,
                     evidence(p, r.source))
            yield "| " + " | ".join(_cell(x) for x in cells) + " |"
    if p.longitudinal:
        for r in p.longitudinal.rules:
            cells = (p.name, "(subject across visits)", "longitudinal", r.id, r.parameter, "same as the visit before",
                     TIERS[r.severity], "", r.source, evidence(p, r.source))
            yield "| " + " | ".join(_cell(x) for x in cells) + " |"


def main(names: list[str]) -> int:
    print(HEADER)
    for name in names or list_builtin_protocols():
        for line in rows(load_protocol(name)):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
