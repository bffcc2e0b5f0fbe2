"""Data-efficiency protocol: the SSVAE against a supervised MLP on the same labelled subsets, both
selected on the same validation set (benchmarks/papers/ssvae/PROTOCOL.md fixes every setting).

The fitting functions (`fit_ssvae`, `fit_mlp`) take the selection data only — a dict with
``labelled``, ``unlabelled`` and ``validation`` and no ``test`` (`selection_data` strips it; passing
a test split is an error) — so no selection step can read a test label. `run_protocol` fits, then
scores the selected models on the test split once (`test_metrics`). `summarize` gives the means,
95 % intervals over seeds and the paired SSVAE − MLP differences with a bootstrap over seeds and
test alloys together.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np

from hea_fast.ssvae.data import Split

__all__ = ["MLP_ALPHAS", "MLP_EPOCHS", "SSVAE_EPOCHS", "SSVAE_MIN_EPOCH", "MODELS", "subset_labels",
           "selection_data", "standardizer", "brier", "test_metrics", "MLPSelected", "fit_mlp",
           "ssvae_config", "fit_ssvae", "run_protocol", "summarize"]

MLP_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # L2 grid, chosen on validation
MLP_EPOCHS = 1000  # epochs per alpha; the best validation epoch is kept
SSVAE_EPOCHS = 1000  # budget; the best smoothed-validation epoch in [SSVAE_MIN_EPOCH, budget) is kept
SSVAE_MIN_EPOCH = 50  # warm-up of the weight average only
MODELS = ("ssvae", "mlp")
_SELECTION_KEYS = ("labelled", "unlabelled", "validation")


def _take(s: Split, idx) -> Split:
    return replace(s, x=s.x[idx], e=s.e[idx], y=s.y[idx], alloys=s.alloys[idx], orig_index=s.orig_index[idx])


def _concat(a: Split, b: Split) -> Split:
    return Split(**{k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in ("x", "e", "y", "alloys", "orig_index")})


def subset_labels(splits: dict, n_labels: int, seed: int) -> dict:
    """Keep `n_labels` labelled rows (stratified draw with `seed`); the others join the unlabelled
    pool with their labels hidden. Validation and test (if present) are unchanged."""
    from sklearn.model_selection import train_test_split

    L = splits["labelled"]
    n = len(L.y)
    if isinstance(n_labels, bool) or not isinstance(n_labels, (int, np.integer)) or not 2 <= n_labels <= n:
        raise ValueError(f"n_labels must be an integer in [2, {n}], got {n_labels!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    idx = np.arange(n)
    if n_labels < n:
        keep, drop = train_test_split(idx, train_size=int(n_labels), stratify=L.y, random_state=int(seed))
    else:
        keep, drop = idx, idx[:0]
    return {**splits, "labelled": _take(L, keep), "unlabelled": _concat(splits["unlabelled"], _take(L, drop))}


def selection_data(splits: dict) -> dict:
    """The part of `splits` a selection step may see: labelled, unlabelled, validation (no test)."""
    missing = [k for k in _SELECTION_KEYS if k not in splits]
    if missing:
        raise ValueError(f"splits lack {missing}; need {list(_SELECTION_KEYS)}")
    return {k: splits[k] for k in _SELECTION_KEYS}


def _check_selection(data: dict) -> None:
    extra = sorted(set(data) - set(_SELECTION_KEYS))
    if extra:
        raise ValueError(f"selection data must hold only {list(_SELECTION_KEYS)}, got also {extra} "
                         "(pass selection_data(splits): the test split is scored once, after selection)")
    selection_data(data)


def standardizer(data: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of the descriptors of the labelled + unlabelled rows (no labels) —
    the SSVAE's own standardisation, used for the MLP too."""
    e = np.concatenate([data["labelled"].e, data["unlabelled"].e]).astype(np.float64)
    return e.mean(0), np.maximum(e.std(0), 1e-12)


def brier(p, y) -> float:
    return float(np.mean((np.asarray(p, np.float64) - np.asarray(y, np.float64)) ** 2))


def test_metrics(p, y) -> dict:
    """Accuracy (threshold 0.5), ROC-AUC and Brier score of probabilities p against labels y."""
    from sklearn.metrics import roc_auc_score

    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
    return {"acc": float(((p > 0.5) == (y > 0.5)).mean()), "auc": float(roc_auc_score(y, p)), "brier": brier(p, y)}


test_metrics.__test__ = False  # not a pytest test despite the name


# ---- MLP: alpha from a fixed grid and the epoch, both on the validation set ---------------------------
@dataclass
class MLPSelected:
    """The selected MLP with its standardisation; `predict_proba(e)` -> P(single phase) (n,)."""

    net: object
    mean: np.ndarray
    std: np.ndarray

    def predict_proba(self, e) -> np.ndarray:
        return self.net.predict_proba((np.asarray(e, np.float64) - self.mean) / self.std)[:, 1]


def _mlp_path(Xl, yl, Xv, yv, alpha, seed, epochs, batch):
    """Train one MLP epoch by epoch; return (best validation Brier, best epoch, net at that epoch)."""
    from sklearn.neural_network import MLPClassifier

    net = MLPClassifier(hidden_layer_sizes=(100, 100), solver="adam", learning_rate_init=1e-3, alpha=alpha,
                        batch_size=batch, random_state=int(seed))
    best, best_epoch, best_w = np.inf, -1, None
    for ep in range(epochs):
        if ep == 0:
            net.partial_fit(Xl, yl, classes=np.array([0, 1]))
        else:
            net.partial_fit(Xl, yl)
        b = brier(net.predict_proba(Xv)[:, 1], yv)
        if b < best:
            best, best_epoch, best_w = b, ep, (copy.deepcopy(net.coefs_), copy.deepcopy(net.intercepts_))
    net.coefs_, net.intercepts_ = best_w
    return best, best_epoch, net


def fit_mlp(data: dict, seed: int, alphas=MLP_ALPHAS, epochs: int = MLP_EPOCHS) -> tuple[MLPSelected, dict]:
    """Supervised MLP on the labelled rows of `data` (selection data, no test): for each alpha of the
    grid the epoch of minimum validation Brier, then the alpha with the lowest such score (ties to the
    larger alpha). Returns the model and {alpha, best_epoch, val_brier, val_brier_by_alpha}."""
    _check_selection(data)
    if not alphas or any(not a >= 0 for a in alphas):
        raise ValueError(f"alphas must be a non-empty grid of non-negative numbers, got {alphas!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    mean, std = standardizer(data)
    L, V = data["labelled"], data["validation"]
    Xl, Xv = (L.e.astype(np.float64) - mean) / std, (V.e.astype(np.float64) - mean) / std
    yl = L.y.astype(np.int64)
    batch = min(32, len(yl))
    scores, best = {}, None
    for a in sorted(alphas):
        b, ep, net = _mlp_path(Xl, yl, Xv, V.y, a, seed, epochs, batch)
        scores[float(a)] = b
        if best is None or b <= best[0]:  # ties to the larger alpha (grid sorted ascending)
            best = (b, ep, net, float(a))
    b, ep, net, a = best
    return MLPSelected(net, mean, std), {"alpha": a, "best_epoch": int(ep), "val_brier": float(b),
                                         "val_brier_by_alpha": scores}


# ---- SSVAE: the epoch of minimum smoothed validation Brier over a fixed window -----------------------
def ssvae_config(epochs: int = SSVAE_EPOCHS, min_epochs: int = SSVAE_MIN_EPOCH):
    """The protocol's TrainConfig: defaults, budget `epochs`, selection from `min_epochs` to the end,
    no early stop (patience = budget)."""
    from hea_fast.ssvae.training import TrainConfig

    return TrainConfig(epochs=epochs, min_epochs=min_epochs, patience=epochs, selection="brier", threads=1)


def fit_ssvae(datas: list, seeds: list, config=None, checkpoint=None, progress=False) -> list:
    """One SSVAE per (selection data, seed), vectorised (`train_models`); returns [(model, info)] with
    info {best_epoch, val_brier (raw, of the returned weights), val_brier_smoothed}."""
    from hea_fast.ssvae.training import train_models

    for d in datas:
        _check_selection(d)
    config = config or ssvae_config()
    res = train_models(datas, list(seeds), config=config, progress=progress, checkpoint=checkpoint)
    out = []
    for i, (m, d) in enumerate(zip(res.models, datas)):
        ep = int(res.best_epoch[i])
        out.append((m, {"best_epoch": ep, "val_brier": brier(_ssvae_proba(m, d["validation"].e), d["validation"].y),
                        "val_brier_smoothed": float(res.history["val_metric_smooth"][ep, i]),
                        "epochs_run": int(res.epochs_run)}))
    return out


def _ssvae_proba(model, e) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model.classifier_prob(torch.from_numpy(np.asarray(e, np.float32)))[:, 0].numpy().astype(np.float64)


# ---- the protocol ---------------------------------------------------------------------------------------
def run_protocol(splits: dict, model: str, n_labels: int, seeds, ssvae_kw: dict | None = None,
                 mlp_kw: dict | None = None, checkpoint=None, progress=False) -> list[dict]:
    """Fit `model` ("ssvae" or "mlp") for each seed on `subset_labels(splits, n_labels, seed)` using
    the selection data only, then score each selected model on ``splits["test"]`` once.
    Returns one record per seed: model, n_labels, seed, selection info, test metrics, test
    probabilities, validation orig_index, seconds."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    seeds = [int(s) for s in seeds]
    subs = [subset_labels(splits, n_labels, s) for s in seeds]
    sel = [selection_data(s) for s in subs]
    t0 = time.perf_counter()
    if model == "ssvae":
        fitted = fit_ssvae(sel, seeds, config=ssvae_config(**(ssvae_kw or {})), checkpoint=checkpoint,
                           progress=progress)
        proba = [(lambda e, m=m: _ssvae_proba(m, e)) for m, _ in fitted]
    else:
        fitted = [fit_mlp(d, s, **(mlp_kw or {})) for d, s in zip(sel, seeds)]
        proba = [m.predict_proba for m, _ in fitted]
    seconds = (time.perf_counter() - t0) / len(seeds)
    test = splits["test"]
    rows = []
    for s, sub, (_, info), f in zip(seeds, subs, fitted, proba):
        p = f(test.e)  # the one look at the test split
        rows.append({"model": model, "n_labels": int(n_labels), "seed": s, **info,
                     **{f"test_{k}": v for k, v in test_metrics(p, test.y).items()},
                     "test_proba": [float(v) for v in p],
                     "labelled_orig_index": sub["labelled"].orig_index.tolist(),
                     "validation_orig_index": sub["validation"].orig_index.tolist(), "seconds": seconds})
    return rows


def _t_interval(a) -> tuple[float, float]:
    from scipy import stats

    a = np.asarray(a, np.float64)
    if len(a) < 2:
        return float("nan"), float("nan")
    h = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return float(a.mean() - h), float(a.mean() + h)


def _auc_rows(p, y):
    """ROC-AUC of each row of p (b, n) against the matching row of labels y (b, n) (Mann-Whitney with
    average ranks for ties, as sklearn's roc_auc_score)."""
    from scipy.stats import rankdata

    r = rankdata(p, axis=1)
    pos = y > 0.5
    n1 = pos.sum(1)
    n0 = y.shape[1] - n1
    return ((r * pos).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _paired_bootstrap(ps, pm, y, n_boot, rng) -> dict:
    """Bootstrap of the mean over seeds of (SSVAE - MLP) test acc/auc/brier: each draw resamples the
    seeds (rows of ps, pm: (seeds, n_test)) and the test alloys, both with replacement."""
    S, n = ps.shape
    si = rng.integers(0, S, (n_boot, S))
    ti = rng.integers(0, n, (n_boot, n))
    one_class = np.ptp(y[ti], axis=1) == 0
    while one_class.any():  # a draw with a single class has no AUC: redraw it
        ti[one_class] = rng.integers(0, n, (int(one_class.sum()), n))
        one_class = np.ptp(y[ti], axis=1) == 0
    yt = y[ti]  # (b, n)
    out = {k: np.zeros(n_boot) for k in ("acc", "auc", "brier")}
    for j in range(S):
        a, b = ps[si[:, j][:, None], ti], pm[si[:, j][:, None], ti]  # (b, n)
        out["acc"] += ((a > 0.5) == (yt > 0.5)).mean(1) - ((b > 0.5) == (yt > 0.5)).mean(1)
        out["auc"] += _auc_rows(a, yt) - _auc_rows(b, yt)
        out["brier"] += ((a - yt) ** 2).mean(1) - ((b - yt) ** 2).mean(1)
    return {k: v / S for k, v in out.items()}


def summarize(records: list[dict], y_test, n_boot: int = 2000, seed: int = 0) -> dict:
    """Per (model, n_labels): mean, std and 95 % t-interval over seeds of test acc/auc/brier and the
    selection info; per n_labels with both models: the SSVAE − MLP difference paired by seed, with the
    t-interval over seeds and a 95 % percentile bootstrap that resamples seeds and test alloys."""
    y = np.asarray(y_test, np.float64)
    by = {}
    for r in records:
        by.setdefault((r["n_labels"], r["model"]), {})[r["seed"]] = r
    out = {"per_model": [], "paired": []}
    for (n, m), rs in sorted(by.items()):
        row = {"n_labels": n, "model": m, "seeds": sorted(rs)}
        for k in ("test_acc", "test_auc", "test_brier", "val_brier", "best_epoch"):
            v = [rs[s][k] for s in sorted(rs)]
            row[k] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                      "ci95": _t_interval(v), "values": v}
        if m == "mlp":
            row["alpha"] = [rs[s]["alpha"] for s in sorted(rs)]
        out["per_model"].append(row)
    for n in sorted({k[0] for k in by}):
        a, b = by.get((n, "ssvae"), {}), by.get((n, "mlp"), {})
        common = sorted(set(a) & set(b))
        if not common:
            continue
        P = {m: np.array([[*d[s]["test_proba"]] for s in common]) for m, d in (("ssvae", a), ("mlp", b))}
        row = {"n_labels": n, "seeds": common}
        for k in ("acc", "auc", "brier"):
            d = [a[s][f"test_{k}"] - b[s][f"test_{k}"] for s in common]
            row[k] = {"mean_diff": float(np.mean(d)), "t_ci95": _t_interval(d), "values": d}
        boots = _paired_bootstrap(P["ssvae"], P["mlp"], y, n_boot, np.random.default_rng([seed, n]))
        for k, v in boots.items():
            row[k]["boot_ci95"] = tuple(float(q) for q in np.percentile(v, [2.5, 97.5]))
        lo, hi = row["auc"]["boot_ci95"]
        row["verdict_auc"] = "ssvae better" if lo > 0 else ("mlp better" if hi < 0 else "no detectable difference")
        out["paired"].append(row)
    return out
