"""Saving and loading `SparseMixtureClassifier` (no pickle): a model directory holds config.json (the
parameters, the selected subset, anchors, free energies and cluster summaries), arrays.npz (the
standardisation, the anchors in standardised units and the posterior draws of each cluster) and
ranking.csv (the WBIC ranking of the searched subsets). config.json is written last and removed first,
so a directory whose save was interrupted is refused on load, never read half old, half new.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hea_fast._io import CheckpointError, atomic_path, atomic_write_json, read_json
from hea_fast.mixture.anchors import Standardizer
from hea_fast.mixture.checks import ModelError

__all__ = ["save_model", "load_model", "JSON_PARAMS", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_VERSION = 1
FORMAT_NAME = "hea_fast.mixture.SparseMixtureClassifier"

#: the estimator parameters config.json records (constructor arguments; `anchors` is added)
JSON_PARAMS = ("descriptors", "max_size", "cluster_on", "beta_n", "prior_var", "model_prior",
               "n_iter", "burn_in", "n_chains", "target_stderr", "n_draws", "n_anchors",
               "candidate_anchors", "compare_global", "table", "chunk_size", "random_state")


def save_model(model, path) -> None:
    """Write the fitted `model` to directory ``path`` (config.json + arrays.npz + ranking.csv)."""
    params = {}
    for k in JSON_PARAMS:
        v = getattr(model, k)
        if isinstance(v, tuple):
            v = list(v)
        if not (v is None or isinstance(v, (str, int, float, bool, list))):
            raise ModelError(f"parameter {k}={v!r} cannot be saved as JSON")
        params[k] = v
    params["anchors"] = model.anchors if isinstance(model.anchors, str) else list(model.anchor_names_)
    cfg = dict(
        format=FORMAT_NAME, version=FORMAT_VERSION, params=params,
        feature_names=list(model.feature_names_in_), input_kind=model.input_kind_,
        anchor_names=list(model.anchor_names_), anchor_formulas=model.anchor_formulas_,
        n_clusters=int(model.n_clusters_), subset=list(model.subset_),
        selected_descriptors=list(model.selected_descriptors_), seed=int(model.seed_),
        free_energy=model.free_energy_, free_energy_stderr=model.free_energy_stderr_,
        global_free_energy=model.global_free_energy_,
        global_free_energy_stderr=model.global_free_energy_stderr_,
        global_subset=None if model.global_subset_ is None else list(model.global_subset_),
        cluster_sizes=[int(v) for v in model.cluster_sizes_],
        cluster_positive=[float(v) for v in model.cluster_positive_],
    )
    arrays = dict(mean=model.standardizer_.mean, scale=model.standardizer_.scale, anchors_z=model.anchors_z_)
    for c, D in enumerate(model.coef_draws_):
        arrays[f"draws_c{c}"] = D
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    # overwriting a model: drop its config first, so that a failure part-way leaves a directory
    # `load` refuses, never the old config over the new arrays
    (path / "config.json").unlink(missing_ok=True)
    with atomic_path(path / "arrays.npz") as tmp:
        np.savez(tmp, **arrays)
    rk = model.ranking_.copy()
    rk["subset"] = [";".join(s) for s in rk["subset"]]
    rk["indices"] = [";".join(str(i) for i in s) for s in rk["indices"]]
    with atomic_path(path / "ranking.csv") as tmp:
        rk.to_csv(tmp, index=False, float_format="%.17g")
    # config last: its presence marks a complete model directory
    atomic_write_json(path / "config.json", cfg, indent=2, allow_nan=True)


def load_model(cls, path):
    """Restore a model of class `cls` written by `save_model` (predictions are identical)."""
    cpath = os.path.join(path, "config.json")
    if not os.path.exists(cpath):
        raise ModelError(f"{path!r} is not a saved SparseMixtureClassifier (no config.json)")
    try:
        cfg = read_json(cpath, what="mixture model config")
    except CheckpointError as exc:
        raise ModelError(str(exc)) from None
    if not isinstance(cfg, dict):
        raise ModelError(f"{cpath} is not a SparseMixtureClassifier config (not a JSON object)")
    if cfg.get("format") != FORMAT_NAME:
        raise ModelError(f"{cpath} has format {cfg.get('format')!r}, expected {FORMAT_NAME!r}")
    if cfg.get("version") != FORMAT_VERSION:
        raise ModelError(f"{cpath} has version {cfg.get('version')!r}; this hea_fast reads version {FORMAT_VERSION}")
    p = dict(cfg["params"])
    model = cls(**p)
    apath = os.path.join(path, "arrays.npz")
    try:
        with np.load(apath, allow_pickle=False) as z:
            model.standardizer_ = Standardizer(mean=z["mean"], scale=z["scale"])
            model.anchors_z_ = z["anchors_z"]
            model.coef_draws_ = [z[f"draws_c{c}"] for c in range(cfg["n_clusters"])]
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"model arrays {apath} are missing or unreadable ({exc}); save the model again") from None
    model.feature_names_in_ = cfg["feature_names"]
    model.n_features_in_ = len(cfg["feature_names"])
    model.input_kind_ = cfg["input_kind"]
    model.anchor_names_ = cfg["anchor_names"]
    model.anchor_formulas_ = cfg["anchor_formulas"]
    model.n_clusters_ = int(cfg["n_clusters"])
    model.subset_ = tuple(cfg["subset"])
    model.selected_descriptors_ = cfg["selected_descriptors"]
    model.seed_ = cfg["seed"]
    model.free_energy_, model.free_energy_stderr_ = cfg["free_energy"], cfg["free_energy_stderr"]
    model.global_free_energy_ = cfg["global_free_energy"]
    model.global_free_energy_stderr_ = cfg["global_free_energy_stderr"]
    model.global_subset_ = None if cfg["global_subset"] is None else tuple(cfg["global_subset"])
    model.cluster_sizes_ = np.array(cfg["cluster_sizes"], dtype=np.int64)
    model.cluster_positive_ = np.array(cfg["cluster_positive"], dtype=float)
    model.classes_ = np.array([0, 1])
    rk = pd.read_csv(os.path.join(path, "ranking.csv"), float_precision="round_trip")
    rk["subset"] = [tuple(str(s).split(";")) for s in rk["subset"]]
    rk["indices"] = [tuple(int(i) for i in str(s).split(";")) for s in rk["indices"]]
    model.ranking_ = rk
    model.anchor_table_ = None
    model.global_ranking_ = None
    return model
