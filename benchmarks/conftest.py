"""Benchmark helpers.

Speed is judged by *ratios measured in the same run* (kernel vs its NumPy reference), never by
absolute times. `make bench` runs the full suite with pytest-benchmark; `make test` (and so CI)
runs it with HEA_FAST_BENCH_QUICK=1: small sizes, and each recorded ratio must stay above a third
of its value in benchmarks/baselines/*.json (CI machines are shared and noisy).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

BASELINES = Path(__file__).with_name("baselines")  # one JSON per topic: {ratio_name: value}
QUICK = bool(os.environ.get("HEA_FAST_BENCH_QUICK"))


def best_time(fn, repeat: int = 5, min_time: float = 0.05) -> float:
    """Best wall time of `fn()` over `repeat` rounds (each round repeats fn until min_time)."""
    best = float("inf")
    for _ in range(repeat):
        n = 0
        t0 = time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
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
