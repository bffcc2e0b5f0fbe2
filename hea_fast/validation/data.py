"""Harmonised phase labels across the shared datasets: single-phase solid solution (1) vs not (0).

Every phase-labelled source is loaded through `hea_fast.datasets`, mapped to one binary label with
the per-source rule in :data:`SOURCES` (``mapping``), reduced to one row per composition within the
source, and checked against the descriptors the models use. Compositions are identified by their
atomic fractions rounded to 1e-3 (0.1 at.%, :func:`composition_keys`), the resolution at which the
datasets' PROVENANCE files count duplicates (``Al0.348CoCrFeNi`` ≡ ``Al.35CoCrFeNi``).

Conflict rule (documented in the benchmark README; tested in tests/test_validation.py):

* within a source, a composition reported several times (processing variants, re-typed rows) takes
  the majority label of its records; an exact tie is *ambiguous* and the composition is dropped
  from that source (``conflict="majority"``); with ``conflict="drop"`` any disagreement drops it;
* across sources (:func:`pool`, used for the pooled grouped K-fold and for the training side of
  leave-one-source-out), each source's resolved label is one vote, so a source that lists
  CoCrFeMnNi 67 times does not outvote the others; ties (and, with ``conflict="drop"``, any
  disagreement) drop the composition.

The alloy *system* of a composition is its sorted element set (``"Al-Co-Cr-Fe-Ni"``), taken from
the rounded key, so grouped folds by system never split two compositions that share a key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "SOURCES",
    "SourceSpec",
    "DEFAULT_SOURCES",
    "PEIVASTE_EXCLUDED_SHEETS",
    "composition_keys",
    "systems_of",
    "label_from_phase",
    "harmonised_phase_data",
    "harmonise_frame",
    "pool",
    "composition_batch",
    "element_columns",
    "all_descriptors",
]

KEY_DECIMALS = 3  # fractions rounded to 1e-3 (0.1 at.%) identify a composition

_SS = frozenset({"FCC", "BCC", "HCP"})


def label_from_phase(phase) -> float:
    """1 for exactly one solid-solution phase (FCC, BCC or HCP, in the `hea_fast.datasets` common
    vocabulary), 0 for anything else that was reported (several phases, IM, AM, MULTI), NaN for no
    report or an unclassifiable one (``OTHER``)."""
    if phase is None or (isinstance(phase, float) and np.isnan(phase)) or phase is pd.NA:
        return np.nan
    p = str(phase).strip()
    if not p or p == "OTHER":
        return np.nan
    return 1.0 if p in _SS else 0.0


def _phase_labels(df: pd.DataFrame) -> pd.Series:
    return df["phase"].map(label_from_phase).astype(float)


def _class_labels(df: pd.DataFrame) -> pd.Series:
    return df["single_phase"].astype(float)


#: Sheets of the Peivaste compilation left out of the "peivaste2023" source: two are other
#: sources here (the Singh sheet *is* singh2023; "Ronald Machaka" is an earlier, smaller version of
#: machaka2021), two are combinatorial sputtered thin films (a different synthesis route that shares
#: no composition with the bulk data; 4,400 rows of one Al-Cr-Mn-Fe-Co-Ni-Cu family would dominate
#: the union).
PEIVASTE_EXCLUDED_SHEETS = {
    "Swati Singh": "the same sheet is the singh2023 source",
    "Ronald Machaka": "an earlier version of the machaka2021 source",
    "Kube": "sputtered thin films (combinatorial), not bulk",
    "Ji-Chang Ren": "sputtered thin films (2134 of its compositions are Kube's), not bulk",
}


@dataclass(frozen=True)
class SourceSpec:
    """One phase-labelled source: its `hea_fast.datasets` loader, row filter and label rule."""

    name: str
    loader: str  # public function name in hea_fast.datasets
    mapping: str  # the label rule, in words (copied into the benchmark README)
    label: Callable[[pd.DataFrame], pd.Series]
    keep: Callable[[pd.DataFrame], np.ndarray] | None = None  # row filter before labelling
    note: str = ""


def _peivaste_keep(df: pd.DataFrame) -> np.ndarray:
    return ~df["sheet"].isin(list(PEIVASTE_EXCLUDED_SHEETS)).to_numpy()


SOURCES: dict[str, SourceSpec] = {
    s.name: s
    for s in [
        SourceSpec(
            "yan2021", "load_yan2021",
            "Class as given: 1 = SP-SS (single-phase solid solution), 0 = Non-SP-SS. Yan's SP class "
            "includes some ordered single phases (e.g. AlCoCrFeNi, B2, is 1).",
            _class_labels,
            note="the d-VAE (Zeng 2024) 1373 alloys are a subset of these 1807 rows with the same labels, "
                 "so they are not a separate source",
        ),
        SourceSpec(
            "borg2020", "load_mpea",
            "Microstructure exactly one of BCC/FCC/HCP -> 1; any other reported microstructure "
            "(two or more phases, B2/Laves/Sec. = IM, BCC+BCC) -> 0; empty or 'Other' -> no label "
            "(record dropped). One composition has many records (processing, tests).",
            _phase_labels,
        ),
        SourceSpec(
            "singh2023", "load_singh2023",
            "Phase BCC or FCC -> 1; IM, BCC+FCC, FCC+IM, BCC+IM -> 0.",
            _phase_labels,
        ),
        SourceSpec(
            "machaka2021", "load_machaka2021",
            "Multiphase == 'S' -> 1 (Microstructure BCC or FCC with one lattice); Im, D (dual solid "
            "solution, incl. BCC+BCC), M -> 0; records without a phase dropped.",
            _phase_labels,
        ),
        SourceSpec(
            "gao2017", "load_gao2017",
            "bcc/fcc/hcp -> 1; multi (any multi-phase outcome) and amor (amorphous) -> 0.",
            _phase_labels,
        ),
        SourceSpec(
            "peivaste2023", "load_peivaste2023",
            "Bulk sheets of the compilation (all but " + ", ".join(PEIVASTE_EXCLUDED_SHEETS) + "): "
            "exactly one of BCC/FCC/HCP -> 1; anything else (IM, AM, several phases) -> 0. 'BCC' may "
            "include B2 (a b2->BCC replace ran over the workbook).",
            _phase_labels,
            keep=_peivaste_keep,
        ),
    ]
}
DEFAULT_SOURCES = tuple(SOURCES)


# ---------------------------------------------------------------------------------------------
def all_descriptors() -> tuple:
    """The 15 descriptors every model may use: the registry (`hea_fast.features.DESCRIPTORS`) minus
    Ω, which is +inf whenever ΔH_mix = 0 (the candidates of `hea_fast.mixture`, same order)."""
    from hea_fast.features import DESCRIPTORS

    return tuple(d.name for d in DESCRIPTORS if d.name != "Omega")


def element_columns(df: pd.DataFrame) -> list[str]:
    """The element-fraction columns of a harmonised frame (``df.attrs["elements"]``)."""
    els = df.attrs.get("elements")
    if not els:
        raise ValueError("frame has no attrs['elements']; build it with harmonised_phase_data/harmonise_frame")
    return [e for e in els if e in df.columns]


def composition_batch(df: pd.DataFrame):
    """The frame's element fractions as a `hea_fast.composition.CompositionBatch`."""
    from hea_fast.composition import CompositionBatch

    cols = element_columns(df)
    return CompositionBatch(np.ascontiguousarray(df[cols].to_numpy(np.float64)), tuple(cols))


def _normalised(F: np.ndarray) -> np.ndarray:
    """Rows scaled to sum 1. Rows that already do (within 1e-12) are returned as they are: a second
    division moves values by an ulp, which flips the rounding of exact half-way values (0.2425 at
    1e-3) and would give stored fractions another key than the one they were stored under."""
    s = F.sum(axis=1, keepdims=True)
    if (s <= 0).any():
        raise ValueError(f"row {int(np.flatnonzero(s[:, 0] <= 0)[0])} has no element")
    return F / np.where(np.abs(s - 1.0) <= 1e-12, 1.0, s)


def composition_keys(fractions: np.ndarray, elements: Sequence[str], decimals: int = KEY_DECIMALS) -> np.ndarray:
    """Per-row composition keys: fractions rounded to `decimals` (3 -> 1e-3), written as
    ``"Al:80,Co:230,..."`` (element order as given, thousandths as integers, zero entries omitted).

    Equal keys = the same composition at that resolution, whatever the element order or the way
    the source wrote the formula. Rows are normalised to sum 1 first.
    """
    F = np.asarray(fractions, dtype=np.float64)
    if F.ndim != 2 or F.shape[1] != len(elements):
        raise ValueError(f"fractions of shape {F.shape} do not match {len(elements)} elements")
    if not np.isfinite(F).all() or (F < 0).any():
        raise ValueError("fractions must be finite and non-negative")
    scale = 10 ** int(decimals)
    R = np.rint(_normalised(F) * scale).astype(np.int64)
    order = sorted(range(len(elements)), key=lambda j: elements[j])  # alphabetical: order-free keys
    out = np.empty(F.shape[0], dtype=object)
    for i in range(F.shape[0]):
        out[i] = ",".join(f"{elements[j]}:{R[i, j]}" for j in order if R[i, j] > 0)
    return out


def systems_of(keys: Sequence[str]) -> np.ndarray:
    """Alloy system (sorted element set, ``"Al-Co-Cr-Fe-Ni"``) of each composition key."""
    return np.array(["-".join(sorted(p.split(":")[0] for p in k.split(","))) for k in keys], dtype=object)


# ---------------------------------------------------------------------------------------------
def _vote(n_single: np.ndarray, n_total: np.ndarray, conflict: str) -> np.ndarray:
    """Resolved label per group: 1/0, or NaN (ambiguous) by `conflict` ("majority" or "drop")."""
    n_multi = n_total - n_single
    lab = np.where(n_single > n_multi, 1.0, np.where(n_multi > n_single, 0.0, np.nan))
    if conflict == "drop":
        lab = np.where((n_single > 0) & (n_multi > 0), np.nan, lab)
    elif conflict != "majority":
        raise ValueError(f"conflict must be 'majority' or 'drop', got {conflict!r}")
    return lab


def harmonise_frame(frame: pd.DataFrame, source: str, elements: Sequence[str] | None = None,
                    conflict: str = "majority", keep_ambiguous: bool = False) -> pd.DataFrame:
    """One row per composition of one source's records.

    frame: records with element-fraction columns (``attrs["elements"]``, or `elements`), a
    ``label`` column (1/0/NaN; NaN records are ignored), and optionally ``formula``, ``phase``,
    ``record`` (a provenance id per record). Returns columns: source, key, system, n_elements,
    formula, the element fractions (of the first record with that key), single_phase (0/1; NaN for
    ambiguous ones when `keep_ambiguous`), n_records, n_single, provenance (the records behind the
    label: ``"record=label"`` list), and ``attrs["elements"]``.
    """
    els = list(elements) if elements is not None else list(frame.attrs.get("elements") or [])
    if not els:
        raise ValueError("no element columns: pass elements= or set frame.attrs['elements']")
    lab = pd.to_numeric(frame["label"], errors="coerce").to_numpy(float)
    ok = np.isfinite(lab)
    F = frame[els].to_numpy(np.float64)
    ok &= np.isfinite(F).all(axis=1) & (F.sum(axis=1) > 0)
    sub = frame.loc[ok].reset_index(drop=True)
    F, lab = F[ok], lab[ok]
    keys = composition_keys(F, els) if len(sub) else np.empty(0, dtype=object)
    rec = sub["record"].astype(str).to_numpy() if "record" in sub.columns else np.arange(len(sub)).astype(str)
    g = pd.DataFrame({"key": keys, "label": lab, "rec": rec})
    codes, uniq = pd.factorize(g["key"], sort=False)
    first = np.unique(codes, return_index=True)[1]  # first record of each key (codes 0..K-1)
    n_total = np.bincount(codes, minlength=len(uniq)).astype(np.int64)
    n_single = np.bincount(codes, weights=lab, minlength=len(uniq)).astype(np.int64)
    resolved = _vote(n_single, n_total, conflict)
    prov = g.assign(code=codes, txt=g["rec"] + "=" + g["label"].astype(int).astype(str)) \
        .groupby("code", sort=True)["txt"].agg(lambda s: ";".join(s))
    out = pd.DataFrame({
        "source": source,
        "key": np.asarray(uniq, dtype=object),
        "n_records": n_total,
        "n_single": n_single,
        "single_phase": resolved,
        "provenance": prov.reindex(range(len(uniq))).to_numpy(),
    })
    Fsel = _normalised(F[first]) if len(first) else np.zeros((0, len(els)))
    frac = pd.DataFrame(Fsel, columns=els)
    out = pd.concat([out, frac], axis=1)
    out["formula"] = sub["formula"].to_numpy()[first] if "formula" in sub.columns and len(first) else ""
    if "phase" in sub.columns and len(first):
        out["phases_reported"] = (pd.DataFrame({"code": codes, "p": sub["phase"].astype(str).to_numpy()})
                                  .groupby("code", sort=True)["p"].agg(lambda s: "|".join(sorted(set(s))))
                                  .reindex(range(len(uniq))).to_numpy())
    out["system"] = systems_of(out["key"].to_numpy()) if len(out) else np.empty(0, dtype=object)
    out["n_elements"] = np.array([k.count(",") + 1 for k in out["key"]], dtype=np.int64)
    if not keep_ambiguous:
        out = out[np.isfinite(out["single_phase"].to_numpy())].reset_index(drop=True)
    if len(out) and np.isfinite(out["single_phase"]).all():
        out["single_phase"] = out["single_phase"].astype(np.int64)
    out.attrs["elements"] = els
    return out


def pool(data: pd.DataFrame, conflict: str = "majority") -> pd.DataFrame:
    """Merge the per-source rows of `data` into one row per composition key across sources.

    Each source's resolved label is one vote (see the module docstring); ties and, with
    ``conflict="drop"``, any disagreement drop the composition. Fractions, formula and system come
    from the first row with the key (sources in the order they appear). Adds ``sources`` (the
    sources that report the key), ``n_sources``, ``n_single_sources``; ``provenance`` becomes
    ``"source:label"`` pairs; ``source`` is ``"pooled"``.
    """
    els = element_columns(data)
    if data.empty:
        out = data.copy()
        out.attrs["elements"] = els
        return out
    lab = data["single_phase"].to_numpy(float)
    if not np.isfinite(lab).all():
        raise ValueError("pool() needs resolved per-source labels (no NaN); use keep_ambiguous=False")
    codes, uniq = pd.factorize(data["key"], sort=False)
    n_src = np.bincount(codes, minlength=len(uniq)).astype(np.int64)
    n_one = np.bincount(codes, weights=lab, minlength=len(uniq)).astype(np.int64)
    resolved = _vote(n_one, n_src, conflict)
    first = np.unique(codes, return_index=True)[1]
    out = data.iloc[first].reset_index(drop=True).copy()
    pairs = pd.DataFrame({"code": codes, "txt": data["source"].astype(str).to_numpy() + ":" + lab.astype(int).astype(str)})
    joined = pairs.groupby("code", sort=True)["txt"].agg(lambda s: ";".join(s)).to_numpy()
    out["sources"] = [";".join(t.split(":")[0] for t in j.split(";")) for j in joined]
    out["provenance"] = joined
    out["n_sources"] = n_src
    out["n_single_sources"] = n_one
    out["n_records"] = np.bincount(codes, weights=data["n_records"].to_numpy(float), minlength=len(uniq)).astype(np.int64)
    out["n_single"] = np.bincount(codes, weights=data["n_single"].to_numpy(float), minlength=len(uniq)).astype(np.int64)
    out["single_phase"] = resolved
    out["source"] = "pooled"
    out = out[np.isfinite(resolved)].reset_index(drop=True)
    out["single_phase"] = out["single_phase"].astype(np.int64)
    out.attrs["elements"] = els
    return out


# ---------------------------------------------------------------------------------------------
def _load_source(spec: SourceSpec) -> pd.DataFrame:
    from hea_fast import datasets as ds

    df = getattr(ds, spec.loader)()
    keep = (df["parse_error"].fillna("") == "").to_numpy() if "parse_error" in df.columns else np.ones(len(df), bool)
    if spec.keep is not None:
        keep &= spec.keep(df)
    df = df.loc[keep]
    els = ds.element_columns(df)
    rec = pd.DataFrame({"label": spec.label(df).to_numpy(float),
                        "formula": df["formula"].astype(str).to_numpy(),
                        "record": [f"{spec.name}#{i}" for i in df.index],
                        "phase": (df["phase"].astype(object).where(df["phase"].notna(), "")
                                  if "phase" in df.columns else df["single_phase"].astype(str)).to_numpy()})
    rec = pd.concat([rec, df[els].reset_index(drop=True).fillna(0.0)], axis=1)
    rec.attrs["elements"] = list(els)
    return rec


def _descriptor_support(batch, descriptors) -> tuple[np.ndarray, list]:
    """(mask, reasons): rows whose `descriptors` can be computed with the default element table and
    are finite; reasons counts the others by cause ("Th has no chi_allen ... (12)")."""
    from hea_fast.features import featurize_array

    names = list(descriptors)
    try:
        from hea_fast.features import missing_data
    except ImportError:  # a features module that raises on missing data instead of reporting it
        missing_data = None
    if missing_data is not None:
        why = missing_data(batch, descriptors=names).to_numpy(dtype=object)
    else:
        why = _missing_by_system(batch, names)
    mask = why == ""
    reasons = [f"{r} ({n})" for r, n in pd.Series(why[~mask]).value_counts().items()]
    ok = np.flatnonzero(mask)
    if ok.size:
        D = featurize_array(batch[ok], descriptors=names, threads=1)
        fin = np.isfinite(D).all(axis=1)
        mask[ok[~fin]] = False
        if (~fin).any():
            reasons.append(f"non-finite descriptor, e.g. Lambda = +inf when delta = 0 ({int((~fin).sum())})")
    return mask, reasons


def _missing_by_system(batch, names) -> np.ndarray:
    """Per-row reason ('' = complete) by featurizing one row per chemical system (missing element or
    pair data is a property of the system) and catching ElementDataError."""
    from hea_fast.composition import CompositionBatch
    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize_array

    X = np.asarray(batch.fractions)
    why = np.full(X.shape[0], "", dtype=object)
    systems: dict = {}
    for i, row in enumerate(X > 0):
        systems.setdefault(tuple(np.flatnonzero(row)), []).append(i)
    for cols, rows in systems.items():
        sub = CompositionBatch(np.ascontiguousarray(X[rows[:1]][:, list(cols)]), tuple(batch.elements[j] for j in cols))
        try:
            featurize_array(sub, descriptors=names, threads=1)
        except ElementDataError as exc:
            why[rows] = str(exc)
    return why


def harmonised_phase_data(sources: Sequence[str] = DEFAULT_SOURCES, conflict: str = "majority",
                          descriptors: Sequence[str] | None = None, require_descriptors: bool = True,
                          keep_ambiguous: bool = False) -> pd.DataFrame:
    """The phase-labelled shared datasets as one frame: one row per (source, composition).

    Columns: source, key (fractions to 1e-3), system (sorted element set), n_elements, formula
    (canonical, of the first record), element fractions over the union of the sources' elements
    (``attrs["elements"]``; :func:`composition_batch` gives a CompositionBatch), single_phase 0/1
    (the source's majority label, see the module docstring), n_records, n_single, provenance
    (``record=label`` of every record behind the label; ``record`` is ``source#row`` of the loader's
    frame), phases_reported.

    require_descriptors: drop compositions whose `descriptors` (default: :func:`all_descriptors`,
    the mixture's 15 candidates) cannot be computed or are not finite
    with the default element table (e.g. lanthanides lack an Allen electronegativity, N a bulk
    modulus; Lambda is +inf for pure elements); ``attrs["dropped"]`` counts them per source and
    ``attrs["drop_reasons"]`` names the systems. ``attrs["mapping"]`` holds each source's label rule;
    ``attrs["stats"]`` per source: labelled records, records without a label, compositions,
    conflicting compositions (records disagree), ambiguous ones dropped (ties), unsupported ones
    dropped, kept.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {list(SOURCES)}")
    frames, stats = [], {}
    for name in sources:
        rec = _load_source(SOURCES[name])
        h = harmonise_frame(rec, name, conflict=conflict, keep_ambiguous=True)
        lab = h["single_phase"].to_numpy(float)
        mixed = (h["n_single"] > 0) & (h["n_single"] < h["n_records"])
        stats[name] = {"records": int(np.isfinite(rec["label"].to_numpy(float)).sum()),
                       "records_unlabelled": int((~np.isfinite(rec["label"].to_numpy(float))).sum()),
                       "compositions": int(len(h)), "conflicting": int(mixed.sum()),
                       "ambiguous_dropped": int((~np.isfinite(lab)).sum())}
        if not keep_ambiguous:
            els_h = h.attrs["elements"]
            h = h[np.isfinite(lab)].reset_index(drop=True)
            h["single_phase"] = h["single_phase"].astype(np.int64)
            h.attrs["elements"] = els_h
        frames.append(h)
    els = sorted({e for f in frames for e in element_columns(f)}, key=_atomic_number)
    # only elements that occur somewhere (the loaders' element lists are per file)
    data = pd.concat(frames, ignore_index=True)
    data[els] = data[els].fillna(0.0)
    present = [e for e in els if (data[e] > 0).any()]
    head = [c for c in data.columns if c not in els]
    data = data[head + present].copy()
    data.attrs["elements"] = present
    dropped = {s: 0 for s in sources}
    reasons: list = []
    if require_descriptors and len(data):
        if descriptors is None:
            descriptors = all_descriptors()
        mask, reasons = _descriptor_support(composition_batch(data), descriptors)
        for s, n in data.loc[~mask, "source"].value_counts().items():
            dropped[s] = int(n)
        data = data.loc[mask].reset_index(drop=True)
        data.attrs["elements"] = present
    for s_ in sources:
        stats[s_]["unsupported_dropped"] = dropped[s_]
        stats[s_]["kept"] = int((data["source"] == s_).sum())
    data.attrs["stats"] = stats
    data.attrs["dropped"] = dropped
    data.attrs["drop_reasons"] = reasons
    data.attrs["mapping"] = {s: SOURCES[s].mapping for s in sources}
    data.attrs["conflict"] = conflict
    return data


def _atomic_number(symbol: str) -> int:
    from hea_fast.composition import ELEMENTS

    try:
        return ELEMENTS.index(symbol)
    except ValueError:
        return 1000
