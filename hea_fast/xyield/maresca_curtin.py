"""Maresca–Curtin (2020) yield strength of BCC alloys (edge-dislocation theory, reduced form).

F. Maresca, W. A. Curtin, "Mechanistic origin of high strength in refractory BCC high entropy alloys
up to 1900 K", Acta Mater. 182, 235–249 (2020). Reduced (elasticity-only) model:

  alloy inputs   V̄ = Σ cₙVₙ (Å³, Vegard),  Cij = Σ cₙCij,ₙ (GPa, rule of mixtures),
                 μ = √(C44 (C11 − C12)/2) (GPa),  B = (C11 + 2C12)/3,  ν = (3B − 2μ)/(2(3B + μ)),
                 b = (√3/2)(2V̄)^{1/3} (Å),  δ = Σ cₙ (Vₙ − V̄)² (Å⁶),  q = (1 + ν)/(1 − ν)
  zero-T stress  τ_y0 = 0.040 α^{-1/3} μ q^{4/3} (δ/b⁶)^{2/3}                 (α = 1/12, BCC)
  energy barrier ΔE_b = 2.00 α^{1/3} μ b³ q^{2/3} (δ/b⁶)^{1/3}
  temperature    x = k_B T / ΔE_b · ln(ε̇₀/ε̇),  ε̇₀ = 10⁴ s⁻¹, ε̇ = 10⁻³ s⁻¹
  "two-regime"   τ = τ_y0 (1 − x^{2/3}) while that is ≥ τ_y0/2 (x ≤ 2^{-3/2}),
                 else τ = τ_y0 exp(−x/0.55)
  "single-fit"   τ = τ_y0 exp(−(1/0.55) x^{0.91})
  tensile yield  σ_y = 3.067 τ (Taylor factor)

Units in the API: MPa (stresses), K (temperature), eV (ΔE_b), GPa (μ), Å³ (volumes).
Per-element V and Cij come from `hea_fast/data/xyield/elastic_volumes.csv` (sources in its README);
`volumes=`, `shear_modulus=` and `poisson=` override them, as MC2020 did with its DFT "apparent"
volumes and alloy elastic constants.

The compiled kernel is `hea_fast._core.mc_tau0_deb` / `mc_sigma` (C++, csrc/cpu/maresca_curtin_cpu.cpp);
`_tau0_deb_numpy` / `_sigma_numpy` are the vectorized float64 references.
"""
from __future__ import annotations

import functools
import math
import re
from importlib import resources

import numpy as np

__all__ = [
    "ALPHA_BCC",
    "EPS_DOT_0",
    "EPS_DOT",
    "TAYLOR_FACTOR",
    "K_BOLTZMANN_EV",
    "MODELS",
    "MODEL_CODES",
    "check_model",
    "ElementInputs",
    "element_inputs",
    "as_fractions",
    "alloy_inputs",
    "tau_y0_and_dEb",
    "yield_strength",
]

ALPHA_BCC = 1.0 / 12.0  # line-tension prefactor of the BCC edge theory (0.123 is the FCC value)
EPS_DOT_0 = 1.0e4  # reference strain rate, 1/s
EPS_DOT = 1.0e-3  # applied strain rate, 1/s
TAYLOR_FACTOR = 3.067
K_BOLTZMANN_EV = 8.617333262e-5  # eV/K (CODATA 2018)
GPA_A3_TO_EV = 1.0e-21 / 1.602176634e-19  # 1 GPa·Å³ in eV
MODELS = ("two-regime", "single-fit")
MODEL_CODES = {"two-regime": 0, "single-fit": 1}  # the kernel's integer code of each model
_MODEL_CODE = MODEL_CODES


# ---------------------------------------------------------------------------------------------
# element data
# ---------------------------------------------------------------------------------------------
class ElementInputs:
    """Per-element model inputs, aligned with `elements`: V (Å³), C11, C12, C44 (GPa)."""

    def __init__(self, elements, V, C11, C12, C44):
        self.elements = tuple(elements)
        self.V = np.ascontiguousarray(V, dtype=np.float64)
        self.C11 = np.ascontiguousarray(C11, dtype=np.float64)
        self.C12 = np.ascontiguousarray(C12, dtype=np.float64)
        self.C44 = np.ascontiguousarray(C44, dtype=np.float64)

    def __repr__(self):
        return f"ElementInputs({self.elements})"


@functools.lru_cache(maxsize=1)
def _table():
    import pandas as pd

    with resources.files("hea_fast.data").joinpath("xyield/elastic_volumes.csv").open("r") as fh:
        return pd.read_csv(fh, comment="#").set_index("element")


def element_inputs(elements, volumes=None) -> ElementInputs:
    """Model inputs for `elements` from the project table, with `volumes` (dict element -> Å³)
    overriding the table's atomic volumes. Elements without table data raise ValueError unless
    every value they need is overridden (volume given and μ, ν overridden by the caller)."""
    tab = _table()
    volumes = dict(volumes or {})
    for el, v in volumes.items():
        if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
            raise ValueError(f"volumes[{el!r}] must be a positive finite number of Å³, got {v!r}")
    unknown_override = [e for e in volumes if e not in elements]
    if unknown_override:
        raise ValueError(f"volumes given for element(s) {unknown_override} not in the compositions' elements {tuple(elements)}")
    V, C11, C12, C44 = [], [], [], []
    for el in elements:
        if el in tab.index:
            row = tab.loc[el]
            V.append(float(volumes.get(el, row["V_A3"])))
            C11.append(float(row["C11_GPa"]))
            C12.append(float(row["C12_GPa"]))
            C44.append(float(row["C44_GPa"]))
        else:
            # Unknown element: usable only with an explicit volume and alloy μ, ν overrides; NaN
            # elastic constants make any use of the table's μ/ν fail loudly below.
            if el not in volumes:
                raise ValueError(
                    f"element {el!r} has no Maresca-Curtin inputs in hea_fast/data/xyield/elastic_volumes.csv "
                    f"(available: {sorted(tab.index)}); pass volumes={{'{el}': ...}} with shear_modulus= and poisson="
                )
            V.append(float(volumes[el]))
            C11.append(math.nan)
            C12.append(math.nan)
            C44.append(math.nan)
    return ElementInputs(elements, V, C11, C12, C44)


# ---------------------------------------------------------------------------------------------
# composition coercion
# ---------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"([A-Z][a-z]?)([0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]+)?)")


def _parse_simple(formula: str) -> dict:
    """Fallback parser (flat formulas only) used until hea_fast.composition is importable."""
    s = formula.replace(" ", "")
    pos, out = 0, {}
    for m in _TOKEN.finditer(s):
        if m.start() != pos:
            break
        amt = float(m.group(2)) if m.group(2) not in ("", ".") else 1.0
        out[m.group(1)] = out.get(m.group(1), 0.0) + amt
        pos = m.end()
    if pos != len(s) or not out:
        raise ValueError(f"cannot parse formula {formula!r} at position {pos}")
    tot = sum(out.values())
    if not tot > 0:
        raise ValueError(f"formula {formula!r} has no positive amount")
    return {k: v / tot for k, v in out.items() if v > 0}


def _from_dicts(dicts, elements=None):
    if elements is None:
        seen = []
        for d in dicts:
            for k in d:
                if k not in seen:
                    seen.append(k)
        elements = tuple(sorted(seen))
    col = {e: i for i, e in enumerate(elements)}
    arr = np.zeros((len(dicts), len(elements)))
    for i, d in enumerate(dicts):
        for k, v in d.items():
            if k not in col:
                raise ValueError(f"composition {i} has element {k!r} outside elements={tuple(elements)}")
            arr[i, col[k]] += v
    return arr, tuple(elements)


def as_fractions(compositions, elements=None):
    """Coerce compositions to ((n, E) float64 C-contiguous fractions, elements tuple).

    Accepts a CompositionBatch (anything with .fractions and .elements), a formula string or a
    sequence of them, a dict or sequence of dicts (element -> amount), a DataFrame whose columns are
    element symbols, or an array (n, E) / (E,) with `elements=`. Rows are normalised to sum to 1;
    negative, NaN or all-zero rows raise ValueError naming the row.
    """
    frac = None
    if hasattr(compositions, "fractions") and hasattr(compositions, "elements"):
        frac, els = np.asarray(compositions.fractions, dtype=np.float64), tuple(compositions.elements)
        if elements is not None:
            frac, els = _reorder(frac, els, tuple(elements)), tuple(elements)
    elif isinstance(compositions, str) or (
        isinstance(compositions, (list, tuple)) and compositions and isinstance(compositions[0], str)
    ):
        seq = [compositions] if isinstance(compositions, str) else list(compositions)
        try:
            from hea_fast.composition import parse_formula
        except ImportError:
            parse_formula = _parse_simple
        frac, els = _from_dicts([parse_formula(s) for s in seq], elements)
    elif isinstance(compositions, dict):
        frac, els = _from_dicts([compositions], elements)
    elif isinstance(compositions, (list, tuple)) and compositions and isinstance(compositions[0], dict):
        frac, els = _from_dicts(list(compositions), elements)
    elif hasattr(compositions, "columns") and hasattr(compositions, "to_numpy"):
        cols = [str(c) for c in compositions.columns]
        if elements is not None:
            missing = [e for e in elements if e not in cols]
            if missing:
                raise ValueError(f"DataFrame lacks element column(s) {missing}")
            frac, els = compositions[list(elements)].to_numpy(np.float64), tuple(elements)
        else:
            frac, els = compositions.to_numpy(np.float64), tuple(cols)
    else:
        arr = np.asarray(compositions, dtype=np.float64)
        if elements is None:
            raise ValueError("an array of fractions needs elements= naming its columns")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != len(elements):
            raise ValueError(f"fractions array of shape {arr.shape} does not match {len(elements)} elements")
        frac, els = arr, tuple(elements)
    if len(set(els)) != len(els):
        raise ValueError(f"duplicate element names in {els}")
    frac = np.array(frac, dtype=np.float64, order="C", copy=True)
    if frac.ndim != 2:
        raise ValueError(f"compositions must be 2-D (n, E), got shape {frac.shape}")
    bad = ~np.isfinite(frac) | (frac < 0)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"composition {i}: fraction of {els[j]} is {frac[i, j]!r} (must be finite and >= 0)")
    tot = frac.sum(axis=1)
    if (tot <= 0).any():
        raise ValueError(f"composition {int(np.flatnonzero(tot <= 0)[0])} has no positive fraction")
    frac /= tot[:, None]
    return frac, els


def _reorder(frac, have, want):
    idx = {e: i for i, e in enumerate(have)}
    extra = [e for i, e in enumerate(have) if e not in want and np.any(frac[:, i] > 0)]
    if extra:
        raise ValueError(f"compositions contain element(s) {extra} outside elements={want}")
    out = np.zeros((frac.shape[0], len(want)))
    for j, e in enumerate(want):
        if e in idx:
            out[:, j] = frac[:, idx[e]]
    return out


# ---------------------------------------------------------------------------------------------
# references (float64, vectorized NumPy)
# ---------------------------------------------------------------------------------------------
def _alloy_inputs_numpy(frac, inp: ElementInputs):
    Vbar = frac @ inp.V
    delta = np.einsum("ne,ne->n", frac, (inp.V[None, :] - Vbar[:, None]) ** 2)
    C11, C12, C44 = frac @ inp.C11, frac @ inp.C12, frac @ inp.C44
    with np.errstate(invalid="ignore"):
        mu = np.sqrt(C44 * (C11 - C12) / 2.0)
    B = (C11 + 2.0 * C12) / 3.0
    nu = (3.0 * B - 2.0 * mu) / (2.0 * (3.0 * B + mu))
    return Vbar, delta, mu, nu


def _tau0_deb_numpy(Vbar, delta, mu_GPa, nu, alpha=ALPHA_BCC):
    b = math.sqrt(3.0) / 2.0 * np.cbrt(2.0 * Vbar)
    r = delta / b**6
    q = (1.0 + nu) / (1.0 - nu)
    tau0 = 0.040 * alpha ** (-1.0 / 3.0) * (mu_GPa * 1e3) * q ** (4.0 / 3.0) * r ** (2.0 / 3.0)
    deb = 2.00 * alpha ** (1.0 / 3.0) * mu_GPa * b**3 * GPA_A3_TO_EV * q ** (2.0 / 3.0) * r ** (1.0 / 3.0)
    return tau0, deb


def _sigma_numpy(tau0, deb, T, model="two-regime"):
    tau0, deb, T = np.broadcast_arrays(np.asarray(tau0, float), np.asarray(deb, float), np.asarray(T, float))
    logr = math.log(EPS_DOT_0 / EPS_DOT)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(deb > 0, K_BOLTZMANN_EV * T * logr / np.where(deb > 0, deb, 1.0), np.inf)
        if model == "two-regime":
            low = 1.0 - x ** (2.0 / 3.0)
            tau = np.where(low >= 0.5, tau0 * low, tau0 * np.exp(-x / 0.55))
        elif model == "single-fit":
            tau = tau0 * np.exp(-(1.0 / 0.55) * x**0.91)
        else:
            raise ValueError(f"unknown model {model!r}: use one of {MODELS}")
    tau = np.where(deb > 0, tau, 0.0)
    return TAYLOR_FACTOR * tau


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def _override(name, value, n, lo, hi, unit):
    if value is None:
        return None
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    v = np.ascontiguousarray(v.reshape(-1))
    if v.shape[0] != n:
        raise ValueError(f"{name} has {v.shape[0]} values for {n} compositions (give a scalar or one per composition)")
    bad = ~np.isfinite(v) | (v <= lo) | (v >= hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must lie in ({lo}, {hi}) {unit}, got {v[i]!r} at index {i}")
    return v


def alloy_inputs(compositions, volumes=None, elements=None):
    """Alloy inputs (V̄ Å³, δ Å⁶, μ GPa, ν) from the element table (+ volume overrides)."""
    frac, els = as_fractions(compositions, elements)
    return _alloy_inputs_numpy(frac, element_inputs(els, volumes))


def _prepare(compositions, volumes, shear_modulus, poisson, elements):
    frac, els = as_fractions(compositions, elements)
    n = frac.shape[0]
    unknown_override = [e for e in (volumes or {}) if e not in els]
    if unknown_override:
        raise ValueError(f"volumes given for element(s) {unknown_override} not in the compositions' elements {els}")
    # Columns no composition uses need no element data (e.g. a 15-element screening palette
    # whose chunk only uses refractory metals).
    used = np.any(frac > 0, axis=0)
    if not used.all():
        frac = np.ascontiguousarray(frac[:, used])
        els = tuple(e for e, u in zip(els, used) if u)
        volumes = {e: v for e, v in (volumes or {}).items() if e in els}
    mu = _override("shear_modulus", shear_modulus, n, 0.0, math.inf, "GPa")
    nu = _override("poisson", poisson, n, -1.0, 0.5, "")
    inp = element_inputs(els, volumes)
    need_table = (mu is None) or (nu is None)
    if need_table:
        used = np.any(frac > 0, axis=0)
        nan_els = [e for e, u, c in zip(els, used, inp.C11) if u and not np.isfinite(c)]
        if nan_els:
            raise ValueError(f"element(s) {nan_els} have no elastic constants in the table: pass shear_modulus= and poisson=")
    return frac, els, inp, mu, nu


def tau_y0_and_dEb(compositions, volumes=None, shear_modulus=None, poisson=None, elements=None, threads=None):
    """Zero-temperature yield stress τ_y0 (MPa, resolved shear) and energy barrier ΔE_b (eV).

    compositions: see `as_fractions`. volumes: dict element -> Å³ overriding the table.
    shear_modulus (GPa) / poisson: scalar or one per composition, overriding the alloy μ / ν.
    Returns (tau_y0, dE_b), each of shape (n,).
    """
    frac, els, inp, mu, nu = _prepare(compositions, volumes, shear_modulus, poisson, elements)
    from hea_fast._backend import core

    kern = getattr(core, "mc_tau0_deb", None)
    if kern is not None:
        return kern(frac, inp.V, inp.C11, inp.C12, inp.C44, mu, nu, threads=threads)
    Vbar, delta, mu_t, nu_t = _alloy_inputs_numpy(frac, inp)
    mu_v = mu if mu is not None else mu_t
    nu_v = nu if nu is not None else nu_t
    return _tau0_deb_numpy(Vbar, delta, mu_v, nu_v)


def check_model(model) -> int:
    """The kernel code of a σ_y(T) model name; ValueError naming the known models otherwise."""
    return _check_model(model)


def _check_model(model):
    if model not in _MODEL_CODE:
        raise ValueError(f"unknown model {model!r}: use one of {MODELS}")
    return _MODEL_CODE[model]


def _check_T(temperature_K):
    T = np.asarray(temperature_K, dtype=np.float64)
    bad = ~np.isfinite(T) | (T < 0)
    if bad.any():
        raise ValueError(f"temperature_K must be finite and >= 0 K, got {T[bad].ravel()[0]!r}")
    return T


def yield_strength(compositions, temperature_K, model: str = "two-regime", volumes=None, shear_modulus=None,
                   poisson=None, threads=None, elements=None, device="cpu"):
    """Tensile yield strength σ_y = 3.067 τ (MPa) of BCC alloys at temperature(s) in K.

    The composition axis (length n) broadcasts against `temperature_K` with NumPy rules: a scalar
    gives (n,), an (n,) array pairs composition i with T[i], T[:, None] (shape (m, 1)) gives (m, n).
    model: 'two-regime' (default) or 'single-fit'. Overrides as in `tau_y0_and_dEb`.
    device: 'cpu' (NumPy result) or 'cuda' (inputs validated on the host, kernels on the GPU,
    result a CUDA torch tensor of the same shape).
    """
    from hea_fast._backend import resolve_device

    code = _check_model(model)
    T = _check_T(temperature_K)
    if resolve_device(device) == "cuda":
        return _yield_strength_cuda(compositions, T, code, volumes, shear_modulus, poisson, elements)
    tau0, deb = tau_y0_and_dEb(compositions, volumes, shear_modulus, poisson, elements, threads)
    try:
        shape = np.broadcast_shapes(tau0.shape, T.shape)
    except ValueError:
        raise ValueError(
            f"temperature_K of shape {T.shape} does not broadcast against {tau0.shape[0]} compositions; "
            "use a scalar, one value per composition, or T[:, None] for a table"
        ) from None
    t0, db, tt = (np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in (tau0, deb, T))
    from hea_fast._backend import core

    kern = getattr(core, "mc_sigma", None)
    if kern is not None:
        out = kern(t0, db, tt, code, threads=threads)
    else:
        out = _sigma_numpy(t0, db, tt, model)
    return out.reshape(shape)


def _yield_strength_cuda(compositions, T, code, volumes, shear_modulus, poisson, elements):
    import torch

    from hea_fast._backend import cuda_module

    frac, els, inp, mu, nu = _prepare(compositions, volumes, shear_modulus, poisson, elements)
    n = frac.shape[0]
    try:
        shape = np.broadcast_shapes((n,), T.shape)
    except ValueError:
        raise ValueError(f"temperature_K of shape {T.shape} does not broadcast against {n} compositions") from None
    dev = torch.device("cuda")
    stream = torch.cuda.current_stream().cuda_stream
    g = lambda a: torch.as_tensor(np.ascontiguousarray(a, dtype=np.float64), device=dev)  # noqa: E731
    f, V, C11, C12, C44 = g(frac), g(inp.V), g(inp.C11), g(inp.C12), g(inp.C44)
    mu_t = g(mu) if mu is not None else None
    nu_t = g(nu) if nu is not None else None
    from hea_fast._backend import cuda_empty

    tau0 = cuda_empty(n, torch.float64, dev)
    deb = cuda_empty(n, torch.float64, dev)
    mod = cuda_module()
    mod.mc_tau0_deb(f.data_ptr(), n, frac.shape[1], V.data_ptr(), C11.data_ptr(), C12.data_ptr(), C44.data_ptr(),
                    mu_t.data_ptr() if mu_t is not None else 0, nu_t.data_ptr() if nu_t is not None else 0,
                    tau0.data_ptr(), deb.data_ptr(), stream)
    if not bool(torch.isfinite(tau0).all() and torch.isfinite(deb).all()):
        i = int((~(torch.isfinite(tau0) & torch.isfinite(deb))).nonzero()[0])
        raise ValueError(f"composition {i}: non-finite tau_y0/dE_b (check elastic constants or overrides)")
    t0 = tau0.expand(shape).contiguous().reshape(-1) if len(shape) else tau0
    db = deb.expand(shape).contiguous().reshape(-1) if len(shape) else deb
    tt = g(np.broadcast_to(T, shape)).reshape(-1)
    out = cuda_empty(tt.numel(), torch.float64, dev)
    mod.mc_sigma(t0.data_ptr(), db.data_ptr(), tt.data_ptr(), tt.numel(), code, out.data_ptr(), stream)
    return out.reshape(shape)
