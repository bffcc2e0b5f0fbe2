"""Shared pytest fixtures. Tests import the *installed* hea_fast (pytest runs with
--import-mode=importlib, and as a script so the source tree is not on sys.path), or the source tree
with an in-place build (`scripts/dev_build.sh`, then `PYTHONPATH=. pytest`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# CUDA kernels write into NaN-filled buffers under test, so a parity test fails on any element a
# kernel leaves unwritten (hea_fast._backend.cuda_empty)
os.environ.setdefault("HEA_FAST_POISON", "1")


def _data_home() -> Path | None:
    env = os.environ.get("HEA_FAST_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    return here.resolve() if here.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data home; tests needing it skip with a clear reason when it is absent."""
    home = _data_home()
    if home is None or not home.is_dir():
        pytest.skip("shared datasets not found: set HEA_FAST_DATA to the data home (../shared/data)")
    os.environ.setdefault("HEA_FAST_DATA", str(home))
    return home


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def pytest_collection_modifyitems(config, items):
    # GPU tests skip cleanly (with the reason) when no CUDA GPU is visible.
    gpu_items = [it for it in items if "gpu" in it.keywords]
    if not gpu_items:
        return
    from hea_fast._backend import cuda_available, cuda_status

    if not cuda_available():
        skip = pytest.mark.skip(reason=f"no CUDA GPU: {cuda_status()}")
        for it in gpu_items:
            it.add_marker(skip)
