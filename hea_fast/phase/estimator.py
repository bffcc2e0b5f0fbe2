"""`PhaseEnsembleClassifier`: the training side of the default phase model (needs scikit-learn).

Chosen on the cross-source protocol (benchmarks/papers/phase_validation/README.md: mean over the
six held-out sources of AUC and log-loss), the model averages the probabilities of two members and
calibrates the average. The bundled default is ``PhaseEnsembleClassifier(calibrate=False,
trees="forest")`` fitted with ``label_fraction`` on one row per (source, composition) (the protocol's
``ensemble_forest_sources``: each source's label, and its forest learns the fraction of that source's records
that call the composition single phase; on pooled rows, ``ensemble_forest_soft``, the earlier default), the
bundled ``fast`` model ``trees="distilled"`` fitted on pooled rows (``ensemble_distilled_soft``: the earlier
default's forest distilled into boosted trees); the class defaults (boosted trees fitted to the labels, calibrated) are the
protocol's ``ensemble_calibrated``:

(a) linear   `StandardScaler` + `LogisticRegression` on v = [15 descriptors | element fractions of
             the training elements]; C from {0.01, 0.1, 1, 10, 100, 1000} (the validation's
             ``logreg_fractions``);
(b) trees    `HistGradientBoostingClassifier` (300 iterations, no early stopping) on the 15
             descriptors rounded to float32 (`student_features`, as every boosted member below);
             learning rate {0.03, 0.1} x max depth {3, None} x L2 {0, 1} (the validation's ``hgb``);
    ``trees="forest"``: a 300-tree `RandomForestClassifier` on the 15 descriptors instead (mean leaf
             fraction; min_samples_leaf from `FOREST_GRID`; the bundled ``best`` model);
    ``trees="distilled"``: that forest distilled into boosted trees the fused screening kernel runs
             (`STUDENT`: 600 trees of depth <= 4): the student is a `HistGradientBoostingClassifier`
             fitted by log-loss to the forest's probabilities (soft labels: each composition once as
             label 1 with weight p_forest and once as label 0 with weight 1 - p_forest) on the
             training compositions and compositions around them (`distillation_compositions`), each
             training composition weighing `DISTIL_WEIGHT` (25) draws, so that the training compositions
             together weigh as much as the draws around them; the student sees the descriptors rounded
             to float32 (`student_features`: the same branch whatever order a descriptor was summed in);
    p_avg  = w_lin p_lin + w_tree p_tree  (w = 1/2 each);
    p      = expit(a logit(p_avg) + b)    (Platt calibration; ``calibrate=False``: p = p_avg).

Hyperparameters of each member: `GridSearchCV` scored by log-loss over an inner `GroupKFold(3)` of
the training rows' alloy systems, then refitted on all rows. Calibration: with the selected
hyperparameters fixed, both members are refitted in each fold of a `GroupKFold(5)` over the alloy
systems and predict its held-out systems (a distilled member: the selected forest refitted on the
fold and distilled again); (a, b) maximise the likelihood of the labels given these
out-of-fold averages (`fit_platt`, Newton's method). Everything is seeded by ``random_state``:
the same data and seed give the same model bitwise.

`export()` gives the `hea_fast.phase.model.PhaseModel` (NumPy + compiled-core inference) with the
same probabilities.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from hea_fast.phase.model import alloy_systems, default_descriptors, feature_matrix, read_rows

__all__ = ["PhaseEnsembleClassifier", "fit_platt", "apply_platt", "distillation_compositions", "student_features",
           "soft_label_rows",
           "LIN_C_GRID", "TREE_GRID", "FOREST_GRID", "STUDENT", "DISTIL_DRAWS", "DISTIL_WEIGHT", "TREE_KINDS"]

#: C grid of the linear member (the validation's logreg / logreg_fractions).
LIN_C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
#: Grid of the tree member (the validation's hgb / hgb_fractions).
TREE_GRID = {"learning_rate": (0.03, 0.1), "max_depth": (3, None), "l2_regularization": (0.0, 1.0)}
#: Grid of the random-forest tree member (``trees="forest"``; 300 trees, every other setting scikit-learn's).
FOREST_GRID = {"min_samples_leaf": (1, 5, 20)}
#: The student of ``trees="distilled"``: depth <= 4 is the fused kernel's complete-tree layout; fixed, not searched.
STUDENT = {"max_iter": 600, "max_depth": 4, "learning_rate": 0.1}
#: Per training composition: `near` draws on its own elements, `mix` blends of two training compositions,
#: `new` alloys of 4-6 training elements (see `distillation_compositions`).
DISTIL_DRAWS = {"near": 10, "mix": 10, "new": 5}
#: Weight of each training composition in the distillation set (each draw weighs 1): the number of draws
#: per composition, so the training compositions together weigh as much as all the draws around them.
DISTIL_WEIGHT = float(sum(DISTIL_DRAWS.values()))
TREE_KINDS = ("boosting", "forest", "distilled")
_EPS = 1e-12  # p_avg clipped to [eps, 1 - eps] for the calibration fit only


def _logit(p):
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def _expit(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def fit_platt(p, y, max_iter: int = 100, tol: float = 1e-10) -> tuple[float, float]:
    """(a, b) maximising the Bernoulli likelihood of labels `y` (0/1) under
    expit(a logit(p) + b): Platt scaling of probabilities `p` (clipped to [1e-12, 1 - 1e-12]).
    Newton's method with step halving from (1, 0); deterministic."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    y = np.asarray(y, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1 or not np.isfinite(p).all():
        raise ValueError(f"fit_platt needs finite 1-D p and y of one length, got shapes {p.shape}, {y.shape}")
    if not np.isin(y, (0.0, 1.0)).all() or y.min() == y.max():
        raise ValueError("fit_platt needs labels 0 and 1 (both present)")
    Z = np.column_stack([_logit(p), np.ones_like(p)])

    def nll(w):
        s = Z @ w
        return float(np.sum(np.logaddexp(0.0, s) - y * s))

    w = np.array([1.0, 0.0])
    f = nll(w)
    for _ in range(max_iter):
        q = _expit(Z @ w)
        g = Z.T @ (q - y)
        H = (Z * (q * (1.0 - q))[:, None]).T @ Z + 1e-12 * np.eye(2)
        step = np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-10:
            w_new = w - t * step
            f_new = nll(w_new)
            if f_new <= f:
                break
            t *= 0.5
        else:
            break
        done = abs(f - f_new) <= tol * max(1.0, abs(f))
        w, f = w_new, f_new
        if done or np.max(np.abs(g)) <= tol:
            break
    return float(w[0]), float(w[1])


def distillation_compositions(F, rng, near: int = 10, mix: int = 10, new: int = 5, concentration: float = 100.0
                              ) -> np.ndarray:
    """The compositions a student is distilled on, for n training compositions F (n, E) (rows sum to 1):
    F itself, then `near` draws per row from Dirichlet(concentration * f) on the row's own elements,
    `mix` * n blends lam * f_i + (1 - lam) * f_j of random pairs (lam ~ U(0, 1)), and `new` * n alloys
    of 4-6 distinct elements drawn with probability proportional to how many training rows hold each
    element, fractions ~ Dirichlet(3, ..., 3). rng: a `numpy.random.Generator`. Returns
    (n (1 + near + mix + new), E), every row summing to 1."""
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2 or F.shape[0] == 0 or not np.isfinite(F).all() or (F < 0).any():
        raise ValueError(f"F must be a non-empty (n, E) array of finite non-negative fractions, got shape {F.shape}")
    n, E = F.shape
    A = np.repeat(F, near, axis=0) * concentration
    G = rng.gamma(np.where(A > 0, A, 1.0)) * (A > 0)
    i, j = rng.integers(0, n, n * mix), rng.integers(0, n, n * mix)
    lam = rng.uniform(0.0, 1.0, (n * mix, 1))
    held = (F > 0).sum(axis=0).astype(np.float64)
    k_max = int(min(6, np.count_nonzero(held)))
    m = n * new
    # weighted draws without replacement: the k largest of log(weight) + Gumbel noise
    with np.errstate(divide="ignore"):
        keys = np.log(held / held.sum())[None, :] + rng.gumbel(size=(m, E))
    top = np.argsort(-keys, axis=1)[:, :k_max]
    k = np.minimum(rng.integers(4, 7, m), k_max)
    W = rng.gamma(3.0, size=(m, k_max)) * (np.arange(k_max)[None, :] < k[:, None])
    R = np.zeros((m, E))
    np.put_along_axis(R, top, W, axis=1)
    out = np.vstack([F, G / G.sum(axis=1, keepdims=True), lam * F[i] + (1.0 - lam) * F[j],
                     R / R.sum(axis=1, keepdims=True)])
    return out / out.sum(axis=1, keepdims=True)


def student_features(V) -> np.ndarray:
    """The descriptor columns a distilled student is fitted on and predicts from: rounded to float32
    (returned as float64), so that a descriptor summed in another element order (a few ulps apart)
    reaches the same tree branch (`hea_fast.phase.ensemble`, ``features_float32``)."""
    return np.asarray(V, dtype=np.float64).astype(np.float32).astype(np.float64)


def soft_label_rows(q) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, labels, weights) that fit a classifier to soft labels q in [0, 1]: row i once as label 1 with
    weight q_i and once as label 0 with weight 1 - q_i, interleaved in row order, zero-weight copies
    dropped (so 0/1 labels give the original rows, in order, each with weight 1)."""
    q = np.asarray(q, dtype=np.float64)
    idx = np.repeat(np.arange(q.size), 2)
    lab = np.tile(np.array([1, 0], dtype=np.int64), q.size)
    w = np.column_stack([q, 1.0 - q]).ravel()
    keep = w > 0
    return idx[keep], lab[keep], w[keep]


def apply_platt(p, a: float, b: float) -> np.ndarray:
    """expit(a logit(p) + b), logit(p) = log(p) - log1p(-p) (the kernel's formula)."""
    return _expit(a * _logit(np.asarray(p, dtype=np.float64)) + b)


class PhaseEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """P(single-phase solid solution) of compositions: the calibrated average of a logistic
    regression on [descriptors | element fractions] and boosted trees on the descriptors (see the
    module docstring).

    Parameters
    ----------
    calibrate : fit the Platt calibration on grouped out-of-fold averages (False: p = p_avg).
    inner_folds : GroupKFold splits of the hyperparameter search (by alloy system).
    calibration_folds : GroupKFold splits of the out-of-fold predictions the calibration is fitted on.
    max_iter : boosting iterations of the tree member.
    max_depths : the tree depths the inner grid search may choose (None: unlimited, 31 leaves).
    random_state : int seed of the folds and the trees.
    threads : descriptor-kernel threads (results do not depend on it).
    trees : "boosting" (the default's member, above) or "forest": a `RandomForestClassifier` of 300
        trees on the descriptors, min_samples_leaf from `FOREST_GRID` by the same inner search; its
        probability is the trees' mean leaf fraction. An exported forest model predicts through the C++
        forest walker (`hea_fast.phase.ensemble.phase_ensemble`); the fused lattice kernels run boosted
        trees only.
        "distilled": that forest (the teacher, ``teacher_``) distilled into `STUDENT` boosted trees (the
        tree member ``trees_``), which the fused kernels run.
    distil_weight : weight of each training composition in the distillation set, relative to one drawn
        composition (``trees="distilled"`` only; default `DISTIL_WEIGHT`).

    ``fit(X, y, groups=None, label_fraction=None)``: X anything `hea_fast.composition.as_batch` reads
    (every row must have finite descriptors), y 0/1, groups the alloy systems of the rows (None: the
    element sets); label_fraction (optional, in [0, 1] per row): the fraction of the reports that call
    the composition single phase — the tree model (a distilled member's teacher) is then fitted to these
    soft labels (`soft_label_rows`) after its hyperparameters were chosen on y; the linear member and the
    searches use y.
    Fitted attributes: ``descriptors_``, ``elements_`` (training elements, the fraction columns),
    ``linear_`` (Pipeline scaler + logistic regression), ``trees_`` (HistGradientBoostingClassifier or
    RandomForestClassifier), ``teacher_`` (the forest a distilled member learned from, else None),
    ``distillation_`` ({"n_rows", "rmse", "rmse_train"}: the distillation set's size and the student's
    root-mean-square distance to the teacher's probabilities on it and at the training compositions; None
    unless distilled),
    ``tree_labels_`` ("vote": fitted to y; "fraction": to label_fraction),
    ``best_params_`` ({"linear": ..., "trees": ...}), ``cal_a_``, ``cal_b_``, ``oof_p_avg_``
    (calibration inputs; None without calibration), ``classes_`` = [0, 1].
    """

    _accepts_groups = True  # hea_fast.validation passes the alloy systems as groups

    def __init__(self, calibrate=True, inner_folds=3, calibration_folds=5, max_iter=300, max_depths=(3, None),
                 random_state=0, threads=1, trees="boosting", distil_weight=DISTIL_WEIGHT):
        self.calibrate = calibrate
        self.max_depths = max_depths
        self.inner_folds = inner_folds
        self.calibration_folds = calibration_folds
        self.max_iter = max_iter
        self.random_state = random_state
        self.threads = threads
        self.trees = trees
        self.distil_weight = distil_weight

    # -- members ---------------------------------------------------------------------------------
    def _linear(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=5000))])

    def _trees(self):
        from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

        if self.trees in ("forest", "distilled"):
            return RandomForestClassifier(n_estimators=300, random_state=int(self.random_state), n_jobs=1)
        return HistGradientBoostingClassifier(max_iter=int(self.max_iter), early_stopping=False,
                                              random_state=int(self.random_state))

    def _distillation_set(self, teacher, F, elements):
        """(V, p, train): the descriptors of `distillation_compositions` of the training fractions F over
        `elements` (rows without finite descriptors dropped), the forest `teacher`'s probabilities and
        which rows are the training compositions themselves (the rest are the draws around them)."""
        from hea_fast.composition import CompositionBatch

        rng = np.random.default_rng(int(self.random_state))
        C = distillation_compositions(F, rng, **DISTIL_DRAWS)
        V, why = feature_matrix(CompositionBatch(C, tuple(elements)), self.descriptors_, (), threads=self.threads,
                                errors="nan")
        train = np.arange(C.shape[0]) < np.asarray(F).shape[0]  # distillation_compositions puts F first
        ok = why == ""
        V = V[ok]
        return V, teacher.predict_proba(V)[:, 1], train[ok]

    def _distil_weight(self) -> float:
        try:
            weight = float(self.distil_weight)
        except (TypeError, ValueError):
            weight = np.nan
        if not (np.isfinite(weight) and weight > 0):
            raise ValueError(f"distil_weight must be a positive number, got {self.distil_weight!r}")
        return weight

    def _distil(self, teacher, F, elements, student=None):
        """(student, {"n_rows", "rmse", "rmse_train"}): `STUDENT` boosted trees (or the
        HistGradientBoostingClassifier settings `student`) fitted to the forest `teacher`'s probabilities
        on `distillation_compositions` of the training fractions F over `elements`; rmse: the student's
        root-mean-square distance to the teacher over the distillation set, rmse_train: at the training
        compositions."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        weight = self._distil_weight()
        V, p, train = self._distillation_set(teacher, F, elements)
        w = np.where(train, weight, 1.0)
        pos, neg = p > 0, p < 1  # zero-weight copies dropped
        V = student_features(V)
        Xs = np.vstack([V[pos], V[neg]])
        ys = np.r_[np.ones(int(pos.sum())), np.zeros(int(neg.sum()))].astype(np.int64)
        ws = np.r_[p[pos] * w[pos], (1.0 - p[neg]) * w[neg]]
        student = HistGradientBoostingClassifier(early_stopping=False, random_state=int(self.random_state),
                                                 **(STUDENT if student is None else student))
        student.fit(Xs, ys, sample_weight=ws)
        d2 = (student.predict_proba(V)[:, 1] - p) ** 2
        return student, {"n_rows": int(V.shape[0]), "rmse": float(np.sqrt(np.mean(d2))),
                         "rmse_train": float(np.sqrt(np.mean(d2[train])))}

    def _fit_soft(self, model, V, q):
        """`model` refitted to soft labels q (`soft_label_rows`) on the tree features of V."""
        rows, lab, w = soft_label_rows(q)
        return model.fit(self._tree_features(V)[rows], lab, sample_weight=w)

    def _fit_trees(self, V, y, groups, F, elements, q=None):
        """The tree member on descriptor columns V, its selected parameters, the teacher and the
        distillation summary (None, None unless distilled). q: label fractions; the selected tree model
        (a distilled member's teacher) is refitted to them."""
        grid = FOREST_GRID if self.trees != "boosting" else dict(TREE_GRID, max_depth=tuple(self.max_depths))
        trees, best = self._search(self._trees(), grid, self._tree_features(V), y, groups)
        if q is not None:
            trees = self._fit_soft(clone(trees), V, q)
        if self.trees != "distilled":
            return trees, best, None, None
        student, info = self._distil(trees, F, elements)
        return student, {"teacher": best, "student": dict(STUDENT)}, trees, info

    def _search(self, est, grid, V, y, groups):
        from sklearn.model_selection import GridSearchCV, GroupKFold

        cv = GroupKFold(n_splits=int(self.inner_folds), shuffle=True, random_state=int(self.random_state))
        gs = GridSearchCV(est, {k: list(v) for k, v in grid.items()}, scoring="neg_log_loss", cv=cv, refit=True,
                          n_jobs=1, error_score="raise")
        gs.fit(V, y, groups=groups)
        return gs.best_estimator_, dict(gs.best_params_)

    @property
    def _float32_trees(self) -> bool:
        """The boosted tree member (``trees="boosting"``, or a distilled student) is fitted on, and predicts
        from, `student_features` (float32 descriptors): the exported model runs in the fused kernels, whose
        descriptor sums take the elements in another order than the per-row kernel's. A forest (and a
        distilled student's teacher) reads the float64 descriptors."""
        return self.trees != "forest"

    def _tree_features(self, V) -> np.ndarray:
        """What the searched tree model is fitted on, from the descriptor columns V: boosted trees read
        `student_features`; a forest (also the teacher of a distilled student) the float64 descriptors."""
        return student_features(V) if self.trees == "boosting" else V

    def _p_avg(self, linear, trees, V) -> np.ndarray:
        fd = len(self.descriptors_)
        p_lin = linear.predict_proba(V)[:, 1]
        Vt = student_features(V[:, :fd]) if self._float32_trees else V[:, :fd]
        p_tree = trees.predict_proba(Vt)[:, 1]
        return 0.5 * p_lin + 0.5 * p_tree

    # -- API -------------------------------------------------------------------------------------
    def fit(self, X, y, groups=None, label_fraction=None):
        from sklearn.model_selection import GroupKFold

        if self.trees not in TREE_KINDS:
            raise ValueError(f"trees must be one of {list(TREE_KINDS)}, got {self.trees!r}")
        if self.trees == "distilled":
            self._distil_weight()

        rows = read_rows(X, errors="raise")
        y = np.asarray(y)
        if y.shape != (rows.n,):
            raise ValueError(f"y has shape {y.shape}; expected ({rows.n},) labels for the {rows.n} compositions")
        if not np.isin(y, (0, 1)).all() or np.unique(y).size != 2:
            raise ValueError(f"y must hold the labels 0 and 1 (both present), got values {np.unique(y)[:5].tolist()}")
        y = y.astype(np.int64)
        present = np.asarray(rows.batch.fractions).any(axis=0)
        self.descriptors_ = default_descriptors()
        self.elements_ = tuple(e for e, p in zip(rows.batch.elements, present) if p)
        V, _ = feature_matrix(rows, self.descriptors_, self.elements_, threads=self.threads, errors="raise")
        groups = alloy_systems(rows.batch) if groups is None else np.asarray(groups)
        if groups.shape != (rows.n,):
            raise ValueError(f"groups has shape {groups.shape}; expected ({rows.n},)")
        q = None if label_fraction is None else _label_fraction(label_fraction, rows.n)
        fd = len(self.descriptors_)
        self.linear_, lin_best = self._search(self._linear(), {"clf__C": LIN_C_GRID}, V, y, groups)
        F, els = np.asarray(rows.batch.fractions), rows.batch.elements
        self.trees_, tree_best, self.teacher_, self.distillation_ = self._fit_trees(V[:, :fd], y, groups, F, els, q)
        self.best_params_ = {"linear": {"C": lin_best["clf__C"]}, "trees": tree_best}
        self.tree_labels_ = "vote" if q is None else "fraction"
        self.cal_a_, self.cal_b_, self.oof_p_avg_ = 1.0, 0.0, None
        if self.calibrate:
            cv = GroupKFold(n_splits=int(self.calibration_folds), shuffle=True, random_state=int(self.random_state))
            oof = np.full(rows.n, np.nan)
            for tr, te in cv.split(V, y, groups):
                lin = clone(self.linear_).fit(V[tr], y[tr])
                if self.teacher_ is None:
                    tre = (clone(self.trees_).fit(self._tree_features(V[tr, :fd]), y[tr]) if q is None
                           else self._fit_soft(clone(self.trees_), V[tr, :fd], q[tr]))
                else:  # the selected teacher refitted on the fold, then distilled again
                    teach = (clone(self.teacher_).fit(V[tr, :fd], y[tr]) if q is None
                             else self._fit_soft(clone(self.teacher_), V[tr, :fd], q[tr]))
                    tre = self._distil(teach, F[tr], els)[0]
                oof[te] = self._p_avg(lin, tre, V[te])
            self.oof_p_avg_ = oof
            self.cal_a_, self.cal_b_ = fit_platt(oof, y)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = V.shape[1]
        return self

    def _check(self):
        if not hasattr(self, "classes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("PhaseEnsembleClassifier is not fitted yet; call fit(X, y)")

    def predict_proba(self, X):
        """(n, 2) [P(not single phase), P(single phase)]; rows without finite features are NaN
        (`hea_fast.phase.model.feature_matrix` gives the reasons)."""
        self._check()
        V, why = feature_matrix(X, self.descriptors_, self.elements_, threads=self.threads, errors="nan")
        p = np.full(V.shape[0], np.nan)
        ok = why == ""
        if ok.any():
            p_avg = self._p_avg(self.linear_, self.trees_, V[ok])
            p[ok] = apply_platt(p_avg, self.cal_a_, self.cal_b_) if self.calibrate else p_avg
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        p = self.predict_proba(X)[:, 1]
        return np.where(np.isfinite(p), (p >= 0.5).astype(np.int64), -1)

    def export(self, domain=None, metadata: dict | None = None):
        """The fitted model as a `PhaseModel` (inference without scikit-learn). domain: an
        `ApplicabilityDomain` to carry along (fitted on the training compositions), or None;
        metadata: a JSON-able dict stored with it (``selected`` hyperparameters and the
        calibration are added)."""
        from hea_fast.phase.convert import params_from_sklearn
        from hea_fast.phase.model import PhaseModel

        self._check()
        params = params_from_sklearn(self.linear_.named_steps["scale"], self.linear_.named_steps["clf"], self.trees_,
                                     self.descriptors_, self.elements_, w_lin=0.5, w_tree=0.5,
                                     cal_a=self.cal_a_ if self.calibrate else 1.0,
                                     cal_b=self.cal_b_ if self.calibrate else 0.0,
                                     features_float32=self._float32_trees)
        meta = dict(metadata or {})
        meta.setdefault("selected", _jsonable(self.best_params_))
        meta.setdefault("calibration", {"a": self.cal_a_, "b": self.cal_b_, "calibrated": bool(self.calibrate)})
        meta.setdefault("tree_labels", getattr(self, "tree_labels_", "vote"))
        if self.distillation_ is not None:
            meta.setdefault("distillation", {**self.distillation_, "draws": dict(DISTIL_DRAWS),
                                              "train_weight": float(self.distil_weight), "student": dict(STUDENT)})
        return PhaseModel(params, domain, meta)


def _label_fraction(q, n: int) -> np.ndarray:
    """`label_fraction` checked: n finite values in [0, 1], else a ValueError naming the first bad one."""
    try:
        a = np.asarray(q, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"label_fraction must be numbers in [0, 1], got {q!r:.80}") from None
    if a.shape != (n,):
        raise ValueError(f"label_fraction has shape {a.shape}; expected ({n},), one per composition")
    bad = np.flatnonzero(~(np.isfinite(a) & (a >= 0.0) & (a <= 1.0)))
    if bad.size:
        raise ValueError(f"label_fraction must lie in [0, 1]; row {int(bad[0])} has {float(a[bad[0]])!r}"
                         + (f" ({bad.size} rows in all)" if bad.size > 1 else ""))
    return a


def _jsonable(d: dict) -> dict:
    def conv(v):
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        return v.item() if isinstance(v, np.generic) else v

    return conv(d)
