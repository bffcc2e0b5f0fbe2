"""Maresca–Curtin (2020) yield strength of BCC alloys (edge-dislocation theory, reduced form).

F. Maresca, W. A. Curtin, "Mechanistic origin of high strength in refractory BCC high entropy alloys
up to 1900 K", Acta Mater. 182, 235–249 (2020). Reduced (elasticity-only) model:

  alloy inputs   V̄ = Σ cₙVₙ (Å³, Vegard),  Cij = Σ cₙCij,ₙ (GPa, rule of mixtures),
                 μ = √(C44 (C11 − C12)/2) (GPa),  B = (C11 + 2C12)/3,  ν = (3B − 2μ)/(2(3B + μ)),
                 b = (√3/2)(2V̄)^{1/3} (Å),  δ = Σ cₙ (Vₙ − V̄)² (Å⁶),  q = (1 + ν)/(1 − ν)
  zero-T stress  τ_y0 = 0.040 α^{-1/3} μ q^{4/3} (δ/b⁶)^{2/3}                 (α = 1/12, BCC)
  energy barrier ΔE_b = 2.00 α^{1/3} μ b³ q^{2/3} (δ/b⁶)^{1/3}
  temperature    x = k_B T / ΔE_b · ln(ε̇₀/ε̇),  ε̇₀ = 10⁴ s⁻¹, ε̇ = 10⁻³ s⁻¹;  τ = τ_y0 · f(x) with the
                 published thermal-activation forms L(x) = 1 − x^{2/3} (low T) and H(x) = exp(−x/0.55)
                 (high T) (Leyson & Curtin 2016; MC2020)
  "continuous"   (default) the largest convex minorant of the published switch:
                   f = L(x)                 for x ≤ x_s = 2^{-3/2}   (L ≥ 1/2: the published low-T range)
                   f = 1/2 − m_t (x − x_s)  for x_s < x < x_t        (the tangent from (x_s, 1/2) to H)
                   f = H(x)                 for x ≥ x_t
                 x_t = 0.546958570182787 solves H(x_t)(1 + (x_t − x_s)/0.55) = 1/2 (tangency),
                 m_t = H(x_t)/0.55 = 0.672580732187103, H(x_t) = 0.36992. Continuous everywhere, C¹
                 except at x_s, convex, non-increasing in T, never above "two-regime", equal to it
                 outside x_s < x < x_t (T_s < T < 1.547 T_s, T_s the switch temperature).
  "two-regime"   the literal published rule: τ = τ_y0 (1 − x^{2/3}) while that is ≥ τ_y0/2
                 (x ≤ 2^{-3/2}), else τ = τ_y0 exp(−x/0.55) — σ_y jumps UP by H(x_s)/L(x_s) − 1 = 5.2 %
                 at the switch temperature T_s
  "single-fit"   τ = τ_y0 exp(−(1/0.55) x^{0.91})
  tensile yield  σ_y = 3.067 τ (Taylor factor)

Why "continuous" is the default. The literal switch's +5.2 % jump is an artefact of joining two fits
that do not meet (L < H for every x > 0, so no switch point makes them continuous), and every
simulated X-Yield label inherited it. MC2020's own curve for MoNbTaVW (digitised, with MC2020's
inputs) lies on L below T_s and at 799 K (0.5 % from L, +5.9 % from the literal rule) and on H from
1002 K on (≤ 0.6 %), so neither "L up to T_s then H" nor a rescaled H (4.9 % low above T_s) nor the
exact inverse of the piecewise barrier (a plateau at τ_y0/2, +5.0 % at 799 K) reproduces it. The
convex minorant keeps both published forms untouched on their ranges, has no free parameter (the
segment is fixed by the published switch point and tangency to H) and is within 1.8 % of every
digitised point (799 K: +1.75 %, 1002 K: −0.8 %, all others ≤ 0.6 %;
tests/test_maresca_curtin.py::test_mc2020_monbtavw_curve). A C¹ cubic bridge over x_s ≤ x ≤ 1/2
fits the two transition points a little better (≤ 0.9 %) but its end point is a free choice.

Units in the API: MPa (stresses), K (temperature), eV (ΔE_b), GPa (μ), Å³ (volumes).
Per-element V and Cij come from `hea_fast/data/xyield/elastic_volumes.csv` (sources in its README);
`volumes=`, `shear_modulus=` and `poisson=` override them, as MC2020 did with its DFT "apparent"
volumes and alloy elastic constants.

The kernel (one name: maresca_curtin): csrc/include/hea_fast/maresca_curtin.h, the C++ functions
`hea_fast._core.mc_tau0_deb` / `mc_sigma` (csrc/cpu/maresca_curtin_cpu.cpp) and their CUDA mirrors in
`hea_fast._cuda` (csrc/cuda/maresca_curtin_cuda.cu, `device="cuda"`). `tau_y0_and_dEb_reference` and
`yield_strength_reference` are the vectorized float64 NumPy references (same arguments and results);
tests/test_maresca_curtin.py checks both against a scalar re-derivation and MC2020's published curve,
benchmarks/test_maresca_curtin.py times the whole-grid kernel (`hea_fast.xyield.grid`) against NumPy.
Compositions come in through `hea_fast.composition.as_batch` (formulas, dicts, DataFrames,
CompositionBatch, or an (n, E) array of amounts with `elements=`).
"""
from __future__ import annotations

import functools
import math
import warnings
from importlib import resources

import numpy as np

from hea_fast._backend import core, cuda_empty, cuda_module, cuda_stream, resolve_device, to_cuda
from hea_fast.composition import CompositionError, as_batch, row_amounts
from hea_fast.features import BadRowsWarning, check_errors, warn_bad_rows
from hea_fast.xyield._checks import per_composition

__all__ = [
    "ALPHA_BCC",
    "EPS_DOT_0",
    "EPS_DOT",
    "TAYLOR_FACTOR",
    "K_BOLTZMANN_EV",
    "MODELS",
    "MODEL_CODES",
    "DEFAULT_MODEL",
    "check_model",
    "ElementInputs",
    "element_inputs",
    "alloy_inputs",
    "tau_y0_and_dEb",
    "tau_y0_and_dEb_reference",
    "yield_strength",
    "yield_strength_reference",
]

ALPHA_BCC = 1.0 / 12.0  # line-tension prefactor of the BCC edge theory (0.123 is the FCC value)
EPS_DOT_0 = 1.0e4  # reference strain rate, 1/s
EPS_DOT = 1.0e-3  # applied strain rate, 1/s
TAYLOR_FACTOR = 3.067
K_BOLTZMANN_EV = 8.617333262e-5  # eV/K (CODATA 2018)
GPA_A3_TO_EV = 1.0e-21 / 1.602176634e-19  # 1 GPa·Å³ in eV
MODELS = ("continuous", "two-regime", "single-fit")
MODEL_CODES = {"two-regime": 0, "single-fit": 1, "continuous": 2}  # the kernel's integer code of each model
DEFAULT_MODEL = "continuous"
X_SWITCH = 2.0**-1.5  # x_s: the published switch, 1 − x^{2/3} = 1/2
X_TANGENT = 0.54695857018278703447  # x_t: H(x_t)(1 + (x_t − x_s)/0.55) = 1/2 (40-digit root, rounded)
TANGENT_SLOPE = 0.67258073218710349031  # m_t = exp(−x_t/0.55)/0.55
LINE_0 = 0.73779319831245705465  # 1/2 + m_t x_s: the segment is f = LINE_0 − m_t x


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


def mc_elements() -> tuple[str, ...]:
    """The elements with Maresca-Curtin inputs (volume and elastic constants) in the bundled table."""
    tab = _table()
    ok = tab[["V_A3", "C11_GPa", "C12_GPa", "C44_GPa"]].notna().all(axis=1)
    return tuple(tab.index[ok])


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
# the formulas in float64 NumPy (the references' body)
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


def _sigma_numpy(tau0, deb, T, model=DEFAULT_MODEL):
    tau0, deb, T = np.broadcast_arrays(np.asarray(tau0, float), np.asarray(deb, float), np.asarray(T, float))
    logr = math.log(EPS_DOT_0 / EPS_DOT)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.where(deb > 0, K_BOLTZMANN_EV * T * logr / np.where(deb > 0, deb, 1.0), np.inf)
        if model == "single-fit":
            tau = tau0 * np.exp(-(1.0 / 0.55) * x**0.91)
        else:
            low, high = tau0 * (1.0 - x ** (2.0 / 3.0)), tau0 * np.exp(-x / 0.55)
            tau = np.where(x <= X_SWITCH, low, high)
            if model == "continuous":
                tau = np.where((x > X_SWITCH) & (x < X_TANGENT), tau0 * (LINE_0 - TANGENT_SLOPE * x), tau)
    tau = np.where(deb > 0, tau, 0.0)
    return TAYLOR_FACTOR * tau


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------
def check_model(model) -> int:
    """The kernel code of a σ_y(T) model name; ValueError naming the known models otherwise."""
    if model not in MODEL_CODES:
        raise ValueError(f"unknown model {model!r}: use one of {MODELS}")
    return MODEL_CODES[model]



def _check_T(temperature_K):
    raw = np.asarray(temperature_K)
    if raw.dtype.kind not in "iuf":  # True, "300", None: not a temperature in K
        raise ValueError(f"temperature_K must be a number of kelvin (or an array of them), got {temperature_K!r}")
    T = raw.astype(np.float64)
    bad = ~np.isfinite(T) | (T < 0)
    if bad.any():
        raise ValueError(f"temperature_K must be finite and >= 0 K, got {float(T[bad].ravel()[0])!r}")
    return T


def _broadcast_shape(n, T) -> tuple:
    try:
        return np.broadcast_shapes((n,), T.shape)
    except ValueError:
        raise ValueError(
            f"temperature_K of shape {T.shape} does not broadcast against {n} compositions; "
            "use a scalar, one value per composition, or T[:, None] for a table"
        ) from None


_PLACEHOLDER = (10.0, 2.0, 1.0, 1.0)  # V, C11, C12, C44 of an element without data (its rows are NaN)


def _prepare(compositions, volumes, shear_modulus, poisson, elements, errors="raise"):
    """(RowAmounts, ElementInputs (finite: placeholders where data is missing), μ, ν per data row or
    None, {data row mask: reason} of rows whose elements lack data)."""
    check_errors(errors)
    ra = row_amounts(compositions, elements, "skip" if errors == "nan" else "raise")
    els, n = ra.elements, ra.n_rows
    volumes = dict(volumes or {})
    unknown_override = [e for e in volumes if e not in els]
    if unknown_override:
        raise ValueError(f"volumes given for element(s) {unknown_override} not in the compositions' elements {els}")
    mu = None if shear_modulus is None else per_composition("shear_modulus", shear_modulus, n, 0.0, unit="GPa")
    nu = None if poisson is None else per_composition("poisson", poisson, n, -1.0, 0.5)
    if ra.rows is not None:
        mu = None if mu is None else np.ascontiguousarray(mu[ra.rows])
        nu = None if nu is None else np.ascontiguousarray(nu[ra.rows])
    tab = _table()
    rows, lacking = [], {}
    for j, el in enumerate(els):
        if el in tab.index:
            row = tab.loc[el]
            vals = [float(volumes.get(el, row["V_A3"])), float(row["C11_GPa"]), float(row["C12_GPa"]),
                    float(row["C44_GPa"])]
        else:
            vals = [float(volumes[el]) if el in volumes else math.nan, math.nan, math.nan, math.nan]
        if not math.isfinite(vals[0]):
            lacking[j] = "volume"
        elif (mu is None or nu is None) and not all(math.isfinite(v) for v in vals[1:]):
            lacking[j] = "elastic"
        rows.append([v if math.isfinite(v) else ph for v, ph in zip(vals, _PLACEHOLDER)])
    for el, v in volumes.items():
        if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
            raise ValueError(f"volumes[{el!r}] must be a positive finite number of Å³, got {v!r}")
    arr = np.array(rows, dtype=np.float64).reshape(len(els), 4)
    inp = ElementInputs(els, *(arr[:, k] for k in range(4)))
    gaps = {}
    for j, what in lacking.items():
        used = np.asarray(ra.column(j)) > 0
        if not used.any():
            continue  # a column no composition uses needs no data
        if errors == "raise":
            if what == "volume":
                element_inputs([els[j]])  # raises, naming the table and the overrides to pass
            raise ValueError(f"element(s) {[e for k, e in enumerate(els) if lacking.get(k) == 'elastic' and (np.asarray(ra.column(k)) > 0).any()]} "
                             "have no elastic constants in the table: pass shear_modulus= and poisson=")
        why = ("has no Maresca-Curtin inputs (pass volumes=, shear_modulus= and poisson=)" if what == "volume"
               else "has no elastic constants in the table (pass shear_modulus= and poisson=)")
        gaps[els[j]] = (used, f"{els[j]} {why}")
    return ra, inp, mu, nu, gaps


_UNFIT = ("non-finite tau_y0/dE_b (the alloy's elastic constants give C11 <= C12, C44 <= 0 or nu outside "
          "(-1, 0.5); override shear_modulus/poisson)")


def _invalid(ra, errors):
    """(reasons (m,) str, row sums) of the data rows: bad amounts named; raises for errors="raise"."""
    bad, first, total = ra.invalid_rows()
    if errors == "raise" and bad.any():
        i = int(np.flatnonzero(bad)[0])
        pos = i if ra.rows is None else int(ra.rows[i])
        raise CompositionError(f"{ra.reason(i, int(first[i]))} in row {ra.label(pos)!r}") from None
    reasons = np.full(ra.m, "", dtype=object)
    for i in np.flatnonzero(bad).tolist():
        reasons[i] = ra.reason(i, int(first[i]))
    return reasons, total


def _to_input_rows(ra, reasons, *arrays):
    """Data-row arrays (NaN-filled) and reasons spread over the n_rows input rows."""
    if ra.rows is None:
        return reasons, arrays
    full = []
    for a in arrays:
        f = np.full(ra.n_rows, np.nan)
        f[ra.rows] = a
        full.append(f)
    r = np.full(ra.n_rows, "", dtype=object)
    if reasons is not None:
        r[ra.rows] = reasons
    for i, why in ra.bad.items():
        r[i] = why
    return r, full


def _tau0_deb_rows(ra, inp, mu, nu, gaps, errors, threads):
    """τ_y0, ΔE_b (n_rows,) with NaN for the rows that cannot be computed, and their reasons
    ((n_rows,) str, or None when every row was computed)."""
    args = (inp.V, inp.C11, inp.C12, inp.C44)
    try:  # the fast path: one kernel call over the data as given
        tau0, deb = core.mc_tau0_deb(ra.data, *args, mu, nu, threads=threads, normalize=not ra.normalized)
        reasons = None
    except ValueError:
        reasons, total = _invalid(ra, errors)
        ok = reasons == ""
        frac = ra.array(ok) / (1.0 if ra.normalized else total[ok, None])
        Vbar, delta, mu_t, nu_t = _alloy_inputs_numpy(frac, inp)
        t0, db = _tau0_deb_numpy(Vbar, delta, mu[ok] if mu is not None else mu_t, nu[ok] if nu is not None else nu_t)
        fin = np.isfinite(t0) & np.isfinite(db)
        if errors == "raise" and not fin.all():
            raise
        reasons[np.flatnonzero(ok)[~fin]] = _UNFIT
        tau0, deb = np.full(ra.m, np.nan), np.full(ra.m, np.nan)
        ok[np.flatnonzero(ok)[~fin]] = False
        if ok.any():
            tau0[ok], deb[ok] = core.mc_tau0_deb(frac[fin], *args, None if mu is None else mu[ok],
                                                 None if nu is None else nu[ok], threads=threads)
    if gaps:
        reasons = np.full(ra.m, "", dtype=object) if reasons is None else reasons
        for used, why in gaps.values():
            reasons[used & (reasons == "")] = why
    if reasons is not None:
        skip = reasons != ""
        tau0[skip], deb[skip] = np.nan, np.nan
    reasons, (tau0, deb) = _to_input_rows(ra, reasons, tau0, deb)
    return tau0, deb, reasons


def _report(ra, reasons, what):
    if reasons is not None:
        warn_bad_rows(reasons, what, BadRowsWarning, labels=ra.labels, detail="have NaN results", stacklevel=4)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def alloy_inputs(compositions, volumes=None, elements=None):
    """Alloy inputs (V̄ Å³, δ Å⁶, μ GPa, ν), each (n,), from the element table (+ volume overrides).

    compositions: anything `hea_fast.composition.as_batch` accepts (formulas, dicts, DataFrame,
    CompositionBatch, or an (n, E) array of amounts with `elements=`)."""
    batch = as_batch(compositions, elements=elements)
    return _alloy_inputs_numpy(batch.fractions, element_inputs(batch.elements, volumes))


def tau_y0_and_dEb(compositions, volumes=None, shear_modulus=None, poisson=None, elements=None, threads=None, *,
                   errors="nan", return_reasons=False):
    """Zero-temperature yield stress τ_y0 (MPa, resolved shear) and energy barrier ΔE_b (eV).

    compositions: anything `hea_fast.composition.as_batch` accepts (formulas, dicts, DataFrame,
    CompositionBatch, or an (n, E) array of amounts with `elements=`); numeric input is read in
    place and normalised by the kernel. volumes: dict element -> Å³ overriding the table.
    shear_modulus (GPa) / poisson: scalar or one per composition, overriding the alloy μ / ν.
    Returns (tau_y0, dE_b), each of shape (n,), from the C++ kernel (`tau_y0_and_dEb_reference`:
    the same in NumPy).

    errors: "nan" (default): a row that cannot be computed (an element without volume or elastic
    data, an unparseable formula, NaN/negative amounts, alloy elastic constants outside the model)
    gets NaN and one `hea_fast.features.BadRowsWarning` counts them; "raise": the first one raises.
    return_reasons=True returns (tau_y0, dE_b, reasons (n,) str, '' = computed) and warns nothing.
    """
    ra, inp, mu, nu, gaps = _prepare(compositions, volumes, shear_modulus, poisson, elements, errors)
    tau0, deb, reasons = _tau0_deb_rows(ra, inp, mu, nu, gaps, errors, threads)
    if return_reasons:
        return tau0, deb, reasons if reasons is not None else np.full(ra.n_rows, "", dtype=object)
    _report(ra, reasons, "tau_y0_and_dEb")
    return tau0, deb


def _reference_inputs(compositions, volumes, shear_modulus, poisson, elements):
    ra, inp, mu, nu, _ = _prepare(compositions, volumes, shear_modulus, poisson, elements)
    frac = ra.array()
    mask, first, total = ra.invalid_rows()
    if mask.any():
        i = int(np.flatnonzero(mask)[0])
        raise CompositionError(f"{ra.reason(i, int(first[i]))} in row {i}")
    return (frac if ra.normalized else frac / total[:, None]), inp, mu, nu


def tau_y0_and_dEb_reference(compositions, volumes=None, shear_modulus=None, poisson=None, elements=None):
    """`tau_y0_and_dEb` in vectorized float64 NumPy (same arguments and results, errors="raise";
    the tests' reference)."""
    frac, inp, mu, nu = _reference_inputs(compositions, volumes, shear_modulus, poisson, elements)
    Vbar, delta, mu_t, nu_t = _alloy_inputs_numpy(frac, inp)
    return _tau0_deb_numpy(Vbar, delta, mu if mu is not None else mu_t, nu if nu is not None else nu_t)


def yield_strength(compositions, temperature_K, model: str = DEFAULT_MODEL, volumes=None, shear_modulus=None,
                   poisson=None, threads=None, elements=None, device="cpu", *, errors="nan", return_reasons=False):
    """Tensile yield strength σ_y = 3.067 τ (MPa) of BCC alloys at temperature(s) in K.

    The composition axis (length n) broadcasts against `temperature_K` with NumPy rules: a scalar
    gives (n,), an (n,) array pairs composition i with T[i] (per-point input), T[:, None] (shape
    (m, 1)) gives (m, n). model: 'continuous' (default), 'two-regime' (the literal published
    switch, +5.2 % jump at the switch temperature) or 'single-fit' (see the module docstring). Compositions, overrides,
    `errors` and `return_reasons` (then (σ_y, reasons (n,) per composition)) as in
    `tau_y0_and_dEb`: a composition that cannot be computed gives NaN at every temperature.
    device: 'cpu' (NumPy result) or 'cuda' (inputs validated on the host, kernels on the GPU,
    result a CUDA torch tensor of the same shape); 'auto' picks the GPU when there is one.
    """
    code = check_model(model)
    T = _check_T(temperature_K)
    ra, inp, mu, nu, gaps = _prepare(compositions, volumes, shear_modulus, poisson, elements, errors)
    shape = _broadcast_shape(ra.n_rows, T)
    if resolve_device(device) == "cuda":
        out, reasons = _yield_strength_cuda(ra, inp, mu, nu, gaps, errors, T, shape, code)
    else:
        tau0, deb, reasons = _tau0_deb_rows(ra, inp, mu, nu, gaps, errors, threads)
        if T.shape == (ra.n_rows,) and reasons is None:  # per-point input: no broadcast copies
            out = core.mc_sigma(tau0, deb, T, code, threads=threads)
        else:
            t0, db, tt = (np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1) for a in (tau0, deb, T))
            out = np.full(t0.shape, np.nan)
            ok = np.isfinite(t0) if reasons is not None else slice(None)
            out[ok] = core.mc_sigma(*(np.ascontiguousarray(a[ok]) for a in (t0, db, tt)), code, threads=threads)
            out = out.reshape(shape)
    if return_reasons:
        return out, reasons if reasons is not None else np.full(ra.n_rows, "", dtype=object)
    _report(ra, reasons, "yield_strength")
    return out


def yield_strength_reference(compositions, temperature_K, model: str = DEFAULT_MODEL, volumes=None,
                             shear_modulus=None, poisson=None, elements=None):
    """`yield_strength` in vectorized float64 NumPy (same arguments and results, CPU only)."""
    check_model(model)
    T = _check_T(temperature_K)
    tau0, deb = tau_y0_and_dEb_reference(compositions, volumes, shear_modulus, poisson, elements)
    shape = _broadcast_shape(tau0.shape[0], T)
    return _sigma_numpy(tau0, deb, T, model).reshape(shape)


def _yield_strength_cuda(ra, inp, mu, nu, gaps, errors, T, shape, code):
    import torch

    reasons, total = _invalid(ra, errors)  # rows that cannot be computed are found on the host
    for used, why in gaps.values():
        reasons[used & (reasons == "")] = why
    ok = reasons == ""
    frac = ra.array(ok) / (1.0 if ra.normalized else total[ok, None])
    n = frac.shape[0]
    f64 = torch.float64
    f, V, C11, C12, C44 = (to_cuda(a, f64) for a in (frac, inp.V, inp.C11, inp.C12, inp.C44))
    mu_t = to_cuda(mu[ok], f64) if mu is not None else None
    nu_t = to_cuda(nu[ok], f64) if nu is not None else None
    tau0, deb = cuda_empty(n, f64), cuda_empty(n, f64)
    stream = cuda_stream()
    mod = cuda_module()
    mod.mc_tau0_deb(f.data_ptr(), n, frac.shape[1], V.data_ptr(), C11.data_ptr(), C12.data_ptr(), C44.data_ptr(),
                    mu_t.data_ptr() if mu_t is not None else 0, nu_t.data_ptr() if nu_t is not None else 0,
                    tau0.data_ptr(), deb.data_ptr(), stream)
    fin = torch.isfinite(tau0) & torch.isfinite(deb)
    if not bool(fin.all()):
        i = int((~fin).nonzero()[0])
        if errors == "raise":
            raise ValueError(f"composition {i}: non-finite tau_y0/dE_b (check elastic constants or overrides)")
        reasons[np.flatnonzero(ok)[~fin.cpu().numpy()]] = _UNFIT
        tau0, deb = torch.where(fin, tau0, 0.0), torch.where(fin, deb, 0.0)
    reasons, _ = _to_input_rows(ra, reasons)
    bad = np.flatnonzero(reasons != "")
    if len(bad):  # back to all input rows (zeros where not computed; their σ_y is set to NaN below)
        good = torch.as_tensor(np.flatnonzero(reasons == ""), device=tau0.device)
        tau0 = torch.zeros(ra.n_rows, dtype=f64, device=tau0.device).index_copy_(0, good, tau0)
        deb = torch.zeros(ra.n_rows, dtype=f64, device=deb.device).index_copy_(0, good, deb)
    t0 = tau0.expand(shape).contiguous().reshape(-1) if len(shape) else tau0
    db = deb.expand(shape).contiguous().reshape(-1) if len(shape) else deb
    tt = to_cuda(np.broadcast_to(T, shape), f64).reshape(-1)
    out = cuda_empty(tt.numel(), f64)
    mod.mc_sigma(t0.data_ptr(), db.data_ptr(), tt.data_ptr(), tt.numel(), code, out.data_ptr(), stream)
    out = out.reshape(shape)
    if len(bad):
        out[..., torch.as_tensor(bad, device=out.device)] = float("nan")
    return out, (reasons if len(bad) else None)


def as_fractions(compositions, elements=None):
    """Deprecated: use ``hea_fast.composition.as_batch(compositions, elements=...)``; returns
    ((n, E) float64 fractions, elements tuple) as before."""
    warnings.warn("hea_fast.xyield.maresca_curtin.as_fractions is deprecated; use "
                  "hea_fast.composition.as_batch(compositions, elements=...) instead", DeprecationWarning, stacklevel=2)
    batch = as_batch(compositions, elements=elements)
    return np.array(batch.fractions, dtype=np.float64, order="C", copy=True), tuple(batch.elements)
