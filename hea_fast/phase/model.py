"""The default phase model: P(single-phase solid solution) with an applicability domain.

`PhaseModel` holds the parameters of the two-member ensemble (`hea_fast.phase.ensemble.EnsembleParams`:
a logistic regression on the standardised descriptors and element fractions, and trees on the
descriptors, averaged, then a Platt map that the bundled models leave at the identity; the bundled
default's trees are a 300-tree random forest fitted to soft labels, the bundled ``fast`` model's that
forest distilled into 600 boosted trees of depth <= 4, see `hea_fast.phase.estimator`; the fused
screening kernel runs both), the `ApplicabilityDomain` of its training alloys
(`hea_fast.phase.domain`) and a metadata dict. Inference needs NumPy and the compiled core only
(scikit-learn is needed to *train*, `hea_fast.phase.estimator.PhaseEnsembleClassifier`).

The feature vector of a composition is ``v = [descriptors | fractions of the model's elements]``
(`feature_matrix`): the 15 registry descriptors (every one but Ω, which is +inf when ΔH_mix = 0)
computed with the default element table, then the atomic fraction of each training element (an
element the model never saw contributes no column: it still gets a probability, and the domain
says it is out).

Bad rows never fail a batch (``errors="nan"``, as `hea_fast.features.featurize`): a row that is no
composition, whose elements lack descriptor data (e.g. Nd has no Allen electronegativity) or whose
descriptors are not finite (Λ = +inf when δ = 0) gets NaN with a reason, one `BadRowsWarning`
counts them; ``errors="raise"`` stops at the first.

Storage (`PhaseModel.save` / `load`): a directory with ``model.json`` (format, version, the parameters
as `EnsembleParams.to_dict` writes them: arrays as JSON lists whose floats round-trip bitwise;
metadata) and the domain's files (``domain.json`` + ``domain.npz``).
No pickle. A missing or corrupt file raises an error naming the path.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hea_fast._io import CheckpointError, atomic_write_json, read_json
from hea_fast.composition import CompositionBatch, CompositionError, row_amounts
from hea_fast.features import BadRowsWarning, check_errors, featurize_array, warn_bad_rows
from hea_fast.phase.records import MEMORY_KAPPA, RECORDS_FILE, RecordTable, blend

__all__ = ["PhaseModel", "PhaseModelError", "Rows", "read_rows", "feature_matrix", "element_fractions",
           "default_descriptors", "alloy_systems", "default_model_dir", "load_model", "FORMAT_NAME",
           "FORMAT_VERSION"]

FORMAT_NAME = "hea_fast.phase_model"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
NODES_FILE = "nodes.npz"
NODES_IN_JSON = 20_000  # models with more tree nodes keep them in NODES_FILE
# what np.load raises on a truncated or corrupt .npz (a zip archive of deflated .npy members)
_NPZ_ERRORS = (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
_NODE_KEYS = ("tree_offsets", "node_feature", "node_threshold", "node_left", "node_right", "node_value",
              "node_missing_left")


class PhaseModelError(ValueError):
    """A model directory or file is missing, corrupt or of another format (the message names it)."""


def default_descriptors() -> tuple[str, ...]:
    """The 15 descriptors of the phase models: the registry (`hea_fast.features.DESCRIPTORS`) minus
    Ω (+inf whenever ΔH_mix = 0), in registry order."""
    from hea_fast.features import DESCRIPTORS

    return tuple(d.name for d in DESCRIPTORS if d.name != "Omega")


#: The bundled phase models by name: the default (logistic regression + a random forest fitted per source,
#: the protocol's most accurate; scripts/train_default_phase.py), ``best`` (the same model: the name it had
#: while the default was a faster approximation of it) and ``fast`` (the earlier default's forest, fitted on
#: pooled rows, distilled into 600 depth-4 boosted
#: trees, 1.0-1.2x faster end to end on the screens measured without a threshold, up to 2.3x with
#: one, slightly less accurate; scripts/train_default_phase.py --trees distilled --rows pooled --out
#: hea_fast/data/models/phase_fast).
BUNDLED = {"default": "phase_default", "best": "phase_default", "fast": "phase_fast"}


def bundled_model_dir(name: str) -> Path | None:
    """Directory of the bundled phase model `name` (a key of `BUNDLED`, inside the package, so wheels
    carry it), or None for any other name."""
    folder = BUNDLED.get(name)
    return None if folder is None else Path(__file__).resolve().parents[1] / "data" / "models" / folder


def default_model_dir() -> Path:
    """Directory of the bundled default phase model."""
    return bundled_model_dir("default")


def fast_model_dir() -> Path:
    """Directory of the bundled ``fast`` phase model (the default's forest distilled into boosted trees)."""
    return bundled_model_dir("fast")


# ---- compositions -> feature rows ------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """Input rows read once: `batch` holds the valid compositions (fractions normalised), `rows`
    their positions among the `n` input rows, `reasons` (n,) why the others are not valid ('' for
    the rows in `batch`), `index` the input's row labels (pandas input) or None."""

    batch: CompositionBatch
    rows: np.ndarray
    n: int
    reasons: np.ndarray
    index: Any = None


def read_rows(X, errors: str = "nan") -> Rows:
    """Read anything `hea_fast.composition.as_batch` accepts into `Rows` (numeric input uncopied
    until the valid rows are gathered). errors="raise": the first invalid row raises
    `CompositionError` naming it; "nan": invalid rows are recorded with their reason."""
    if isinstance(X, Rows):
        return X
    check_errors(errors)
    ra = row_amounts(X, errors="skip" if errors == "nan" else "raise")
    bad, first, total = ra.invalid_rows()
    if errors == "raise" and bad.any():
        i = int(np.flatnonzero(bad)[0])
        pos = i if ra.rows is None else int(ra.rows[i])
        raise CompositionError(f"{ra.reason(i, int(first[i]))} in row {ra.label(pos)!r}")
    data_pos = np.arange(ra.m) if ra.rows is None else np.asarray(ra.rows, dtype=np.int64)
    reasons = np.full(ra.n_rows, "", dtype=object)
    for pos, why in ra.bad.items():
        reasons[int(pos)] = str(why)
    for i in np.flatnonzero(bad).tolist():
        reasons[int(data_pos[i])] = ra.reason(i, int(first[i]))
    ok = ~bad
    A = ra.array() if ok.all() else ra.array(ok)
    F = A if ra.normalized else A / total[ok][:, None]
    batch = CompositionBatch.from_valid(F, ra.elements)
    index = ra.labels if ra.labels is not None and len(ra.labels) == ra.n_rows else None
    return Rows(batch, data_pos[ok], int(ra.n_rows), reasons, index)


def element_fractions(batch: CompositionBatch, elements) -> np.ndarray:
    """(n, len(elements)) atomic fractions of `elements` in `batch` (0 for an element the batch
    lacks; the batch's other elements are left out)."""
    F = np.asarray(batch.fractions, dtype=np.float64)
    col = {e: j for j, e in enumerate(batch.elements)}
    Z = np.zeros((F.shape[0], len(elements)))
    for k, e in enumerate(elements):
        j = col.get(e)
        if j is not None:
            Z[:, k] = F[:, j]
    return Z


def alloy_systems(batch: CompositionBatch) -> np.ndarray:
    """Alloy system (sorted element set, ``"Al-Co-Cr-Fe-Ni"``) of each composition of `batch`."""
    F = np.asarray(batch.fractions) > 0
    els = np.asarray(batch.elements, dtype=object)
    return np.array(["-".join(sorted(els[row])) for row in F], dtype=object)


def feature_matrix(X, descriptors=None, elements=(), threads=None, errors: str = "nan", table=None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(V, reasons): V (n, F_d + F_e) = [descriptors | fractions of `elements`] for each input row,
    reasons (n,) str ('' when the row's features are complete and finite; otherwise the row of V
    is all NaN).

    X: anything `as_batch` reads (or `Rows`). descriptors: registry names (None: the 15 of
    `default_descriptors`); table: element table (None: "default"). errors="raise" raises on the
    first row that is no composition (`CompositionError`), lacks element data (`ElementDataError`)
    or has a non-finite descriptor (ValueError naming the row and descriptor).
    """
    check_errors(errors)
    names = list(default_descriptors() if descriptors is None else descriptors)
    rows = read_rows(X, errors)
    n, fd, fe = rows.n, len(names), len(elements)
    V = np.full((n, fd + fe), np.nan)
    reasons = rows.reasons.copy()
    if len(rows.batch):
        D, why = featurize_array(rows.batch, descriptors=names, table=table, threads=threads, errors=errors,
                                 return_reasons=True)
        bad_d = ~np.isfinite(D).all(axis=1)
        fresh = bad_d & (why == "")
        if fresh.any():
            i = int(np.flatnonzero(fresh)[0])
            cols = [names[j] for j in np.flatnonzero(~np.isfinite(D[i]))]
            if errors == "raise":
                label = rows.rows[i] if rows.index is None else rows.index[rows.rows[i]]
                raise ValueError(f"row {label!r}: non-finite descriptor(s) {cols} (e.g. Lambda = +inf when "
                                 "delta = 0)")
            fr = np.asarray(rows.batch.fractions)
            for k in np.flatnonzero(fresh).tolist():
                cols = [names[j] for j in np.flatnonzero(~np.isfinite(D[k]))]
                present = np.flatnonzero(fr[k] > 0)
                pure = f"a pure element ({rows.batch.elements[present[0]]}), " if present.size == 1 else ""
                why[k] = f"{pure}non-finite descriptor(s) {', '.join(cols)} (Lambda = +inf when delta = 0)"
        good = ~bad_d
        pos = rows.rows
        reasons[pos[~good]] = why[~good]
        V[pos[good], :fd] = D[good]
        if fe:
            V[pos[good], fd:] = element_fractions(rows.batch[good], elements)
    return V, reasons


def _params_from_json(d, where: str):
    from hea_fast.phase.ensemble import EnsembleParams

    try:
        return EnsembleParams.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise PhaseModelError(f"{where}: invalid phase model parameters ({exc})") from None


# ---- the model ------------------------------------------------------------------------------------
class PhaseModel:
    """P(single-phase solid solution) of compositions, with the applicability domain of the
    training alloys. Build one with `PhaseEnsembleClassifier.export()` or `PhaseModel.load(dir)`;
    the bundled default is `PhaseModel.load_default()` (`hea_fast.phase.load_model("default")`).

    params: `EnsembleParams`; domain: `ApplicabilityDomain` or None (then `in_domain` is True for
    every row with a probability and `domain_score` NaN); metadata: JSON-able dict (training
    summary, selected hyperparameters, ...); table: element table of the descriptors.
    """

    def __init__(self, params, domain=None, metadata: dict | None = None, table: str = "default",
                 training_alloys: dict | None = None, records: RecordTable | None = None):
        self.params = params
        self.domain = domain
        self.metadata = dict(metadata or {})
        self.table = table
        # per domain point (hea_fast.phase.neighbors.TRAINING_ALLOY_FIELDS), or None
        self.training_alloys = None if training_alloys is None else _check_alloys(training_alloys, domain, "")
        # every recorded composition of the training data and its records (`hea_fast.phase.records`), or None
        self.records = records

    def __repr__(self) -> str:
        p = self.params
        return (f"PhaseModel({len(p.descriptors)} descriptors + {len(p.elements)} element fractions, "
                f"{len(p.tree_offsets) - 1} trees, domain={'yes' if self.domain is not None else 'none'})")

    @property
    def descriptors(self) -> tuple[str, ...]:
        return tuple(self.params.descriptors)

    @property
    def elements(self) -> tuple[str, ...]:
        return tuple(self.params.elements)

    # -- features and probabilities ------------------------------------------------------------
    def feature_matrix(self, X, threads=None, errors: str = "nan") -> tuple[np.ndarray, np.ndarray]:
        """(V, reasons) of the model's feature vectors (see the module `feature_matrix`)."""
        return feature_matrix(X, self.descriptors, self.elements, threads=threads, errors=errors, table=self.table)

    def _proba(self, V, reasons, threads):
        from hea_fast.phase.ensemble import phase_ensemble

        p = np.full(V.shape[0], np.nan)
        ok = reasons == ""
        if ok.any():
            p[ok] = phase_ensemble(np.ascontiguousarray(V[ok]), self.params, threads=threads)
        return p

    def predict_proba(self, X, errors: str = "nan", return_reasons: bool = False, threads=None):
        """(n, 2) array [P(not single phase), P(single phase)], one row per input row.

        errors: "nan" (rows without a probability are NaN; one `BadRowsWarning` counts them and
        names the first) or "raise". return_reasons=True returns (proba, reasons): an (n,) object
        array of strings, '' for rows with a probability (no warning then). threads: None = all
        cores (results do not depend on it)."""
        rows = read_rows(X, errors)
        V, why = self.feature_matrix(rows, threads=threads, errors=errors)
        p = self._proba(V, why, threads)
        out = np.column_stack([1.0 - p, p])
        if return_reasons:
            return out, why
        _warn(why, rows, "PhaseModel.predict_proba")
        return out

    def predict(self, X, threads=None) -> np.ndarray:
        """1 where P(single phase) >= 0.5, else 0; -1 for rows without a probability (with the
        `BadRowsWarning` of `predict_proba`): an (n,) int64 array."""
        rows = read_rows(X, "nan")
        V, why = self.feature_matrix(rows, threads=threads)
        p = self._proba(V, why, threads)
        _warn(why, rows, "PhaseModel.predict")
        return np.where(np.isfinite(p), (p >= 0.5).astype(np.int64), -1)

    # -- domain ----------------------------------------------------------------------------------
    def _domain_rows(self, rows: Rows, V, why) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(in_domain, domain_score, domain_reason) per input row, from the features already built."""
        n, fd = rows.n, len(self.descriptors)
        inside = np.zeros(n, dtype=bool)
        score = np.full(n, np.nan)
        dreason = why.copy()
        if self.domain is None:
            inside[why == ""] = True
            return inside, score, dreason
        ok = why == ""
        if ok.any():
            # the rows of rows.batch in input order: batch row k is input row rows.rows[k]
            where = np.full(n, -1, dtype=np.int64)
            where[rows.rows] = np.arange(len(rows.rows))
            sub = rows.batch[where[ok]]
            d = self.domain.score_features(np.ascontiguousarray(V[ok, :fd]), np.asarray(sub.fractions),
                                           tuple(sub.elements))
            inside[ok] = np.asarray(d["in_domain"], dtype=bool)
            score[ok] = np.asarray(d["domain_score"], dtype=np.float64)
            dreason[ok] = np.asarray(d["domain_reason"], dtype=object)
        return inside, score, dreason

    def domain_frame(self, X, threads=None):
        """DataFrame `in_domain`, `domain_score`, `domain_reason` ('' when inside), one row per
        input row; rows without features are out of domain with the reason."""
        import pandas as pd

        rows = read_rows(X, "nan")
        V, why = self.feature_matrix(rows, threads=threads)
        inside, score, dreason = self._domain_rows(rows, V, why)
        return pd.DataFrame({"in_domain": inside, "domain_score": score, "domain_reason": dreason},
                            index=_index(rows))

    def predict_frame(self, X, threads=None, memory: bool = False):
        """DataFrame `p_single`, `in_domain`, `domain_score`, `reason`, one row per input row (the
        index of pandas input, else 0..n-1). reason: why p_single is NaN, else why the row is out
        of domain, else ''. No warning: the reasons are in the frame.

        memory=True (what `hea-fast phase predict` does): a composition the training data records (every
        fraction within 1e-3 of a recorded one, the same elements) gets p_single = (1 − w)·p_model + w·q,
        q = single-phase records / records and w = n / (n + `MEMORY_KAPPA`) for its n records, summed over
        the recorded compositions within 1e-3 (`RecordTable.records_for`). That includes compositions the
        model was not trained on because their sources tie (AlCoCrFeNi). A model without `records` (saved
        before records.npz) blends its training compositions' own records (the domain's
        `training_match`). Columns `p_model` (the model alone, which is what `predict_proba` and the
        screens give) and `training_records` ("a/b": a of b records call it single phase; '' for other
        alloys) follow `reason`. Other alloys keep p_single = p_model."""
        import pandas as pd

        rows = read_rows(X, "nan")
        V, why = self.feature_matrix(rows, threads=threads)
        p = self._proba(V, why, threads)
        inside, score, dreason = self._domain_rows(rows, V, why)
        cols = {"p_single": p, "in_domain": inside, "domain_score": score, "reason": dreason}
        if memory:
            cols["p_single"], records = self._memory(rows, why, p)
            cols["p_model"], cols["training_records"] = p, records
        return pd.DataFrame(cols, index=_index(rows))

    def _memory(self, rows: Rows, why, p) -> tuple[np.ndarray, np.ndarray]:
        """(p blended with the records of recorded compositions, "a/b" records per row)."""
        out, records = p.copy(), np.full(rows.n, "", dtype=object)
        a = self.training_alloys
        if self.records is None and (self.domain is None or a is None or "n_records" not in a
                                     or not self.domain.fraction_weight > 0):
            return out, records
        ok = np.flatnonzero(why == "")
        if len(ok):
            where = np.full(rows.n, -1, dtype=np.int64)
            where[rows.rows] = np.arange(len(rows.rows))
            sub = rows.batch[where[ok]]
            F, els = np.asarray(sub.fractions), tuple(sub.elements)
            if self.records is not None:
                n, k = self.records.records_for(F, els)
            else:  # an older model: its training compositions' own records
                idx = self.domain.training_match(F, els, return_index=True)
                n = np.where(idx >= 0, a["n_records"][idx], 0).astype(np.int64)
                k = np.where(idx >= 0, a["n_single"][idx], 0).astype(np.int64)
            r, n, k = ok[n > 0], n[n > 0], k[n > 0]
            out[r] = blend(p[r], n, k, MEMORY_KAPPA)
            records[r] = [f"{int(x)}/{int(y)}" for x, y in zip(k, n)]
        return out, records

    def neighbors(self, X, k: int = 3, threads=None):
        """DataFrame of the `k` training alloys nearest each input row in the domain's feature space
        (nearest first): ``neighbor{j}`` (formula), ``neighbor{j}_distance`` (in the units of
        ``domain_score``: distance / the domain's threshold, so 1 is the in-domain limit) and, when the
        model carries its training alloys, ``neighbor{j}_single`` ("a/b": a of the b sources reporting
        that alloy call it one solid-solution phase). Rows without features, or holding an element no
        training alloy has, get '' and NaN. One row per input row."""
        import pandas as pd

        from hea_fast.phase.neighbors import nearest

        if self.domain is None or not self.domain.fraction_weight > 0:
            raise ValueError("neighbors needs a model with an applicability domain (fraction_weight > 0)")
        rows = read_rows(X, "nan")
        V, why = self.feature_matrix(rows, threads=threads)
        n, fd = rows.n, len(self.descriptors)
        cols: dict = {}
        for j in range(1, k + 1):
            cols[f"neighbor{j}"] = np.full(n, "", dtype=object)
            cols[f"neighbor{j}_distance"] = np.full(n, np.nan)
            if self.training_alloys is not None:
                cols[f"neighbor{j}_single"] = np.full(n, "", dtype=object)
        ok = np.flatnonzero(why == "")
        if len(ok):
            where = np.full(n, -1, dtype=np.int64)
            where[rows.rows] = np.arange(len(rows.rows))
            sub = rows.batch[where[ok]]
            Fk, foreign = self.domain._aligned(np.asarray(sub.fractions), tuple(sub.elements))
            ok, Fk = ok[~foreign], Fk[~foreign]
            idx, dist = nearest(self.domain, self.domain._z(V[ok, :fd], Fk), k, threads=threads)
            names = self._point_formulas()
            for j in range(k):
                cols[f"neighbor{j + 1}"][ok] = names[idx[:, j]]
                cols[f"neighbor{j + 1}_distance"][ok] = dist[:, j] / self.domain.threshold_
                if self.training_alloys is not None:
                    a = self.training_alloys
                    cols[f"neighbor{j + 1}_single"][ok] = [f"{int(a['n_single_sources'][i])}/{int(a['n_sources'][i])}"
                                                           for i in idx[:, j]]
        return pd.DataFrame(cols, index=_index(rows))

    def _point_formulas(self) -> np.ndarray:
        if self.training_alloys is not None:
            return np.asarray(self.training_alloys["formula"], dtype=object)
        d = self.domain
        T = d.points_[:, len(d.descriptors):] / d.fraction_weight
        return np.asarray(CompositionBatch(T / T.sum(axis=1, keepdims=True), d.elements_).formulas(2), dtype=object)

    # -- storage ---------------------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the model to directory `path` (created): the domain's files, then model.json
        (written last: its presence marks a complete model). Atomic per file."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.domain is not None:
            self.domain.save(path)
        if self.training_alloys is not None:
            from hea_fast._io import atomic_path
            from hea_fast.phase.neighbors import TRAINING_ALLOYS_FILE

            with atomic_path(path / TRAINING_ALLOYS_FILE, suffix=".npz") as tmp:
                np.savez_compressed(tmp, **{k: np.asarray(v, dtype=str) if np.asarray(v).dtype == object else
                                            np.asarray(v) for k, v in self.training_alloys.items()})
        if self.records is not None:
            self.records.save(path)
        else:  # a model without records saved over one with them must not inherit its memory
            (path / RECORDS_FILE).unlink(missing_ok=True)
        params = self.params.to_dict()
        if self.params.node_feature.size > NODES_IN_JSON:  # a forest: the node arrays go to nodes.npz
            from hea_fast._io import atomic_path

            with atomic_path(path / NODES_FILE, suffix=".npz") as tmp:
                np.savez_compressed(tmp, **{k: getattr(self.params, k) for k in _NODE_KEYS})
            params = {k: v for k, v in params.items() if k not in _NODE_KEYS} | {"arrays_file": NODES_FILE}
        doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "table": self.table,
               "domain": self.domain is not None, "params": params, "metadata": self.metadata}
        atomic_write_json(path / MODEL_FILE, doc, separators=(",", ":"), allow_nan=False)
        return path

    @classmethod
    def load(cls, path) -> "PhaseModel":
        """Read a model written by `save`. A missing directory or model.json, a corrupt file or
        another format raises (`FileNotFoundError` / `PhaseModelError`) naming the path."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"phase model directory {path} does not exist")
        mpath = path / MODEL_FILE
        try:
            doc = read_json(mpath, what="phase model file")
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} is not a saved phase model: {mpath} does not exist") from None
        except CheckpointError as exc:
            raise PhaseModelError(str(exc)) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise PhaseModelError(f"{mpath} is not a phase model file (format {got!r}, expected {FORMAT_NAME!r})")
        if doc.get("version") != FORMAT_VERSION:
            raise PhaseModelError(f"{mpath} has version {doc.get('version')!r}; this hea_fast reads version "
                                  f"{FORMAT_VERSION}")
        if not isinstance(doc.get("params"), dict):
            raise PhaseModelError(f"{mpath}: no 'params' object")
        pdoc = doc["params"]
        if "arrays_file" in pdoc:
            npz = path / str(pdoc["arrays_file"])
            try:
                with open(npz, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # fh: closed on a bad zip too
                    pdoc = {k: v for k, v in pdoc.items() if k != "arrays_file"} | {k: z[k] for k in _NODE_KEYS}
            except _NPZ_ERRORS as exc:
                raise PhaseModelError(f"{npz}: node arrays unreadable ({exc})") from None
        params = _params_from_json(pdoc, str(mpath))
        domain = None
        if doc.get("domain"):
            from hea_fast.phase.domain import ApplicabilityDomain

            try:
                domain = ApplicabilityDomain.load(path)
            except (OSError, KeyError, ValueError) as exc:
                msg = str(exc)
                raise PhaseModelError(msg if str(path) in msg else f"{path}: domain files unreadable ({msg})") from None
        alloys = None
        from hea_fast.phase.neighbors import TRAINING_ALLOY_FIELDS, TRAINING_ALLOYS_FILE, TRAINING_RECORD_FIELDS

        apath = path / TRAINING_ALLOYS_FILE
        if apath.exists():  # optional: the nearest training alloys' formulas and source votes
            try:
                with open(apath, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                    alloys = {f: z[f] for f in TRAINING_ALLOY_FIELDS + TRAINING_RECORD_FIELDS
                              if f in z.files or f in TRAINING_ALLOY_FIELDS}
            except _NPZ_ERRORS as exc:
                raise PhaseModelError(f"{apath}: training alloys unreadable ({exc})") from None
        records = None
        if (path / RECORDS_FILE).exists():  # optional: every recorded composition and its records
            try:
                records = RecordTable.load(path)
            except ValueError as exc:
                raise PhaseModelError(str(exc)) from None
        try:  # the constructor checks the training alloys against the domain
            return cls(params, domain, doc.get("metadata") or {}, table=str(doc.get("table", "default")),
                       training_alloys=alloys, records=records)
        except PhaseModelError as exc:
            raise PhaseModelError(f"{apath}: {exc}") from None

    @classmethod
    def load_default(cls) -> "PhaseModel":
        """The bundled default phase model (`hea_fast/data/models/phase_default`, trained by
        scripts/train_default_phase.py on the pooled shared phase data)."""
        return cls.load(default_model_dir())


def _check_alloys(alloys: dict, domain, where: str) -> dict:
    from hea_fast.phase.neighbors import TRAINING_ALLOY_FIELDS, TRAINING_RECORD_FIELDS

    missing = [f for f in TRAINING_ALLOY_FIELDS if f not in alloys]
    if missing:
        raise PhaseModelError(f"{where}training alloys lack {missing}")
    fields = TRAINING_ALLOY_FIELDS + tuple(f for f in TRAINING_RECORD_FIELDS if f in alloys)
    if 0 < len(fields) - len(TRAINING_ALLOY_FIELDS) < len(TRAINING_RECORD_FIELDS):
        raise PhaseModelError(f"{where}training alloys hold only part of {list(TRAINING_RECORD_FIELDS)}")
    n = None if domain is None else len(domain.points_)
    lens = {len(alloys[f]) for f in fields}
    if len(lens) != 1 or (n is not None and lens != {n}):
        raise PhaseModelError(f"{where}training alloys have {sorted(lens)} rows; the domain has {n} points")
    out = {f: np.asarray(alloys[f]) for f in fields}
    if "n_records" in out:
        nr, ns = out["n_records"], out["n_single"]
        if not (nr.dtype.kind in "iu" and ns.dtype.kind in "iu" and (nr >= 1).all() and (ns >= 0).all()
                and (ns <= nr).all()):
            raise PhaseModelError(f"{where}training alloys' record counts are not 0 <= n_single <= n_records, "
                                  "n_records >= 1")
    return out


def _index(rows: Rows):
    import pandas as pd

    return rows.index if rows.index is not None else pd.RangeIndex(rows.n)


def _warn(reasons, rows: Rows, what: str) -> None:
    labels = None if rows.index is None else np.asarray(rows.index)
    warn_bad_rows(reasons, what, BadRowsWarning, labels=labels, stacklevel=4)


def load_model(name_or_path) -> PhaseModel:
    """"default" (or its old name "best") -> the bundled `PhaseModel` (logistic regression + random
    forest, the protocol's best mean AUC and log-loss); "fast" -> the bundled distilled model (the
    forest distilled into boosted trees: faster screens, slightly less accurate); a directory ->
    `PhaseModel.load(directory)`. Anything else raises naming it."""
    if isinstance(name_or_path, PhaseModel):
        return name_or_path
    s = os.fspath(name_or_path) if isinstance(name_or_path, os.PathLike) else name_or_path
    if not isinstance(s, str):
        raise TypeError(f"load_model takes 'default' or a model directory, got {type(name_or_path).__name__}")
    if s in BUNDLED:
        return PhaseModel.load(bundled_model_dir(s))
    p = Path(s).expanduser()
    if p.is_dir():
        return PhaseModel.load(p)
    raise FileNotFoundError(f"unknown phase model {s!r}: not 'default', 'best', 'fast' or an existing model directory")
