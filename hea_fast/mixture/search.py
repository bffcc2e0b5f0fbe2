"""Exhaustive WBIC search over descriptor subsets for the anchor-guided logistic mixture.

Implements the model-selection step of Murakami, Miura, Endo & Minamoto, "Sparse mixed linear
modeling with anchor-based guidance for high-entropy alloy discovery" (arXiv 2504.20354): every
subset S of the candidate descriptors with 1 <= |S| <= L defines a mixture model

    cluster c(i) = nearest anchor of x_i            (Euclidean, standardized descriptor space)
    y_i ~ Bernoulli(sigmoid(w0_c + x_{i,S} . w_c))   w_c ~ N(0, prior_var I), independent per cluster

Its Bayes free energy is the sum of the per-cluster free energies (the parameters and the prior
factorise over clusters), so the mixture WBIC is the sum of the per-cluster WBICs (nats;
Watanabe 2013, JMLR 14:867). Model probabilities are

    P(S | data) ∝ exp(-WBIC(S) + log prior(S)),

with a uniform prior over subsets by default (or uniform over sizes, ``model_prior="size"``).

Where the clusters come from (``cluster_on``):

* ``"subset"`` (default when anchors are given): each subset is clustered in its own standardized
  coordinates, so the clustering used to score S is the one the final model will use (the subset is
  selected before the final clustering, as in the paper).
* ``"fixed"``: the caller passes the cluster labels (e.g. nearest anchor in the full descriptor
  space); all subsets share them, which lets one compiled call score a whole chunk of subsets.
* neither anchors nor labels: one global logistic model (K = 1).

The per-cluster inverse temperature is beta = 1/log n_c (``beta_n="cluster"``, so each cluster's
WBIC estimates its own free energy) or 1/log n (``beta_n="total"``).

Work is cut into fixed chunks of subsets (``chunk_size``); a chunk is the unit of local work, of a
Dask task and of the checkpoint. Random streams are keyed by (seed, subset index in the global
list, cluster) in ``cluster_on="subset"`` mode and by (seed, chunk index, cluster) + position in the
chunk in ``"fixed"`` mode, so a given (seed, chunk_size) gives the same table locally, over Dask and
after a resume from a checkpoint.
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from hea_fast._io import Checkpoint, CheckpointError, fingerprint
from hea_fast.mixture.anchors import nearest_anchor
from hea_fast.mixture.checks import check_seed
from hea_fast.mixture.wbic import wbic_subsets
from hea_fast.mixture.wbic_common import check_sampler_settings, check_xy, normalise_subsets, resolve_engine

__all__ = [
    "SearchError",
    "SearchConfig",
    "enumerate_subsets",
    "nearest_anchor",
    "mixture_wbic",
    "search_subsets",
    "log_model_prior",
]

CHECKPOINT_VERSION = 2  # 2: hea_fast._io.Checkpoint layout {"version", "fingerprint", "state"}


class SearchError(ValueError):
    """Invalid input to the subset search (the message names the offending value)."""


# ---------------------------------------------------------------------------------------------
# Subsets, clustering, priors
# ---------------------------------------------------------------------------------------------
def enumerate_subsets(p: int, max_size: int, min_size: int = 1) -> list[tuple[int, ...]]:
    """All column subsets with min_size <= size <= max_size, by size then lexicographically.

    For p = 20 and sizes 1..4 that is 20 + 190 + 1140 + 4845 = 6195 subsets."""
    p, max_size, min_size = int(p), int(max_size), int(min_size)
    if p < 1:
        raise SearchError(f"need at least one candidate descriptor, got p = {p}")
    if min_size < 0 or max_size < min_size:
        raise SearchError(f"need 0 <= min_size <= max_size, got min_size={min_size}, max_size={max_size}")
    if max_size > p:
        raise SearchError(f"max_size = {max_size} exceeds the number of candidate descriptors ({p})")
    out: list[tuple[int, ...]] = []
    for k in range(min_size, max_size + 1):
        out.extend(itertools.combinations(range(p), k))
    return out


def log_model_prior(subsets: Sequence[Sequence[int]], p: int, model_prior=None) -> np.ndarray:
    """log prior probability of each subset (up to a constant shared by all subsets).

    None / "uniform": uniform over the listed subsets. "size": uniform over sizes, then uniform
    within a size: log p(S) = -log C(p, |S|). A callable gets the subset tuple and returns a log
    prior. A dict maps subset tuples to log priors."""
    m = len(subsets)
    if model_prior is None or model_prior == "uniform":
        return np.zeros(m)
    if isinstance(model_prior, str):
        if model_prior == "size":
            return np.array([-math.log(math.comb(p, len(s))) for s in subsets])
        raise SearchError(f"model_prior must be None, 'uniform', 'size', a callable or a dict, got {model_prior!r}")
    if callable(model_prior):
        out = np.array([float(model_prior(tuple(s))) for s in subsets])
    elif isinstance(model_prior, dict):
        try:
            out = np.array([float(model_prior[tuple(s)]) for s in subsets])
        except KeyError as exc:
            raise SearchError(f"model_prior dict has no entry for subset {exc.args[0]!r}") from None
    else:
        raise SearchError(f"model_prior must be None, 'uniform', 'size', a callable or a dict, got {type(model_prior).__name__}")
    if np.any(np.isnan(out)) or np.any(out == np.inf):
        raise SearchError("model_prior returned NaN or +inf")
    return out


# ---------------------------------------------------------------------------------------------
# Configuration and one chunk of work (top-level, picklable: runs on Dask workers)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchConfig:
    """Sampler and mixture settings shared by every subset of a search."""

    prior_var: float = 10.0
    beta_n: str = "cluster"
    n_iter: int = 400
    burn_in: int = 100
    n_chains: int = 4
    target_stderr: float | None = None
    max_iter: int = 20000
    seed: int = 0
    threads: int | None = None
    engine: str = "cpp"  # "cpp" | "numpy" (hea_fast.mixture.wbic)
    cluster_on: str = "global"  # "global" | "fixed" | "subset"

    def sampler_kwargs(self) -> dict:
        return dict(prior_var=self.prior_var, n_iter=self.n_iter, burn_in=self.burn_in,
                    n_chains=self.n_chains, target_stderr=self.target_stderr,
                    max_iter=self.max_iter, threads=self.threads, engine=self.engine)


def _subseed(*keys: int) -> int:
    """A 63-bit seed from integer keys (SeedSequence hashing: distinct keys, independent streams)."""
    return int(np.random.SeedSequence([check_seed(k) for k in keys]).generate_state(1, np.uint64)[0]
               >> np.uint64(1))


def _cluster_beta(cfg: SearchConfig, n_total: int, n_c: int) -> dict:
    if cfg.beta_n == "total":
        return dict(beta=1.0 / math.log(n_total))
    return dict(beta=None, n_for_beta=None)  # 1/log n_c inside wbic_subsets


def mixture_wbic(X, y, subset, labels, n_clusters, cfg: SearchConfig, seed_keys=(0,)):
    """WBIC of the mixture on one subset with given cluster labels.

    Returns (total, stderr, rhat_max, n_iter_min, per_cluster_wbic array). Empty clusters add 0
    (no data, no parameters); a cluster with a single member makes the subset invalid (NaN),
    because beta = 1/log n_c is undefined for n_c = 1."""
    per = np.zeros(n_clusters)
    var = 0.0
    rh = 1.0
    nit = np.iinfo(np.int64).max
    n = X.shape[0]
    for c in range(n_clusters):
        mask = labels == c
        n_c = int(mask.sum())
        if n_c == 0:
            continue
        if n_c < 2:
            return math.nan, math.nan, math.nan, 0, np.full(n_clusters, np.nan)
        r = wbic_subsets(X[mask], y[mask], [tuple(subset)], **_cluster_beta(cfg, n, n_c),
                         seed=_subseed(cfg.seed, *seed_keys, c), **cfg.sampler_kwargs())
        per[c] = r.wbic[0]
        var += float(r.stderr[0]) ** 2
        rh = max(rh, float(r.rhat[0]))
        nit = min(nit, int(r.n_iter[0]))
    return float(per.sum()), math.sqrt(var), rh, int(nit), per


def _eval_chunk(X, y, subsets, start, chunk_index, cfg: SearchConfig, labels=None, anchors=None,
                n_clusters=1):
    """Score one chunk of subsets; returns a dict of per-subset arrays (aligned with `subsets`)."""
    m = len(subsets)
    out = dict(wbic=np.full(m, np.nan), stderr=np.full(m, np.nan), rhat=np.full(m, np.nan),
               n_iter=np.zeros(m, dtype=np.int64), per_cluster=np.full((m, n_clusters), np.nan))
    if cfg.cluster_on == "subset":
        for i, s in enumerate(subsets):
            lab = nearest_anchor(X[:, list(s)], anchors[:, list(s)])
            tot, se, rh, nit, per = mixture_wbic(X, y, s, lab, n_clusters, cfg, seed_keys=(start + i,))
            out["wbic"][i], out["stderr"][i], out["rhat"][i], out["n_iter"][i] = tot, se, rh, nit
            out["per_cluster"][i] = per
        return out
    # Shared labels ("fixed", or K = 1 "global"): one batched compiled call per cluster.
    if labels is None:
        labels = np.zeros(X.shape[0], dtype=np.int64)
    var = np.zeros(m)
    rh = np.ones(m)
    nit = np.full(m, np.iinfo(np.int64).max)
    tot = np.zeros(m)
    for c in range(n_clusters):
        mask = labels == c
        n_c = int(mask.sum())
        if n_c == 0:
            out["per_cluster"][:, c] = 0.0
            continue
        if n_c < 2:
            return out  # all NaN: a one-member cluster has no beta = 1/log n_c
        r = wbic_subsets(X[mask], y[mask], subsets, **_cluster_beta(cfg, X.shape[0], n_c),
                         seed=_subseed(cfg.seed, 1 << 40, chunk_index, c), **cfg.sampler_kwargs())
        out["per_cluster"][:, c] = r.wbic
        tot += r.wbic
        var += np.asarray(r.stderr) ** 2
        rh = np.maximum(rh, r.rhat)
        nit = np.minimum(nit, r.n_iter)
    out["wbic"], out["stderr"], out["rhat"], out["n_iter"] = tot, np.sqrt(var), rh, nit.astype(np.int64)
    return out


# ---------------------------------------------------------------------------------------------
# Checkpoint: hea_fast._io.Checkpoint, state {"n_chunks", "chunk_size", "chunks": {index: arrays}}
# ---------------------------------------------------------------------------------------------
def _fingerprint(X, y, subsets, cfg, chunk_size, labels, anchors, n_clusters) -> str:
    # threads is left out: results do not depend on the thread count
    settings = {k: v for k, v in asdict(cfg).items() if k != "threads"}
    return fingerprint(dict(X=X, y=y, subsets=[list(s) for s in subsets], cfg=settings, chunk_size=chunk_size,
                            n_clusters=n_clusters, labels=labels, anchors=anchors))


def _chunk_to_json(res: dict) -> dict:
    return {k: np.asarray(v).tolist() for k, v in res.items()}


def _chunk_from_json(d: dict) -> dict:
    return dict(wbic=np.array(d["wbic"], dtype=float), stderr=np.array(d["stderr"], dtype=float),
                rhat=np.array(d["rhat"], dtype=float), n_iter=np.array(d["n_iter"], dtype=np.int64),
                per_cluster=np.array(d["per_cluster"], dtype=float))


def _load_checkpoint(ck: Checkpoint) -> dict[int, dict]:
    try:
        state = ck.load()
    except CheckpointError as exc:
        raise SearchError(f"{exc} (a search resumes only with the same X, y, subsets, sampler settings, seed "
                          "and chunk_size)") from None
    if state is None:
        return {}
    return {int(k): _chunk_from_json(v) for k, v in state["chunks"].items()}


# ---------------------------------------------------------------------------------------------
# Public search
# ---------------------------------------------------------------------------------------------
def search_subsets(X, y, feature_names: Sequence[str] | None = None, max_size: int = 3, *,
                   min_size: int = 1, subsets: Sequence[Sequence[int]] | None = None,
                   anchors=None, labels=None, prior_var: float = 10.0, beta_n: str = "cluster",
                   model_prior=None, n_iter: int = 400, burn_in: int = 100, n_chains: int = 4,
                   target_stderr: float | None = None, max_iter: int = 20000, seed: int = 0,
                   threads: int | None = None, engine: str = "cpp", chunk_size: int = 64,
                   checkpoint: str | os.PathLike | None = None, client=None, progress: bool = True,
                   on_chunk: Callable[[int, int], None] | None = None, backend: str | None = None) -> pd.DataFrame:
    """Rank descriptor subsets of a (mixture of) Bayesian logistic model(s) by WBIC.

    X: (n, p) standardized descriptors (no intercept column); y: (n,) 0/1 labels.
    anchors: (K, p) anchor coordinates in the same standardized space -> each subset is clustered
    by nearest anchor in its own coordinates. labels: (n,) fixed cluster labels 0..K-1 shared by
    all subsets. Neither: one global model. Returns a DataFrame sorted by posterior score
    (WBIC - log prior), with columns: rank, subset (names), indices, size, wbic, stderr, rhat,
    n_iter, log_prior, model_prob, wbic_c<k> per cluster (when K > 1).

    engine: "cpp" (compiled PG-Gibbs, default) or "numpy" (the reference sampler), see
    `hea_fast.mixture.wbic`; ``backend=`` is its deprecated spelling.
    checkpoint: JSON file updated atomically after every chunk; rerunning with the same arguments
    skips finished chunks and returns the identical table. client: a dask.distributed Client; each
    pending chunk becomes a task.
    """
    engine = resolve_engine(engine, backend)
    X, y = check_xy(X, y)
    n, p = X.shape
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(p)]
    feature_names = [str(f) for f in feature_names]
    if len(feature_names) != p:
        raise SearchError(f"feature_names has {len(feature_names)} names for {p} columns")
    if subsets is None:
        subsets = enumerate_subsets(p, max_size, min_size)
    subsets = normalise_subsets(subsets, p)
    if not subsets:
        raise SearchError("no subsets to search")
    seen: dict = {}
    for s in subsets:  # a model listed twice would get its probability twice (and (0, 1) is (1, 0))
        key = frozenset(s)
        if key in seen:
            raise SearchError(f"subsets list the same descriptor set twice: {seen[key]!r} and {s!r}")
        seen[key] = s
    if any(len(s) == 0 for s in subsets) and anchors is not None:
        raise SearchError("the empty subset cannot be clustered by anchors (no coordinates); use min_size >= 1")
    if beta_n not in ("cluster", "total"):
        raise SearchError(f"beta_n must be 'cluster' or 'total', got {beta_n!r}")
    if int(chunk_size) < 1:
        raise SearchError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    chunk_size = int(chunk_size)
    check_sampler_settings(prior_var, n_iter, burn_in, n_chains, target_stderr, max_iter)
    if anchors is not None and labels is not None:
        raise SearchError("give either anchors (cluster each subset) or labels (fixed clusters), not both")
    if anchors is not None:
        anchors = np.ascontiguousarray(np.asarray(anchors, dtype=float))
        if anchors.ndim != 2 or anchors.shape[1] != p:
            raise SearchError(f"anchors must have shape (K, {p}), got {anchors.shape}")
        if not np.all(np.isfinite(anchors)):
            raise SearchError("anchor coordinates contain NaN/inf")
        n_clusters, mode = anchors.shape[0], "subset"
    elif labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise SearchError(f"labels must be {n} non-negative integers, got shape {labels.shape}, dtype {labels.dtype}")
        labels = labels.astype(np.int64)
        n_clusters, mode = int(labels.max()) + 1, "fixed"
        lone = np.flatnonzero(np.bincount(labels, minlength=n_clusters) == 1)
        if lone.size:  # every subset would score NaN (no beta = 1/log n_c; one point has no posterior)
            c = int(lone[0])
            raise SearchError(f"cluster {c} of labels has a single member (row {int(np.flatnonzero(labels == c)[0])}); "
                              "a cluster needs at least 2 alloys: merge it or drop the row")
    else:
        n_clusters, mode = 1, "global"
    cfg = SearchConfig(prior_var=float(prior_var), beta_n=beta_n, n_iter=int(n_iter), burn_in=int(burn_in),
                       n_chains=int(n_chains), target_stderr=None if target_stderr is None else float(target_stderr),
                       max_iter=int(max_iter), seed=int(seed), threads=threads, engine=engine, cluster_on=mode)
    logp = log_model_prior(subsets, p, model_prior)

    starts = list(range(0, len(subsets), chunk_size))
    ck = Checkpoint(checkpoint, _fingerprint(X, y, subsets, cfg, chunk_size, labels, anchors, n_clusters),
                    version=CHECKPOINT_VERSION, what="search checkpoint")
    done = _load_checkpoint(ck)
    pending = [ci for ci in range(len(starts)) if ci not in done]

    bar = None
    if progress:
        from hea_fast._progress import progress_bar

        bar = progress_bar(total=len(subsets), desc="WBIC subsets", unit="subset",
                   initial=sum(len(subsets[starts[ci]:starts[ci] + chunk_size]) for ci in done))

    def record(ci, res):
        done[ci] = res
        ck.save({"n_chunks": len(starts), "chunk_size": chunk_size,
                 "chunks": {str(k): _chunk_to_json(v) for k, v in sorted(done.items())}}, force=True)
        if bar is not None:
            bar.update(len(res["wbic"]))
        if on_chunk is not None:
            on_chunk(ci, len(starts))

    kw = dict(labels=labels, anchors=anchors, n_clusters=n_clusters)
    try:
        if client is None:
            for ci in pending:
                s0 = starts[ci]
                record(ci, _eval_chunk(X, y, subsets[s0:s0 + chunk_size], s0, ci, cfg, **kw))
        else:
            from dask.distributed import as_completed

            Xf, yf = client.scatter([X, y], broadcast=True)
            futs = {}
            for ci in pending:
                s0 = starts[ci]
                f = client.submit(_eval_chunk, Xf, yf, subsets[s0:s0 + chunk_size], s0, ci, cfg,
                                  pure=False, **kw)
                futs[f] = ci
            for f in as_completed(list(futs)):
                record(futs[f], f.result())
    finally:
        if bar is not None:
            bar.close()

    cols = {k: np.concatenate([done[ci][k] for ci in range(len(starts))]) for k in
            ("wbic", "stderr", "rhat", "n_iter")}
    per = np.concatenate([done[ci]["per_cluster"] for ci in range(len(starts))], axis=0)
    return _rank_table(subsets, feature_names, cols, per, logp, n_clusters)


def _rank_table(subsets, names, cols, per, logp, n_clusters) -> pd.DataFrame:
    score = cols["wbic"] - logp
    valid = np.isfinite(score)
    prob = np.zeros(len(subsets))
    if valid.any():
        s = -score[valid]
        w = np.exp(s - s.max())
        prob[valid] = w / w.sum()
    df = pd.DataFrame({
        "subset": [tuple(names[j] for j in s) for s in subsets],
        "indices": [tuple(s) for s in subsets],
        "size": [len(s) for s in subsets],
        "wbic": cols["wbic"], "stderr": cols["stderr"], "rhat": cols["rhat"], "n_iter": cols["n_iter"],
        "log_prior": logp, "model_prob": prob,
    })
    if n_clusters > 1:
        for c in range(n_clusters):
            df[f"wbic_c{c}"] = per[:, c]
    order = np.lexsort((np.arange(len(subsets)), np.where(valid, score, np.inf)))
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    return df
