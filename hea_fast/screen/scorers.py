"""Scorers: map a chunk of compositions to named score columns (higher is better).

Every scorer has the general path, `columns(batch, desc)` on decoded fractions and their
descriptor frame. A scorer that can do better on a lattice space says so itself, and the engine
asks it (it never dispatches on the scorer's type):

- `fused_topk(space, start, stop, k, table, threads)`: the chunk's top-k straight from the ranks in
  one C++ pass (the mixture model: decode, its descriptors, probit predictive, top-k);
- `lattice_columns(space, start, stop, table, threads)`: score columns computed from the ranks in
  C++ without decoding (the mixture block kernel, the X-Yield grid kernel, `Combined` of such);
- `cuda_screen(space, table)`: a GPU screener of rank ranges.

Each returns None when the scorer has no such path for that space, and the engine falls back.
A scorer with an applicability domain (`has_domain`, `domain_frame(batch)`: `PhaseScorer`) is
screened in two stages, the domain scored on a candidate pool only (`hea_fast.screen.domain`).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from hea_fast.composition import CompositionBatch
from hea_fast.screen.palette import fused_inputs, maresca_curtin_inputs
from hea_fast.screen.spaces import CompositionSpace, native_lattice

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CNNYieldScorer", "DescriptorScorer", "MixtureScorer", "PhaseScorer", "Scorer", "YieldScorer",
           "model_gaps", "torch_key"]


class Scorer:
    """Maps a chunk to named score columns.

    Subclasses set `name` (the score column), `descriptors` (descriptor names they need, None for
    all of them, () for none: `score` then gets desc=None) and implement
    `score(batch, desc) -> np.ndarray` (higher is better). `threshold` (optional) is a minimum the
    score must reach for a composition to be kept. `has_domain`: see `PhaseScorer`.
    """

    name: str = "score"
    descriptors: tuple[str, ...] | None = None
    threshold: float | None = None
    has_domain: bool = False
    probability: bool = False  # the score is a probability: a threshold must lie in [0, 1]

    def check_threshold(self) -> None:
        """Raise ValueError naming the scorer when its threshold is not a usable number (NaN, or
        outside [0, 1] for a probability, e.g. 75 meant as a percentage)."""
        if self.threshold is None:
            return
        try:
            t = float(self.threshold)
        except (TypeError, ValueError):
            raise ValueError(f"{type(self).__name__} threshold must be a number, got {self.threshold!r}") from None
        if not math.isfinite(t):
            raise ValueError(f"{type(self).__name__} threshold must be finite, got {t}")
        if self.probability and not 0.0 <= t <= 1.0:
            raise ValueError(f"{type(self).__name__} threshold {t:g} is outside [0, 1]: {self.name} is a probability")

    def score(self, batch: CompositionBatch, desc: pd.DataFrame | None) -> np.ndarray:
        raise NotImplementedError

    def columns(self, batch: CompositionBatch, desc: pd.DataFrame | None) -> dict[str, np.ndarray]:
        return {self.name: np.asarray(self.score(batch, desc), dtype=np.float64)}

    def needed_descriptors(self) -> tuple[str, ...]:
        return tuple(self.descriptors or ())

    def reads_descriptors(self) -> bool:
        """False when `score` reads no descriptor frame (descriptors == ()): the engine then
        featurizes nothing for the general path."""
        return self.descriptors != ()

    def keep_mask(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        """Rows to keep: a finite score meeting `threshold` (and, for `Combined`, every requirement)."""
        primary = cols[self.name]
        keep = np.isfinite(primary)
        if self.threshold is not None:
            keep &= primary >= self.threshold
        return keep

    def walk(self) -> Iterator["Scorer"]:
        """This scorer and every scorer inside it."""
        yield self

    def palette_gaps(self, elements: Sequence[str], table: str) -> list[str]:
        """Why this scorer cannot score alloys holding some of `elements` (texts naming the elements or
        pairs; [] when it can score them all): `screen` refuses such a palette before any work.
        Default: the data its named `descriptors` need from `table` (none named: nothing known)."""
        return model_gaps(elements, None, "", list(self.descriptors), table) if self.descriptors else []

    def _memo_key(self, make: Callable[[], str]) -> str:
        """`make()` once per scorer: the `run_key` of a model that fingerprints its arrays."""
        if getattr(self, "_key", None) is None:
            self._key = make()
        return self._key

    def lattice_columns(self, space, start: int, stop: int, table: str, threads) -> dict[str, np.ndarray] | None:
        """Score columns of lattice ranks [start, stop) computed straight from the ranks in C++ (no
        decoded fractions, no descriptor frame), or None when this scorer has no such path. A score
        below the scorer's own threshold may come back as any value below it (only `keep_mask` reads
        those rows; the reported rows are rescored)."""
        return None

    def lattice_sides(self, space, start: int, stop: int, table: str, threads) -> dict[str, np.ndarray] | None:
        """`lattice_columns` for a scorer that is a requirement of `Combined`: only the side of
        `threshold` each score lies on is read, so any value on that side may stand for it (NaN or
        -inf for a composition without a score). Default: `lattice_columns`."""
        return self.lattice_columns(space, start, stop, table, threads)

    def fused_topk(self, space, start: int, stop: int, k: int, table: str,
                   threads, floor: float | None = None) -> tuple[np.ndarray, np.ndarray, int] | None:
        """The top-k (scores, ranks, n_passing) of lattice ranks [start, stop) in one fused pass, or
        None when this scorer has no such path. `floor`: the worst score of the full pool the result
        is merged into (None: no pool yet); a scorer may leave out rows scoring below it, which
        changes nothing in the merged pool (n_passing stays exact). A scorer with `fused_bounds` also
        takes `tiles=` (what its `fused_bounds` returned for the same ranks)."""
        return None

    def fused_bounds(self, space, start: int, stop: int, table: str, threads):
        """Cheap bounds of the scores of lattice ranks [start, stop) for a best-first screen, or None
        when this scorer has none on `space` (for every range alike, so an empty range tells): an
        object with `best` (no score of the range exceeds it), passed
        back as `fused_topk(..., tiles=)` for the same range, where it lets whole tiles that cannot
        enter the pool be skipped."""
        return None

    def cuda_screen(self, space, table: str):
        """A GPU screener `(start, stop, k) -> (scores, ranks, n_passing)` of `space`, or None when
        this scorer has no GPU path there."""
        return None


class DescriptorScorer(Scorer):
    """Any callable on the descriptor DataFrame, e.g. `lambda d: -d["delta"]`."""

    def __init__(self, fn: Callable[[pd.DataFrame], Any], name: str = "score",
                 descriptors: Sequence[str] | None = None, threshold: float | None = None):
        self.fn = fn
        self.name = name
        self.descriptors = tuple(descriptors) if descriptors is not None else None
        self.threshold = threshold

    def score(self, batch, desc):
        return np.asarray(self.fn(desc), dtype=np.float64)


class MixtureScorer(Scorer):
    """P(single phase) from a fitted `hea_fast.mixture.SparseMixtureClassifier`.

    method="probit" (default for screening) uses the posterior mean μ_c and covariance Σ_c of each
    cluster's weights and MacKay's probit approximation of the posterior predictive
    (`hea_fast.mixture.probit`): O(d²) per alloy instead of one sigmoid per posterior draw.
    method="mc" is the model's own Monte Carlo average over draws (`predict_proba`); the two agree
    to 0.02 (tests/test_probit.py). engine picks the implementation of the probit predictive:
    "cpp" (the fused C++ kernels, default) or "numpy" (their float64 reference).
    """

    probability = True

    def __init__(self, model=None, name: str = "p_single", threshold: float | None = None, method: str = "probit",
                 engine: str = "cpp", threads=None):
        """model: a fitted SparseMixtureClassifier, a saved model directory, or None for the
        bundled default (trained on Singh 2023 by scripts/train_default_mixture.py)."""
        if method not in ("probit", "mc"):
            raise ValueError(f"method must be 'probit' or 'mc', got {method!r}")
        self._set(name, threshold, engine, threads)
        self.model = _load_mixture(model)
        self.method = method
        if method == "mc":
            # the model's own predict_proba reads every descriptor it was fitted on
            self.descriptors = tuple(getattr(self.model, "feature_names_in_", None) or ()) or None
            self.probit = None
        else:
            from hea_fast.mixture.probit import ProbitModel

            self.descriptors, self.probit = ProbitModel.from_classifier(self.model)

    @classmethod
    def from_probit(cls, descriptors: Sequence[str], probit, name: str = "p_single",
                    threshold: float | None = None, engine: str = "cpp", threads=None) -> "MixtureScorer":
        """A probit scorer from the predictive's arrays (`hea_fast.mixture.probit.ProbitModel` over
        the columns `descriptors`), without a fitted model."""
        self = cls.__new__(cls)
        self._set(name, threshold, engine, threads)
        self.model, self.method = None, "probit"
        self.descriptors, self.probit = tuple(descriptors), probit
        return self

    def run_key(self) -> str:
        """The predictive's identity for a checkpoint: the method and its arrays (probit) or the model's
        draws and anchors (mc); a checkpoint of another model or method is another run."""
        from hea_fast._io import fingerprint

        m = self.model
        arrays = list(self.probit) if self.probit is not None else [
            *getattr(m, "coef_draws_", []), getattr(m, "anchors_z_", None)]
        return self._memo_key(lambda: fingerprint({"method": self.method, "descriptors": list(self.descriptors or ()),
                                                   "arrays": arrays}))

    def _set(self, name, threshold, engine, threads):
        if engine not in ("cpp", "numpy"):
            raise ValueError(f"engine must be 'cpp' or 'numpy', got {engine!r}")
        self.name, self.threshold, self.engine, self.threads = name, threshold, engine, threads

    def score(self, batch, desc):
        if self.method == "mc":
            cols = list(self.descriptors) if self.descriptors else list(desc.columns)
            return self.model.predict_proba(desc[cols])[:, 1]
        from hea_fast.mixture.probit import mixture_probit, mixture_probit_reference

        names = list(self.descriptors)
        # the screening loop hands over exactly these columns: no reindexing copy then
        frame = desc if list(desc.columns) == names else desc[names]
        X = np.ascontiguousarray(frame.to_numpy(dtype=np.float64))
        if self.engine == "cpp":
            return mixture_probit(X, *self.probit, threads=self.threads)
        return mixture_probit_reference(X, *self.probit)

    def fused_args(self, space, table: str) -> tuple | None:
        """The arguments after the rank range of `core.screen_mixture_topk` / `screen_mixture_scores`
        (the palette's element data, then the predictive), or None unless `space` is a lattice whose
        every element has finite data and this is the probit predictive on the C++ engine."""
        if not (isinstance(space, CompositionSpace) and self.method == "probit" and self.engine == "cpp"):
            return None
        palette = fused_inputs(tuple(space.elements), tuple(self.descriptors), table)
        return None if palette is None else (*palette, *self.probit)

    def fused_topk(self, space, start, stop, k, table, threads, floor=None):
        """decode -> the model's descriptors -> probit -> top-k fused in C++; the scores are bitwise
        those of the general path for palettes of up to 16 elements (tests/test_screen_fused.py)."""
        args = self.fused_args(space, table)
        if args is None:
            return None
        from hea_fast._backend import core

        s, r, n = core.screen_mixture_topk(native_lattice(space), start, stop, *args, threshold=self.threshold,
                                           k=k, threads=threads)
        return s, r, int(n)

    def lattice_columns(self, space, start, stop, table, threads):
        args = self.fused_args(space, table)
        if args is None:
            return None
        from hea_fast._backend import core

        return {self.name: core.screen_mixture_scores(native_lattice(space), start, stop, *args, threads=threads)}

    def cuda_screen(self, space, table):
        args = self.fused_args(space, table)
        if args is None:
            return None
        from hea_fast.screen.cuda import CudaMixtureScreen

        return CudaMixtureScreen(space, args, self.threshold)


def _load_mixture(model):
    """The model itself, the bundled default (None) or a saved model directory (a path)."""
    if model is not None and not isinstance(model, (str, os.PathLike)):
        return model
    from hea_fast.mixture import SparseMixtureClassifier

    if model is None:
        return SparseMixtureClassifier.load_default()
    if not Path(model).exists():
        raise FileNotFoundError(f"mixture model directory {model} not found (train one with "
                                "`hea-fast mixture fit` or scripts/train_default_mixture.py)")
    return SparseMixtureClassifier.load(model)


class PhaseScorer(Scorer):
    """P(single phase) from the default phase model (`hea_fast.phase.PhaseModel`: logistic
    regression on descriptors + element fractions and a random forest on descriptors, averaged), with
    its applicability domain; also the ``fast`` model (that forest distilled into boosted trees) or any
    saved `PhaseModel`.

    model: a `PhaseModel`, a saved model directory, or None / "default" for the bundled model.
    On a `CompositionSpace` the scan is one fused C++ pass (`phase_ensemble_topk`: decode, the
    model's descriptors, both members, calibration, top-k; `lattice_columns` by
    `phase_ensemble_lattice`); on other spaces `PhaseModel.predict_proba` of the decoded chunk.
    Compositions whose descriptors cannot be computed (an element without data) get NaN and are
    never kept. The descriptors use the model's own element table (`screen(table=)` is not read).
    The domain (`domain_frame`) is scored on the screen's candidate pool only
    (`hea_fast.screen.domain`). `threads`: kernel threads (None: all cores).
    """

    probability = True

    descriptors = ()  # the model featurizes what it needs itself

    def __init__(self, model=None, name: str = "p_single", threshold: float | None = None,
                 threads: int | None = None):
        from hea_fast.phase import load_model

        self.model = load_model("default" if model is None else model)
        self.name, self.threshold, self.threads = name, threshold, threads

    @property
    def has_domain(self) -> bool:
        return getattr(self.model, "domain", None) is not None

    def _threads(self, threads):
        return threads if threads is not None else self.threads

    def run_key(self) -> str:
        """A fingerprint of the model's parameters (a resumed screen must use the same model)."""
        from hea_fast._io import fingerprint

        p = self.model.params
        return self._memo_key(lambda: fingerprint(
            {"descriptors": list(p.descriptors), "elements": list(p.elements), **p.arrays(),
             **({} if p.tree_link == "logit" else {"tree_link": p.tree_link, "tree_float32": p.tree_float32})}))

    def palette_gaps(self, elements, table):
        """Elements outside the model's and the data its descriptors need from its own table."""
        p = self.model.params
        return model_gaps(elements, p.elements, "the phase model's elements", list(p.descriptors), self.model.table)

    def score(self, batch, desc):
        p, _ = self.model.predict_proba(batch, return_reasons=True, threads=self.threads)
        return np.ascontiguousarray(p[:, 1])

    def domain_frame(self, batch, threads=None) -> pd.DataFrame:
        """in_domain, domain_score, domain_reason of each composition of `batch`."""
        return self.model.domain_frame(batch, threads=self._threads(threads))

    def nearest_frame(self, batch, threads=None) -> pd.DataFrame | None:
        """nearest_training_alloy, nearest_distance, nearest_single of `batch` (PhaseModel.neighbors, k=1)."""
        if self.model.domain is None or not self.model.domain.fraction_weight > 0:
            return None
        nb = self.model.neighbors(batch, k=1, threads=self._threads(threads))
        return nb.rename(columns={"neighbor1": "nearest_training_alloy", "neighbor1_distance": "nearest_distance",
                                  "neighbor1_single": "nearest_single"}).reset_index(drop=True)

    def fused_topk(self, space, start, stop, k, table, threads, floor=None, tiles=None):
        """The chunk's top-k in one C++ pass (boosted trees or a forest); with `floor`, blocks whose p
        cannot reach it skip the trees (bounds from the linear member and the trees' reachable leaves),
        exactly; with `tiles` (`fused_bounds` of the chunk), tiles that cannot reach the top-k are
        skipped whole."""
        from hea_fast.phase.ensemble import phase_ensemble_topk

        if not isinstance(space, CompositionSpace):
            return None

        s, r, n = phase_ensemble_topk(space, start, stop, k, self.model.params, threshold=self.threshold,
                                      table=self.model.table, threads=self._threads(threads), floor=floor,
                                      tiles=tiles)
        return s, r, int(n)

    def fused_bounds(self, space, start, stop, table, threads):
        """Per-tile bounds of p over ranks [start, stop) (`phase_ensemble_tile_bounds`: block bounds,
        no tree walked), for a best-first screen."""
        from hea_fast.phase.ensemble import phase_ensemble_tile_bounds

        if not isinstance(space, CompositionSpace):
            return None
        return phase_ensemble_tile_bounds(space, start, stop, self.model.params, threshold=self.threshold,
                                          table=self.model.table, threads=self._threads(threads))

    def _lattice(self, space, start, stop, threads, sides: bool):
        """p of the ranks by the fused kernel, told what `keep_mask` reads: p >= threshold only (a
        bound below it will do, `floor`), or with `sides` only the side of the threshold."""
        from hea_fast.phase.ensemble import phase_ensemble_lattice

        if not isinstance(space, CompositionSpace):
            return None
        mode = {"threshold" if sides else "floor": self.threshold}
        p = phase_ensemble_lattice(space, start, stop, self.model.params, table=self.model.table,
                                   threads=self._threads(threads), **mode)
        return {self.name: np.asarray(p, dtype=np.float64)}

    def lattice_columns(self, space, start, stop, table, threads):
        return self._lattice(space, start, stop, threads, sides=False)

    def lattice_sides(self, space, start, stop, table, threads):
        """Which side of `threshold` each p lies on, by the fused kernel's bounds: blocks and
        compositions whose side is settled skip the trees (`phase_ensemble_lattice(threshold=)`)."""
        return self._lattice(space, start, stop, threads, sides=True)


def model_gaps(elements, known, what: str, descriptors, table) -> list[str]:
    """Palette gaps of a model: the elements outside `known` (None: no such limit; "X is not among
    `what`"), then the data the `descriptors` need from `table` for the others (`features.data_gaps`)."""
    from hea_fast.features import data_gaps

    ks = None if known is None else set(known)
    inside = [e for e in elements if ks is None or e in ks]
    return [f"{e} is not among {what}" for e in elements if e not in inside] + data_gaps(inside, descriptors, table)


def torch_key(model, **extra) -> str:
    """A checkpoint identity of a torch model: its weights (dtype, shape, sha256) and `extra`."""
    from hea_fast._io import fingerprint

    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return fingerprint({"state": state, **extra})


class YieldScorer(Scorer):
    """Maresca–Curtin yield strength (MPa) at `temperature_K`. `threads`: kernel threads (None: all
    cores; Dask tasks run it with 1)."""

    def __init__(self, temperature_K: float, model: str = "continuous", name: str | None = None,
                 threshold: float | None = None, threads: int | None = None):
        self.temperature_K = float(temperature_K)
        self.model = model
        self.name = name or f"sigma_y_{self.temperature_K:g}K_MPa"
        self.threshold = threshold
        self.threads = threads

    def run_key(self) -> str:
        return f"maresca-curtin:{self.model}"  # the temperature is in the score's name

    def palette_gaps(self, elements, table):
        from hea_fast.xyield.maresca_curtin import mc_elements

        known = mc_elements()
        missing = [e for e in elements if e not in known]
        return [f"{', '.join(missing)} (no Maresca-Curtin inputs: volume, elastic constants; only {', '.join(known)} "
                "have them)"] if missing else []

    def score(self, batch, desc):
        from hea_fast.xyield.maresca_curtin import yield_strength

        return np.asarray(yield_strength(batch, self.temperature_K, model=self.model, threads=self.threads,
                                         errors="raise"),
                          dtype=np.float64).reshape(len(batch))

    def lattice_columns(self, space, start, stop, table, threads):
        """σ_y by the X-Yield grid kernel (lattice ranks -> σ_y in one C++ pass) when every palette
        element has Maresca–Curtin inputs."""
        if not isinstance(space, CompositionSpace):
            return None
        inputs = maresca_curtin_inputs(tuple(space.elements))
        if inputs is None:
            return None
        from hea_fast._backend import core
        from hea_fast.xyield.maresca_curtin import check_model

        T = np.array([self.temperature_K])
        sig = core.mc_grid_sigma(native_lattice(space), start, stop, *inputs, T, check_model(self.model),
                                 threads=threads if threads is not None else self.threads)
        return {self.name: np.asarray(sig, dtype=np.float64).reshape(stop - start)}


class CNNYieldScorer(Scorer):
    """X-Yield CNN prediction (GPa) at `temperature_K` from a trained `hea_fast.xyield.cnn` model."""

    def __init__(self, model, temperature_K: float, name: str | None = None, threshold: float | None = None):
        self.model = model
        self.temperature_K = float(temperature_K)
        self.name = name or f"cnn_ys_{self.temperature_K:g}K_GPa"
        self.threshold = threshold

    def run_key(self) -> str:
        return self._memo_key(lambda: torch_key(self.model))

    def score(self, batch, desc):
        from hea_fast.xyield import protocol

        return np.asarray(protocol.predict(self.model, batch, self.temperature_K), dtype=np.float64)
