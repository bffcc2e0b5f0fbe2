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

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from hea_fast.composition import CompositionError, row_amounts
from hea_fast.elements import PROPERTIES, ElementDataError, ElementTable

__all__ = ["Descriptor", "DESCRIPTORS", "DESCRIPTOR_SETS", "featurize", "DESCRIPTOR_INDEX", "BadRowsWarning",
           "MissingElementDataWarning", "InvalidCompositionWarning", "ERRORS", "check_errors", "missing_data",
           "warn_bad_rows", "featurize_array", "featurize_reference", "list_descriptors", "prepare",
           "reference_descriptors", "resolve"]


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


# ---- rows the kernel cannot (fully) compute ---------------------------------------------------------
class BadRowsWarning(UserWarning):
    """Some rows of a batch got NaN cells (`errors="nan"`); the warning counts them and names the first."""


class MissingElementDataWarning(BadRowsWarning):
    """Rows whose elements lack table data that some descriptors need: those cells are NaN."""


class InvalidCompositionWarning(BadRowsWarning):
    """Rows that are not valid compositions (unparseable formula, NaN/negative amounts): all NaN."""


#: Values of the `errors=` keyword: "nan" (bad cells NaN, one warning) or "raise" (stop at the first).
ERRORS = ("nan", "raise")


def check_errors(errors) -> str:
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    return errors


def warn_bad_rows(reasons, what: str, category=BadRowsWarning, labels=None, alloys=None, detail: str = "",
                  stacklevel: int = 3) -> None:
    """One `category` warning for the rows of `reasons` ((n,) str, '' = fine): their count and the
    first three (label, alloy, reason). labels: the rows' labels (None: positions); alloys: a
    function position -> short alloy name, or None."""
    bad = np.flatnonzero(np.asarray(reasons, dtype=object) != "")
    if not len(bad):
        return
    shown = []
    for i in bad[:3].tolist():
        lab = i if labels is None else labels[i].item() if isinstance(labels[i], np.generic) else labels[i]
        alloy = alloys(i) if alloys is not None else ""
        shown.append(f"row {lab!r}" + (f" ({alloy})" if alloy else "") + f": {reasons[i]}")
    more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
    warnings.warn(f"{what}: {len(bad)} of {len(reasons)} rows {detail or 'could not be computed (NaN)'}: "
                  + "; ".join(shown) + more + ". Pass errors='raise' to stop at the first bad row, or "
                  "return_reasons=True for every row's reason.", category, stacklevel=stacklevel)


@dataclass(frozen=True)
class _Gap:
    """Data missing for one element ("absent" from the table, or lacking some `props`) or one pair:
    rows holding every element of `cols` get NaN in the output columns `out`."""

    kind: str
    cols: tuple[int, ...]
    els: tuple[str, ...]
    props: tuple[str, ...]
    out: tuple[int, ...]


_PLACEHOLDER = 1.0  # finite stand-in for unknown values (no requested descriptor reads it)


def _element_data(elements, names, tab):
    """(props (E, 7), pair (E, E), gaps) for the kernel: every value the descriptors `names` need,
    finite placeholders for the rest (so the kernel never sees NaN and takes its dense path), and
    the `_Gap`s where a needed value is unknown."""
    E = len(elements)
    known = [e in tab for e in elements]
    kidx = [j for j in range(E) if known[j]]
    props = np.full((E, len(PROPERTIES)), np.nan)
    H = np.full((E, E), np.nan)
    if kidx:
        kel = [elements[j] for j in kidx]
        props[kidx] = tab.property_matrix(kel)
        H[np.ix_(kidx, kidx)] = tab.pair_matrix(kel)
    np.fill_diagonal(H, 0.0)
    needed = [p for p in PROPERTIES if any(p in _BY_NAME[n].requires for n in names)]
    pairs = [k for k, n in enumerate(names) if _BY_NAME[n].uses_pairs]
    gaps = []
    for j, e in enumerate(elements):
        miss = tuple(needed) if not known[j] else tuple(p for p in needed if np.isnan(props[j, PROPERTIES.index(p)]))
        out = [k for k, n in enumerate(names) if set(_BY_NAME[n].requires) & set(miss)]
        if not known[j]:
            out = sorted(set(out) | set(pairs))
        if out:
            gaps.append(_Gap("absent" if not known[j] else "props", (j,), (e,), miss, tuple(out)))
    if pairs:
        for i, j in zip(*np.nonzero(np.triu(np.isnan(H), 1))):
            if known[i] and known[j]:
                gaps.append(_Gap("pair", (int(i), int(j)), (elements[i], elements[j]), (), tuple(pairs)))
    props = np.where(np.isnan(props), _PLACEHOLDER, props)
    return np.ascontiguousarray(props), np.ascontiguousarray(np.where(np.isnan(H), 0.0, H)), gaps


def _gap_rows(column, gaps) -> list:
    """For each gap, the mask of rows holding all its elements (None when no row does);
    column(j) gives element column j of the data."""
    cache: dict = {}
    out = []
    for g in gaps:
        mask = None
        for j in g.cols:
            if j not in cache:
                cache[j] = np.asarray(column(j)) > 0
            mask = cache[j] if mask is None else mask & cache[j]
        out.append(mask if mask is not None and mask.any() else None)
    return out


def _data_error(tab, names, gaps, used) -> ElementDataError:
    """The `errors="raise"` error for the gaps some row uses (absent elements first, then
    properties, then pairs), as `prepare` words it."""
    hit = [g for g, u in zip(gaps, used) if u is not None]
    absent = [g.els[0] for g in hit if g.kind == "absent"]
    if absent:
        try:
            tab.check_elements(absent)
        except ElementDataError as exc:
            return exc
    parts = []
    for p in PROPERTIES:
        els = [g.els[0] for g in hit if g.kind == "props" and p in g.props]
        if els:
            users = [n for n in names if p in _BY_NAME[n].requires]
            parts.append(f"{p} of {', '.join(els)} (needed by {', '.join(users)})")
    if parts:
        return ElementDataError(f"element table {tab.name!r} has no value for " + "; ".join(parts)
                                + ": drop those descriptors or use another table")
    pairs = [f"{g.els[0]}-{g.els[1]}" for g in hit if g.kind == "pair"]
    more = f" and {len(pairs) - 10} more" if len(pairs) > 10 else ""
    return ElementDataError(f"element table {tab.name!r} has no mixing enthalpy for pair(s) {pairs[:10]}{more}"
                            " (needed by dH_mix/Omega)")


def _gap_text(g, tab) -> str:
    if g.kind == "pair":
        return f"no mixing enthalpy for {g.els[0]}-{g.els[1]} in element table {tab.name!r}"
    return f"{g.els[0]} " + ("is not in" if g.kind == "absent" else f"has no {', '.join(g.props)} in") + \
        f" element table {tab.name!r}"


def _row_reasons(m, gaps, used, labels, tab, out=None) -> tuple[np.ndarray | None, np.ndarray]:
    """(reason of each of the m data rows or None when no gap is used, mask of the rows with one);
    sets the gaps' cells of `out` to NaN."""
    hit = [(g, u) for g, u in zip(gaps, used) if u is not None]
    if not hit:
        return None, np.zeros(m, dtype=bool)
    U = np.stack([u for _, u in hit], axis=1)
    rows = U.any(axis=1)
    if out is not None:
        for g, u in hit:
            out[np.ix_(np.flatnonzero(u), list(g.out))] = np.nan
    combos, inv = np.unique(U[rows], axis=0, return_inverse=True)
    texts = []
    for combo in combos:
        gs = [hit[k][0] for k in np.flatnonzero(combo)]
        cols = sorted({c for g in gs for c in g.out})
        texts.append("; ".join(_gap_text(g, tab) for g in gs) + f" (NaN: {', '.join(labels[c] for c in cols)})")
    reasons = np.full(m, "", dtype=object)
    reasons[rows] = np.asarray(texts, dtype=object)[np.asarray(inv).reshape(-1)]
    return reasons, rows


def _compute(ra, labels, names, tab, threads, device, errors, kernel=True):
    """Descriptors `names` of `RowAmounts` ra -> (out (n_rows, d), reasons (n_rows,) or None,
    (rows not valid compositions, rows lacking element data)). kernel=False: reasons only."""
    cols = [DESCRIPTOR_INDEX[n] for n in names]
    props, H, gaps = _element_data(ra.elements, names, tab)
    used = _gap_rows(ra.column, gaps)
    if errors == "raise" and any(u is not None for u in used):
        raise _data_error(tab, names, gaps, used)
    m, bad = ra.m, None
    try:
        if not kernel:
            raise ValueError
        out = _kernel(ra.data, m, props, H, tab, threads, device, cols)
    except ValueError:
        bad, first, _ = ra.invalid_rows()
        if kernel and not bad.any():
            raise
        if errors == "raise" and bad.any():
            i = int(np.flatnonzero(bad)[0])
            pos = i if ra.rows is None else int(ra.rows[i])
            raise CompositionError(f"{ra.reason(i, int(first[i]))} in row {ra.label(pos)!r}") from None
        out = np.full((m, len(cols)), np.nan)
        if kernel and (~bad).any():
            out[~bad] = _kernel(ra.array(~bad), int((~bad).sum()), props, H, tab, threads, device, cols)
    reasons, gap_rows = _row_reasons(m, gaps, used, labels, tab, out if kernel else None)
    n_bad = 0
    if bad is not None and bad.any():
        reasons = np.full(m, "", dtype=object) if reasons is None else reasons
        for i in np.flatnonzero(bad).tolist():
            reasons[i] = ra.reason(i, int(first[i]))
        n_bad = int(bad.sum())
        gap_rows &= ~bad
    if ra.rows is not None:  # unreadable input rows: all NaN, with the parser's reason
        full = np.full((ra.n_rows, len(cols)), np.nan)
        full[ra.rows] = out
        fr = np.full(ra.n_rows, "", dtype=object)
        if reasons is not None:
            fr[ra.rows] = reasons
        for i, why in ra.bad.items():
            fr[i] = why
        out, reasons = full, fr
    return out, reasons, (n_bad + len(ra.bad), int(gap_rows.sum()))


def _alloys(ra):
    """position -> the elements present in that input row (for warnings)."""
    pos = None if ra.rows is None else {int(p): i for i, p in enumerate(ra.rows)}

    def name(i):
        i = i if pos is None else pos.get(i)
        return "" if i is None else "".join(e for j, e in enumerate(ra.elements) if ra.column(j)[i] > 0)

    return name


def _report(ra, reasons, counts, what):
    if reasons is None:
        return
    n_bad, n_gap = counts
    parts = ([f"{n_gap} lacking element data"] if n_gap else []) + ([f"{n_bad} not valid compositions"] if n_bad else [])
    warn_bad_rows(reasons, what, MissingElementDataWarning if n_gap else InvalidCompositionWarning,
                  labels=ra.labels, alloys=_alloys(ra), detail=f"have NaN cells ({', '.join(parts)})", stacklevel=4)


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
    `PROPERTIES` order, pair enthalpies (E, E)), both C-contiguous float64 and finite.

    Checks `table` (an ElementTable or its name) against the elements present in some row of `X`:
    an element missing from the table, or a property / pair enthalpy that one of the descriptors
    `names` needs, raises `ElementDataError` naming it. Values no row or no requested descriptor
    reads (all-zero columns, unneeded properties) are finite placeholders, so the kernel takes its
    dense path. Prepared once for a whole palette (an all-ones row), the arrays serve every chunk
    of a screen (`hea_fast.screen`)."""
    tab = ElementTable.load(table)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(elements):
        raise ValueError(f"fractions have shape {X.shape} but {len(elements)} element names were given")
    if len(set(elements)) != len(elements):  # a repeated element would count as mixing with itself (ΔS, ΔH)
        raise ValueError(f"element names repeated in {list(elements)}: merge those columns first")
    props, H, gaps = _element_data(tuple(elements), list(names), tab)
    used = _gap_rows(lambda j: X[:, j], gaps)
    if any(u is not None for u in used):
        raise _data_error(tab, list(names), gaps, used)
    return props, H


def _kernel(X, m, props, H, tab, threads, device, cols=None):
    """(m, len(cols)) descriptors in `cols` order (indices into DESCRIPTORS; None = all) of the
    rows X (an (m, E) array or E columns, see `composition.RowAmounts`). The CPU kernel skips the
    work no requested column needs; values equal a full call's bitwise."""
    from hea_fast._backend import core, resolve_device

    dev = resolve_device(device)
    full = cols is None or list(cols) == list(range(len(DESCRIPTORS)))
    if m == 0:  # nothing to compute (an empty chunk may even have no element columns)
        return np.zeros((0, len(DESCRIPTORS) if full else len(cols)))
    if dev == "cpu":
        return core.descriptors(X, props, H, tab.gas_constant, tab.log_offset, threads=threads,
                                columns=None if full else list(cols))
    out = _kernel_cuda(X if isinstance(X, np.ndarray) else np.stack(X, axis=1), props, H, tab)
    return out if full else np.ascontiguousarray(out[:, list(cols)])


def _kernel_cuda(X, props, H, tab):
    import torch

    from hea_fast._backend import cuda_empty, cuda_module, cuda_stream, to_cuda

    cu = cuda_module()
    if not (np.isfinite(X).all() and (X >= 0).all()):
        bad = np.argwhere(~(np.isfinite(X) & (X >= 0)))[0]
        raise ValueError(f"fractions: row {bad[0]}, column {bad[1]} holds {X[bad[0], bad[1]]}; amounts must be finite and non-negative")
    with np.errstate(over="ignore"):
        sums = X.sum(axis=1)
    bad = np.flatnonzero(~((sums > 0) & np.isfinite(sums)))  # as the CPU kernel: no element, or an overflow
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"fractions: row {i} sums to zero (no element present)" if not sums[i] > 0 else
                         f"fractions: row {i}: its amounts sum to inf (they overflow; scale them down)")
    xt, pt, ht = to_cuda(np.ascontiguousarray(X, dtype=np.float64)), to_cuda(props), to_cuda(H)
    n, E = X.shape
    out = cuda_empty((n, len(DESCRIPTORS)), torch.float64, xt.device)
    cu.descriptors(xt.data_ptr(), n, E, pt.data_ptr(), ht.data_ptr(), tab.gas_constant, tab.log_offset,
                   out.data_ptr(), cuda_stream(xt.device))
    return out.cpu().numpy()  # .cpu() synchronises the stream


# ---- public API -----------------------------------------------------------------------------------
def _run(compositions, descriptors, table, threads, device, elements, errors, kernel=True):
    check_errors(errors)
    labels, names, tab = resolve(descriptors, table)
    ra = row_amounts(compositions, elements, "skip" if errors == "nan" else "raise")
    out, reasons, counts = _compute(ra, labels, names, tab, threads, device, errors, kernel)
    index = ra.labels if ra.labels is not None and len(ra.labels) == ra.n_rows else None
    return ra, labels, out, reasons, counts, index


def featurize_array(compositions, descriptors=None, table=None, threads=None, device="cpu", *, elements=None,
                    errors="nan", return_reasons=False):
    """Descriptors as an (n, d) float64 array, one row per input row, columns in the order of
    `descriptors`.

    compositions: anything `hea_fast.composition.as_batch` accepts: a CompositionBatch, formulas,
    dicts, a DataFrame of element columns, an (n, E) array of amounts with `elements=` naming its
    columns, or an object with ``fractions`` and ``elements``. Numeric input is read in place (no
    copy; the kernel normalises each row). descriptors: None (every descriptor whose properties the
    table has at all), a list of names (see `list_descriptors`) or a set name ("zeng2024",
    "yang2012"). table: an ElementTable or its name; None = "default", or the named set's own
    table. threads: None = all cores (results do not depend on it). device: "cpu", "cuda", "auto".

    errors: "nan" (default): a row whose elements lack a value some descriptor needs (e.g. the
    default table has no Allen χ for La–Yb) gets NaN in those descriptors only, and a row that is
    no composition (unparseable formula, NaN / negative / all-zero amounts) NaN everywhere; one
    `BadRowsWarning` (`MissingElementDataWarning`, `InvalidCompositionWarning`) counts them and
    names the first. "raise": the first such row raises (`ElementDataError` naming the element,
    property and descriptor; `CompositionError` naming the row). return_reasons=True returns
    (array, reasons): an (n,) object array of strings, '' for complete rows (no warning then).
    """
    ra, _labels, out, reasons, counts, _ = _run(compositions, descriptors, table, threads, device, elements, errors)
    if return_reasons:
        return out, (reasons if reasons is not None else np.full(out.shape[0], "", dtype=object))
    _report(ra, reasons, counts, "featurize_array")
    return out


def featurize(compositions, descriptors=None, table=None, threads=None, device="cpu", *, elements=None,
              errors="nan", return_reasons=False):
    """Descriptors as a DataFrame with one row per input row (the index of pandas input, or of a
    batch with skipped rows, is kept). Named sets use their own column labels. Arguments as in
    `featurize_array`; return_reasons=True returns (frame, reasons: a str Series, '' = complete)."""
    ra, labels, out, reasons, counts, index = _run(compositions, descriptors, table, threads, device, elements,
                                                   errors)
    df = pd.DataFrame(out, columns=labels, index=index, copy=False)
    if return_reasons:
        r = reasons if reasons is not None else np.full(len(df), "", dtype=object)
        return df, pd.Series(r, index=df.index, name="reason", dtype=object)
    _report(ra, reasons, counts, "featurize")
    return df


def data_gaps(elements: Sequence[str], descriptors=None, table=None) -> list[str]:
    """Why alloys holding some of `elements` would get NaN descriptors (`featurize` with the same
    `descriptors` and `table`), without any composition: one text per element the table lacks or
    lacks a needed property of, and per pair without a mixing enthalpy; [] when every alloy of these
    elements can be featurized."""
    _labels, names, tab = resolve(descriptors, table)
    return [_gap_text(g, tab) for g in _element_data(tuple(elements), list(names), tab)[2]]


def missing_data(compositions, descriptors=None, table=None, *, elements=None) -> pd.Series:
    """Why each input row would get NaN cells from `featurize` with the same arguments ('' when it
    would be complete), without computing the descriptors: unreadable rows and amounts, and the
    elements, properties or pair enthalpies the table lacks, with the descriptors they blank."""
    _ra, _labels, _out, reasons, _counts, index = _run(compositions, descriptors, table, 1, "cpu", elements, "nan",
                                                       kernel=False)
    n = _ra.n_rows
    return pd.Series(reasons if reasons is not None else np.full(n, "", dtype=object),
                     index=index if index is not None else pd.RangeIndex(n), name="reason", dtype=object)


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
    rmin = np.where(mask, r[None, :], np.inf).min(axis=1)
    rmax = np.where(mask, r[None, :], -np.inf).max(axis=1)
    # every radius present equal: delta is 0 by definition (the sum would leave ~1e-14 of rounding)
    delta = np.where(rmin == rmax, 0.0, 100 * np.sqrt(np.sum(c * (1 - r[None, :] / rb[:, None]) ** 2, axis=1)))
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


def __getattr__(name: str):
    # DescriptorTransformer lives in its own module so that importing hea_fast.features (every CLI
    # command does) does not import scikit-learn (~1 s); `from hea_fast.features import
    # DescriptorTransformer` keeps working
    if name == "DescriptorTransformer":
        from hea_fast.descriptor_transformer import DescriptorTransformer

        return DescriptorTransformer
    raise AttributeError(f"module 'hea_fast.features' has no attribute {name!r}")
