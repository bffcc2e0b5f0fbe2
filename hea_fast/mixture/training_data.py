"""The labelled phase datasets as the mixture is fitted on them (`hea-fast mixture fit`,
scripts/train_default_mixture.py, benchmarks/papers/mixture).

* `load_phase_dataset(name)`: a named dataset from `hea_fast.datasets` as (CompositionBatch, 0/1
  labels, source): the rows that parsed, one row per composition (the first; 0.1 at.% resolution),
  and no composition whose rows disagree on the label.
* `supported_rows(batch, descriptors)`: which rows the descriptors can be computed for (element
  properties and pair enthalpies present, descriptors finite).
"""
from __future__ import annotations

import numpy as np

__all__ = ["PHASE_DATASETS", "load_phase_dataset", "supported_rows"]

#: Named datasets with single-phase labels -> their loader in `hea_fast.datasets`.
PHASE_DATASETS = {"singh2023": "load_singh2023", "yan2021": "load_yan2021"}


def load_phase_dataset(name: str):
    """(CompositionBatch, labels 0/1 int64, source string) for a named phase dataset."""
    from hea_fast import datasets as ds

    if name not in PHASE_DATASETS:
        raise ValueError(f"unknown phase dataset {name!r}; known: {sorted(PHASE_DATASETS)}")
    fn = PHASE_DATASETS[name]
    df = getattr(ds, fn)()
    keep = (df["parse_error"].fillna("") == "").to_numpy() & df["single_phase"].notna().to_numpy()
    for flag in ("duplicate", "label_conflict"):
        keep &= ~df[flag].astype(bool).to_numpy()
    df = df[keep]
    return ds.composition_batch(df), df["single_phase"].to_numpy().astype(np.int64), f"hea_fast.datasets.{fn}"


def supported_rows(batch, descriptors=None, table=None):
    """(mask, reasons): True for the batch rows the descriptors can be computed for.

    A row is dropped when an element lacks a property or a pair lacks the mixing enthalpy a
    descriptor needs (e.g. the default table has no bulk modulus for N and no Allen
    electronegativity for most lanthanides), or when a descriptor is not finite (Lambda = +inf
    when delta = 0: pure elements, equal radii). ``reasons`` names the unsupported chemical systems
    and counts the non-finite rows."""
    from hea_fast.composition import CompositionBatch
    from hea_fast.elements import ElementDataError
    from hea_fast.features import featurize
    from hea_fast.mixture.model import DEFAULT_DESCRIPTORS

    names = list(descriptors or DEFAULT_DESCRIPTORS)
    X = np.asarray(batch.fractions)
    systems: dict = {}
    for i, row in enumerate(X > 0):
        systems.setdefault(tuple(np.flatnonzero(row)), []).append(i)
    mask = np.ones(X.shape[0], dtype=bool)
    bad = set()
    # one featurize per chemical system: missing element properties or pair enthalpies show up
    # as ElementDataError for every composition of that system
    for cols, rows in systems.items():
        sub = CompositionBatch(np.ascontiguousarray(X[rows[:1]][:, list(cols)]), tuple(batch.elements[j] for j in cols))
        try:
            featurize(sub, descriptors=names, table=table, errors="raise")
        except ElementDataError:
            mask[rows] = False
            bad.add("".join(sub.elements))
    # and rows whose descriptors are not finite (Lambda = +inf when delta = 0, e.g. equal radii)
    ok = np.flatnonzero(mask)
    if ok.size:
        F = featurize(batch[ok], descriptors=names, table=table, errors="raise")[names].to_numpy(dtype=float)
        fin = np.isfinite(F).all(axis=1)
        mask[ok[~fin]] = False
        if (~fin).any():
            bad.add(f"{int((~fin).sum())} rows with non-finite descriptors")
    return mask, sorted(bad)
