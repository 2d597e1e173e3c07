"""Diffusion sample record and per-series diffusion summaries (b-values, shells, directions)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from protocheck.model import Acquisition


@dataclass(frozen=True)
class DiffusionSample:
    """One file's or frame's diffusion encoding: b-value, unit vector and directionality."""

    bvalue: float | None = None
    vector: tuple[float, float, float] | None = None
    directionality: str | None = None  # DIRECTIONAL / ISOTROPIC / NONE / BMATRIX


def needs_vendor(sample: DiffusionSample | None) -> bool:
    """Whether a public sample falls short (no sample, no b-value, neither vector nor directionality), so the
    vendor's private tags are read: the one rule of every reader (files, frames, the Philips stop check)."""
    return sample is None or sample.bvalue is None or (sample.vector is None and sample.directionality is None)


def _round_b(b: float) -> float | int:
    r = round(b, 1)
    return int(r) if float(r).is_integer() else r


def sample_key(s: DiffusionSample) -> tuple[float | None, tuple[float, float, float] | None, str | None]:
    """A hashable key for one diffusion state (b rounded to 0.1, vector rounded to 1e-4)."""
    b = None if s.bvalue is None else round(float(s.bvalue), 1)
    v = None if s.vector is None else tuple(round(float(c), 4) for c in s.vector)
    return (b, v, s.directionality)  # type: ignore[return-value]


class DiffusionAggregate:
    """Per-series fold of diffusion samples: count and first acquisition order of each (b, vector) state."""

    __slots__ = ("states",)

    def __init__(self) -> None:
        self.states: dict[tuple, list[float]] = {}   # key -> [count, first order]

    def add(self, sample: DiffusionSample, order: float, count: int = 1) -> None:
        """Count ``count`` images (slices, mosaic files or frames) with this diffusion state."""
        self._count(sample_key(sample), order, count)

    def absorb(self, other: "DiffusionAggregate") -> None:
        """Add another aggregate of the same series (its states as if added here one by one, in its order)."""
        for key, (count, order) in other.states.items():
            self._count(key, order, count)

    def _count(self, key: tuple, order: float, count: float) -> None:
        st = self.states.get(key)
        if st is None:
            self.states[key] = [count, order]
        else:
            st[0] += count
            if order < st[1]:
                st[1] = order

    def fill_untagged(self, n_images: int, sample: DiffusionSample) -> None:
        """Count the images of the series that carried no diffusion sample as ``sample`` (first in order), when
        the vendor documents what such images are (Canon/Toshiba: no b-value means b=0)."""
        missing = n_images - int(sum(st[0] for st in self.states.values()))
        if missing > 0 and any((k[0] or 0) >= 1 for k in self.states):
            self.add(sample, -1.0, missing)

    def __bool__(self) -> bool:
        return bool(self.states)

    def volumes(self, images_per_volume: int) -> list[DiffusionSample]:
        """One sample per volume, in acquisition order (states ordered by first appearance)."""
        per = max(1, images_per_volume)
        out: list[DiffusionSample] = []
        for key, (count, _order) in sorted(self.states.items(), key=lambda kv: kv[1][1]):
            b, v, d = key
            n = max(1, int(round(count / per)))
            out.extend([DiffusionSample(b, v, d)] * n)
        return out


def shell_of(b: float) -> int:
    """Shell of a b-value: rounded to the nearest 50; b < 50 counts as b0 (0)."""
    return 0 if b < 50 else int(round(b / 50.0) * 50)


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float] | None:
    """The unit axis of a gradient vector, sign-normalised: v and -v encode the same tensor direction."""
    n = (v[0] ** 2 + v[1] ** 2 + v[2] ** 2) ** 0.5
    if n < 1e-6:
        return None
    u = [round(c / n, 3) + 0.0 for c in v]
    lead = next((c for c in u if c != 0.0), 0.0)
    if lead < 0:
        u = [-c + 0.0 for c in u]
    return (u[0], u[1], u[2])


def summarize(volumes: list[DiffusionSample], acq: Acquisition, source: str) -> None:
    """Set DiffusionBValues, DiffusionShells, DiffusionDirectionsPerShell, NumberOfB0Volumes on ``acq``."""
    if not volumes or all(s.bvalue is None for s in volumes):
        return
    # an isotropic/trace volume is derived, not acquired: dcm2niix drops it from the b-values (removeADC /
    # isPhilipsDerived for Philips' appended trace), as it is dropped from the direction counts below
    bvals = [_round_b(s.bvalue) if s.bvalue is not None else None for s in volumes
             if s.directionality != "ISOTROPIC"]
    acq.set("DiffusionBValues", bvals, source + "; isotropic/trace volumes excluded")
    shells: dict[int, set] = {}
    n_b0 = 0
    n_iso = 0
    all_dirs: set = set()
    for s in volumes:
        if s.bvalue is None:
            continue
        sh = shell_of(float(s.bvalue))
        if sh == 0:
            n_b0 += 1
            continue
        dirs = shells.setdefault(sh, set())
        if s.directionality in ("ISOTROPIC", "NONE") or s.vector is None:
            n_iso += 1
            continue
        u = _unit(s.vector)
        if u is None:
            n_iso += 1
            continue
        dirs.add(u)
        all_dirs.add(u)
    acq.set("DiffusionShells", sorted(shells), source + "; shells rounded to 50, b<50 is b0")
    acq.set("DiffusionDirectionsPerShell", {k: len(v) for k, v in sorted(shells.items())},
            source + "; distinct non-collinear directions per shell (v and -v count once)")
    acq.set("NumberOfB0Volumes", n_b0, source + "; volumes with b<50")
    acq.set("NumberOfDiffusionDirections", len(all_dirs), source + "; distinct non-collinear directions, b>=50")
    if n_iso:
        acq.note("diffusion-isotropic", f"{n_iso} isotropic/trace or vector-less diffusion volume(s) "
                 "excluded from the direction counts")
