"""Screening on the GPU (`cuda.screen_mixture_scores`, `screen(device=...)`): the device argument
without a GPU, and (skipped without one) every rank's CUDA score against the host-emulated row
functions and the CPU's top-k."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S
from hea_fast.features import featurize
from hea_fast.mixture.probit import ProbitModel
from hea_fast.screen.spaces import native_lattice

# the bounded, required/forbidden case of test_screen_fused.py's FUSED_CASES
PALETTE = ["Nb", "Ta", "Ti", "V", "Zr", "Hf", "Mo", "W", "Cr", "Al"]
PARTS = [(3, 2.0), (4, 5.0)]
BOUNDS = {"Al": (0.0, 0.2), "Nb": (0.1, 0.5)}


def test_device_argument_without_a_gpu():
    from hea_fast._backend import cuda_available

    space = S.CompositionSpace(["Ti", "Zr", "Nb", "Ta", "Mo"], 3, 10.0)
    cpu = S.screen(space, S.MixtureScorer(), top_k=10, progress=False)
    if not cuda_available():
        auto = S.screen(space, S.MixtureScorer(), top_k=10, progress=False, device="auto")
        pd.testing.assert_frame_equal(auto.top, cpu.top)
        with pytest.raises((RuntimeError, ImportError, ValueError), match="(?i)cuda"):
            S.screen(space, S.MixtureScorer(), top_k=10, progress=False, device="cuda")
    # a scorer the GPU path does not take falls back under "auto" and says so under "cuda"
    ds = S.DescriptorScorer(lambda d: d["VEC"].to_numpy(), descriptors=["VEC"])
    S.screen(space, ds, top_k=5, progress=False, device="auto")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        S.screen(space, ds, top_k=5, progress=False, device="tpu")


@pytest.mark.gpu
def test_cuda_screen_scores_match_the_host_reference():
    """Every rank's CUDA score equals the host-emulated row functions to rounding (the output
    buffer is NaN-poisoned under test, so an unwritten element fails), and screen(device='cuda')
    returns the CPU's top-k."""
    from hea_fast._backend import core

    space = S.CompositionSpace.from_parts(PALETTE, PARTS, bounds=BOUNDS, required=("Ti",), forbidden=("Cr",))
    rng = np.random.default_rng(11)
    names = ("delta", "dH_mix", "dS_mix", "Omega", "Lambda", "gamma")
    sample = featurize(S.CompositionSpace(["Nb", "Ta", "Ti", "V", "Zr", "Al"], 3, 20.0).decode(0, 100),
                       descriptors=list(names))
    random_model = S.MixtureScorer.from_probit(names, ProbitModel.random(rng, 3, len(names), (0, 2), (1, 3, 4, 5),
                                                                         X=sample), name="p")
    for sc in (S.MixtureScorer(), random_model):
        n = len(space)
        gpu = sc.cuda_screen(space, "default")
        got = gpu.scores(3, n).cpu().numpy()
        ref = core.screen_mixture_scores(native_lattice(space), 3, n, *sc.fused_args(space, "default"), method="row")
        assert (np.isfinite(got) != np.isfinite(ref)).sum() <= 1e-3 * len(ref)  # dH_mix or delta 0 on one side
        both = np.isfinite(got) & np.isfinite(ref)
        assert both.sum() > 0.9 * len(ref)
        np.testing.assert_allclose(got[both], ref[both], rtol=1e-12, atol=1e-14)
    sc = S.MixtureScorer(threshold=0.6)
    cpu = S.screen(space, sc, top_k=40, chunk_size=7_777, progress=False)
    cuda = S.screen(space, sc, top_k=40, chunk_size=7_777, progress=False, device="cuda")
    assert cuda.n_passing == cpu.n_passing
    np.testing.assert_array_equal(cuda.top["lattice_index"], cpu.top["lattice_index"])
    np.testing.assert_allclose(cuda.top["p_single"], cpu.top["p_single"], rtol=1e-12)
