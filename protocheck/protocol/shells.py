"""Which diffusion shell a sequence's rules judge: the non-zero shell nearest the protocol's b-value.

The direction count (``min_count``) and the b-value rule (``PrimaryShell``) of one sequence judge the same shell,
so a series gets one coherent judgement per shell: a 1000/2000 multi-shell is judged at b=1000, a b=1500 single
shell gets a b-value finding and a direction count there, never "no shell at b=1000" beside a b-value warning.
"""

from __future__ import annotations

from typing import Any

from protocheck.checks.results import Finding, Status
from protocheck.model import Acquisition
from protocheck.protocol.model import Constraint, Sequence
from protocheck.protocol.rules import _cap, _is_num, _num, _verdict, fmt_number, severity


def reference_shell(sequence: Sequence) -> float | None:
    """The b-value the sequence counts directions at (its first ``min_count`` constraint's shell)."""
    return next((float(c.shell) for c in sequence.constraints if c.kind == "min_count" and c.shell), None)


def nearest_shell(per_shell: Any, shell: float) -> float | None:
    """The non-zero shell of ``{b: directions}`` nearest ``shell`` (the larger count on a tie)."""
    if not isinstance(per_shell, dict):
        return None
    shells = [(_num(b), n) for b, n in per_shell.items() if _is_num(_num(b)) and _num(b) > 0 and _is_num(n)]
    if not shells:
        return None
    return min(shells, key=lambda bn: (abs(bn[0] - shell), -bn[1]))[0]


def judged_shell(acq: Acquisition, sequence: Sequence, value: Any, prov: str | None) -> tuple[Any, str | None]:
    """The b-value rule judges the shell the direction count is judged at: the one nearest the protocol's
    b-value, so a 1000/2000 multi-shell series is judged at b=1000, once, coherently."""
    ref = reference_shell(sequence)
    near = nearest_shell(acq.get("DiffusionDirectionsPerShell"), ref) if ref is not None else None
    if near is None:
        return value, prov
    return near, f"derived: the shell nearest b={fmt_number(ref)} (DiffusionDirectionsPerShell)"


def min_count(c: Constraint, value: Any, finding: Finding, title: str) -> Finding:
    """Directions at a shell: the count of the shell nearest ``c.shell``. A shell outside shell_tolerance is
    still the one judged (its b-value is the b-value rule's to judge): one judgement per shell, never a
    b-value warning and 'no shell' for the same shell."""
    sev = severity(c.severity)
    shell = float(c.shell or 0)
    tol = c.shell_tolerance if c.shell_tolerance is not None else 0.1 * shell
    near = nearest_shell(value, shell)
    if near is None:
        if isinstance(value, dict):   # b=0 only: there is no diffusion-weighted shell to count
            finding.found = f"no diffusion-weighted shell (shells: {', '.join(map(str, value)) or 'none'})"
            finding.status = Status.FAIL
            finding.message = (f"{title}: {finding.found}, protocol requires at least {c.value} "
                               f"at b={fmt_number(shell)}: {_verdict(False, sev)}")
            return finding
        finding.status, finding.severity = Status.CANNOT_VERIFY, _cap(sev)
        finding.message = f"{title}: directions per shell could not be read; cannot verify {finding.expected}"
        return finding
    count = max(int(n) for b, n in value.items() if _num(b) == near)
    finding.found = f"{count} directions at b={fmt_number(near)}"
    if abs(near - shell) > tol + 1e-9:
        finding.found += f" (the shell nearest b={fmt_number(shell)})"
    ok = count >= int(c.value)
    finding.status = Status.PASS if ok else Status.FAIL
    finding.message = (f"{title}: {finding.found}, protocol requires at least {c.value} "
                       f"at b={fmt_number(shell)}: {_verdict(ok, sev)}")
    return finding
