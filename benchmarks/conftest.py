"""Benchmark helpers.

Speed is judged by *ratios measured in the same run* (kernel vs its NumPy reference), never by
absolute times. `make bench` runs the full suite with pytest-benchmark; `make test` (and so CI)
runs it with HEA_FAST_BENCH_QUICK=1: small sizes, and each recorded ratio must stay above a third
of its value in benchmarks/baselines/*.json (CI machines are shared and noisy). A test whose ratio
falls below that floor is measured again, at most twice (`make test` passes pytest-rerunfailures
`--reruns 2 --only-rerun "fell below a third of the baseline"`): a burst of load on the shared
machine passes, a regression fails all three; a failed correctness assertion is never rerun.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

BASELINES = Path(__file__).with_name("baselines")  # one JSON per topic: {ratio_name: value}
QUICK = bool(os.environ.get("HEA_FAST_BENCH_QUICK"))


def best_time(fn, repeat: int = 5, min_time: float = 0.05, clock=time.perf_counter) -> float:
    """Best time of `fn()` over `repeat` rounds (each round repeats fn until min_time), on `clock`:
    wall time by default, ``time.process_time`` for CPU time (steadier on a loaded machine when
    comparing one-thread runs)."""
    best = float("inf")
    for _ in range(repeat):
        n = 0
        t0 = clock()
        while True:
            fn()
            n += 1
            dt = clock() - t0
            if dt >= min_time:
                break
        best = min(best, dt / n)
    return best


def _baselines() -> dict:
    merged: dict = {}
    for f in sorted(BASELINES.glob("*.json")):
        merged.update(json.loads(f.read_text()))
    return merged


@pytest.fixture
def quick() -> bool:
    """True in CI's quick mode: use small problem sizes."""
    return QUICK


@pytest.fixture
def check_ratio(request):
    """check_ratio(name, ratio): record a same-run speed ratio; in quick mode fail when it drops
    below a third of the baseline value for `name`."""

    def _check(name: str, ratio: float) -> float:
        request.node.user_properties.append((name, ratio))
        print(f"\n[ratio] {name} = {ratio:.2f}")
        if QUICK:
            base = _baselines().get(name)
            if base is not None:
                assert ratio >= base / 3.0, (
                    f"speed ratio {name} = {ratio:.2f} fell below a third of the baseline {base:.2f}"
                )
        return ratio

    return _check


@pytest.fixture
def timer():
    """`best_time` as a fixture (benchmark modules cannot import conftest under importlib mode)."""
    return best_time


@pytest.fixture
def paired_best():
    """paired_best(fns, repeat, clock=time.perf_counter): best time of each of `fns`, called in
    turn `repeat` times (alternating, so a burst of load on the shared machine hits all of them
    alike); ``clock=time.process_time`` for CPU time."""

    def _paired(fns, repeat: int, clock=time.perf_counter) -> list[float]:
        best = [float("inf")] * len(fns)
        for _ in range(repeat):
            for k, fn in enumerate(fns):
                t0 = clock()
                fn()
                best[k] = min(best[k], clock() - t0)
        return best

    return _paired


@pytest.fixture
def cpu_time():
    """cpu_time(fn, repeat=2): best process CPU time of single calls of `fn` (what other jobs on a
    shared machine disturb least; for one-thread ratios)."""

    def _cpu(fn, repeat: int = 2) -> float:
        return best_time(fn, repeat=repeat, min_time=0.0, clock=time.process_time)

    return _cpu


def _tests_conftest():
    # benchmarks share the tests' rule that missing shared data is a skip naming the file (the
    # hooks live in tests/conftest.py; under --import-mode=importlib it is loaded by path)
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_hea_fast_tests_conftest", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_tc = _tests_conftest()
pytest_runtest_call, pytest_fixture_setup = _tc.pytest_runtest_call, _tc.pytest_fixture_setup
