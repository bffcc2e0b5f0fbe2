"""X-Yield grid and streaming simulation (hea_fast.xyield.grid) against brute-force NumPy
reductions over a small grid, plus exact grid sizes, chunk/thread independence and resume."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast.xyield import XYieldGrid, simulate_grid, yield_strength
from hea_fast.xyield import grid as G

SMALL = dict(elements=("Cr", "Mo", "Nb", "Ti", "W"), temperatures_K=(300, 800, 1300, 2000),
             parts=((2, 10), (3, 5), (4, 20)))


@pytest.fixture(scope="module")
def small():
    g = XYieldGrid(**SMALL)
    frac = g.space.fractions()
    sig = yield_strength(frac, g.temperatures_K[:, None], elements=g.elements).T  # (n, nT)
    return g, frac, sig


def test_grid_sizes():
    g = XYieldGrid()
    assert g.n_compositions == 40_194_882 and g.n_temperatures == 23 and len(g) == 924_482_286
    assert g.temperatures_K[0] == 300 and g.temperatures_K[-1] == 2500
    g11 = XYieldGrid(elements=("Al", "Cr", "Fe", "Hf", "Mo", "Nb", "Ta", "Ti", "V", "W", "Zr"))
    assert g11.n_compositions == 68_676_993 and len(g11) == 1_579_570_839


def test_sigma_matches_yield_strength(small):
    g, frac, sig = small
    np.testing.assert_allclose(g.sigma(), sig, rtol=1e-12)
    pts = np.array([0, 5, 17, len(g) - 1])
    np.testing.assert_allclose(g.sigma_at(pts), sig.reshape(-1)[pts], rtol=1e-12)


@pytest.mark.parametrize("chunk_size,threads", [(10_000, 1), (7, 2), (64, 3)])
def test_reductions_match_brute_force(small, chunk_size, threads):
    g, frac, sig_indep = small
    # order-sensitive reductions (max, argmax, top-k, bins) are compared exactly with the kernel's
    # own per-point values, which test_sigma_matches_yield_strength ties to the reference (1e-12)
    sig = g.sigma()
    nT = g.n_temperatures
    res = simulate_grid(g, topk=5, hist_bins=40, hist_range=(0, 4000), chunk_size=chunk_size, progress=False,
                        threads=threads)
    pt = res.per_temperature
    np.testing.assert_array_equal(pt["count"], np.full(nT, len(frac)))
    np.testing.assert_allclose(pt["mean_MPa"], sig_indep.mean(0), rtol=1e-12)
    np.testing.assert_allclose(pt["std_MPa"], sig.std(0), rtol=1e-7)
    np.testing.assert_allclose(pt["max_MPa"], sig.max(0), rtol=0)
    flat_arg = sig.argmax(0) * nT + np.arange(nT)  # argmax picks the first (smallest rank) on ties
    np.testing.assert_array_equal(pt["argmax_point"], flat_arg)
    # histograms (under/overflow bins at both ends)
    edges = np.linspace(0, 4000, 41)
    for t in range(nT):
        h = res.histogram[res.histogram["T_K"] == g.temperatures_K[t]]["count"].to_numpy()
        ref = np.histogram(sig[:, t], bins=edges)[0]
        assert h[0] == (sig[:, t] < 0).sum() and h[-1] == (sig[:, t] >= 4000).sum()
        np.testing.assert_array_equal(h[1:-1], ref)
    # per-system maxima
    sys_ = g.space.system_of(np.arange(len(frac)))
    ps = res.per_system
    for (s, T), row in ps.set_index(["system", "T_K"]).iterrows():
        t = int(np.flatnonzero(g.temperatures_K == T)[0])
        assert row["max_MPa"] == sig[sys_ == s, t].max()
    assert len(ps) == g.space.n_systems * nT
    # top-k per temperature: ordered by (σ desc, point asc)
    for t in range(nT):
        sub = res.topk[res.topk["T_K"] == g.temperatures_K[t]].sort_values("position")
        order = np.lexsort((np.arange(len(frac)), -sig[:, t]))[:5]
        np.testing.assert_array_equal(sub["rank"].to_numpy(), order)
        np.testing.assert_allclose(sub["yield_MPa"].to_numpy(), sig[order, t], rtol=0)


def test_results_independent_of_threads(small):
    g, _, _ = small
    a = simulate_grid(g, topk=3, chunk_size=50, progress=False, threads=1)
    b = simulate_grid(g, topk=3, chunk_size=50, progress=False, threads=4)
    for name in ("per_temperature", "per_system", "histogram", "topk"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    # skipped reductions do not change the others
    c = simulate_grid(g, topk=3, chunk_size=50, progress=False, stats=False, per_system=False)
    assert c.per_temperature is None and c.per_system is None and c.histogram is None
    pd.testing.assert_frame_equal(c.topk, a.topk)


def test_sample_uniform_and_seeded(small):
    g, frac, sig = small
    s1 = g.sample(500, seed=7)
    s2 = g.sample(500, seed=7)
    pd.testing.assert_frame_equal(s1, s2)
    assert not s1["point"].equals(g.sample(500, seed=8)["point"])
    assert s1["point"].is_unique
    np.testing.assert_allclose(s1["yield_MPa"], sig.reshape(-1)[s1["point"]], rtol=1e-12)
    np.testing.assert_allclose(s1[list(g.elements)].to_numpy(), frac[s1["rank"]], rtol=0)
    # uniform over points: temperature indices are uniform (chi-square, 3 dof, p ~ 1e-4 cut)
    big = g.sample(len(g) // 2, seed=1)
    counts = big["T_K"].value_counts().to_numpy()
    exp = len(big) / g.n_temperatures
    assert ((counts - exp) ** 2 / exp).sum() < 21.1
    with pytest.raises(ValueError, match="distinct points"):
        g.sample(len(g) + 1)


def test_resume_after_interruption(small, tmp_path, monkeypatch):
    g, _, _ = small
    full = simulate_grid(g, topk=4, chunk_size=40, progress=False)
    ck = tmp_path / "state.npz"
    real_save = G._save_ckpt
    calls = {"n": 0}

    def flaky_save(path, state, fp):
        real_save(path, state, fp)
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(G, "_save_ckpt", flaky_save)
    with pytest.raises(KeyboardInterrupt):
        simulate_grid(g, topk=4, chunk_size=40, progress=False, checkpoint=ck)
    assert ck.exists()
    monkeypatch.setattr(G, "_save_ckpt", real_save)
    resumed = simulate_grid(g, topk=4, chunk_size=40, progress=False, checkpoint=ck)
    assert resumed.points_done == len(g) - 3 * 40 * g.n_temperatures  # only the remaining chunks ran
    assert not ck.exists()
    for name in ("per_temperature", "per_system", "histogram", "topk"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(resumed, name))
    # a checkpoint from another configuration is refused
    monkeypatch.setattr(G, "_save_ckpt", flaky_save)
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        simulate_grid(g, topk=4, chunk_size=40, progress=False, checkpoint=ck)
    monkeypatch.setattr(G, "_save_ckpt", real_save)
    with pytest.raises(ValueError, match="different"):
        simulate_grid(g, topk=2, chunk_size=40, progress=False, checkpoint=ck)


def test_corrupt_checkpoint_is_named(small, tmp_path):
    from hea_fast._io import CheckpointError

    g, _, _ = small
    ck = tmp_path / "state.npz"
    ck.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="state.npz"):
        simulate_grid(g, topk=2, chunk_size=40, progress=False, checkpoint=ck)
    np.savez(ck, fingerprint=np.array("x"))
    with pytest.raises(CheckpointError, match="state.npz.*different"):
        simulate_grid(g, topk=2, chunk_size=40, progress=False, checkpoint=ck)


def test_parquet_output_and_cli(small, tmp_path, capsys):
    g, _, _ = small
    out = tmp_path / "summary.parquet"
    res = simulate_grid(g, topk=2, sample=20, progress=False, output=out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), res.per_temperature)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "summary.per_system.parquet"), res.per_system)
    assert (tmp_path / "summary.sample.parquet").exists()

    from hea_fast.cli import main
    from hea_fast.commands import xyield_data  # noqa: F401  (the CLI module registers into `xyield`)

    sim = tmp_path / "sim.parquet"
    rc = main(["xyield", "simulate", "--elements", "Cr,Mo,Nb,Ti,W", "--temperatures", "300:2100:100", "--sample", "300",
               "--seed", "2", "-o", str(sim), "--no-progress"])
    assert rc == 0
    df = pd.read_parquet(sim)
    assert len(df) == 300 and df["point"].is_unique and set(df["temperature_K"]) <= set(range(300, 2100, 100))
    ref = XYieldGrid(elements=("Cr", "Mo", "Nb", "Ti", "W"), temperatures_K=range(300, 2100, 100)).sample(300, seed=2)
    np.testing.assert_allclose(df["sigma_y_MPa"], ref["yield_MPa"], rtol=0)  # the CLI's <quantity>_<unit> names
    summ = tmp_path / "grid.parquet"
    rc = main(["xyield", "grid", "--elements", "Cr,Mo,Nb,Ti,W", "--stats", "-o", str(summ), "--no-progress",
               "--topk", "3"])
    assert rc == 0
    per_T = pd.read_parquet(summ)
    assert len(per_T) == 23 and (per_T["count"] == per_T["count"].iloc[0]).all()
    assert (pd.read_parquet(tmp_path / "grid.per_system.parquet")["max_MPa"] > 0).any()
    assert len(pd.read_parquet(tmp_path / "grid.topk.parquet")) == 3 * 23
    # bad options: exit status 2 and a message naming the option and value, no output written
    capsys.readouterr()
    for bad, needle in ((["--temperatures", "abc"], "--temperatures 'abc'"),
                        (["--temperatures", "300:200:100"], "--temperatures '300:200:100'"),
                        (["--elements", "Cu,Mo,Nb"], "'Cu'")):
        bad_out = tmp_path / "bad.parquet"
        assert main(["xyield", "simulate", *bad, "--sample", "5", "-o", str(bad_out)]) == 2
        assert needle in capsys.readouterr().err and not bad_out.exists()


def test_bad_arguments(small):
    g, _, _ = small
    with pytest.raises(ValueError, match="model"):
        simulate_grid(g, model="fcc", progress=False)
    with pytest.raises(ValueError, match="hist_range"):
        simulate_grid(g, hist_range=(5, 1), progress=False)
    with pytest.raises(ValueError, match="rank_range"):
        simulate_grid(g, rank_range=(0, len(g.space) + 1), progress=False)
    with pytest.raises(ValueError, match="hist_range must be finite"):
        simulate_grid(g, hist_range=(0, np.inf), progress=False)


def test_bad_sample_size_fails_before_streaming(small, monkeypatch):
    """A --sample larger than the grid (or negative) is refused before any chunk is streamed, not
    after the whole grid was simulated (hours on the full X-Yield grid)."""
    g, _, _ = small
    calls = []
    monkeypatch.setattr(G, "_reduce_chunk", lambda *a, **k: calls.append(a) or pytest.fail("streamed"))
    for n in (len(g) + 1, -1):
        with pytest.raises(ValueError, match=f"cannot draw {n} distinct points from a grid of {len(g):,}"):
            simulate_grid(g, sample=n, topk=2, chunk_size=40, progress=False)
    assert calls == []
    with pytest.raises(ValueError, match="temperatures_K"):
        XYieldGrid(temperatures_K=[300, -1])
    with pytest.raises(ValueError, match="elastic constants"):
        XYieldGrid(elements=("Mo", "Re", "W"), volumes={"Re": 14.7})


@pytest.mark.gpu
@pytest.mark.parametrize("model", ["continuous", "two-regime", "single-fit"])
def test_cuda_grid_sigma_matches_cpu(model):
    g = XYieldGrid()
    a, b = 30_000_000, 30_200_000
    np.testing.assert_allclose(g.sigma(a, b, model=model, device="cuda").cpu().numpy(), g.sigma(a, b, model=model),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("model", ["continuous", "two-regime", "single-fit"])
def test_unsorted_temperatures_and_tiny_barriers(model):
    """The grid kernel's fast paths (sorted T split, vectorized exp) and fallbacks (unsorted T,
    exponents below -708 for near-zero barriers) agree with the paired reference."""
    vols = {"Nb": 18.0, "Ta": 18.0001, "Mo": 18.00005}
    for temps in ((1300, 300, 2500, 800), (300, 800, 1300, 2500)):
        g = XYieldGrid(elements=("Mo", "Nb", "Ta"), temperatures_K=temps, parts=((2, 10), (3, 10)), volumes=vols)
        ref = yield_strength(g.space.fractions(), np.asarray(temps, float)[:, None], model=model, volumes=vols,
                             elements=g.elements).T
        np.testing.assert_allclose(g.sigma(model=model), ref, rtol=1e-12, atol=1e-300)
    g = XYieldGrid(elements=("Mo", "Nb", "Ta"), parts=((2, 10), (3, 10)), volumes=vols)
    tau0, deb = __import__("hea_fast.xyield", fromlist=["tau_y0_and_dEb"]).tau_y0_and_dEb(
        g.space.fractions(), volumes=vols, elements=g.elements)
    assert deb.min() < 0.009  # exercises the std::exp fallback of the grid kernel


def test_dask_local_cluster_equals_local(small):
    distributed = pytest.importorskip("distributed")
    g, _, _ = small
    local = simulate_grid(g, topk=3, chunk_size=37, progress=False, threads=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        remote = simulate_grid(g, topk=3, chunk_size=37, progress=False, client=client, threads=1)
    for name in ("per_temperature", "per_system", "histogram", "topk"):
        pd.testing.assert_frame_equal(getattr(local, name), getattr(remote, name))
