"""Sparse anchor-guided Bayesian logistic mixture with WBIC subset search (arXiv 2504.20354).

Modules, each importing only those above it:

* `checks` — 0/1 labels, finite descriptor matrices, seeds, `ModelError`;
* `wbic_common` — WBIC input validation, result types, per-subset stream keys;
* `polyagamma` — Pólya-Gamma PG(b, c) sampler (compiled, exact) and its NumPy reference;
* `diagnostics` — batch-means standard error, split R-hat;
* `wbic_reference` — the float64 NumPy PG-Gibbs WBIC (reference of the compiled kernel);
* `wbic` — the API: `wbic`, `wbic_subsets`, `posterior_draws`, `laplace_wbic` (engine="cpp"|"numpy");
* `anchors` — named anchor alloys, standardization, nearest-anchor clustering;
* `search` — exhaustive subset search, checkpoint, Dask;
* `persistence` — saving and loading a `SparseMixtureClassifier` directory (no pickle);
* `model` — `SparseMixtureClassifier`, `k_sweep`;
* `enrichment` — threshold screening and enrichment (formerly `screening`);
* `training_data` — the labelled phase datasets as the CLI and scripts fit them.

``from hea_fast.mixture import wbic`` is the function ``wbic(X, y, ...)``; the module's other names
are imported explicitly (``from hea_fast.mixture.wbic import wbic_subsets``).
"""
from hea_fast.mixture.anchors import (
    DEFAULT_ANCHORS,
    assign_clusters,
    load_anchor_table,
    nearest_anchor,
    resolve_anchors,
)
from hea_fast.mixture.enrichment import enrichment, enrichment_curve
from hea_fast.mixture.model import SparseMixtureClassifier, k_sweep
from hea_fast.mixture.search import enumerate_subsets, search_subsets
from hea_fast.mixture.wbic_common import WBICResult, WBICSubsetsResult

# Last, so that the package attribute `wbic` is the function: the first import of the submodule
# hea_fast.mixture.wbic (above, through model/search) bound the attribute to the module, and this
# line rebinds it. Later imports of the submodule find it in sys.modules and leave it alone.
from hea_fast.mixture.wbic import posterior_draws, wbic, wbic_subsets  # noqa: E402  isort: skip

__all__ = [
    "DEFAULT_ANCHORS", "SparseMixtureClassifier", "WBICResult", "WBICSubsetsResult", "assign_clusters",
    "enrichment", "enrichment_curve", "enumerate_subsets", "k_sweep", "load_anchor_table", "nearest_anchor",
    "posterior_draws", "resolve_anchors", "search_subsets", "wbic", "wbic_subsets",
]
