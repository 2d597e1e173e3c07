"""DiffusionDirectionsPerShell counts non-collinear directions: v and -v are one tensor direction."""
from __future__ import annotations

from protocheck.model import Acquisition
from protocheck.sources.dicom.diffusion import DiffusionSample, summarize


def _dirs(vectors: list[tuple[float, float, float]], b: float = 1000.0) -> Acquisition:
    acq = Acquisition("x")
    vols = [DiffusionSample(0.0, None, "NONE")] + [DiffusionSample(b, v, "DIRECTIONAL") for v in vectors]
    summarize(vols, acq, "test")
    return acq


def test_opposite_vectors_are_one_direction() -> None:
    acq = _dirs([(1, 0, 0), (-1, 0, 0), (0, 0.6, 0.8), (0, -0.6, -0.8), (0, -1, 0)])
    assert acq.get("DiffusionDirectionsPerShell") == {1000: 3}
    assert acq.get("NumberOfDiffusionDirections") == 3


def test_leading_zero_components_and_scaling() -> None:
    """Sign is fixed by the first non-zero component; vector length does not matter."""
    acq = _dirs([(0, 0, 2), (0, 0, -1), (0.0, -0.0, 1.0), (0.3, -0.4, 0), (-0.6, 0.8, 0)])
    assert acq.get("DiffusionDirectionsPerShell") == {1000: 2}


def test_distinct_non_collinear_directions_kept() -> None:
    acq = _dirs([(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.707, 0.707, 0), (0.707, -0.707, 0)])
    assert acq.get("DiffusionDirectionsPerShell") == {1000: 5}
