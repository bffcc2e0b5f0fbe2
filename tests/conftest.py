"""Shared pytest fixtures. Tests import the *installed* hea_fast (pytest runs with
--import-mode=importlib, and as a script so the source tree is not on sys.path), or the source tree
with an in-place build (`scripts/dev_build.sh`, then `PYTHONPATH=. pytest`).

Without the shared data home the suite passes with skips: a test (or fixture) that needs a shared
dataset file the data home lacks is reported as *skipped*, its reason naming the file. Three ways in:
the `shared_data` fixture skips when the data home is absent or holds none of the registered
datasets; `hea_fast.datasets.DatasetNotFoundError` raised by a test or a fixture (a loader, `fetch`,
the released SSVAE weights) becomes a skip; so does a FileNotFoundError for a path inside the data
home (a test reading ``shared_data / "x.csv"`` from a partial data home). Every such reason starts
with `NO_DATA_PREFIX`, so ``pytest -rs`` lists them and a run with the full data home can check
there are none. Tests whose subject is the missing-file error catch it themselves
(``pytest.raises``), so they still run.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# CUDA kernels write into NaN-filled buffers under test, so a parity test fails on any element a
# kernel leaves unwritten (hea_fast._backend.cuda_empty)
os.environ.setdefault("HEA_FAST_POISON", "1")

#: Every skip for lack of shared data starts with this (see the module docstring).
NO_DATA_PREFIX = "shared data not available"


def _data_home() -> Path | None:
    env = os.environ.get("HEA_FAST_DATA", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    here = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    return here.resolve() if here.is_dir() else None


def _registered_datasets() -> set[str]:
    from hea_fast.datasets import FILES

    return {dataset for dataset, _ in FILES}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data home; tests needing it skip with a clear reason when it is absent."""
    home = _data_home()
    if home is None or not home.is_dir():
        pytest.skip(f"{NO_DATA_PREFIX}: no data home (HEA_FAST_DATA={os.environ.get('HEA_FAST_DATA', '')!r}, "
                    "../shared/data absent); set HEA_FAST_DATA to the shared data folder")
    datasets = sorted(_registered_datasets())
    if not any((home / d).is_dir() for d in datasets):
        pytest.skip(f"{NO_DATA_PREFIX}: data home {home} holds none of the registered datasets "
                    f"({', '.join(d + '/' for d in datasets)})")
    os.environ.setdefault("HEA_FAST_DATA", str(home))
    return home


def _no_data_reason(exc: BaseException) -> str | None:
    """The skip reason when `exc` says a shared data file is missing, else None."""
    from hea_fast.datasets import DatasetNotFoundError

    if isinstance(exc, DatasetNotFoundError):
        return f"{NO_DATA_PREFIX}: {exc}"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        home = _data_home()
        try:
            from hea_fast.datasets import data_home

            homes = {h for h in (home, data_home()) if h is not None}
            path = Path(exc.filename).resolve()
        except (OSError, ValueError):
            return None
        if any(path.is_relative_to(h) for h in homes):
            return f"{NO_DATA_PREFIX}: {path} not found in the data home"
    return None


def _skip_for(exc: FileNotFoundError) -> BaseException:
    """The skip (reported at the test's location) for a missing shared-data file, else `exc` itself."""
    reason = _no_data_reason(exc)
    if reason is None:
        return exc
    try:
        pytest.skip(reason)
    except pytest.skip.Exception as skip:
        skip._use_item_location = True  # report the test, not this hook or the fixture
        return skip
    raise AssertionError("pytest.skip returned")  # pragma: no cover


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    try:
        return (yield)
    except FileNotFoundError as exc:
        skip = _skip_for(exc)
        if skip is exc:
            raise
        raise skip from None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    try:
        return (yield)
    except FileNotFoundError as exc:
        skip = _skip_for(exc)
        if skip is exc:
            raise
        # pytest caches a fixture's exception and re-raises it for every later test using the fixture
        # (module/session scope) without calling this hook again: cache the skip instead
        cached = fixturedef.cached_result
        if cached is not None and cached[2] is not None and cached[2][0] is exc:
            fixturedef.cached_result = (None, cached[1], (skip, skip.__traceback__))
        raise skip from None


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch intra-op thread for a module of tiny models (threading only adds synchronisation:
    6x slower on the shared 2-core CI machine under load); use with
    ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


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


def make_two_cluster_data(n=360, seed=0):
    """Synthetic two-cluster logistic data: x0's sign decides the cluster, the clusters use x1, x2
    with opposite signs, x3 and x4 are noise. Returns (X (n, 5), y, cluster labels, anchors (2, 5))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    lab = (X[:, 0] < 0).astype(np.int64)
    eta = np.where(lab == 0, 2.0 * X[:, 1] - 2.0 * X[:, 2], -2.0 * X[:, 1] + 2.0 * X[:, 2])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    anchors = np.array([[2.0, 0, 0, 0, 0], [-2.0, 0, 0, 0, 0]])
    return X, y, lab, anchors


@pytest.fixture(scope="session")
def two_cluster_data():
    """`make_two_cluster_data` (the mixture tests' synthetic data) as a fixture."""
    return make_two_cluster_data


#: A small X-Yield CNN configuration (2 -> 3 -> 2 channels, 4 hidden units) for fast tests.
TINY_CNN = dict(channels=(2, 3, 2), hidden=4)


def make_pseudoimage_data(n, seed, scale=1.0):
    """n random 2x9x18 pseudo-images and a smooth target of them (torch tensors x (n, 2, 9, 18), y (n,)):
    scale * (3 * mean of channel 0 + pixel (1, 0, 0)). The X-Yield tests' synthetic data."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, 9, 18, generator=g)
    y = scale * (x[:, 0].mean((1, 2)) * 3 + x[:, 1, 0, 0])
    return x, y


@pytest.fixture(scope="session")
def pseudoimage_data():
    """`make_pseudoimage_data` as a fixture."""
    return make_pseudoimage_data
