"""SparseMixtureClassifier: anchor-guided sparse mixture of Bayesian logistic regressions.

Murakami, Miura, Endo & Minamoto, arXiv 2504.20354. Fit:

1. descriptors x (units of the registry in ``hea_fast.features``) → standardized z = (x − mean)/sd;
2. anchors (named alloys, ``hea_fast/data/anchors.csv``) placed in the same standardized space;
3. exhaustive search over descriptor subsets S (|S| <= max_size): for each S the alloys are
   clustered by nearest anchor (in S's coordinates, ``cluster_on="subset"``, so the subset is
   selected before the final clustering; or in all descriptors, ``cluster_on="all"``), each cluster
   gets y ~ Bernoulli(σ(w0 + z_S·w)), w ~ N(0, prior_var I), and S is scored by the mixture WBIC
   (sum of per-cluster WBICs, nats; ``hea_fast.mixture.search``);
4. the best S is refitted: per-cluster posterior (β = 1) drawn by Pólya-Gamma Gibbs
   (`hea_fast.mixture.wbic.posterior_draws`).

``predict_proba`` is the posterior predictive p(y=1 | x) = mean over draws of σ(w0 + z_S·w) in
the alloy's cluster. ``free_energy_`` is the mixture's WBIC (≈ Bayes free energy, nats) and
``global_free_energy_`` the best single global model's, so the two can be compared as in the
paper (lower is better; a difference of Δ nats is a Bayes factor of about e^Δ).

Beyond the paper: ``anchors="auto"`` picks the K anchors (from candidates) minimising the mixture
WBIC (open question 1), and `k_sweep` compares K = 1, 2, 3, … (open question 2).

Persistence: `save(dir)` writes ``config.json`` (versioned) + ``arrays.npz`` + ``ranking.csv``;
`SparseMixtureClassifier.load(dir)` restores an identical predictor. No pickle anywhere.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from hea_fast.features import BadRowsWarning, check_errors, warn_bad_rows
from hea_fast.mixture.anchors import (
    DEFAULT_ANCHORS,
    AnchorError,
    Standardizer,
    assign_clusters,
    load_anchor_table,
    resolve_anchors,
)
from hea_fast.mixture.checks import ModelError, check_finite, check_seed, labels01
from hea_fast.mixture.persistence import FORMAT_NAME, FORMAT_VERSION, load_model, save_model  # noqa: F401
from hea_fast.mixture.search import SearchConfig, mixture_wbic, search_subsets
from hea_fast.mixture.wbic import posterior_draws, wbic
from hea_fast.mixture.wbic_common import resolve_engine

__all__ = ["SparseMixtureClassifier", "DEFAULT_DESCRIPTORS", "k_sweep", "ModelError", "FORMAT_VERSION"]

#: 15 candidate descriptors (all registry descriptors except Omega, which is +inf whenever
#: dH_mix = 0 and so cannot be standardized).
DEFAULT_DESCRIPTORS = ("delta", "dH_mix", "dS_mix", "VEC", "dchi_pauling", "chi_allen_mean",
                       "dchi_allen", "Tm", "K", "Vm", "Lambda", "gamma", "local_delta_r",
                       "local_dchi", "r_mean")


def _sigmoid(t):
    return 0.5 * (1.0 + np.tanh(0.5 * t))


def _element_symbols() -> set:
    try:
        from hea_fast.elements import ElementTable

        return set(ElementTable.load("default").symbols)
    except Exception:  # pragma: no cover - only a heuristic for DataFrame inputs
        return set()


def _check_finite(X, what, names=None):
    check_finite(X, what, names, error=AnchorError)


def default_model_dir() -> Path:
    """Directory of the bundled mixture phase model (inside the package, so wheels carry it)."""
    return Path(__file__).resolve().parents[1] / "data" / "models" / "mixture_default"


class SparseMixtureClassifier(ClassifierMixin, BaseEstimator):
    """Anchor-guided sparse Bayesian logistic mixture (arXiv 2504.20354).

    Parameters
    ----------
    anchors : sequence of anchor names/formulas, a comma-separated string, a DataFrame of anchor
        descriptor rows (index = names), "auto" (choose ``n_anchors`` of ``candidate_anchors`` by
        minimum mixture WBIC), or () for one global model.
    descriptors : candidate descriptor names for formula/composition input (default: 15 registry
        descriptors); for DataFrame input of descriptors, the columns to use (default: all).
    max_size : largest descriptor subset searched (the paper's L).
    cluster_on : "subset" (cluster in the subset's coordinates) or "all" (in all descriptors).
    beta_n : "cluster" (β = 1/log n_c per cluster) or "total" (β = 1/log n).
    prior_var : prior variance of every weight, intercept included (standardized units).
    model_prior : None/"uniform" or "size" (uniform over subset sizes), see search.log_model_prior.
    n_iter, burn_in, n_chains, target_stderr : WBIC sampler settings per subset and cluster.
    n_draws : posterior draws per chain for the predictive (β = 1).
    compare_global : "search" (best single global model over the same subsets), "subset" (global
        model on the selected subset only) or False.
    random_state : int seed (None: a fresh one, stored in ``seed_``).
    checkpoint : JSON file of the subset search, resumable; the global comparison and the first search
        of ``anchors="auto"`` checkpoint beside it (FILE.global.json, FILE.init.json).
    engine : "cpp" (compiled PG-Gibbs, default) or "numpy" (reference sampler); ``backend`` is its
        deprecated spelling (one release).

    Attributes (after ``fit``)
    --------------------------
    selected_descriptors_ : names of the selected subset (the lowest mixture WBIC); ``subset_`` their
        column indices.
    ranking_ : DataFrame of every searched subset, best first (``wbic``, ``stderr``, ``indices``, ...).
    free_energy_, free_energy_stderr_ : the selected subset's WBIC and its Monte Carlo standard error.
    anchor_names_, n_clusters_, anchors_z_ : the anchors, the number of clusters and the anchors in
        standardized descriptor space; ``cluster_sizes_``, ``cluster_positive_``: training alloys and
        single-phase ones per cluster.
    coef_draws_ : per cluster, posterior weight draws (β = 1) behind ``predict_proba``.
    global_ranking_, global_subset_, global_free_energy_ : the single global model compared with
        (``compare_global``; None / NaN when not run).
    standardizer_, classes_, seed_ : the descriptor standardization, [0, 1] and the seed used.
    """

    def __init__(self, anchors=DEFAULT_ANCHORS, descriptors=None, max_size=3, cluster_on="subset",
                 beta_n="cluster", prior_var=10.0, model_prior=None, n_iter=400, burn_in=100,
                 n_chains=4, target_stderr=None, n_draws=250, n_anchors=2, candidate_anchors=None,
                 compare_global="search", table=None, chunk_size=64, threads=None, engine="cpp",
                 progress=False, client=None, checkpoint=None, random_state=0, backend=None):
        self.anchors = anchors
        self.descriptors = descriptors
        self.max_size = max_size
        self.cluster_on = cluster_on
        self.beta_n = beta_n
        self.prior_var = prior_var
        self.model_prior = model_prior
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.n_chains = n_chains
        self.target_stderr = target_stderr
        self.n_draws = n_draws
        self.n_anchors = n_anchors
        self.candidate_anchors = candidate_anchors
        self.compare_global = compare_global
        self.table = table
        self.chunk_size = chunk_size
        self.threads = threads
        self.engine = engine
        self.backend = backend
        self.progress = progress
        self.client = client
        self.checkpoint = checkpoint
        self.random_state = random_state

    # ------------------------------------------------------------------ inputs
    def _is_descriptor_frame(self, X) -> bool:
        if not isinstance(X, pd.DataFrame):
            return False
        cols = [str(c) for c in X.columns]
        if self.descriptors is not None and set(self.descriptors) <= set(cols):
            return True
        syms = _element_symbols()
        if syms and all(c in syms for c in cols):
            return False  # a frame of element fractions
        return all(np.issubdtype(t, np.number) for t in X.dtypes)

    def _features(self, X, fitting: bool, errors: str = "raise"):
        """(raw descriptor matrix, names, input kind, per-row reasons or None) for any accepted
        input; errors="nan": rows featurize cannot (fully) compute get NaN cells and a reason."""
        if self._is_descriptor_frame(X):
            names = list(self.descriptors) if self.descriptors is not None else [str(c) for c in X.columns]
            if not fitting:
                names = self.feature_names_in_
                missing = [c for c in names if c not in X.columns]
                if missing:
                    raise ModelError(f"descriptor DataFrame lacks the fitted columns {missing}")
            F = X[names].to_numpy(dtype=float)
            return F, names, "descriptors", None
        if fitting:
            names = list(self.descriptors) if self.descriptors is not None else list(DEFAULT_DESCRIPTORS)
        else:
            if self.input_kind_ == "descriptors":
                raise ModelError("this model was fitted on a descriptor DataFrame; pass one with columns "
                                 f"{self.feature_names_in_}")
            names = self.feature_names_in_
        from hea_fast.features import featurize_array

        if isinstance(X, str):
            raise ModelError("X must be a sequence of formulas, not a single string")
        if isinstance(X, np.ndarray) and X.dtype.kind in "UO":
            X = list(X)
        F, reasons = featurize_array(X, descriptors=list(names), table=self.table, errors=errors, return_reasons=True)
        return F, list(names), "compositions", reasons

    def _anchor_raw(self, spec, names):
        """(anchor names, formulas or None, raw (K, p) descriptor rows)."""
        if isinstance(spec, pd.DataFrame):
            missing = [c for c in names if c not in spec.columns]
            if missing:
                raise AnchorError(f"anchor DataFrame lacks descriptor columns {missing}")
            return [str(i) for i in spec.index], None, spec[names].to_numpy(dtype=float)
        anames, formulas = resolve_anchors(spec)
        from hea_fast.features import featurize

        try:
            F = featurize(formulas, descriptors=list(names), table=self.table, errors="raise")[list(names)].to_numpy(
                dtype=float)
        except (KeyError, ValueError) as exc:  # a batch error: its rows' own reasons, not its errors= advice
            why = "; ".join(str(e) for _, e in exc.errors) if hasattr(exc, "errors") else str(exc)
            raise AnchorError(f"cannot compute descriptors {names} for anchors {anames}: {why}; "
                              "pass anchors as a DataFrame of descriptor rows") from None
        return anames, formulas, F

    # ------------------------------------------------------------------ fit
    def _cfg(self, seed) -> dict:
        return dict(prior_var=self.prior_var, beta_n=self.beta_n, model_prior=self.model_prior,
                    n_iter=self.n_iter, burn_in=self.burn_in, n_chains=self.n_chains,
                    target_stderr=self.target_stderr, seed=seed, threads=self.threads,
                    engine=self._engine, chunk_size=self.chunk_size)

    def _search(self, Z, y, names, A, seed, tag="", client=None):
        kw = self._cfg(seed)
        checkpoint = self.checkpoint and Path(self.checkpoint)  # side searches: FILE.<tag>.json beside it
        checkpoint = checkpoint.with_name(f"{checkpoint.stem}.{tag}{checkpoint.suffix}") if checkpoint and tag else checkpoint
        if A is None or A.shape[0] == 1:
            return search_subsets(Z, y, names, self.max_size, progress=self.progress, client=client,
                                  checkpoint=checkpoint, **kw)
        if self.cluster_on == "subset":
            return search_subsets(Z, y, names, self.max_size, anchors=A, progress=self.progress,
                                  client=client, checkpoint=checkpoint, **kw)
        return search_subsets(Z, y, names, self.max_size, labels=assign_clusters(Z, A),
                              progress=self.progress, client=client, checkpoint=checkpoint, **kw)

    def _labels_for(self, Z, subset, A=None):
        A = self.anchors_z_ if A is None else A
        if A.shape[0] <= 1:
            return np.zeros(Z.shape[0], dtype=np.int64)
        return assign_clusters(Z, A, subset if self.cluster_on == "subset" else None)

    def _mixture_at(self, Z, y, subset, A, seed):
        lab = self._labels_for(Z, subset, A)
        sc = SearchConfig(prior_var=float(self.prior_var), beta_n=self.beta_n, n_iter=int(self.n_iter),
                          burn_in=int(self.burn_in), n_chains=int(self.n_chains),
                          target_stderr=self.target_stderr, seed=int(seed), threads=self.threads,
                          engine=self._engine)
        return mixture_wbic(Z, y, subset, lab, A.shape[0], sc, seed_keys=(7,))

    def fit(self, X, y):
        if self.cluster_on not in ("subset", "all"):
            raise ModelError(f"cluster_on must be 'subset' or 'all', got {self.cluster_on!r}")
        if self.compare_global not in ("search", "subset", False, None):
            raise ModelError(f"compare_global must be 'search', 'subset' or False, got {self.compare_global!r}")
        self._engine = resolve_engine(self.engine, self.backend)
        yv = labels01(y, error=ModelError)
        F, names, kind, _ = self._features(X, fitting=True)
        if F.shape[0] != yv.size:
            raise ModelError(f"X has {F.shape[0]} rows but y has {yv.size} labels")
        if int(self.max_size) > len(names):
            raise ModelError(f"max_size = {self.max_size} exceeds the {len(names)} candidate descriptors")
        seed = (int(np.random.SeedSequence().entropy % (2**63)) if self.random_state is None
                else check_seed(self.random_state, "random_state", bits=63, error=ModelError))
        self.seed_ = seed
        self.feature_names_in_ = list(names)
        self.n_features_in_ = len(names)
        self.input_kind_ = kind
        self.classes_ = np.array([0, 1])
        _check_finite(F, "descriptor matrix", names)
        self.standardizer_ = Standardizer.fit(F)
        Z = self.standardizer_.transform(F)

        # ---- anchors
        self.anchor_table_ = None
        spec = self.anchors
        if isinstance(spec, str) and spec == "auto":
            anames, aformulas, A = self._auto_anchors(Z, yv, names, seed)
        elif spec is None or (not isinstance(spec, (str, pd.DataFrame)) and len(spec) == 0):
            anames, aformulas, A = [], [], np.zeros((0, len(names)))
        else:
            anames, aformulas, Araw = self._anchor_raw(spec, names)
            _check_finite(Araw, "anchor descriptor matrix", names)
            A = self.standardizer_.transform(Araw)
        self.anchor_names_ = list(anames)
        self.anchor_formulas_ = list(aformulas) if aformulas is not None else None
        self.anchors_z_ = A if A.shape[0] else np.zeros((1, len(names)))  # K = 1: one cluster
        self.n_clusters_ = max(1, A.shape[0])

        # ---- subset search + final clustering + posterior
        reuse = getattr(self, "_init_ranking", None)
        self._init_ranking = None
        if reuse is not None and np.array_equal(reuse[0], A):
            self.ranking_ = reuse[1]  # auto anchors kept the initial pair: the search is done
        else:
            self.ranking_ = self._search(Z, yv, names, A if A.shape[0] else None, seed, client=self.client)
        best = self.ranking_.iloc[0]
        if not np.isfinite(best["wbic"]):
            raise ModelError("no subset gave a finite mixture WBIC (every clustering left a one-member cluster)")
        self.subset_ = tuple(int(j) for j in best["indices"])
        self.selected_descriptors_ = [names[j] for j in self.subset_]
        self.free_energy_ = float(best["wbic"])
        self.free_energy_stderr_ = float(best["stderr"])
        lab = self._labels_for(Z, self.subset_)
        self.cluster_sizes_ = np.bincount(lab, minlength=self.n_clusters_)
        self.cluster_positive_ = np.bincount(lab, weights=yv, minlength=self.n_clusters_)
        self._fit_posterior(Z, yv, lab, seed)

        # ---- single global model for comparison
        self.global_free_energy_ = self.global_free_energy_stderr_ = math.nan
        self.global_subset_ = None
        self.global_ranking_ = None
        if self.compare_global == "search" and self.n_clusters_ > 1:
            self.global_ranking_ = self._search(Z, yv, names, None, seed, tag="global")
            g = self.global_ranking_.iloc[0]
            self.global_subset_ = tuple(int(j) for j in g["indices"])
            self.global_free_energy_, self.global_free_energy_stderr_ = float(g["wbic"]), float(g["stderr"])
        elif self.compare_global and self.n_clusters_ > 1:
            r = wbic(Z[:, list(self.subset_)], yv, prior_var=self.prior_var,
                     n_iter=self.n_iter, burn_in=self.burn_in, n_chains=self.n_chains,
                     target_stderr=self.target_stderr, seed=seed, threads=self.threads,
                     engine=self._engine)
            self.global_subset_ = self.subset_
            self.global_free_energy_, self.global_free_energy_stderr_ = r.wbic, r.stderr
        elif self.n_clusters_ == 1:
            self.global_subset_ = self.subset_
            self.global_free_energy_, self.global_free_energy_stderr_ = self.free_energy_, self.free_energy_stderr_
        return self

    def _auto_anchors(self, Z, y, names, seed):
        """Coordinate descent: subset search with the first K candidates, then the K-combination of
        candidates with the lowest mixture WBIC at that subset, then a fresh search with it."""
        K = int(self.n_anchors)
        cands = self.candidate_anchors
        if cands is None:
            cands = list(load_anchor_table()["name"])
        anames, aformulas, Araw = self._anchor_raw(cands, names)
        _check_finite(Araw, "anchor descriptor matrix", names)
        Aall = self.standardizer_.transform(Araw)
        if not 1 <= K <= len(anames):
            raise ModelError(f"n_anchors must be in [1, {len(anames)}] (number of candidates), got {K}")
        if K == 1:
            return [], [], np.zeros((0, len(names)))
        init = list(range(K))
        if set(DEFAULT_ANCHORS) <= set(anames) and K == 2:
            init = [anames.index(a) for a in DEFAULT_ANCHORS]
        rk = self._search(Z, y, names, Aall[init], seed, tag="init")
        S = tuple(int(j) for j in rk.iloc[0]["indices"])
        rows = []
        for combo in itertools.combinations(range(len(anames)), K):
            A = Aall[list(combo)]
            tot, se, rh, _nit, per = self._mixture_at(Z, y, S, A, seed)
            lab = self._labels_for(Z, S, A)
            rows.append(dict(anchors=tuple(anames[i] for i in combo), indices=combo, wbic=tot, stderr=se,
                             rhat=rh, min_cluster=int(np.bincount(lab, minlength=K).min())))
        tab = pd.DataFrame(rows).sort_values("wbic", na_position="last").reset_index(drop=True)
        tab.attrs["subset"] = [names[j] for j in S]
        self.anchor_table_ = tab
        best = list(tab.iloc[0]["indices"])
        self._init_ranking = (Aall[init], rk)
        return ([anames[i] for i in best], [aformulas[i] for i in best] if aformulas else None, Aall[best])

    def _fit_posterior(self, Z, y, lab, seed):
        S = list(self.subset_)
        d = len(S) + 1
        self.coef_draws_ = []
        rng = np.random.default_rng([seed, 99])
        for c in range(self.n_clusters_):
            mask = lab == c
            if mask.sum() < 2:
                # no data: the posterior is the prior (the predictive stays ~0.5 there)
                draws = rng.normal(0.0, math.sqrt(self.prior_var), size=(int(self.n_chains) * int(self.n_draws), d))
            else:
                draws = posterior_draws(Z[mask][:, S], y[mask], beta=1.0, prior_var=self.prior_var,
                                        n_draws=int(self.n_draws), burn_in=int(self.burn_in),
                                        n_chains=int(self.n_chains), seed=seed + 1000 + c,
                                        threads=self.threads, engine=self._engine)
            self.coef_draws_.append(np.ascontiguousarray(draws, dtype=float))

    # ------------------------------------------------------------------ predict
    def _check_fitted(self):
        if not hasattr(self, "coef_draws_"):
            raise ModelError("this SparseMixtureClassifier is not fitted; call fit() or load()")

    def _z(self, X):
        self._check_fitted()
        F, _names, _kind, _ = self._features(X, fitting=False)
        _check_finite(F, "descriptor matrix", self.feature_names_in_)
        return self.standardizer_.transform(F)

    def cluster_of(self, X) -> np.ndarray:
        """Cluster index (position in ``anchor_names_``) of each alloy."""
        return self._labels_for(self._z(X), self.subset_)

    def _proba_z(self, Z):
        lab = self._labels_for(Z, self.subset_)
        A = np.hstack([np.ones((Z.shape[0], 1)), Z[:, list(self.subset_)]])
        p = np.empty(Z.shape[0])
        for c in range(self.n_clusters_):
            rows = np.flatnonzero(lab == c)
            D = self.coef_draws_[c]
            step = max(1, (1 << 20) // max(len(D), 1))  # rows x draws <= 2**20 at a time: flat memory
            for b in range(0, len(rows), step):
                r = rows[b:b + step]
                p[r] = _sigmoid(A[r] @ D.T).mean(axis=1)
        return p

    def _scored(self, X, errors):
        """(P(single phase) (n,), NaN for the rows that cannot be scored; their reasons or None)."""
        check_errors(errors)
        if errors == "raise":
            return self._proba_z(self._z(X)), None
        self._check_fitted()
        F, names, _kind, reasons = self._features(X, fitting=False, errors="nan")
        used = list(self.subset_) if self.cluster_on == "subset" else list(range(len(names)))
        ok = np.isfinite(F[:, used]).all(axis=1)
        p = np.full(F.shape[0], np.nan)
        if ok.any():  # columns the model does not read may be non-finite: standardize them to 0
            G = np.where(np.isfinite(F[ok]), F[ok], np.asarray(self.standardizer_.mean, dtype=float))
            p[ok] = self._proba_z(self.standardizer_.transform(G))
        if ok.all():
            return p, None
        why = np.full(F.shape[0], "", dtype=object)
        for i in np.flatnonzero(~ok).tolist():
            if reasons is not None and reasons[i]:
                why[i] = reasons[i]
            else:
                bad = [f"{names[j]} = {float(F[i, j])!r}" for j in used if not np.isfinite(F[i, j])]
                why[i] = f"non-finite descriptor(s) the model reads: {', '.join(bad)}"
        return p, why

    def predict_proba(self, X, *, errors="nan", return_reasons=False):
        """(n, 2) array [P(multi-phase), P(single-phase)], posterior predictive.

        errors: "nan" (default): a row whose descriptors the model reads (its selected subset,
        or all with ``cluster_on="all"``) are not all finite (an element lacking table data,
        an unparseable formula, Λ = inf for a pure element, ...) gets NaN probabilities, and one
        `hea_fast.features.BadRowsWarning` counts them; rows with NaN only in descriptors the
        model does not read are scored. "raise": any non-finite descriptor raises (as fit does).
        return_reasons=True returns (proba, reasons (n,) str, '' = scored) and warns nothing."""
        p, why = self._scored(X, errors)
        return _with_reasons(np.column_stack([1.0 - p, p]), why, X, return_reasons, "predict_proba",
                             "cannot be scored (NaN probabilities)")

    def predict(self, X, *, errors="nan", return_reasons=False):
        """0/1 labels (P(single phase) >= 0.5); with errors="nan", -1 for rows that cannot be
        scored (see `predict_proba`)."""
        p, why = self._scored(X, errors)
        return _with_reasons(np.where(np.isnan(p), -1, p >= 0.5).astype(np.int64), why, X, return_reasons,
                             "predict", "cannot be scored (label -1)")

    def coefficients(self) -> pd.DataFrame:
        """Posterior summary of each cluster's weights (standardized descriptor units)."""
        self._check_fitted()
        names = ["intercept"] + list(self.selected_descriptors_)
        rows = []
        for c, D in enumerate(self.coef_draws_):
            anchor = self.anchor_names_[c] if self.anchor_names_ else "global"
            for j, nm in enumerate(names):
                w = D[:, j]
                rows.append(dict(cluster=c, anchor=anchor, term=nm, mean=w.mean(), sd=w.std(ddof=1),
                                 q025=np.quantile(w, 0.025), q975=np.quantile(w, 0.975),
                                 p_positive=(w > 0).mean(), n=int(self.cluster_sizes_[c])))
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write the fitted model to directory ``path`` (config.json + arrays.npz + ranking.csv;
        `hea_fast.mixture.persistence`)."""
        self._check_fitted()
        save_model(self, path)

    @classmethod
    def load_default(cls) -> "SparseMixtureClassifier":
        """The bundled phase model (`hea_fast/data/models/mixture_default`, trained by
        scripts/train_default_mixture.py)."""
        return cls.load(default_model_dir())

    @classmethod
    def load(cls, path) -> "SparseMixtureClassifier":
        """Restore a model written by `save` (predictions are identical)."""
        return load_model(cls, path)


def k_sweep(X, y, ks: Sequence[int] = (1, 2, 3), **params) -> pd.DataFrame:
    """Fit with K = each of ``ks`` anchors (K = 1: one global model; K >= 2: ``anchors="auto"``
    over the candidates) and tabulate the mixture WBIC of each (open question 2 of the paper)."""
    rows = []
    for K in ks:
        kp = dict(params)
        kp["compare_global"] = False
        if int(K) == 1:
            kp["anchors"] = ()
        else:
            kp["anchors"] = "auto"
            kp["n_anchors"] = int(K)
        m = SparseMixtureClassifier(**kp).fit(X, y)
        rows.append(dict(K=int(K), anchors=tuple(m.anchor_names_), subset=tuple(m.selected_descriptors_),
                         wbic=m.free_energy_, stderr=m.free_energy_stderr_,
                         cluster_sizes=tuple(int(v) for v in m.cluster_sizes_)))
    return pd.DataFrame(rows)


def _with_reasons(value, why, X, return_reasons: bool, caller: str, detail: str):
    """`value`, or (value, per-row reasons ('' = scored)); without reasons, warn once about the rows
    that could not be scored (why is None when every row was)."""
    if return_reasons:
        return value, why if why is not None else np.full(len(value), "", dtype=object)
    if why is not None:
        labels = X.index if isinstance(X, (pd.Series, pd.DataFrame)) else None
        warn_bad_rows(why, caller, BadRowsWarning, labels=labels, detail=detail)
    return value
