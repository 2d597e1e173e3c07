"""diffusion.summarize / DiffusionAggregate on synthetic samples (shell rounding, isotropic exclusion)."""
from __future__ import annotations

from protocheck.model import Acquisition
from protocheck.sources.dicom.diffusion import DiffusionAggregate, DiffusionSample, summarize


def test_shells_directions_b0_and_isotropic():
    agg = DiffusionAggregate()
    agg.add(DiffusionSample(0.0, None, "NONE"), 0, 10)              # 10 slices = 1 volume
    for i, v in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1)]):
        agg.add(DiffusionSample(995.0, v, "DIRECTIONAL"), i + 1, 10)
    agg.add(DiffusionSample(2010.0, (0, 2, 0), "DIRECTIONAL"), 5, 10)
    agg.add(DiffusionSample(1000.0, None, "ISOTROPIC"), 6, 10)
    agg.add(DiffusionSample(30.0, (1, 0, 0), "DIRECTIONAL"), 7, 10)   # b<50 counts as b0
    acq = Acquisition("x")
    summarize(agg.volumes(10), acq, "test")
    assert acq.get("DiffusionBValues") == [0, 995, 995, 995, 2010, 30]   # the isotropic trace volume is derived
    assert acq.get("DiffusionShells") == [1000, 2000]
    assert acq.get("DiffusionDirectionsPerShell") == {1000: 3, 2000: 1}
    assert acq.get("NumberOfB0Volumes") == 2
    assert any(n.code == "diffusion-isotropic" for n in acq.notes)


def test_no_diffusion_sets_nothing():
    acq = Acquisition("x")
    summarize([], acq, "test")
    assert acq.get("DiffusionBValues") is None
