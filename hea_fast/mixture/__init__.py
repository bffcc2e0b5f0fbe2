"""Sparse anchor-guided Bayesian logistic mixture with WBIC subset search (arXiv 2504.20354).

Modules: `wbic` (Pólya-Gamma Gibbs WBIC; the module is callable, ``hea_fast.mixture.wbic(X, y)``
runs the function `wbic.wbic`), `search` (exhaustive subset search, checkpoint, Dask),
`anchors` (named anchor alloys, nearest-anchor clustering), `model` (SparseMixtureClassifier),
`screening` (threshold screening and enrichment).
"""
from hea_fast.mixture.anchors import DEFAULT_ANCHORS, assign_clusters, load_anchor_table, resolve_anchors
from hea_fast.mixture.model import SparseMixtureClassifier, k_sweep
from hea_fast.mixture.screening import enrichment, enrichment_curve
from hea_fast.mixture.search import enumerate_subsets, nearest_anchor, search_subsets
from hea_fast.mixture import wbic  # the submodule, callable as the function wbic(X, y, ...)
from hea_fast.mixture.wbic import WBICResult, posterior_draws, wbic_subsets

__all__ = [
    "DEFAULT_ANCHORS", "SparseMixtureClassifier", "WBICResult", "assign_clusters", "enrichment",
    "enrichment_curve", "enumerate_subsets", "k_sweep", "load_anchor_table", "nearest_anchor",
    "posterior_draws", "resolve_anchors", "search_subsets", "wbic", "wbic_subsets",
]
