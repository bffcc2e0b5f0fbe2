"""Type stubs of hea_fast._core, the compiled CPU kernels (csrc/bindings/core_*.cpp).

Written by hand from the bindings; tests/test_packaging.py checks that every public name of the
built module is here with the same parameters (names, order, defaults, keyword-only markers), so a
new or changed kernel without its stub fails CI. `threads=None` uses every core; results never
depend on the thread count. Arrays are converted to C-contiguous float64/int64/int32 as named.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_F32 = npt.NDArray[np.float32]
_I64 = npt.NDArray[np.int64]
_I32 = npt.NDArray[np.int32]

__version__: str

# ---- descriptors (descriptors.h) ----------------------------------------------------------------
DESCRIPTOR_COLUMNS: tuple[str, ...]
DESCRIPTOR_PROPS: tuple[str, ...]

def descriptors(
    fractions: npt.ArrayLike | Sequence[npt.ArrayLike], props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float = 0.0, threads: int | None = None, columns: Sequence[int] | npt.ArrayLike | None = None,
) -> _F64:
    """(n, 16) descriptors in DESCRIPTOR_COLUMNS order (or (n, len(columns))) of (n, E) amounts (a 2-D
    array or a list of E 1-D columns); props (E, 7) in DESCRIPTOR_PROPS order, pair (E, E) kJ/mol."""

def hardware_threads() -> int:
    """Number of hardware threads the kernels use by default."""

# ---- parse (parse.h) ----------------------------------------------------------------------------
PARSE_ELEMENTS: tuple[str, ...]
PARSE_MAX_DEPTH: int
PARSE_STATUS: tuple[str, ...]

def parse_formulas(
    formulas: Sequence[Any], elements_z: npt.ArrayLike | None = None, threads: int | None = None,
) -> tuple[_F64, _I32, _I32, _I64, _I64]:
    """(fractions (n, E), elements_z (E,), status (n,) indexing PARSE_STATUS, error pos (n,), error len (n,))."""

# ---- lattice (lattice.h) ------------------------------------------------------------------------
class LatticeSpace:
    """Simplex-lattice composition space (see hea_fast.lattice.CompositionSpace)."""

    def __init__(
        self, n_palette: int, parts: Sequence[tuple[int, int]], lo: Sequence[float], hi: Sequence[float],
        required: Sequence[int], forbidden: Sequence[int],
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def n_palette(self) -> int: ...
    @property
    def n_blocks(self) -> int: ...
    @property
    def max_k(self) -> int: ...
    def fractions(self, start: int, count: int, threads: int | None = None) -> _F64:
        """Dense fractions (count x E) of ranks [start, start + count)."""
    def fractions_at(self, ranks: npt.ArrayLike, threads: int | None = None) -> _F64:
        """Dense fractions (n x E) of arbitrary ranks."""
    def sparse(self, start: int, count: int, threads: int | None = None) -> tuple[_I32, _F64]:
        """(elem int32, frac float64), each (count x max_k), padded with -1 / 0."""
    def rank(self, fractions: npt.ArrayLike, threads: int | None = None) -> _I64:
        """Rank of each dense fraction row (n x E); -1 where the row is not a point of the space."""
    def blocks_of(self, ranks: npt.ArrayLike, threads: int | None = None) -> _I64:
        """System (block) index of each rank."""
    def block_table(self) -> dict[str, Any]:
        """Per-system table: part, k, N, offset, count, elem/lo_units/hi_units."""

def bounded_compositions(k: int, N: int, lo: Sequence[int], hi: Sequence[int]) -> int:
    """Number of integer vectors (u_0..u_{k-1}) with lo_j <= u_j <= hi_j and sum N."""

# ---- maresca_curtin (maresca_curtin.h) ----------------------------------------------------------
def mc_tau0_deb(
    fractions: npt.ArrayLike | Sequence[npt.ArrayLike], V: npt.ArrayLike, C11: npt.ArrayLike, C12: npt.ArrayLike,
    C44: npt.ArrayLike, mu_override: npt.ArrayLike | None = None, nu_override: npt.ArrayLike | None = None,
    threads: int | None = None, normalize: bool = False,
) -> tuple[_F64, _F64]:
    """Maresca-Curtin (tau_y0 [MPa], dE_b [eV]) of (n, E) fraction rows (normalize=True: amounts)."""

def mc_sigma(
    tau0: npt.ArrayLike, deb: npt.ArrayLike, temperature_K: npt.ArrayLike, model: int = 0, threads: int | None = None,
) -> _F64:
    """Tensile yield strength sigma_y = 3.067 tau [MPa] for paired (tau0, dE_b, T)."""

def mc_grid_sigma(
    space: LatticeSpace, rank_begin: int, rank_end: int, V: npt.ArrayLike, C11: npt.ArrayLike, C12: npt.ArrayLike,
    C44: npt.ArrayLike, temperature_K: npt.ArrayLike, model: int = 0, threads: int | None = None,
) -> _F64:
    """sigma_y [MPa] of every lattice point in [rank_begin, rank_end) at each temperature -> (n, nT)."""

def mc_grid_points(
    space: LatticeSpace, points: npt.ArrayLike, V: npt.ArrayLike, C11: npt.ArrayLike, C12: npt.ArrayLike,
    C44: npt.ArrayLike, temperature_K: npt.ArrayLike, model: int = 0, threads: int | None = None,
) -> _F64:
    """sigma_y [MPa] at point indices rank * nT + t."""

def mc_grid_reduce(
    space: LatticeSpace, rank_begin: int, rank_end: int, V: npt.ArrayLike, C11: npt.ArrayLike, C12: npt.ArrayLike,
    C44: npt.ArrayLike, temperature_K: npt.ArrayLike, model: int, hist: _I64 | None, h_lo: float, h_hi: float,
    tmax: _F64, targ: _I64, bmax: _F64 | None, barg: _I64 | None, tsum: _F64 | None, tsum2: _F64 | None, topk: int,
    threads: int | None = None,
) -> tuple[_F64, _I64]:
    """Fused enumerate + sigma_y + reductions over [rank_begin, rank_end): accumulates the given arrays in
    place; returns this range's per-temperature top-k (values, point indices)."""

# ---- pseudoimage (pseudoimage.h) ----------------------------------------------------------------
def pseudo_images(
    fractions: npt.ArrayLike, temperature_K: npt.ArrayLike, cells: npt.ArrayLike, threads: int | None = None,
    normalize: bool = False,
) -> _F32:
    """float32 (n, 2, 9, 18): channel 0 = fraction at each element's cell, channel 1 = (T_K - 273.15)/2000;
    normalize=True: rows are amounts, divided by their sums first."""

# ---- masked_l0 (masked_l0.h); float32 or float64 arrays, C-contiguous --------------------------
def masked_weight_forward(
    theta: np.ndarray, m_s: np.ndarray | None, m_t: np.ndarray | None, eps: float, threads: int | None = None,
) -> np.ndarray:
    """Effective weight theta*g(m_s)*g(m_t), g(m) = m^2/(m^2+eps); m_s/m_t may be None."""

def masked_weight_backward(
    grad_w: np.ndarray, theta: np.ndarray, m_s: np.ndarray | None, m_t: np.ndarray | None, eps: float,
    need_theta: bool = True, need_ms: bool = True, need_mt: bool = True, threads: int | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Gradients (theta, m_s, m_t) of the masked weight given grad_w = dL/dW; None where not asked."""

def prox_soft_threshold(mask: np.ndarray, lam: float, threads: int | None = None) -> int:
    """In-place soft threshold mask <- sign(mask) max(|mask| - lam, 0); returns the zero count."""

def l0_gate(mask: np.ndarray, eps: float, threads: int | None = None) -> np.ndarray:
    """Gate values g(m) = m^2/(m^2+eps)."""

# ---- polyagamma (polyagamma.h) ------------------------------------------------------------------
def polyagamma(b: npt.ArrayLike, c: npt.ArrayLike, seed: int = 0, threads: int | None = None) -> _F64:
    """Exact PG(b_i, c_i) draws; element i uses the Philox stream (seed, i)."""

def jstar_density(h: float, x: npt.ArrayLike) -> _F64:
    """Density of J*(h) by its alternating series (test helper)."""

def jstar_envelope(h: float) -> tuple[float, float]:
    """(t, Kp) of the right envelope Kp exp(-pi^2 x/8) on x > t (test helper)."""

# ---- wbic (wbic.h) ------------------------------------------------------------------------------
def wbic_subsets(
    X: npt.ArrayLike, y: npt.ArrayLike, subsets: npt.ArrayLike, *, prior_var: float = 10.0, fit_intercept: bool = True,
    beta: float, n_iter: int = 1000, burn_in: int = 50, n_chains: int = 4, target_stderr: float = 0.0,
    max_iter: int = 20000, seed: int = 0, prune_above: float = 0.0, threads: int | None = None,
) -> dict[str, Any]:
    """Batched tempered PG-Gibbs WBIC over column subsets (rows of `subsets`, padded with -1)."""

def wbic_posterior_draws(
    A: npt.ArrayLike, y: npt.ArrayLike, *, beta: float, prior_var: float = 10.0, n_draws: int = 1000,
    burn_in: int = 200, n_chains: int = 4, seed: int = 0, threads: int | None = None,
) -> _F64:
    """PG-Gibbs draws of the logistic weights (design A includes any intercept column)."""

# ---- probit (probit.h) and screen (screen.h) ----------------------------------------------------
def mixture_probit(
    X: npt.ArrayLike, mean: npt.ArrayLike, scale: npt.ArrayLike, cl: npt.ArrayLike, anchors: npt.ArrayLike,
    sub: npt.ArrayLike, mu: npt.ArrayLike, cov: npt.ArrayLike, threads: int | None = None,
) -> _F64:
    """Mixture posterior predictive by MacKay's probit approximation, fused (see hea_fast.screen.MixtureScorer)."""

def screen_mixture_topk(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, mean: npt.ArrayLike, scale: npt.ArrayLike, cl: npt.ArrayLike,
    anchors: npt.ArrayLike, sub: npt.ArrayLike, mu: npt.ArrayLike, cov: npt.ArrayLike, threshold: float | None = None,
    k: int = 1000, threads: int | None = None,
) -> tuple[_F64, _I64, int]:
    """Fused screening of ranks [start, stop): (scores, ranks, n_passing) of the k best, best first."""

def screen_mixture_scores(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, mean: npt.ArrayLike, scale: npt.ArrayLike, cl: npt.ArrayLike,
    anchors: npt.ArrayLike, sub: npt.ArrayLike, mu: npt.ArrayLike, cov: npt.ArrayLike, threads: int | None = None,
    method: str = "block",
) -> _F64:
    """P(single phase) of every rank in [start, stop); method "block" (vectorised) or "row" (the CUDA rows)."""

# ---- ssvae_head (ssvae_head.h): the SSVAE classifier head, F -> ... -> 1 with Softplus ------------
# weights/biases: the Linear layers (nn.Linear layout (out, in), float64); mean/std: the input
# standardisation (None: raw inputs); output "probability" or "logit"; dtype "float32" (the torch
# model's precision) or "float64".
def ssvae_head(
    e: npt.ArrayLike, weights: Sequence[npt.ArrayLike], biases: Sequence[npt.ArrayLike],
    mean: npt.ArrayLike | None = None, std: npt.ArrayLike | None = None, output: str = "probability",
    dtype: str = "float32", threads: int | None = None,
) -> _F64:
    """The head on descriptor rows e (n, F) -> (n,); NaN for a row with a non-finite value."""

def ssvae_head_coalitions(
    x: npt.ArrayLike, background: npt.ArrayLike, weights: Sequence[npt.ArrayLike], biases: Sequence[npt.ArrayLike],
    mean: npt.ArrayLike | None = None, std: npt.ArrayLike | None = None, output: str = "probability",
    dtype: str = "float32", threads: int | None = None, background_weights: npt.ArrayLike | None = None,
) -> _F64:
    """Coalition values (n, 2^F): v[i, S] = (weighted) mean over background rows of the head on x[i] inside S."""

def ssvae_head_lattice(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, allowed: npt.ArrayLike, weights: Sequence[npt.ArrayLike],
    biases: Sequence[npt.ArrayLike], mean: npt.ArrayLike | None = None, std: npt.ArrayLike | None = None,
    output: str = "probability", dtype: str = "float32", threads: int | None = None,
) -> _F64:
    """The head on descriptors `columns` of every lattice rank in [start, stop); NaN where allowed[e] == 0."""

# ---- phase_ensemble (phase_ensemble.h): logistic regression + gradient-boosted trees, calibrated ------
# Model arguments (keyword-only): hea_fast.phase.ensemble.EnsembleParams.kernel_args() (the arrays, and
# tree_link 'logit' (boosted trees) or 'mean' (a forest) with tree_float32 node tests).
# Lattice arguments: props (E, 7), pair (E, E) (NaN: an unknown pair enthalpy), columns (descriptor
# indices of features 0..len-1), allowed (E,) uint8, fraction_features (E,) int32 (-1: none).
def phase_ensemble(
    V: npt.ArrayLike, threads: int | None = None, *, lin_mean: npt.ArrayLike, lin_scale: npt.ArrayLike,
    lin_coef: npt.ArrayLike, lin_intercept: float, tree_baseline: float, tree_offsets: npt.ArrayLike,
    node_feature: npt.ArrayLike, node_threshold: npt.ArrayLike, node_left: npt.ArrayLike,
    node_right: npt.ArrayLike, node_value: npt.ArrayLike, node_missing_left: npt.ArrayLike, w_lin: float,
    w_tree: float, cal_a: float, cal_b: float, tree_link: str = "logit",
    tree_float32: bool = False,
) -> _F64:
    """P(single phase) of feature rows V (n, F) -> (n,); NaN for a row with a non-finite feature."""

def phase_forest_sum(
    V: npt.ArrayLike, float32: bool, threads: int | None = None, *, lin_mean: npt.ArrayLike,
    lin_scale: npt.ArrayLike, lin_coef: npt.ArrayLike, lin_intercept: float, tree_baseline: float,
    tree_offsets: npt.ArrayLike, node_feature: npt.ArrayLike, node_threshold: npt.ArrayLike,
    node_left: npt.ArrayLike, node_right: npt.ArrayLike, node_value: npt.ArrayLike,
    node_missing_left: npt.ArrayLike, w_lin: float, w_tree: float, cal_a: float, cal_b: float, tree_link: str = "logit",
    tree_float32: bool = False,
) -> _F64:
    """Sum over the trees (tree order, from 0.0) of the leaf values of feature rows V (n, F); float32 node tests
    when `float32`; NaN for a row with a non-finite feature."""

class PhaseEnsembleModel:
    """A phase ensemble checked and laid out once for the fused lattice kernels (keeps its arrays alive)."""

    def __init__(
        self, *, lin_mean: npt.ArrayLike, lin_scale: npt.ArrayLike, lin_coef: npt.ArrayLike, lin_intercept: float,
        tree_baseline: float, tree_offsets: npt.ArrayLike, node_feature: npt.ArrayLike,
        node_threshold: npt.ArrayLike, node_left: npt.ArrayLike, node_right: npt.ArrayLike,
        node_value: npt.ArrayLike, node_missing_left: npt.ArrayLike, w_lin: float, w_tree: float, cal_a: float,
        cal_b: float, tree_link: str = "logit", tree_float32: bool = False,
    ) -> None: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_trees(self) -> int: ...

def phase_ensemble_lattice(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, allowed: npt.ArrayLike, fraction_features: npt.ArrayLike,
    model: PhaseEnsembleModel, threads: int | None = None, floor: float | None = None,
    threshold: float | None = None,
) -> _F64:
    """P(single phase) of every lattice rank in [start, stop), from the ranks in one pass; with `floor`, a p below
    it may be replaced by any value below it (-inf or an upper bound); with `threshold`, any value on p's side of it
    may stand for p."""

def phase_ensemble_topk(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, allowed: npt.ArrayLike, fraction_features: npt.ArrayLike,
    model: PhaseEnsembleModel, threshold: float | None = None, k: int = 1000, threads: int | None = None,
    floor: float | None = None, tile_bound: npt.ArrayLike | None = None, tile_pass: npt.ArrayLike | None = None,
) -> tuple[_F64, _I64, int]:
    """The k best ranks of [start, stop) with a finite p >= threshold (and p >= floor): (scores, ranks,
    n_passing), best first; n_passing does not depend on floor. tile_bound / tile_pass: the
    phase_ensemble_tile_bounds of the same ranks and threshold (tiles that cannot reach the top-k and
    whose passing count is known are skipped)."""

def phase_ensemble_tile_bounds(
    space: LatticeSpace, start: int, stop: int, props: npt.ArrayLike, pair: npt.ArrayLike, gas_constant: float,
    log_offset: float, columns: npt.ArrayLike, allowed: npt.ArrayLike, fraction_features: npt.ArrayLike,
    model: PhaseEnsembleModel, threshold: float | None = None, threads: int | None = None,
) -> tuple[_F64, _I64]:
    """Per tile of 8192 ranks of [start, stop): (an upper bound of p, how many have p >= threshold), from the
    block bounds alone; passing -1 where the bounds leave a composition's side of threshold unknown."""
