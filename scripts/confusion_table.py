"""Print the confusion table (BIDS suffix x matched sequence) of the built-in protocols over BIDS datasets.

    python scripts/confusion_table.py ../shared/data/bids/bids-examples ../shared/data/bids/ds000030 ...

A folder holding no dataset_description.json is read as a folder of datasets (bids-examples). BOLD rows are
split into task-rest and other tasks. Each protocol's summary gives the share of T1w, FLAIR and task-rest BOLD
matched to their sequence, DWI matched to anything but a diffusion sequence, and labelled images matched to a
sequence their suffix contradicts (COMPATIBLE below, independent of the protocols' declarations; must be 0).
"""
from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

from protocheck.errors import ProtocheckError
from protocheck.protocol import load_protocol
from protocheck.protocol.matching import match_exam
from protocheck.sources import scan

RIGHT = {
    "als-brain-3t": {"T1w": {"t1w"}, "FLAIR": {"flair"}, "bold(task-rest)": {"rsfmri"}, "dwi": {"dti"}},
    "als-spinal-cord": {"T1w": {"t1w"}, "dwi": {"dwi", "dwi-b0"}},
}
DIFFUSION = {"dti", "dwi", "dwi-b0"}
# What each sequence may be given, stated here independently of the protocols' own `identify.bids` (so the check
# is not circular): a labelled image matched outside this is a contradiction.
COMPATIBLE = {
    "t1w": {"T1w"}, "flair": {"FLAIR"}, "dti": {"dwi"}, "rsfmri": {"bold"}, "mrs": {"svs"},
    "swi": {"T2starw", "T2star", "swi", "SWImagandphase", "MEGRE"}, "t2w": {"T2w"}, "dwi": {"dwi"},
    "dwi-b0": {"dwi"}, "gre-mt1": {"MTS"}, "gre-mt0": {"MTS"}, "gre-t1w": {"MTS"},
    "gre-me": {"T2star", "T2starw", "MEGRE"},
}


def datasets(paths: list[str]) -> list[Path]:
    """Each dataset root: the path itself, or its sub-folders holding a dataset_description.json."""
    out = []
    for p in map(Path, paths):
        if (p / "dataset_description.json").is_file():
            out.append(p)
        else:
            out.extend(sorted(d for d in p.iterdir() if (d / "dataset_description.json").is_file()))
    return out


def row_of(acq) -> str | None:
    suffix = acq.get("BIDSSuffix")
    if suffix == "bold":
        task = "rest" in (acq.get("BIDSName") or "").lower().split("task-")[-1].split("_")[0]
        return "bold(task-rest)" if task else "bold(other task)"
    return suffix


def table(roots: list[Path], protocol_name: str) -> tuple[dict, list[str]]:
    protocol = load_protocol(protocol_name)
    counts: dict[str, Counter] = defaultdict(Counter)
    contradictions: list[str] = []
    for root in roots:
        try:
            result = scan(str(root))
        except ProtocheckError:
            continue   # no MR exam (EEG, MEG, PET...) or a derivative dataset: exit 2 by design
        for exam in result.exams:
            by_key = {a.key: a for a in exam.acquisitions}
            matches, unmatched, support = match_exam(exam, protocol)
            for info, col in [(m, m.sequence) for m in matches] + [(m, "(unmatched)") for m in unmatched] + \
                    [(m, "(support)") for m in support]:
                acq = by_key[info.series]
                row = row_of(acq)
                if row is None:
                    continue
                counts[row][col] += 1
                ok = COMPATIBLE.get(col)
                if ok is not None and acq.get("BIDSSuffix") not in ok:
                    contradictions.append(f"{root.name}/{info.series} -> {col}")
    return counts, contradictions


def render(name: str, counts: dict[str, Counter], contradictions: list[str]) -> str:
    cols = sorted({c for r in counts.values() for c in r}, key=lambda c: (c.startswith("("), c))
    width = max([len(r) for r in counts] + [10])
    lines = [f"## {name}", "", "| suffix".ljust(width + 2) + " | " + " | ".join(cols) + " |",
             "|" + "-" * (width + 2) + "|" + "|".join("-" * (len(c) + 2) for c in cols) + "|"]
    for row in sorted(counts, key=lambda r: -sum(counts[r].values())):
        cells = [str(counts[row].get(c, "")).rjust(len(c)) for c in cols]
        lines.append(f"| {row.ljust(width)} | " + " | ".join(cells) + " |")
    lines.append("")
    for row, right in RIGHT[name].items():
        total = sum(counts.get(row, Counter()).values())
        good = sum(counts.get(row, Counter())[c] for c in right)
        pct = f"{100 * good / total:.1f} %" if total else "n/a"
        lines.append(f"- {row} matched to {'/'.join(sorted(right))}: {good}/{total} ({pct})")
    dwi = counts.get("dwi", Counter())
    other = sum(n for c, n in dwi.items() if c not in DIFFUSION and not c.startswith("("))
    lines.append(f"- dwi matched to a non-diffusion sequence: {other}")
    lines.append(f"- labelled images matched to a sequence their suffix contradicts: {len(contradictions)}")
    lines.extend(f"    {c}" for c in contradictions[:20])
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    roots = datasets(argv)
    print(f"{len(roots)} datasets")
    for name in ("als-brain-3t", "als-spinal-cord"):
        counts, contradictions = table(roots, name)
        print(render(name, counts, contradictions))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
