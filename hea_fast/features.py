"""Empirical HEA descriptors: a registry, `featurize`, and a scikit-learn transformer.

All descriptors come from one pass of the compiled kernel (``csrc/include/hea_fast/descriptors.h``)
over a dense (n, E) fraction matrix, per-element property arrays and the E×E pair-enthalpy matrix of
an `~hea_fast.elements.ElementTable`. With c_i the mole fractions and x̄ = Σ c_i x_i:

=================  ==================================================  ===========  ==============================
name               formula                                             unit         reference
=================  ==================================================  ===========  ==============================
delta              100 √Σ c_i (1 − r_i/r̄)²                            %            Yang & Zhang 2012
dH_mix             4 Σ_{i<j} c_i c_j ΔH_ij                             kJ/mol       Takeuchi & Inoue 2005
dS_mix             −R Σ c_i ln c_i                                     J/(mol K)    ideal configurational entropy
VEC                Σ c_i VEC_i                                         –            Guo et al. 2011
dchi_pauling       √Σ c_i (χ_i − χ̄)²  (Pauling)                       –            Fang et al. 2003
chi_allen_mean     Σ c_i χA_i  (Allen, Pauling-like units)             –            Allen 1989
dchi_allen         100 √Σ c_i (1 − χA_i/χ̄A)²                          %            Poletti & Battezzati 2014
Tm, K, Vm          rules of mixture                                    K, GPa,      –
                                                                       cm³/mol
Omega              Tm ΔS_mix / (1000 |ΔH_mix|); +inf when ΔH_mix = 0   –            Yang & Zhang 2012
Lambda             ΔS_mix / δ² (δ in %); +inf when δ = 0               J/(mol K)    Singh et al. 2014
gamma              ω_S/ω_L, ω(r) = 1 − √((r+r̄)² − r̄²)/(r+r̄)           –            Wang et al. 2015
local_delta_r      Σ_{i<j} c_i c_j |r_i − r_j|                         pm           Wen et al. 2019
local_dchi         Σ_{i<j} c_i c_j |χ_i − χ_j|  (Pauling)              –            Wen et al. 2019
r_mean             r̄                                                   pm           –
=================  ==================================================  ===========  ==============================

Ω is never floored (matminer's YangSolidSolution floors |ΔH| at 1e-6 kJ/mol; here an ideal mix
gives +inf, stated, not hidden). matminer's WenAlloys γ uses r r̄ + r² under the root instead of
Wang's (r + r̄)² − r̄² = r² + 2 r r̄; we follow the paper.

The named set ``"zeng2024"`` gives the 8 features of the d-VAE paper (arXiv 2409.06740) under its
column names (k, vm, tm, vac, delta, delta_chi, delta_s_mix, delta_h_mix) computed with its own
element table; it reproduces ``HEA_feature_engineered.csv`` to ~1e-15 relative.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from hea_fast.elements import PROPERTIES, ElementDataError, ElementTable

__all__ = [
    "Descriptor",
    "DESCRIPTORS",
    "DESCRIPTOR_SETS",
    "featurize",
    "DESCRIPTOR_INDEX",
    "featurize_array",
    "featurize_reference",
    "list_descriptors",
    "prepare",
    "reference_descriptors",
    "resolve",
    "DescriptorTransformer",
]


@dataclass(frozen=True)
class Descriptor:
    name: str
    unit: str
    formula: str
    reference: str
    requires: tuple[str, ...]  # element properties used
    uses_pairs: bool = False


_YANG = "X. Yang, Y. Zhang, Mater. Chem. Phys. 132 (2012) 233, doi:10.1016/j.matchemphys.2011.11.021"
_TAKEUCHI = "A. Takeuchi, A. Inoue, Mater. Trans. 46 (2005) 2817, doi:10.2320/matertrans.46.2817"
_GUO = "S. Guo, C. Ng, J. Lu, C.T. Liu, J. Appl. Phys. 109 (2011) 103505, doi:10.1063/1.3587228"
_WEN = "C. Wen et al., Acta Mater. 170 (2019) 109, doi:10.1016/j.actamat.2019.03.010"

#: Registry, in kernel output order (hea_fast._core.DESCRIPTOR_COLUMNS).
DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor("delta", "%", "100*sqrt(sum_i c_i (1 - r_i/rbar)^2), r = CN12 metallic radius", _YANG, ("radius_pm",)),
    Descriptor("dH_mix", "kJ/mol", "4 sum_{i<j} c_i c_j dH_ij (binary liquid mixing enthalpies)", _TAKEUCHI, (), True),
    Descriptor("dS_mix", "J/(mol K)", "-R sum_i c_i ln c_i (ideal configurational entropy)",
               "Boltzmann ideal mixing; R per table (default CODATA 8.314462618)", ()),
    Descriptor("VEC", "electrons/atom", "sum_i c_i VEC_i", _GUO, ("vec",)),
    Descriptor("dchi_pauling", "Pauling units", "sqrt(sum_i c_i (chi_i - chibar)^2), Pauling chi",
               "S. Fang et al., Comput. Mater. Sci. 26 (2003) 159", ("chi_pauling",)),
    Descriptor("chi_allen_mean", "Pauling-like units", "sum_i c_i chiA_i, chiA = Allen chi (eV) * 0.169",
               "L.C. Allen, J. Am. Chem. Soc. 111 (1989) 9003", ("chi_allen",)),
    Descriptor("dchi_allen", "%", "100*sqrt(sum_i c_i (1 - chiA_i/chiAbar)^2), relative to the mean Allen chi",
               "A.G. Poletti, L. Battezzati, Acta Mater. 75 (2014) 297, doi:10.1016/j.actamat.2014.04.033", ("chi_allen",)),
    Descriptor("Tm", "K", "sum_i c_i Tm_i", "rule of mixtures", ("tm_K",)),
    Descriptor("K", "GPa", "sum_i c_i K_i (bulk modulus)", "rule of mixtures", ("bulk_modulus_GPa",)),
    Descriptor("Vm", "cm^3/mol", "sum_i c_i Vm_i (molar volume)", "rule of mixtures", ("molar_volume_cm3",)),
    Descriptor("Omega", "dimensionless", "Tm dS_mix / (1000 |dH_mix|); +inf when dH_mix = 0", _YANG, ("tm_K",), True),
    Descriptor("Lambda", "J/(mol K)", "dS_mix / delta^2 (delta in %); +inf when delta = 0",
               "A.K. Singh et al., Intermetallics 53 (2014) 112, doi:10.1016/j.intermet.2014.04.019", ("radius_pm",)),
    Descriptor("gamma", "dimensionless",
               "w_S/w_L, w(r) = 1 - sqrt((r + rbar)^2 - rbar^2)/(r + rbar), r_S/r_L = smallest/largest radius present",
               "Z. Wang et al., Scripta Mater. 94 (2015) 28, doi:10.1016/j.scriptamat.2014.09.010", ("radius_pm",)),
    Descriptor("local_delta_r", "pm", "sum_{i<j} c_i c_j |r_i - r_j|", _WEN, ("radius_pm",)),
    Descriptor("local_dchi", "Pauling units", "sum_{i<j} c_i c_j |chi_i - chi_j| (Pauling chi)", _WEN, ("chi_pauling",)),
    Descriptor("r_mean", "pm", "sum_i c_i r_i", "rule of mixtures", ("radius_pm",)),
)
_BY_NAME = {d.name: d for d in DESCRIPTORS}
#: Descriptor name -> its column in the kernel output (`DESCRIPTORS` order).
DESCRIPTOR_INDEX: dict[str, int] = {d.name: i for i, d in enumerate(DESCRIPTORS)}

#: Named sets: set name -> (default table, {output column: descriptor}).
DESCRIPTOR_SETS: dict[str, tuple[str, dict[str, str]]] = {
    "zeng2024": (
        "zeng2024",
        {
            "k": "K",
            "vm": "Vm",
            "tm": "Tm",
            "vac": "VEC",
            "delta": "delta",
            "delta_chi": "dchi_pauling",
            "delta_s_mix": "dS_mix",
            "delta_h_mix": "dH_mix",
        },
    ),
    "yang2012": ("default", {"delta": "delta", "Omega": "Omega"}),
}


def list_descriptors() -> pd.DataFrame:
    """One row per descriptor: name, unit, formula, reference, required element properties."""
    return pd.DataFrame(
        [
            {
                "name": d.name,
                "unit": d.unit,
                "formula": d.formula,
                "reference": d.reference,
                "requires": ", ".join(d.requires + (("pair_enthalpy",) if d.uses_pairs else ())),
            }
            for d in DESCRIPTORS
        ]
    )


# ---- input handling -----------------------------------------------------------------------------
def _fractions(compositions):
    """-> (X (n,E) float64 C-contiguous, elements tuple, index or None)."""
    index = None
    if isinstance(compositions, (pd.Series, pd.DataFrame)):
        index = compositions.index
    if hasattr(compositions, "fractions") and hasattr(compositions, "elements"):
        batch = compositions
    else:
        from hea_fast.composition import as_batch

        batch = as_batch(compositions)
    X = np.ascontiguousarray(np.asarray(batch.fractions, dtype=np.float64))
    kept = getattr(batch, "index", None)
    if kept is not None and len(kept) == X.shape[0]:
        index = pd.Index(kept)  # labels of the rows that survived parsing with errors="skip"
    elif index is not None and len(index) != X.shape[0]:
        index = None
    return X, tuple(batch.elements), index


def resolve(descriptors, table) -> tuple[list[str], list[str], ElementTable]:
    """The descriptors and element table of a request -> (output column labels, descriptor names,
    ElementTable).

    descriptors: None (every descriptor whose element properties the table has for some element),
    a name, a list of names or a set name (`DESCRIPTOR_SETS`); table: an ElementTable, its name, or
    None (the set's own table, else "default"). Unknown or repeated names raise ValueError."""
    default_table = "default"
    if descriptors is None:
        names = None
        labels = None
    elif isinstance(descriptors, str) and descriptors in DESCRIPTOR_SETS:
        default_table, mapping = DESCRIPTOR_SETS[descriptors]
        labels, names = list(mapping), list(mapping.values())
    else:
        if isinstance(descriptors, str):
            descriptors = [descriptors]
        names = list(descriptors)
        unknown = [n for n in names if n not in _BY_NAME]
        if unknown:
            raise ValueError(
                f"unknown descriptor(s) {unknown}; known: {[d.name for d in DESCRIPTORS]}, "
                f"sets: {list(DESCRIPTOR_SETS)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"descriptor names repeated in {names}")
        labels = list(names)
    tab = ElementTable.load(table if table is not None else default_table)
    if names is None:
        # every descriptor whose element properties this table has at all
        known = np.isfinite(tab.properties[list(PROPERTIES)].to_numpy(dtype=float)).any(axis=0)
        have = {p for p, k in zip(PROPERTIES, known) if k}
        names = [d.name for d in DESCRIPTORS if set(d.requires) <= have]
        labels = list(names)
    return labels, names, tab


def prepare(X: np.ndarray, elements: Sequence[str], names: Sequence[str], table) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's element inputs for fractions `X` (n, E) over `elements`: (props (E, 7) in
    `PROPERTIES` order, pair enthalpies (E, E)), both C-contiguous float64.

    Checks `table` (an ElementTable or its name) against the elements present in some row of `X`
    (all-zero columns get placeholder zeros and need no data): an element missing from the table, or
    a property / pair enthalpy that one of the descriptors `names` needs, raises `ElementDataError`
    naming it. Prepared once for a whole palette (an all-ones row), the arrays serve every chunk of
    a screen (`hea_fast.screen`)."""
    tab = ElementTable.load(table)
    if X.ndim != 2 or X.shape[1] != len(elements):
        raise ValueError(f"fractions have shape {X.shape} but {len(elements)} element names were given")
    present = X.any(axis=0) if X.shape[0] else np.zeros(len(elements), bool)
    els_present = [e for e, p in zip(elements, present) if p]
    tab.check_elements(els_present)
    # Elements with all-zero columns need no data: give them placeholder rows.
    props = np.zeros((len(elements), len(PROPERTIES)))
    pidx = np.flatnonzero(present)
    if len(pidx):
        props[pidx] = tab.property_matrix(els_present)
    needed = sorted({p for n in names for p in _BY_NAME[n].requires}, key=PROPERTIES.index)
    if needed and els_present:
        sub = tab.property_matrix(els_present, needed)
        if np.isnan(sub).any():
            parts = []
            for k, p in enumerate(needed):
                gaps = [e for i, e in enumerate(els_present) if np.isnan(sub[i, k])]
                if gaps:
                    users = [n for n in names if p in _BY_NAME[n].requires]
                    parts.append(f"{p} of {', '.join(gaps)} (needed by {', '.join(users)})")
            raise ElementDataError(
                f"element table {tab.name!r} has no value for " + "; ".join(parts)
                + ": drop those descriptors or use another table"
            )
    H = np.zeros((len(elements), len(elements)))
    if len(pidx):
        H[np.ix_(pidx, pidx)] = tab.pair_matrix(els_present)
    if any(_BY_NAME[n].uses_pairs for n in names) and np.isnan(H).any():
        # Only pairs that actually occur together in some row must be known.
        P = (X[:, pidx] > 0).astype(np.float32)
        co = (P.T @ P) > 0
        sub = H[np.ix_(pidx, pidx)]
        bad = np.argwhere(np.triu(co & np.isnan(sub), 1))
        if len(bad):
            pairs = [f"{els_present[i]}-{els_present[j]}" for i, j in bad[:10]]
            raise ElementDataError(
                f"element table {tab.name!r} has no mixing enthalpy for pair(s) {pairs}"
                + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
                + " (needed by dH_mix/Omega)"
            )
    return np.ascontiguousarray(props), np.ascontiguousarray(H)


def _kernel(X, props, H, tab, threads, device, cols=None):
    """(n, len(cols)) descriptors in `cols` order (indices into DESCRIPTORS; None = all). The CPU
    kernel skips the work no requested column needs; values equal a full call's bitwise."""
    from hea_fast._backend import core, resolve_device

    dev = resolve_device(device)
    full = cols is None or list(cols) == list(range(len(DESCRIPTORS)))
    if X.shape[0] == 0:  # nothing to compute (an empty chunk may even have no element columns)
        return np.zeros((0, len(DESCRIPTORS) if full else len(cols)))
    if dev == "cpu":
        return core.descriptors(X, props, H, tab.gas_constant, tab.log_offset, threads=threads,
                                columns=None if full else list(cols))
    out = _kernel_cuda(X, props, H, tab)
    return out if full else np.ascontiguousarray(out[:, list(cols)])


def _kernel_cuda(X, props, H, tab):
    import torch

    from hea_fast._backend import cuda_empty, cuda_module, cuda_stream, to_cuda

    cu = cuda_module()
    if not (np.isfinite(X).all() and (X >= 0).all()):
        bad = np.argwhere(~(np.isfinite(X) & (X >= 0)))[0]
        raise ValueError(f"fractions: row {bad[0]}, column {bad[1]} holds {X[bad[0], bad[1]]}; amounts must be finite and non-negative")
    zero = np.flatnonzero(X.sum(axis=1) <= 0)
    if len(zero):
        raise ValueError(f"fractions: row {zero[0]} sums to zero (no element present)")
    xt, pt, ht = to_cuda(X), to_cuda(props), to_cuda(H)
    n, E = X.shape
    out = cuda_empty((n, len(DESCRIPTORS)), torch.float64, xt.device)
    cu.descriptors(xt.data_ptr(), n, E, pt.data_ptr(), ht.data_ptr(), tab.gas_constant, tab.log_offset,
                   out.data_ptr(), cuda_stream(xt.device))
    return out.cpu().numpy()  # .cpu() synchronises the stream


# ---- public API -----------------------------------------------------------------------------------
def featurize_array(compositions, descriptors=None, table=None, threads=None, device="cpu") -> np.ndarray:
    """Descriptors as an (n, d) float64 array, columns in the order of `descriptors`.

    compositions: a CompositionBatch, anything `hea_fast.composition.as_batch` accepts (formulas,
    dicts, DataFrames of element columns), or an object with ``fractions`` and ``elements``.
    descriptors: None (every descriptor whose properties the table has at all), a list of names
    (see `list_descriptors`) or a set name ("zeng2024", "yang2012"). A descriptor whose property
    is unknown for an element present in the input raises `ElementDataError` (never a silent NaN):
    e.g. the default table has no Allen χ for La–Yb, so alloys with them need an explicit list
    without chi_allen_mean/dchi_allen. table: an ElementTable or its name; None = "default", or the
    named set's own table. threads: None = all cores (results do not depend on it).
    device: "cpu", "cuda" or "auto".
    """
    X, elements, _ = _fractions(compositions)
    _, names, tab = resolve(descriptors, table)
    props, H = prepare(X, elements, names, tab)
    return _kernel(X, props, H, tab, threads, device, [DESCRIPTOR_INDEX[n] for n in names])


def featurize(compositions, descriptors=None, table=None, threads=None, device="cpu") -> pd.DataFrame:
    """Descriptors as a DataFrame with one row per input composition (index kept for pandas input).

    See `featurize_array` for the arguments; named sets use their own column labels.
    """
    X, elements, index = _fractions(compositions)
    labels, names, tab = resolve(descriptors, table)
    props, H = prepare(X, elements, names, tab)
    data = _kernel(X, props, H, tab, threads, device, [DESCRIPTOR_INDEX[n] for n in names])
    return pd.DataFrame(data, columns=labels, index=index)


def featurize_reference(X, props, pair, gas_constant, log_offset=0.0) -> np.ndarray:
    """Plain float64 NumPy evaluation of all descriptors: the reference of the compiled kernel behind
    `featurize_array` (`core.descriptors`; tests/test_descriptors.py, benchmarks/test_descriptors.py).

    X (n, E) amounts, props (E, 7) in `PROPERTIES` order, pair (E, E). Returns (n, 16) in
    `DESCRIPTORS` order. Written independently of the kernel: dense matrix algebra over all E
    columns (absent elements masked), full double sums over i ≠ j for the pair terms.
    """
    X = np.asarray(X, dtype=np.float64)
    c = X / X.sum(axis=1, keepdims=True)
    mask = c > 0
    r, chi, chia, vec, tm, K, vm = (np.asarray(props, float)[:, k] for k in range(7))
    Hm = np.where(np.isnan(pair), 0.0, pair)
    np.fill_diagonal(Hm, 0.0)
    rb = c @ r
    delta = 100 * np.sqrt(np.sum(c * (1 - r[None, :] / rb[:, None]) ** 2, axis=1))
    dH = 2.0 * np.einsum("ni,ij,nj->n", c, Hm, c)  # 4 sum_{i<j} = 2 sum_{i != j}
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.where(mask, c * np.log(np.where(mask, c, 1.0) + log_offset), 0.0)
    dS = -gas_constant * lg.sum(axis=1)
    chib = c @ chi
    dchi = np.sqrt(np.sum(c * (chi[None, :] - chib[:, None]) ** 2, axis=1))
    ab = c @ chia
    dchia = 100 * np.sqrt(np.sum(c * (1 - chia[None, :] / ab[:, None]) ** 2, axis=1))
    Tm = c @ tm
    with np.errstate(divide="ignore", invalid="ignore"):
        omega = np.where(dH == 0, np.inf, Tm * dS / (1000 * np.abs(dH)))
        lam = np.where(delta == 0, np.inf, dS / delta**2)
    rmin = np.where(mask, r[None, :], np.inf).min(axis=1)
    rmax = np.where(mask, r[None, :], -np.inf).max(axis=1)

    def omega_angle(rr):
        return 1 - np.sqrt((rr + rb) ** 2 - rb**2) / (rr + rb)

    gamma = omega_angle(rmin) / omega_angle(rmax)
    local_r = 0.5 * np.einsum("ni,ij,nj->n", c, np.abs(r[:, None] - r[None, :]), c)
    local_chi = 0.5 * np.einsum("ni,ij,nj->n", c, np.abs(chi[:, None] - chi[None, :]), c)
    return np.stack(
        [delta, dH, dS, c @ vec, dchi, ab, dchia, Tm, c @ K, c @ vm, omega, lam, gamma, local_r, local_chi, rb],
        axis=1,
    )


#: The former name of `featurize_reference` (kept).
reference_descriptors = featurize_reference


try:  # scikit-learn is a dependency, but keep `import hea_fast.features` cheap if it is broken
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover
    BaseEstimator = TransformerMixin = object  # type: ignore[misc,assignment]


class DescriptorTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: compositions -> descriptor matrix.

    X may be a sequence/Series of formulas, a DataFrame of element columns, a CompositionBatch, or
    a DataFrame with a formula column (``formula_column``). Stateless: `fit` only records the
    output names.
    """

    def __init__(self, descriptors=None, table=None, formula_column=None, threads=None):
        self.descriptors = descriptors
        self.table = table
        self.formula_column = formula_column
        self.threads = threads

    def _input(self, X):
        if self.formula_column is not None:
            return X[self.formula_column]
        return X

    def fit(self, X=None, y=None):
        labels, _, _ = resolve(self.descriptors, self.table)
        self.feature_names_out_ = np.asarray(labels, dtype=object)
        self.n_features_out_ = len(labels)
        return self

    def transform(self, X):
        return featurize_array(self._input(X), self.descriptors, self.table, self.threads)

    def get_feature_names_out(self, input_features=None):
        if not hasattr(self, "feature_names_out_"):
            self.fit()
        return self.feature_names_out_
