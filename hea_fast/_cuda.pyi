"""Type stubs of hea_fast._cuda, the optional CUDA kernels (csrc/bindings/cuda_*.cpp, module_cuda.cpp).

Built only from source with a CUDA toolkit (`pip install . -C cmake.define.HEA_FAST_CUDA=ON`); reach
it through `hea_fast._backend.cuda_module()`. Device buffers cross as integer addresses (torch
`t.data_ptr()`) and the caller's stream (`torch.cuda.current_stream().cuda_stream`, 0 = default);
launches are asynchronous on that stream and the caller keeps the buffers alive and validated.
tests/test_packaging.py checks every binding in csrc/bindings/cuda_*.cpp against this file (and the
built module against it, where one is importable).
"""

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt

def device_count() -> int:
    """Number of visible CUDA devices (0 when none or no driver)."""

# ---- descriptors ----------------------------------------------------------------------------------
def descriptors(
    x: int, n: int, E: int, props: int, pair: int, gas_constant: float, log_offset: float, out: int, stream: int,
) -> None:
    """Descriptor kernel on device pointers: x (n, E), props (E, 7), pair (E, E) float64 -> out (n, 16)."""

# ---- lattice --------------------------------------------------------------------------------------
class DeviceLattice:
    """A simplex-lattice space (same parameters as _core.LatticeSpace) uploaded to the current GPU."""

    def __init__(
        self, n_palette: int, parts: Sequence[tuple[int, int]], lo: Sequence[float], hi: Sequence[float],
        required: Sequence[int], forbidden: Sequence[int],
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def n_palette(self) -> int: ...
    def fractions(self, start: int, count: int, out_ptr: int, stream: int) -> None:
        """Write dense fractions (count x E, float64, device) of ranks [start, start + count) to out_ptr."""
    def fractions_at(self, ranks_ptr: int, n: int, out_ptr: int, stream: int) -> None:
        """Dense fractions of n device int64 ranks -> out_ptr (n x E float64)."""

# ---- maresca_curtin -------------------------------------------------------------------------------
def mc_tau0_deb(
    frac_ptr: int, n: int, E: int, V_ptr: int, C11_ptr: int, C12_ptr: int, C44_ptr: int, mu_ptr: int, nu_ptr: int,
    tau0_ptr: int, deb_ptr: int, stream: int,
) -> None:
    """tau_y0 [MPa], dE_b [eV] on the GPU (mu_ptr/nu_ptr = 0: no override)."""

def mc_sigma(tau0_ptr: int, deb_ptr: int, T_ptr: int, n: int, model: int, out_ptr: int, stream: int) -> None:
    """sigma_y [MPa] for paired device arrays."""

def mc_grid_sigma(
    lattice: DeviceLattice, rank_begin: int, rank_end: int, V: npt.ArrayLike, C11: npt.ArrayLike, C12: npt.ArrayLike,
    C44: npt.ArrayLike, temperature_K: npt.ArrayLike, model: int, out_ptr: int, stream: int,
) -> None:
    """Fused enumerate + sigma_y on the GPU -> out_ptr ((rank_end - rank_begin) x nT float64, device)."""

# ---- pseudoimage ----------------------------------------------------------------------------------
def pseudo_images(frac_ptr: int, T_ptr: int, cells_ptr: int, out_ptr: int, n: int, E: int, stream: int) -> None:
    """float32 (n, 2, 9, 18) pseudo-images on the GPU."""

# ---- masked_l0 (dtype "float32" or "float64"; 0 for an absent mask / an output not wanted) -------
def masked_weight_forward(theta: int, m_s: int, m_t: int, eps: float, w: int, n: int, dtype: str, stream: int) -> None:
    """w = theta*g(m_s)*g(m_t) on device pointers (0 for an absent mask)."""

def masked_weight_backward(
    grad_w: int, theta: int, m_s: int, m_t: int, eps: float, grad_theta: int, grad_ms: int, grad_mt: int, n: int,
    dtype: str, stream: int,
) -> None:
    """Gradients of the masked weight on device pointers (0 = not computed / absent)."""

def prox_soft_threshold(mask: int, lam: float, n: int, dtype: str, stream: int) -> None:
    """In-place soft threshold of a device mask."""

# ---- wbic -----------------------------------------------------------------------------------------
def wbic_subsets(
    X: npt.ArrayLike, y: npt.ArrayLike, subsets: npt.ArrayLike, *, prior_var: float = 10.0, fit_intercept: bool = True,
    beta: float, n_iter: int = 1000, burn_in: int = 50, n_chains: int = 4, target_stderr: float = 0.0,
    max_iter: int = 20000, seed: int = 0, prune_above: float = 0.0, stream: int = 0,
) -> dict[str, Any]:
    """Batched tempered PG-Gibbs WBIC on the GPU (host arrays in, same outputs as _core.wbic_subsets)."""

# ---- screen ---------------------------------------------------------------------------------------
def screen_mixture_scores(
    lattice: DeviceLattice, start: int, count: int, props: int, pair: int, gas_constant: float, log_offset: float,
    columns: int, n_columns: int, mean: int, scale: int, K: int, n_cl: int, cl: int, anchors: int, n_sub: int,
    sub: int, mu: int, cov: int, a2: int, out: int, stream: int,
) -> None:
    """P(single phase) of every rank in [start, start + count) of a DeviceLattice -> out (count float64, device)."""
