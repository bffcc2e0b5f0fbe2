"""SSVAE training (hea_fast.ssvae.training): the vectorised objective against Pyro's TraceEnum_ELBO
(value and gradients with the same noise), ELBO pieces against closed forms, the split recipe
against the released split files, and seeded / resumable training."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import gammaln
from scipy.stats import multinomial

from hea_fast.ssvae.data import Split
from hea_fast.ssvae.model import SSVAE, SSVAEConfig
from hea_fast.ssvae.objective import Layout, log_multinomial_const, pyro_loss, step_terms
from hea_fast.ssvae.training import TrainConfig, train_models, train_pyro


def test_split_recipe_reproduces_released_splits(shared_data):
    import pandas as pd

    from hea_fast.ssvae.data import load_splits

    raw = pd.read_csv(shared_data / "dvae_hea_zeng2024" / "ssvae_splits_1373.csv")
    sp = load_splits(42)
    for name, s in sp.items():  # row for row, in the released files' order
        assert s.orig_index.tolist() == raw.loc[raw["split"] == name, "orig_index"].tolist()
    other = load_splits(1)
    assert [len(s.y) for s in other.values()] == [864, 296, 75, 138]
    assert set(other["test"].orig_index) != set(sp["test"].orig_index)
    with pytest.raises(ValueError, match="split seed"):
        load_splits(-1)


def test_yan2021_splits_are_the_papers_recipe_on_public_data(shared_data):
    """The default model's data: Yan 2021 alloys over the 30 elements, one row per composition,
    no conflicting labels, the paper's three-split recipe, the paper's descriptors."""
    import pandas as pd

    from hea_fast.datasets import load_yan2021
    from hea_fast.ssvae.data import load_splits, yan_table
    from hea_fast.ssvae.model import FEATURES, TOP30

    table = yan_table()
    assert len(table) == 1364  # 1375 top-30 rows - 7 later duplicates - the 4 two-label compositions' rows
    sp = load_splits(42, source="yan2021")
    assert [len(s.y) for s in sp.values()] == [858, 295, 74, 137]
    idx = [set(s.orig_index) for s in sp.values()]
    assert sum(map(len, idx)) == len(set().union(*idx)) == len(table)  # a partition
    keys = {k: {r.tobytes() for r in np.round(s.x.astype(np.float64), 1)} for k, s in sp.items()}
    assert not keys["test"] & (keys["labelled"] | keys["unlabelled"] | keys["validation"])
    yan = load_yan2021()
    raw = pd.read_csv(shared_data / "yan2021_sphea" / "2021Yan_dataset.csv")
    t = sp["test"]
    assert list(raw.loc[t.orig_index, "Alloys"]) == list(t.alloys)
    assert (raw.loc[t.orig_index, "Class"].to_numpy() == t.y).all()
    # descriptors: the authors' MIT-licensed feature table (float32 inputs)
    ref = pd.read_csv(shared_data / "yan2021_sphea" / "2021Yan_feature_engineered.csv")
    np.testing.assert_allclose(t.e, ref.loc[t.orig_index, list(FEATURES)].to_numpy(np.float32), rtol=1e-6)
    # at.% over the 30 elements in the model's order, from the tidy fractions
    np.testing.assert_allclose(t.x, 100 * yan.loc[t.orig_index, list(TOP30)].fillna(0).to_numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="unknown split source"):
        load_splits(42, source="nope")


def _comp(g, n, E=30):
    x = torch.rand(n, E, generator=g) * (torch.rand(n, E, generator=g) < 0.2)
    x[:, 0] += 0.1
    return 100 * x / x.sum(1, keepdim=True)


def _inputs(m, xl, el, yl, xu, eu, eps_l, eps_u):
    E = xl.shape[1]
    z0 = torch.zeros(len(xu), 1)
    xz = torch.cat([torch.cat([xl, yl[:, None]], 1), torch.cat([xu, z0], 1), torch.cat([xu, z0 + 1], 1)])[None]
    ey = m._scaled(torch.cat([el, eu]))[None]
    return ey, xz, log_multinomial_const(xz[..., :E]), torch.cat([eps_l, eps_u[0], eps_u[1]])[None]


@pytest.mark.parametrize("prior,gamma", [(0.5, 1.0), (0.3, 0.7)])
def test_objective_matches_pyro_traceenum(prior, gamma):
    """J = Σ_u −ELBO_u + γ Σ_l (−ELBO_l + α BCE) from `step_terms` equals Pyro's loss for the
    SSVAE model/guide (φ enumerated) with the same z noise, value and gradient."""
    g = torch.Generator().manual_seed(1)
    B, d = 5, 2
    xl, xu = _comp(g, B), _comp(g, B)
    el, eu = torch.randn(B, 8, generator=g) * 3 + 1, torch.randn(B, 8, generator=g) * 3 + 1
    yl = (torch.rand(B, generator=g) < 0.5).float()
    cfg = SSVAEConfig(hidden=(16, 12), feature_mean=[1.0] * 8, feature_std=[3.0] * 8, gamma=gamma,
                      prior_single=prior)
    m = SSVAE(cfg)
    torch.manual_seed(0)
    for p in m.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    torch.manual_seed(123)
    L = pyro_loss(m, xl, el, yl, xu, eu)
    grads = torch.autograd.grad(L, list(m.parameters()))
    # Pyro draws z for the labelled batch (B, d), then for the enumerated unlabelled batch (2, B, d)
    torch.manual_seed(123)
    eps_l, eps_u = torch.randn(B, d), torch.randn(2, B, d)
    lay = Layout(m)
    P = lay.flatten(m)[None].clone().requires_grad_(True)
    ey, xz, lgc, eps = _inputs(m, xl, el, yl, xu, eu, eps_l, eps_u)
    elbo_l, elbo_u, bce, _ = step_terms(lay.views(P), ey, xz, lgc, eps, yl[None, :, None], prior)
    J = (-elbo_u).sum() + gamma * ((-elbo_l).sum() + cfg.alpha * bce.sum())
    assert float(J.detach()) == pytest.approx(float(L.detach()), rel=1e-5)
    (gP,) = torch.autograd.grad(J, P)
    off = {k: (o, shp) for k, o, shp in lay.entries}
    for (k, _), gr in zip(m.named_parameters(), grads):
        o, shp = off[k]
        np.testing.assert_allclose(gP[0, o : o + gr.numel()].reshape(shp).numpy(), gr.numpy(),
                                   rtol=1e-4, atol=1e-4 * float(gr.abs().max()) + 1e-6, err_msg=k)


def test_multinomial_normaliser_closed_form():
    rng = np.random.default_rng(0)
    counts = rng.multinomial(100, rng.dirichlet(np.ones(6)), size=4).astype(np.float64)
    p = rng.dirichlet(np.ones(6), size=4)
    ours = log_multinomial_const(torch.from_numpy(counts)).numpy() + (counts * np.log(p)).sum(1)
    np.testing.assert_allclose(ours, [multinomial.logpmf(c, 100, q) for c, q in zip(counts, p)], rtol=1e-12)
    x = rng.dirichlet(np.ones(6), size=3) * 100  # fractional at.%: the Gamma form
    ref = gammaln(x.sum(1) + 1) - gammaln(x + 1).sum(1)
    np.testing.assert_allclose(log_multinomial_const(torch.from_numpy(x)).numpy(), ref, rtol=1e-12)


def test_elbo_kl_and_enumeration_closed_forms():
    """With a decoder that ignores z, E_eps[ELBO_l] = log p(x|φ) + log p(φ) − KL(q(z|x,φ) ‖ N(0,I))
    (closed form), and ELBO_u = Σ_φ q(φ|e) ELBO(x, φ) + H[q(φ|e)] exactly for shared noise."""
    torch.manual_seed(0)
    m = SSVAE(SSVAEConfig(hidden=(10, 10), prior_single=0.3))
    for p in m.parameters():
        torch.nn.init.normal_(p, 0, 0.2)
    with torch.no_grad():
        m.decoder.linears[0].weight[:, :2] = 0.0  # decoder sees only φ
    lay = Layout(m)
    P = lay.flatten(m)[None]
    g = torch.Generator().manual_seed(2)
    N = 100_000
    x1 = _comp(g, 1)
    e1 = torch.randn(1, 8, generator=g)
    xl, xu = x1.expand(N, -1), x1.expand(N, -1)
    el, eu = e1.expand(N, -1), e1.expand(N, -1)
    yl = torch.ones(N)
    eps_l = torch.randn(N, 2, generator=g)
    eps_u = torch.stack([eps_l, eps_l])
    ey, xz, lgc, eps = _inputs(m, xl, el, yl, xu, eu, eps_l, eps_u)
    with torch.no_grad():
        elbo_l, elbo_u, _, logit = step_terms(lay.views(P), ey, xz, lgc, eps, yl[None, :, None], 0.3)
        loc, scale = m.encode_z(x1, torch.ones(1, 1))
        kl = float((0.5 * (scale**2 + loc**2 - 1) - torch.log(scale)).sum())
        f = m.decode(torch.zeros(1, 2), torch.ones(1, 1))
        rec = float(log_multinomial_const(x1) + (x1 * torch.log(f)).sum())
    expected = rec + math.log(0.3) - kl
    mc = elbo_l[0].double()
    assert abs(float(mc.mean()) - expected) < 5 * float(mc.std()) / math.sqrt(N) + 1e-4
    # enumeration identity, row by row (labelled φ=1 rows reuse the unlabelled φ=1 noise)
    with torch.no_grad():
        ey0, xz0, lgc0, eps0 = _inputs(m, xl[:5], el[:5], torch.zeros(5), xu[:5], eu[:5], eps_l[:5], eps_u[:, :5])
        e0, _, _, _ = step_terms(lay.views(P), ey0, xz0, lgc0, eps0, torch.zeros(1, 5, 1), 0.3)
    q1 = torch.sigmoid(logit[0, N : N + 5]).double()
    q0 = 1 - q1
    ent = -(q0 * q0.log() + q1 * q1.log())
    ref = q0 * e0[0].double() + q1 * elbo_l[0, :5].double() + ent
    np.testing.assert_allclose(elbo_u[0, :5].double().numpy(), ref.numpy(), rtol=1e-5)


def _toy_splits(seed, n_l=40, n_u=24, n_v=16):
    rng = np.random.default_rng(seed)

    def split(n):
        x = rng.dirichlet(np.ones(30) * 0.3, size=n).astype(np.float32) * 100
        e = rng.normal(size=(n, 8)).astype(np.float32) * 2 + 5
        y = (e[:, 0] + 0.5 * rng.normal(size=n) > 5).astype(np.float32)
        return Split(x, e, y, np.array(["A"] * n), np.arange(n))

    return {"labelled": split(n_l), "unlabelled": split(n_u), "validation": split(n_v)}


_SMALL = SSVAEConfig(hidden=(8, 8))


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_training_seeded_and_resumable(tmp_path):
    sp = _toy_splits(0)
    cfg = lambda n: TrainConfig(epochs=n, batch_size=8, lr=1e-2, min_epochs=1, checkpoint_every=2)  # noqa: E731
    a = train_models([sp], [7], _SMALL, cfg(5), progress=False)
    b = train_models([sp], [7], _SMALL, cfg(5), progress=False)
    c = train_models([sp], [8], _SMALL, cfg(5), progress=False)
    sa, sb, sc = _state(a.models[0]), _state(b.models[0]), _state(c.models[0])
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["decoder.linears.0.weight"], sc["decoder.linears.0.weight"])
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    # interrupted after 3 epochs (checkpoint at the end of the budget), resumed to 5: same as straight
    ck = tmp_path / "ck.safetensors"
    part = train_models([sp], [7], _SMALL, cfg(3), progress=False, checkpoint=ck)
    assert part.epochs_run == 3 and ck.is_file()
    full = train_models([sp], [7], _SMALL, cfg(5), progress=False, checkpoint=ck)
    sf = _state(full.models[0])
    assert all(torch.equal(sa[k], sf[k]) for k in sa)
    np.testing.assert_array_equal(full.history["val_ce"], a.history["val_ce"])
    again = train_models([sp], [7], _SMALL, cfg(5), progress=False, checkpoint=ck)  # nothing left to do
    assert again.epochs_run == 5 and all(torch.equal(sa[k], v) for k, v in _state(again.models[0]).items())
    with pytest.raises(ValueError, match="seeds"):
        train_models([sp], [9], _SMALL, cfg(5), progress=False, checkpoint=ck)
    # other data or optimiser settings are refused, naming the file; the budget may change
    with pytest.raises(ValueError, match=r"ck\.safetensors belongs to a different run"):
        train_models([_toy_splits(1)], [7], _SMALL, cfg(5), progress=False, checkpoint=ck)
    with pytest.raises(ValueError, match="different run"):
        train_models([sp], [7], _SMALL, TrainConfig(epochs=6, batch_size=8, lr=2e-2, min_epochs=1), progress=False,
                     checkpoint=ck)
    assert [f.name for f in tmp_path.iterdir()] == ["ck.safetensors"]  # atomic writes leave no temporaries
    # a model's result does not depend on the other models trained alongside it
    pair = train_models([sp, _toy_splits(1)], [7, 3], _SMALL, cfg(5), progress=False)
    for k, v in _state(pair.models[0]).items():
        torch.testing.assert_close(v, sa[k], rtol=1e-4, atol=1e-5)


def test_saved_model_standardises_with_training_rows(tmp_path):
    sp = _toy_splits(2)
    r = train_models([sp], [0], _SMALL, TrainConfig(epochs=2, batch_size=8, min_epochs=1), progress=False)
    m = r.models[0]
    e = np.concatenate([sp["labelled"].e, sp["unlabelled"].e]).astype(np.float64)
    np.testing.assert_allclose(m.config.feature_mean, e.mean(0), rtol=1e-6)
    np.testing.assert_allclose(m.config.feature_std, e.std(0), rtol=1e-6)
    m.save(tmp_path / "m")
    m2 = SSVAE.load(tmp_path / "m")
    assert m2.training_info["seed"] == 0
    ev = torch.from_numpy(sp["validation"].e)
    assert torch.equal(m.classifier_prob(ev), m2.classifier_prob(ev))


def test_training_learns_the_paper_split(shared_data):
    """A short run on the paper's split already classifies the test alloys far above chance."""
    from hea_fast.ssvae.data import load_splits

    sp = load_splits(42)
    r = train_models([sp], [0], SSVAEConfig(), TrainConfig(epochs=30, lr=1e-3, min_epochs=1, threads=1),
                     progress=False)
    with torch.no_grad():
        p = r.models[0].classifier_prob(torch.from_numpy(sp["test"].e))[:, 0].numpy()
    acc = ((p > 0.5) == (sp["test"].y > 0.5)).mean()
    assert acc > 0.72, acc
    assert r.history["train_loss"][-1, 0] < r.history["train_loss"][0, 0]


def test_pyro_reference_loop_runs_legacy():
    sp = _toy_splits(3)
    r = train_pyro(sp, seed=0, model_config=SSVAEConfig(hidden=(8, 8), legacy=True), epochs=4, batch_size=8, lr=1e-2)
    loss = r.history["train_loss"][:, 0]
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
    assert all(torch.isfinite(v).all() for v in r.models[0].state_dict().values())


def test_config_errors():
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="selection"):
        TrainConfig(selection="auc")
    with pytest.raises(ValueError, match="weight_ema"):
        TrainConfig(weight_ema=1.0)
    with pytest.raises(ValueError, match="one splits dict per seed"):
        train_models([_toy_splits(0)], [1, 2], progress=False)
    bad = _toy_splits(0)
    with pytest.raises(ValueError, match="equally sized"):
        train_models([bad, _toy_splits(1, n_l=20)], [1, 2], _SMALL, TrainConfig(epochs=1), progress=False)


def test_selection_alternatives_and_history():
    sp = _toy_splits(4)
    cfg = TrainConfig(epochs=4, batch_size=8, lr=1e-2, min_epochs=1, patience=1)
    r = train_models([sp], [1], _SMALL, cfg, progress=False, keep_alternatives=True)
    assert set(r.extra) == {"last", "last_averaged", "best_val_acc", "min_ce"}
    h = r.history
    # the smoothed curve is the EMA of the per-epoch Brier score (the default selection metric)
    b, sm = h["val_brier"][:, 0].astype(np.float64), h["val_metric_smooth"][:, 0]
    ref = [b[0]]
    for v in b[1:]:
        ref.append(0.9 * ref[-1] + 0.1 * v)
    np.testing.assert_allclose(sm, ref, rtol=1e-5)
    # the returned model is the averaged weights at the arg-min of the smoothed curve, up to the stop
    stop = r.stopped_epoch[0]
    assert r.best_epoch[0] == int(np.argmin(sm[: stop + 1]))
    assert stop - r.best_epoch[0] == 1 or stop == len(sm) - 1
    # Brier score of the returned model on the validation rows equals the recorded value at best_epoch
    import torch as _t

    with _t.no_grad():
        p = r.models[0].classifier_prob(_t.from_numpy(sp["validation"].e))[:, 0].double().numpy()
    assert ((p - sp["validation"].y) ** 2).mean() == pytest.approx(b[r.best_epoch[0]], rel=1e-4)


def test_budget_shorter_than_min_epochs_returns_final_average():
    sp = _toy_splits(5)
    r = train_models([sp], [2], _SMALL, TrainConfig(epochs=3, batch_size=8, min_epochs=10), progress=False,
                     keep_alternatives=True)
    assert r.best_epoch == [2]
    fin = _state(r.extra["last_averaged"][0])
    assert all(torch.equal(v, fin[k]) for k, v in _state(r.models[0]).items())


def test_package_train_is_the_function_whatever_was_imported_first():
    import importlib
    import warnings

    importlib.import_module("hea_fast.ssvae.training")
    from hea_fast import ssvae

    assert callable(ssvae.train) and ssvae.train.__module__ == "hea_fast.ssvae.training"
    fn = ssvae.train
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            old = importlib.import_module("hea_fast.ssvae.train")  # the deprecated path still works
            importlib.reload(old)
    finally:
        ssvae.train = fn  # importing the old submodule rebinds the attribute; restore for other tests
    assert old.TrainConfig is ssvae.TrainConfig
    assert any(issubclass(x.category, DeprecationWarning) for x in w)


def test_interrupt_saves_the_epoch_and_resumes_exactly(tmp_path, monkeypatch):
    """Ctrl-C during a checkpointed run: the epoch finishes, the checkpoint is written (before, up to
    checkpoint_every epochs were lost) and KeyboardInterrupt names it; resuming gives bit for bit the
    run that was never interrupted (the reference)."""
    import signal

    from hea_fast.ssvae import training

    # a terminal's Ctrl-C: Python's own SIGINT handler (a job started with `&` by a non-interactive
    # shell, as CI may be, inherits SIGINT ignored, and then there is no Ctrl-C to defer)
    prev = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_and_resume(tmp_path, monkeypatch, training, signal)
    finally:
        signal.signal(signal.SIGINT, prev)


def _interrupt_and_resume(tmp_path, monkeypatch, training, signal):
    sp = _toy_splits(0)
    cfg = TrainConfig(epochs=6, batch_size=8, lr=1e-2, min_epochs=1, checkpoint_every=100)
    ref = train_models([sp], [7], _SMALL, cfg, progress=False)
    real, calls = training._train_epoch, []

    def interrupted_in_epoch_3(*a, **k):
        out = real(*a, **k)
        calls.append(1)
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)  # as a Ctrl-C arriving while the epoch runs
        return out

    monkeypatch.setattr(training, "_train_epoch", interrupted_in_epoch_3)
    ck = tmp_path / "ck.safetensors"
    with pytest.raises(KeyboardInterrupt, match=r"after epoch 3 of 6.*ck\.safetensors"):
        train_models([sp], [7], _SMALL, cfg, progress=False, checkpoint=ck)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    monkeypatch.setattr(training, "_train_epoch", real)
    res = train_models([sp], [7], _SMALL, cfg, progress=False, checkpoint=ck)
    assert len(calls) == 3  # the resumed run did epochs 4-6 only
    for k, v in _state(ref.models[0]).items():
        assert torch.equal(v, _state(res.models[0])[k]), k
    for k in ref.history:
        np.testing.assert_array_equal(ref.history[k], res.history[k])
    # without a checkpoint there is nothing to save: Ctrl-C interrupts at once
    calls.clear()
    monkeypatch.setattr(training, "_train_epoch", interrupted_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train_models([sp], [7], _SMALL, cfg, progress=False)
    assert len(calls) == 3


def test_resumed_tensors_are_aligned_like_fresh_ones(tmp_path):
    """safetensors hands out tensors at the file's byte offsets (a float32 tensor after one of odd
    length sits 4 bytes off); torch's vectorised kernels round differently there, and a run resumed
    from the real d-VAE splits drifted from the uninterrupted one by float32 ulps in its validation
    history. load_run_state returns 64-byte aligned copies, as torch allocates them."""
    from hea_fast.ssvae.checkpoint import load_run_state, save_run_state

    state = {"seeds": torch.tensor([7]), "a": torch.randn(3), "b": torch.randn(1001), "c": torch.randn(1001)}
    save_run_state(tmp_path / "ck.safetensors", state, "fp")
    got = load_run_state(tmp_path / "ck.safetensors", [7], "fp")
    for k, v in state.items():
        assert torch.equal(got[k], v)
        assert got[k].data_ptr() % 64 == 0, k
