"""Public high-entropy-alloy datasets: data home, checksummed files, tidy loaders.

Only this package knows where data lives (DESIGN.md §5): other modules call `data_home()` and
`fetch(dataset, filename)`. Files sit in the *data home*, ``$HEA_FAST_DATA`` or else
``~/.cache/hea_fast``, one folder per dataset with the file names of the public sources (the
layout of ``../shared/data``). Every file has a SHA-256 in ``metadata.json`` (:data:`FILES`); a
file missing from the data home is downloaded from its public source when one exists and the
network allows (checksum verified, atomic write), otherwise :class:`DatasetNotFoundError` says
exactly where to put it. A file whose bytes differ from the registered checksum raises
:class:`ChecksumError` (opt out with ``verify=False`` or ``HEA_FAST_VERIFY=0``).

Loaders return tidy :class:`pandas.DataFrame` objects with one row per record and:

- ``formula``: the canonical formula (``CompositionBatch(...).formulas()``: at.%, elements by atomic
  number) of the parsed composition; ``formula_raw``: the string as the source wrote it (for the
  Peivaste/Singh sheets, PROVENANCE's b2-repaired column); repairs made here are noted in ``cleaning``;
- one float64 column per element holding **atomic fractions** (rows sum to 1). The element columns
  are exactly ``element_columns(df)`` (also stored in ``df.attrs["elements"]``) and
  ``composition_batch(df)`` turns them into a :class:`~hea_fast.composition.CompositionBatch`;
- labels (``single_phase`` 0/1 where the source has a phase label: 1 = exactly one solid-solution
  phase, FCC, BCC or HCP; int64, or nullable Int64 with <NA> where a source leaves the phase blank;
  ``phase`` in the common vocabulary :data:`PHASE_TOKENS`, e.g. ``FCC``, ``BCC``, ``FCC+BCC``,
  ``BCC+IM``, ``AM``; yield strength in MPa / GPa and temperatures in K);
- ``source``: which dataset (and sheet) the row comes from;
- ``parse_error``: ``""`` when the formula parsed, else the reason (such rows keep NaN fractions and
  an empty ``formula``; nothing is dropped silently);
- ``composition_id`` (equal ids = the same composition rounded to 0.1 at.%, -1 when unparsed; group
  cross-validation folds on it), ``duplicate`` (the composition occurs in an earlier row) and
  ``label_conflict`` (the composition occurs with more than one ``single_phase`` value;
  ``phase_conflict`` likewise for ``phase``); ``cleaning``: a note on any repair applied to that row
  (``""`` otherwise).

Units: fractions dimensionless, temperatures K (``T_C`` in °C where the source gives °C), yield
strengths MPa (``YS_MPa``) and GPa (``YS_GPa``).

Layout (after matminer's ``datasets``): ``metadata.json`` holds every dataset's and file's
metadata as data; `files` the data home, checksums, downloads and `fetch`; `catalog` names,
caching, `load`, `list_datasets`, `describe`; `tidy` the shared frame helpers; one module per
dataset family: `phase` (Yan 2021, Singh 2023, Machaka 2021, Gao 2017, Peivaste 2023), `dvae`
(the d-VAE splits), `mpea` (Borg 2020 MPEA and the X-Yield experimental set). A new dataset is a
metadata entry plus a builder registered with ``@catalog.register(name)``.

Sources (full provenance in each folder's PROVENANCE.md):
Yan, Lu, Wang, Comput. Mater. Sci. 199 (2021) 110723; Zeng, Khan, Post, arXiv 2409.06740 (2024);
Borg et al., Sci. Data 7, 430 (2020); the X-Yield (Bi-RPT) experimental set of
xxchenxx/glass-froming-ability-prediction, derived from Borg 2020; Singh et al., Sci. Rep. 13 (2023)
(via Peivaste's compilation); Machaka et al., Data in Brief 38 (2021) 107346; the Gao table used by
Feng et al., npj Comput. Mater. 7, 10 (2021); Peivaste et al., Sci. Rep. (2023) compilation.
"""
from __future__ import annotations

from hea_fast.datasets.catalog import ALIASES, DATASETS, DatasetInfo, clear_cache, describe, list_datasets, load
from hea_fast.datasets.dvae import DVAE_ELEMENTS, DVAE_FEATURES, DVAE_SPLIT_SIZES, load_dvae_splits
from hea_fast.datasets.files import FILES, ChecksumError, DataFile, DatasetNotFoundError, data_home, fetch
from hea_fast.datasets.mpea import KELVIN_OFFSET, XYIELD_ELEMENTS, load_mpea, load_xyield_experimental, xyield_filter
from hea_fast.datasets.phase import (
    MACHAKA_FRACTION_COLUMNS,
    load_gao2017,
    load_machaka2021,
    load_peivaste2023,
    load_singh2023,
    load_yan2021,
)
from hea_fast.datasets.tidy import PHASE_TOKENS, composition_batch, element_columns, normalize_phase

__all__ = [
    "ChecksumError",
    "DatasetNotFoundError",
    "DataFile",
    "DatasetInfo",
    "FILES",
    "DATASETS",
    "ALIASES",
    "PHASE_TOKENS",
    "XYIELD_ELEMENTS",
    "DVAE_ELEMENTS",
    "DVAE_FEATURES",
    "DVAE_SPLIT_SIZES",
    "MACHAKA_FRACTION_COLUMNS",
    "KELVIN_OFFSET",
    "data_home",
    "fetch",
    "list_datasets",
    "load",
    "describe",
    "element_columns",
    "composition_batch",
    "normalize_phase",
    "load_yan2021",
    "load_dvae_splits",
    "load_mpea",
    "load_xyield_experimental",
    "xyield_filter",
    "load_singh2023",
    "load_machaka2021",
    "load_gao2017",
    "load_peivaste2023",
    "clear_cache",
]
