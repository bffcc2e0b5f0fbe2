"""scikit-learn members -> `hea_fast.phase.ensemble.EnsembleParams` (training time only).

* `params_from_sklearn(scaler, logreg, trees, descriptors, elements)`: a StandardScaler and a binary
  LogisticRegression over v = [descriptors | element fractions], and a binary
  HistGradientBoostingClassifier (logit link) or RandomForestClassifier (mean link, float32 node
  tests) on the leading columns of v, as the parameters the kernels and the NumPy reference read;
* `float32_cut(t)`: the float64 threshold that makes a float64 comparison equal to scikit-learn's
  float32 one (boosted trees fitted on float32-rounded features; `hea_fast.phase.ensemble`'s docstring).

Reads fitted estimators' attributes only; scikit-learn is imported for one record dtype, when boosted
trees are converted.
"""
from __future__ import annotations

import numpy as np

from hea_fast.phase.ensemble import EnsembleParams

__all__ = ["params_from_sklearn", "float32_cut"]


def params_from_sklearn(scaler, logreg, hgb, descriptors, elements, w_lin: float = 0.5, w_tree: float = 0.5,
                        cal_a: float = 1.0, cal_b: float = 0.0, features_float32: bool = False) -> EnsembleParams:
    """`EnsembleParams` of fitted scikit-learn members: a StandardScaler (or None: no scaling) and a
    binary LogisticRegression over v = [descriptors | fractions of elements], and a binary
    HistGradientBoostingClassifier (logit link) or RandomForestClassifier (mean link, float32 node
    tests) whose features are the first ``hgb.n_features_in_`` columns of v (the descriptors when it
    was fitted on descriptors only). Categorical splits are refused. features_float32: the boosted trees
    were fitted on, and predict from, float32-rounded features; their thresholds are converted by
    `float32_cut` so the float64 kernels give the same results (module docstring)."""
    descriptors, elements = tuple(descriptors), tuple(elements)
    F = len(descriptors) + len(elements)
    coef = np.asarray(logreg.coef_, dtype=np.float64)
    classes = np.asarray(logreg.classes_)
    if classes.shape != (2,) or coef.shape != (1, F):
        raise ValueError(f"logreg must be a binary LogisticRegression over {F} features (descriptors + elements); "
                         f"it has classes {classes.tolist()} and coef_ shape {coef.shape}")
    if scaler is None:
        mean, scale = np.zeros(F), np.ones(F)
    else:
        n_in = getattr(scaler, "n_features_in_", None)
        if n_in != F:
            raise ValueError(f"scaler was fitted on {n_in} features; v has {F}")
        mean = np.asarray(scaler.mean_, dtype=np.float64) if scaler.with_mean else np.zeros(F)
        scale = np.asarray(scaler.scale_, dtype=np.float64) if scaler.with_std else np.ones(F)
        scale = np.where(scale == 0, 1.0, scale)
    forest = hasattr(hgb, "estimators_") and hasattr(hgb, "n_outputs_")  # a RandomForestClassifier
    kind = "forest" if forest else "hgb"
    tree_classes = np.asarray(getattr(hgb, "classes_", []))
    binary = hgb.n_outputs_ == 1 if forest else getattr(hgb, "n_trees_per_iteration_", None) == 1
    if tree_classes.shape != (2,) or not binary:
        raise ValueError(f"hgb must be a fitted binary HistGradientBoostingClassifier or RandomForestClassifier; "
                         f"classes {tree_classes.tolist()}")
    if not np.array_equal(tree_classes, classes):
        raise ValueError(f"the members predict different classes: logreg {classes.tolist()}, {kind} "
                         f"{tree_classes.tolist()}")
    if hgb.n_features_in_ > F:
        raise ValueError(f"{kind} was fitted on {hgb.n_features_in_} features; v has {F}")
    if forest and features_float32:
        raise ValueError("features_float32 applies to boosted trees; forests already compare float32 features")
    nodes = _forest_nodes(hgb) if forest else _hgb_nodes(hgb, bool(features_float32))
    return EnsembleParams(
        descriptors=descriptors, elements=elements,
        lin_mean=mean, lin_scale=scale, lin_coef=coef[0], lin_intercept=float(np.asarray(logreg.intercept_)[0]),
        w_lin=w_lin, w_tree=w_tree, cal_a=cal_a, cal_b=cal_b, **nodes)


def float32_cut(t) -> np.ndarray:
    """For thresholds t (float64), the largest float64 t' with  float32(x) <= t  <=>  x <= t'  for every
    float64 x (float32(x): round to nearest, ties to even, as NumPy casts); infinite t are kept.
    With a = the largest float32 <= t and b the next float32, float32(x) <= a exactly when x lies
    below their midpoint m (exact in float64), or at m when a's last mantissa bit is even."""
    t = np.asarray(t, dtype=np.float64)
    out = t.copy()
    fin = np.isfinite(t)
    if not fin.any():
        return out
    tf = t[fin]
    with np.errstate(over="ignore"):
        a = tf.astype(np.float32)
    a = np.where(a.astype(np.float64) > tf, np.nextafter(a, np.float32(-np.inf)), a)
    b = np.nextafter(a, np.float32(np.inf))
    m = (a.astype(np.float64) + b.astype(np.float64)) * 0.5
    even = (a.view(np.uint32) & 1) == 0
    cut = np.where(even, m, np.nextafter(m, -np.inf))
    out[fin] = np.where(np.isfinite(b), cut, np.inf)  # a = the largest float32: every finite x rounds <= a
    return out


def _hgb_nodes(hgb, features_float32: bool = False) -> dict:
    """The tree fields of `EnsembleParams` for a HistGradientBoostingClassifier (logit link); with
    features_float32 its thresholds are converted by `float32_cut`."""
    if getattr(hgb, "is_categorical_", None) is not None and np.any(hgb.is_categorical_):
        raise ValueError("hgb has categorical features; the phase ensemble supports numeric splits only")
    baseline = np.asarray(hgb._baseline_prediction, dtype=np.float64)
    if baseline.size != 1:
        raise ValueError(f"hgb has baseline shape {baseline.shape}; expected one value (binary)")
    nodes = [pred[0].nodes for pred in hgb._predictors]
    sizes = np.array([len(nd) for nd in nodes], dtype=np.int64)
    allnodes = np.concatenate(nodes) if nodes else np.zeros(0, dtype=_node_dtype())
    if allnodes.size and allnodes["is_categorical"].any():
        raise ValueError("hgb has a categorical split; the phase ensemble supports numeric splits only")
    leaf = allnodes["is_leaf"].astype(bool)
    return {"tree_baseline": float(baseline.ravel()[0]), "tree_offsets": _offsets(sizes),
            "node_feature": np.where(leaf, -1, allnodes["feature_idx"]).astype(np.int32),
            "node_threshold": np.where(leaf, 0.0, float32_cut(allnodes["num_threshold"]) if features_float32
                                       else allnodes["num_threshold"]),
            "node_left": np.where(leaf, -1, allnodes["left"].astype(np.int64)).astype(np.int32),
            "node_right": np.where(leaf, -1, allnodes["right"].astype(np.int64)).astype(np.int32),
            "node_value": np.where(leaf, allnodes["value"], 0.0),
            "node_missing_left": np.where(leaf, 0, allnodes["missing_go_to_left"]).astype(np.uint8)}


def _forest_nodes(rf) -> dict:
    """The tree fields of `EnsembleParams` for a RandomForestClassifier (mean link, float32 node
    tests). A leaf's value is its class-1 weight over its total weight, the normalisation
    scikit-learn's predict_proba applies, so the member's mean equals predict_proba bitwise."""
    trees = [est.tree_ for est in rf.estimators_]
    leaves = [t.children_left == -1 for t in trees]

    def cat(f, dtype=None):
        out = np.concatenate([f(t, leaf) for t, leaf in zip(trees, leaves)])
        return out if dtype is None else out.astype(dtype)

    def value(t, leaf):
        v = t.value[:, 0, :]
        total = v[:, 0] + v[:, 1]  # predict_proba's normaliser (the row sum), 0 -> 1
        return np.where(leaf, v[:, 1] / np.where(total == 0.0, 1.0, total), 0.0)

    def missing(t, leaf):
        miss = getattr(t, "missing_go_to_left", None)
        return np.where(leaf, 0, miss if miss is not None else 0)

    return {"tree_baseline": 0.0, "tree_offsets": _offsets([t.node_count for t in trees]),
            "node_feature": cat(lambda t, leaf: np.where(leaf, -1, t.feature), np.int32),
            "node_threshold": cat(lambda t, leaf: np.where(leaf, 0.0, t.threshold)),
            "node_left": cat(lambda t, leaf: np.where(leaf, -1, t.children_left), np.int32),
            "node_right": cat(lambda t, leaf: np.where(leaf, -1, t.children_right), np.int32),
            "node_value": cat(value), "node_missing_left": cat(missing, np.uint8),
            "tree_link": "mean", "tree_float32": True}


def _offsets(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(np.int64)


def _node_dtype():
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE  # noqa: PLC0415
    return PREDICTOR_RECORD_DTYPE
