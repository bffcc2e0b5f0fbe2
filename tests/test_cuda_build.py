"""The CUDA module: built with every kernel family when CI asks for it, and absent or GPU-less
installs degrade to clear errors, never to a crash or a silent CPU fallback."""
from __future__ import annotations

import importlib
import os

import pytest

from hea_fast import _backend

# every kernel family of DESIGN.md has a CUDA entry point with these names in hea_fast._cuda
KERNELS = {
    "descriptors": ["descriptors"],
    "wbic": ["wbic_subsets"],
    "maresca_curtin": ["mc_sigma", "mc_tau0_deb", "mc_grid_sigma"],
    "lattice": ["DeviceLattice"],
    "pseudoimage": ["pseudo_images"],
    "masked_l0": ["masked_weight_forward", "masked_weight_backward", "prox_soft_threshold"],
    "screen": ["screen_mixture_scores"],
}


@pytest.mark.skipif(os.environ.get("HEA_FAST_EXPECT_CUDA") != "1",
                    reason="HEA_FAST_EXPECT_CUDA=1 not set (.ci/run sets it when nvcc is on PATH and builds with "
                           "HEA_FAST_CUDA=ON)")
def test_cuda_module_built_with_every_kernel_family():
    mod = importlib.import_module("hea_fast._cuda")  # loads without a GPU or driver
    missing = {fam: [n for n in names if not hasattr(mod, n)] for fam, names in KERNELS.items()}
    assert not any(missing.values()), f"kernels missing from hea_fast._cuda: {missing}"
    assert isinstance(mod.device_count(), int) and mod.device_count() >= 0


def test_device_resolution_reports_the_reason():
    status = _backend.cuda_status()
    assert isinstance(status, str) and status
    if _backend.cuda_available():
        assert _backend.resolve_device("auto") == "cuda"
    else:
        assert _backend.resolve_device("auto") == "cpu"
        with pytest.raises(RuntimeError, match="CUDA backend unavailable") as exc:
            _backend.resolve_device("cuda")
        assert status in str(exc.value)
    assert _backend.resolve_device(None) == "cpu"
    with pytest.raises(ValueError, match="'tpu'"):
        _backend.resolve_device("tpu")


def test_disable_switch(monkeypatch):
    _backend._load_cuda.cache_clear()
    try:
        monkeypatch.setenv("HEA_FAST_DISABLE_CUDA", "1")
        assert not _backend.cuda_available()
        assert "HEA_FAST_DISABLE_CUDA" in _backend.cuda_status()
    finally:
        monkeypatch.delenv("HEA_FAST_DISABLE_CUDA")
        _backend._load_cuda.cache_clear()


def test_poisoned_output_buffers(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("HEA_FAST_POISON", "1")
    b = _backend.cuda_empty((3, 4), torch.float32, "cpu")
    assert b.shape == (3, 4) and b.dtype == torch.float32 and torch.isnan(b).all()
    assert _backend.cuda_empty(5, torch.int32, "cpu").dtype == torch.int32  # integers: plain empty
    monkeypatch.setenv("HEA_FAST_POISON", "0")
    assert _backend.cuda_empty((2,), torch.float64, "cpu").shape == (2,)
