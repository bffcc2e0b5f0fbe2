"""The phase classifiers compared by the cross-source protocol, as scikit-learn estimators.

Every model takes compositions (a DataFrame of element-fraction columns, a `CompositionBatch`, or
formulas: anything `hea_fast.composition.as_batch` reads) and returns P(single phase) from
``predict_proba(X)[:, 1]``. Descriptors are the registry's (`hea_fast.features`, default element
table); "all descriptors" means the 15 candidates of the mixture model
(`hea_fast.validation.data.all_descriptors`: every registry descriptor except Ω, which is +inf
when ΔH_mix = 0).

Hyperparameters are chosen inside the training fold only: the sklearn models are a
`GridSearchCV` over a small fixed grid with an inner `GroupKFold` (3 folds, by the alloy system
passed as ``groups`` to ``fit``; scored by log-loss, then refitted on the whole training fold); the
mixture selects its descriptor subset by WBIC on the training fold (its own model selection); the
SSVAE head stops early on a grouped validation split of the training fold.

===============================  ==================================================================================
name                             model
===============================  ==================================================================================
prior                            `DummyClassifier(strategy="prior")`: the training fold's single-phase rate
logreg                           logistic regression on the 15 standardised descriptors (C tuned)
logreg_fractions                 the same on descriptors + element fractions (C tuned)
hgb                              `HistGradientBoostingClassifier` on the 15 descriptors (learning rate, depth, L2 tuned)
hgb_fractions                    the same on descriptors + element fractions
hgb_wide                         hgb with a wider grid (`HGB_WIDE_GRID`: learning rate 0.01-0.1, depth 2, 3 or
                                 unlimited, L2 0 or 1), added because hgb's grid edge won every fold
lgbm                             LightGBM `LGBMClassifier` (300 trees) on the 15 descriptors (`LGBM_GRID`: learning
                                 rate, leaves per tree, smallest leaf); needs the ``lightgbm`` extra
mixture                          `SparseMixtureClassifier` (arXiv 2504.20354), default anchors, descriptor subsets of
                                 size <= 2 searched by WBIC within the training fold, no global-model comparison
mixture_l3                       the same with subsets of size <= 3 (the setting of the bundled mixture model and of
                                 the paper's search; 575 subsets instead of 120)
ssvae_head                       the SSVAE (arXiv 2409.06740) classifier head q(φ | e) trained with the paper's
                                 semi-supervised objective on the fold's compositions (x = element at.%, e = the
                                 paper's 8 descriptors with the default element table); early stopping on a 15 %
                                 grouped validation split of the training fold
ensemble                         the first default phase model: the mean of the logreg_fractions and hgb probabilities,
                                 each member tuned as above (`hea_fast.phase.PhaseEnsembleClassifier(calibrate=False)`)
ensemble_calibrated              the ensemble + Platt calibration p = expit(a logit(p_avg) + b) fitted on
                                 out-of-fold averages over a GroupKFold(5) of the training systems
ensemble_forest                  the ``best`` model until 2026-12-06 19:56 UTC: the mean of the logreg_fractions
                                 probability and a 300-tree random forest on the 15 descriptors (min_samples_leaf tuned)
ensemble_distilled               the default phase model until 19:56 UTC: the logreg_fractions member averaged with ensemble_forest's
                                 forest distilled into 600 boosted trees of depth <= 4 (soft-label log-loss on the
                                 training compositions, weighing 25 draws each, and the draws around them; float32
                                 descriptors; the fused screening kernel's layout)
ensemble_distilled_calibrated    ensemble_distilled + the Platt calibration of ensemble_calibrated (teacher
                                 and student refitted in each calibration fold)
ensemble_forest_soft             the default phase model from 2026-12-06 23:38 to 2026-12-07 17:00 UTC (the ``best``
                                 model from 19:56 UTC until it became the default): ensemble_forest, its forest fitted to soft labels: the
                                 fraction of the training records that report each composition single phase
                                 (`label_fractions`; the leaf size is chosen on the vote)
ensemble_distilled_soft          the bundled ``fast`` model (the default from 19:56 to 23:38 UTC): ensemble_distilled
                                 with the forest of ensemble_forest_soft as its teacher
ensemble_forest_soft_calibrated  ensemble_forest_soft + the Platt calibration of ensemble_calibrated (the forest
                                 refitted to the label fractions in each calibration fold)
ensemble_forest_sources          the default phase model since 2026-12-07 17:00 UTC: ensemble_forest_soft fitted on
                                 one row per (source, composition) (`Fold.source_rows`):
                                 each source's own label and record fraction, and the compositions whose sources
                                 tie (which the pooled rows drop) kept with every source's answer
===============================  ==================================================================================

Models with `ModelSpec.soft_labels` get ``label_fraction`` (`label_fractions` of the training rows) in ``fit``
besides the vote; the others see the vote only. Models with `ModelSpec.per_source` are fitted on the fold's
`source_rows` instead of its pooled `train` rows (the test rows are the same).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from hea_fast.phase.model import element_fractions

__all__ = ["CompositionFeatures", "SSVAEHeadClassifier", "MODELS", "ModelSpec", "make_model",
           "model_names", "fit_model", "best_params", "DEFAULT_MODELS", "ZENG_DESCRIPTORS", "HGB_WIDE_GRID",
           "LGBM_GRID"]

#: The d-VAE paper's 8 descriptors as registry names (order of hea_fast.features set "zeng2024").
ZENG_DESCRIPTORS = ("K", "Vm", "Tm", "VEC", "delta", "dchi_pauling", "dS_mix", "dH_mix")


def _default_descriptors() -> tuple:
    from hea_fast.validation.data import all_descriptors

    return all_descriptors()


def _batch(X):
    """Compositions -> CompositionBatch (DataFrames: only their element columns)."""
    import pandas as pd

    from hea_fast.composition import ELEMENTS, CompositionBatch, as_batch

    if isinstance(X, pd.DataFrame):
        # the folds hand over frames of ~70 fraction columns many times per fit (inner CV): build
        # the batch straight from the array (rows normalised) instead of as_batch's per-cell checks
        known = set(ELEMENTS)
        cols = [c for c in X.columns if isinstance(c, str) and c in known]
        F = X[cols].to_numpy(dtype=np.float64)
        s = F.sum(axis=1, keepdims=True) if F.size else np.ones((F.shape[0], 1))
        if cols and np.isfinite(F).all() and (F >= 0).all() and (s > 0).all():
            return CompositionBatch(np.ascontiguousarray(F / s), tuple(cols))
    if isinstance(X, np.ndarray) and X.dtype.kind in "UO":
        X = list(X)
    return as_batch(X)


class CompositionFeatures(TransformerMixin, BaseEstimator):
    """Compositions -> [descriptors | element fractions] matrix.

    descriptors: registry names (None: the 15 mixture candidates; () for none). fractions: append
    the atomic fraction of every element seen in the training compositions (`fit` records them in
    ``elements_``; an element absent from training is not a column, its share is simply unseen).
    """

    def __init__(self, descriptors=None, fractions=False, threads=1):
        self.descriptors = descriptors
        self.fractions = fractions
        self.threads = threads

    def _names(self):
        return list(_default_descriptors() if self.descriptors is None else self.descriptors)

    def fit(self, X, y=None):
        batch = _batch(X)
        if self.fractions:
            present = np.asarray(batch.fractions).any(axis=0)
            self.elements_ = tuple(e for e, p in zip(batch.elements, present) if p)
        else:
            self.elements_ = ()
        self.feature_names_out_ = np.asarray(self._names() + [f"x_{e}" for e in self.elements_], dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        return self

    def transform(self, X):
        from hea_fast.features import featurize_array

        batch = _batch(X)
        names = self._names()
        parts = []
        if names:
            parts.append(featurize_array(batch, descriptors=names, threads=self.threads))
        if self.fractions:
            parts.append(element_fractions(batch, self.elements_))
        if not parts:
            return np.zeros((len(batch), 0))
        return np.hstack(parts)

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_out_


class SSVAEHeadClassifier(ClassifierMixin, BaseEstimator):
    """The SSVAE (Zeng, Khan & Post, arXiv 2409.06740) trained on one fold; predicts with its
    classifier head q(φ=1 | e).

    Training uses `hea_fast.ssvae.train.train_models` (the paper's M2 objective, φ summed out for
    unlabelled rows). Every training row is labelled; the unlabelled pool is the same compositions
    with their labels hidden (so the model gets exactly the data the other models get; the
    generative terms only regularise). x = at.% over the training elements, e = the paper's 8
    descriptors (`ZENG_DESCRIPTORS`) with the default element table. Early stopping and selection
    (validation Brier score, `TrainConfig`) use a `val_fraction` split of the training rows grouped
    by ``groups`` (alloy system) when given.
    """

    _accepts_groups = True

    def __init__(self, epochs=800, min_epochs=200, patience=150, lr=1e-3, val_fraction=0.15, random_state=0,
                 threads=1):
        self.epochs = epochs
        self.min_epochs = min_epochs
        self.patience = patience
        self.lr = lr
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.threads = threads

    def _e(self, batch):
        from hea_fast.features import featurize_array

        return featurize_array(batch, descriptors=list(ZENG_DESCRIPTORS), threads=1).astype(np.float32)

    def fit(self, X, y, groups=None):
        import torch  # noqa: F401  (heavy; only when this model is used)
        from sklearn.model_selection import GroupShuffleSplit

        from hea_fast.ssvae.data import Split
        from hea_fast.ssvae.model import SSVAEConfig
        from hea_fast.ssvae.training import TrainConfig, train_models

        batch = _batch(X)
        y = np.asarray(y).astype(np.float32)
        F = np.asarray(batch.fractions, dtype=np.float64)
        present = F.any(axis=0)
        self.elements_ = tuple(e for e, p in zip(batch.elements, present) if p)
        x = (F[:, present] * 100.0).astype(np.float32)
        e = self._e(batch)
        g = np.asarray(groups) if groups is not None else np.arange(len(y))
        tr, va = next(GroupShuffleSplit(n_splits=1, test_size=self.val_fraction,
                                        random_state=self.random_state).split(x, y, g))
        mk = lambda idx: Split(x=x[idx], e=e[idx], y=y[idx], alloys=np.asarray(idx), orig_index=np.asarray(idx))  # noqa: E731
        splits = {"labelled": mk(tr), "unlabelled": mk(tr), "validation": mk(va)}
        mcfg = SSVAEConfig(elements=self.elements_, features=tuple(ZENG_DESCRIPTORS))
        tcfg = TrainConfig(epochs=int(self.epochs), min_epochs=int(self.min_epochs), patience=int(self.patience),
                           lr=float(self.lr), threads=self.threads)
        res = train_models([splits], [int(self.random_state)], mcfg, tcfg, progress=False)
        self.model_ = res.models[0].eval()
        self.best_epoch_ = int(res.best_epoch[0])
        self.epochs_run_ = int(res.epochs_run)
        self.train_seconds_ = float(res.seconds)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        import torch

        e = torch.from_numpy(self._e(_batch(X)))
        with torch.no_grad():
            p = self.model_.classifier_prob(e)[..., 0].double().numpy()
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    build: Callable[[int], BaseEstimator]  # seed -> unfitted estimator
    cost: str = "cheap"  # "cheap" | "slow" (minutes per fit on one core)
    #: fitted with ``label_fraction`` = single-phase records / records of each training composition
    soft_labels: bool = False
    #: fitted on one row per (source, composition) (`Fold.source_rows`: each source's own label and records,
    #: compositions whose sources tie included) instead of the pooled rows
    per_source: bool = False


def _grid(pipe, grid, seed, inner_k=3):
    from sklearn.model_selection import GridSearchCV, GroupKFold

    return GridSearchCV(pipe, grid, scoring="neg_log_loss", cv=GroupKFold(n_splits=inner_k, shuffle=True,
                                                                           random_state=seed),
                        refit=True, n_jobs=1, error_score="raise")


def _logreg(fractions):
    def build(seed):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        pipe = Pipeline([("features", CompositionFeatures(fractions=fractions)), ("scale", StandardScaler()),
                         ("clf", LogisticRegression(max_iter=5000))])
        return _grid(pipe, {"clf__C": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}, seed)
    return build


#: The grid of ``hgb`` / ``hgb_fractions``.
HGB_GRID = {"clf__learning_rate": [0.03, 0.1], "clf__max_depth": [3, None], "clf__l2_regularization": [0.0, 1.0]}
#: The wider grid of ``hgb_wide``: the ``hgb`` grid (whose edge, lr 0.03 and depth 3, won every fold)
#: extended toward slower learning and shallower trees.
HGB_WIDE_GRID = {"clf__learning_rate": [0.01, 0.03, 0.1], "clf__max_depth": [2, 3, None],
                 "clf__l2_regularization": [0.0, 1.0]}
#: The grid of ``lgbm`` (LightGBM, 300 trees): learning rate x leaves per tree x smallest leaf.
LGBM_GRID = {"clf__learning_rate": [0.01, 0.03, 0.1], "clf__num_leaves": [4, 8, 31],
             "clf__min_child_samples": [5, 20]}


def _hgb(fractions, grid=HGB_GRID):
    def build(seed):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import Pipeline

        pipe = Pipeline([("features", CompositionFeatures(fractions=fractions)),
                         ("clf", HistGradientBoostingClassifier(max_iter=300, early_stopping=False,
                                                                random_state=seed))])
        return _grid(pipe, grid, seed)
    return build


def _lgbm(seed):
    from sklearn.pipeline import Pipeline

    from hea_fast._extras import require

    require("lightgbm", extra="lightgbm", feature="the lgbm validation model")
    from lightgbm import LGBMClassifier

    clf = LGBMClassifier(n_estimators=300, random_state=seed, n_jobs=1, deterministic=True, force_row_wise=True,
                         verbose=-1)
    pipe = Pipeline([("features", CompositionFeatures(fractions=False)), ("clf", clf)])
    return _grid(pipe, LGBM_GRID, seed)


def _prior(seed):
    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import Pipeline

    return Pipeline([("features", CompositionFeatures(descriptors=())), ("clf", DummyClassifier(strategy="prior"))])


def _ensemble(calibrate, trees="boosting"):
    def build(seed):
        from hea_fast.phase.estimator import PhaseEnsembleClassifier

        return PhaseEnsembleClassifier(calibrate=calibrate, random_state=seed, trees=trees)
    return build


def _mixture(max_size):
    def build(seed):
        from hea_fast.mixture import SparseMixtureClassifier

        return SparseMixtureClassifier(max_size=max_size, compare_global=False, threads=1, random_state=seed)
    return build


def _ssvae(seed):
    return SSVAEHeadClassifier(random_state=seed)


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in [
        ModelSpec("prior", "training-fold single-phase rate (reference)", _prior),
        ModelSpec("logreg", "logistic regression, 15 descriptors, C by inner grouped CV", _logreg(False)),
        ModelSpec("logreg_fractions", "logistic regression, 15 descriptors + element fractions", _logreg(True)),
        ModelSpec("hgb", "HistGradientBoosting, 15 descriptors, grid by inner grouped CV", _hgb(False)),
        ModelSpec("hgb_fractions", "HistGradientBoosting, 15 descriptors + element fractions", _hgb(True)),
        ModelSpec("hgb_wide", "HistGradientBoosting, 15 descriptors, the hgb grid widened to lr 0.01 and depth 2",
                  _hgb(False, HGB_WIDE_GRID)),
        ModelSpec("lgbm", "LightGBM (300 trees), 15 descriptors, lr x leaves x min leaf size by inner grouped CV "
                  "(needs the lightgbm extra)", _lgbm),
        ModelSpec("mixture", "anchor-guided sparse Bayesian logistic mixture (paper), subsets <= 2 by WBIC",
                  _mixture(2), cost="slow"),
        ModelSpec("mixture_l3", "the same mixture with subsets <= 3 by WBIC (the bundled mixture's setting; about "
                  "5x the subsets of mixture)", _mixture(3), cost="slow"),
        ModelSpec("ssvae_head", "SSVAE classifier head q(phi|e), 8 descriptors, early stopping on a grouped "
                  "validation split", _ssvae, cost="slow"),
        ModelSpec("ensemble", "the first default phase model: mean of the logreg_fractions and hgb probabilities, each "
                  "tuned by inner grouped CV "
                  "(hea_fast.phase.PhaseEnsembleClassifier(calibrate=False))", _ensemble(False)),
        ModelSpec("ensemble_calibrated", "ensemble + Platt calibration fitted on grouped out-of-fold averages "
                  "(PhaseEnsembleClassifier())", _ensemble(True)),
        ModelSpec("ensemble_forest", "the 'best' phase model until 2026-12-06 19:56 UTC: mean of the logreg_fractions "
                  "probability and a "
                  "300-tree random forest on the "
                  "15 descriptors, each tuned by inner grouped CV (PhaseEnsembleClassifier(calibrate=False, "
                  "trees='forest'))", _ensemble(False, "forest")),
        ModelSpec("ensemble_distilled", "the default phase model until 19:56 UTC: the linear member of ensemble averaged "
                  "with ensemble_forest's forest "
                  "distilled into 600 boosted trees of depth <= 4 (the fused kernel's layout) "
                  "(PhaseEnsembleClassifier(calibrate=False, trees='distilled'))", _ensemble(False, "distilled")),
        ModelSpec("ensemble_distilled_calibrated", "ensemble_distilled + Platt calibration fitted on grouped "
                  "out-of-fold averages (teacher and student refitted per calibration fold; "
                  "PhaseEnsembleClassifier(trees='distilled'))", _ensemble(True, "distilled"), cost="slow"),
        ModelSpec("ensemble_forest_soft", "the default phase model until 2026-12-07 17:00 UTC: ensemble_forest with its forest fitted to the "
                  "fraction of the training "
                  "records that report each composition single phase (soft labels; leaf size chosen on the vote) "
                  "(PhaseEnsembleClassifier(calibrate=False, trees='forest').fit(..., label_fraction=...))",
                  _ensemble(False, "forest"), soft_labels=True),
        ModelSpec("ensemble_distilled_soft", "the 'fast' phase model: ensemble_distilled with ensemble_forest_soft's "
                  "forest as the teacher "
                  "(PhaseEnsembleClassifier(calibrate=False, trees='distilled').fit(..., label_fraction=...))",
                  _ensemble(False, "distilled"), soft_labels=True),
        ModelSpec("ensemble_forest_soft_calibrated", "ensemble_forest_soft + the Platt calibration of "
                  "ensemble_calibrated, fitted on grouped out-of-fold averages (the forest refitted to the "
                  "fold's label fractions in each calibration fold; PhaseEnsembleClassifier(trees='forest')"
                  ".fit(..., label_fraction=...))", _ensemble(True, "forest"), soft_labels=True, cost="slow"),
        ModelSpec("ensemble_forest_sources", "the default phase model: ensemble_forest_soft fitted on one row per "
                  "(source, composition) "
                  "instead of one per composition: each source's own label and record fraction, compositions "
                  "whose sources tie kept (PhaseEnsembleClassifier(calibrate=False, trees='forest').fit(source "
                  "rows, ..., label_fraction=...))", _ensemble(False, "forest"), soft_labels=True, per_source=True),
    ]
}
DEFAULT_MODELS = tuple(MODELS)


def model_names() -> list:
    return list(MODELS)


def make_model(name: str, seed: int = 0) -> BaseEstimator:
    """A fresh, unfitted estimator of model `name` (see `MODELS`) with random seed `seed`."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {list(MODELS)}")
    return MODELS[name].build(int(seed))


def fit_model(est, X, y, groups=None, label_fraction=None):
    """``est.fit(X, y)``, passing `groups` (alloy systems) to estimators that tune or stop early on
    an inner grouped split (GridSearchCV, SSVAEHeadClassifier), and `label_fraction` (soft labels) when
    given (models whose `ModelSpec.soft_labels` is set)."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    tuned = isinstance(est, (GridSearchCV, RandomizedSearchCV)) or getattr(est, "_accepts_groups", False)
    kw = {} if label_fraction is None else {"label_fraction": label_fraction}
    if groups is not None and tuned:
        return est.fit(X, y, groups=groups, **kw)
    return est.fit(X, y, **kw)


def label_fractions(frame) -> np.ndarray:
    """Single-phase records / records of each row of a harmonised or pooled frame (the soft label)."""
    return frame["n_single"].to_numpy(np.float64) / frame["n_records"].to_numpy(np.float64)


def best_params(est) -> dict:
    """What the training fold selected: the grid point, the mixture's descriptors, the SSVAE epoch."""
    out = {}
    if hasattr(est, "best_params_"):
        out.update({k: v for k, v in est.best_params_.items()})
    if hasattr(est, "selected_descriptors_"):
        out["selected_descriptors"] = list(est.selected_descriptors_)
    if hasattr(est, "cal_a_"):
        out["calibration"] = {"a": est.cal_a_, "b": est.cal_b_}
    if hasattr(est, "best_epoch_"):
        out.update(best_epoch=est.best_epoch_, epochs_run=est.epochs_run_)
    return out

