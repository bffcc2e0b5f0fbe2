"""Smoke suite for an installed hea_fast wheel: parse -> featurize -> screen -> phase predict.

Run it with the interpreter of the environment the wheel was installed into, from a directory
outside the source tree (`make wheel-check` and cibuildwheel's test-command do):

    python scripts/wheel_smoke.py [--no-extras]

It refuses to test a source checkout (the package must come from site-packages), checks every
result against an independent value (closed forms from the bundled element table, a brute-force
enumeration of the lattice, the classifier's own predictions), checks the wheel carries its data
(element tables, the bundled phase model, dataset metadata) and typing stubs, and that the
`hea-fast` entry point starts. With --no-extras it also checks the light core: torch, pyro,
matplotlib and dask are absent and the features that need them say which extra to install.
Exits 1 on the first failure (printing it), 0 when all pass. Needs only the core dependencies.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import math
import os
import subprocess
import sys
import time
from pathlib import Path

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def fail(msg: str):
    raise AssertionError(msg)


def close(a, b, tol=1e-9) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


@check
def installed_not_source():
    import hea_fast

    pkg = Path(hea_fast.__file__).resolve().parent
    if (pkg.parent / "pyproject.toml").exists() or (pkg.parent / "CMakeLists.txt").exists():
        fail(f"hea_fast was imported from a source tree ({pkg}); run from outside the checkout")
    if Path.cwd().resolve() == pkg.parent:
        fail("run the smoke suite from a directory other than site-packages")
    from hea_fast import _core

    if _core.__version__ != hea_fast.__version__:
        fail(f"compiled core {_core.__version__} != package {hea_fast.__version__}")
    return f"hea_fast {hea_fast.__version__} from {pkg}"


@check
def bundled_files():
    """The wheel carries the element tables, the default phase model, dataset metadata and stubs."""
    import hea_fast

    pkg = Path(hea_fast.__file__).resolve().parent
    need = ["data/elements.csv", "data/pair_enthalpy.csv", "data/anchors.csv",
            "data/models/mixture_default/config.json", "data/models/mixture_default/arrays.npz",
            "data/models/phase_default/model.json", "data/models/phase_default/nodes.npz",
            "data/models/phase_default/domain.json", "data/models/phase_default/domain.npz",
            "data/models/phase_default/TRAINING.json", "data/models/phase_fast/model.json",
            "data/models/phase_fast/domain.npz", "data/models/phase_fast/TRAINING.json",
            "data/models/phase_default/training_alloys.npz", "data/models/phase_fast/training_alloys.npz",
            "data/models/phase_default/records.npz", "data/models/phase_fast/records.npz",
            "datasets/metadata.json", "py.typed", "_core.pyi", "_cuda.pyi"]
    missing = [n for n in need if not (pkg / n).is_file()]
    if missing:
        fail(f"not in the installed package: {missing}")
    return f"{len(need)} files"


@check
def parse():
    from hea_fast import CompositionBatch, parse_formula

    f = parse_formula("Al0.5CoCrFeNi")
    want = {"Al": 0.5 / 4.5, "Co": 1 / 4.5, "Cr": 1 / 4.5, "Fe": 1 / 4.5, "Ni": 1 / 4.5}
    if set(f) != set(want) or not all(close(f[e], want[e]) for e in want):
        fail(f"parse_formula('Al0.5CoCrFeNi') = {f}, want {want}")
    b = CompositionBatch.from_formulas(["(CoCrCuFeNi)96Nb4", "Ti(ZrHf)2"])
    d = b.to_dicts()
    if not (close(d[0]["Nb"], 0.04) and close(d[1]["Zr"], 0.4) and close(d[1]["Ti"], 0.2)):
        fail(f"compiled parser gave {d}")
    return "reference and compiled parsers agree with hand values"


@check
def element_tables():
    from hea_fast.datasets import DatasetNotFoundError
    from hea_fast.elements import ElementTable, table_names

    loaded, skipped = [], []
    for name in table_names():
        try:
            t = ElementTable.load(name)
        except DatasetNotFoundError:  # a table kept in the data home, not in the wheel
            skipped.append(name)
            continue
        if len(t) < 40 or not all(e in t for e in ("Al", "Co", "Cr", "Fe", "Ni")):
            fail(f"element table {name!r} looks truncated: {t!r}")
        loaded.append(name)
    if "default" not in loaded:
        fail("the bundled 'default' element table did not load")
    return f"loaded {loaded}" + (f", skipped (need the data home) {skipped}" if skipped else "")


@check
def featurize():
    import hea_fast
    from hea_fast.elements import GAS_CONSTANT, ElementTable

    t = ElementTable.load("default")
    df = hea_fast.featurize(["CoCrFeNi", "Al0.5CoCrFeNi"])
    if df.shape != (2, 16):
        fail(f"featurize shape {df.shape}, want (2, 16)")
    vec = t.property_matrix(["Co", "Cr", "Fe", "Ni"], ["vec"])[:, 0].mean()
    if not close(df["VEC"].iloc[0], vec):
        fail(f"VEC(CoCrFeNi) = {df['VEC'].iloc[0]}, want the mean of the table's VECs {vec}")
    if not close(df["dS_mix"].iloc[0], GAS_CONSTANT * math.log(4)):
        fail(f"dS_mix(CoCrFeNi) = {df['dS_mix'].iloc[0]}, want R ln 4 = {GAS_CONSTANT * math.log(4)}")
    x = [0.5 / 4.5] + [1 / 4.5] * 4
    want = -GAS_CONSTANT * sum(v * math.log(v) for v in x)
    if not close(df["dS_mix"].iloc[1], want):
        fail(f"dS_mix(Al0.5CoCrFeNi) = {df['dS_mix'].iloc[1]}, want {want}")
    return "VEC and dS_mix equal their closed forms"


@check
def screen_and_predict():
    import numpy as np
    import pandas as pd

    from hea_fast.mixture import SparseMixtureClassifier
    from hea_fast.screen import CompositionSpace, MixtureScorer, screen

    palette = ("Al", "Co", "Cr", "Fe", "Ni", "Ti")
    space = CompositionSpace(palette, 4, 10)
    # brute force: 4 of the 6 elements, each >= 10 at.%, in 10 at.% steps
    brute = [dict(zip(els, (u / 10 for u in units)))
             for els in itertools.combinations(palette, 4)
             for units in itertools.product(range(1, 8), repeat=4) if sum(units) == 10]
    if len(space) != len(brute):
        fail(f"lattice size {len(space)}, brute force {len(brute)}")
    model = SparseMixtureClassifier.load_default()
    p = model.predict_proba(pd.DataFrame(brute).reindex(columns=list(palette)).fillna(0.0))
    if p.shape != (len(brute), 2) or not ((p >= 0) & (p <= 1)).all() or np.abs(p.sum(axis=1) - 1).max() > 1e-12:
        fail(f"predict_proba gave shape {p.shape} / values outside [0, 1] / rows not summing to 1")
    k = 25
    # the model's own Monte Carlo predictive: the screen's top-k is the brute-force best k
    mc = screen(space, MixtureScorer(method="mc"), top_k=k, progress=False)
    if len(mc.top) != k or mc.n_scored != len(brute):
        fail(f"screen returned {len(mc.top)} rows of {mc.n_scored} scored, want {k} of {len(brute)}")
    best = np.sort(p[:, 1])[::-1][:k]
    got = mc.top[mc.score_name].to_numpy()
    if not np.allclose(got, best, rtol=0, atol=1e-9):
        fail(f"screen(method='mc') top-{k} {got[:4]}... != brute-force predict_proba best {best[:4]}...")
    # the default fused probit scorer (C++ kernel) against its float64 NumPy engine and the MC predictive
    fused = screen(space, MixtureScorer(), top_k=k, progress=False)
    ref = screen(space, MixtureScorer(engine="numpy"), top_k=k, progress=False)
    a, b = fused.top[fused.score_name].to_numpy(), ref.top[ref.score_name].to_numpy()
    if not np.allclose(a, b, rtol=0, atol=1e-9) or list(fused.top["rank"]) != list(ref.top["rank"]):
        fail(f"fused probit top-{k} {a[:4]}... != NumPy engine {b[:4]}...")
    pm = model.predict_proba(list(fused.top["formula"]))[:, 1]
    if np.abs(pm - a).max() > 0.02:
        fail(f"probit scores differ from the MC predictive by {np.abs(pm - a).max():.3g} (> 0.02)")
    return f"top-{k} of {len(brute)} = brute-force predict_proba (best {got[0]:.4f}); probit fused = NumPy"


@check
def phase_default():
    """The default phase model: fused lattice scores = predict_proba of the decoded compositions; domain columns."""
    import numpy as np

    from hea_fast.phase import load_model
    from hea_fast.screen import screen

    model = load_model("default")
    frame = model.predict_frame(["CoCrFeMnNi", "NbMoTaW", "Nd20Fe80"])
    p = frame["p_single"].to_numpy()
    if not (np.isfinite(p[:2]).all() and ((p[:2] > 0) & (p[:2] < 1)).all() and np.isnan(p[2])):
        fail(f"phase predict_frame gave p_single {p} (want two finite probabilities, then NaN for the Nd alloy)")
    if not frame["in_domain"].iloc[:2].all() or frame["in_domain"].iloc[2] or not frame["reason"].iloc[2]:
        fail(f"domain columns wrong: {frame.to_dict('list')}")
    from hea_fast.lattice import CompositionSpace

    space = CompositionSpace(("Co", "Cr", "Fe", "Mn", "Ni", "V"), 4, 10)
    res = screen(space, top_k=20, progress=False)
    got = res.top[res.score_name].to_numpy()
    ref = model.predict_proba(list(res.top["formula"]))[:, 1]
    if not np.allclose(got, ref, rtol=0, atol=1e-9):
        fail(f"default screen scores {got[:3]}... != PhaseModel.predict_proba {ref[:3]}...")
    fast = load_model("fast").predict_frame(["CoCrFeMnNi", "NbMoTaW", "Nd20Fe80"])["p_single"].to_numpy()
    if not (np.isfinite(fast[:2]).all() and ((fast[:2] > 0) & (fast[:2] < 1)).all() and np.isnan(fast[2])):
        fail(f"the 'fast' phase model gave p_single {fast}")
    return f"predict_frame + fused screen = predict_proba (best {got[0]:.4f}); 'fast' model loads and predicts"


@check
def cli_help():
    exe = Path(sys.executable).with_name("hea-fast")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hea_fast.cli"]
    r = subprocess.run(cmd + ["--help"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or "usage" not in r.stdout.lower():
        fail(f"`hea-fast --help` exited {r.returncode}: {r.stdout[-500:]}{r.stderr[-2000:]}")
    return "hea-fast --help"


def no_extras():
    """Light core: the extras' packages are absent and their features name the extra to install."""
    present = [m for m in ("torch", "pyro", "matplotlib", "dask", "safetensors") if importlib.util.find_spec(m)]
    if present:
        fail(f"installed without extras, yet {present} are importable")
    import hea_fast.ssvae

    for what, call, extra in (
        ("hea_fast.ssvae", lambda: hea_fast.ssvae.load_model, "ssvae"),
        ("hea_fast.xyield.cnn", lambda: importlib.import_module("hea_fast.xyield.cnn"), "xyield"),
    ):
        try:
            call()
        except ImportError as exc:
            if f"hea_fast[{extra}]" not in str(exc):
                fail(f"{what} without its extra raised {exc!r}, which does not name [{extra}]")
        else:
            fail(f"{what} worked without torch")
    return "torch, pyro, matplotlib, dask absent; ssvae/xyield name their extras"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-extras", action="store_true", help="also check the light core (installed without extras)")
    args = ap.parse_args(argv)
    checks = CHECKS + ([no_extras] if args.no_extras else [])
    print(f"wheel smoke suite: python {sys.version.split()[0]}, cwd {os.getcwd()}")
    t0 = time.perf_counter()
    for fn in checks:
        t = time.perf_counter()
        try:
            info = fn()
        except Exception as exc:  # report which check failed, then stop
            print(f"FAIL {fn.__name__}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(f"ok   {fn.__name__:<22} {time.perf_counter() - t:6.2f} s  {info}")
    print(f"wheel smoke: all {len(checks)} checks passed in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
