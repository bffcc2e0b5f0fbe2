"""The d-VAE paper's data (Zeng, Khan, Post, arXiv 2409.06740): its 1373 alloys with the exact
labelled / unlabelled / validation / test splits and its 8 engineered features.

Element columns are the paper's 30 fractions in its own order (`DVAE_ELEMENTS`, the columns its
model reads), kept exactly as given; features keep the paper's conventions (``vac`` counts all
non-core electrons; ΔH from qmpy's Miedema pairs; units k GPa, vm cm³/mol, tm K, delta %,
delta_s_mix J/(mol K), delta_h_mix kJ/mol).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hea_fast.datasets.catalog import get, register
from hea_fast.datasets.files import read_csv
from hea_fast.datasets.tidy import Parsed, canonical_formulas, tidy_frame

__all__ = ["DVAE_ELEMENTS", "DVAE_FEATURES", "DVAE_SPLIT_SIZES", "load_dvae_splits"]

#: The 30 most frequent elements of the d-VAE set, in the authors' column order (Fe…Sc).
DVAE_ELEMENTS = ("Fe", "Ni", "Cr", "Co", "Al", "Ti", "Cu", "Mo", "V", "Nb", "Mn", "Zr", "Ta", "W", "Hf", "Si",
                 "Rh", "Ru", "Re", "Os", "Pt", "Pd", "Ir", "Mg", "Ag", "Zn", "Sn", "Au", "Li", "Sc")
#: The 8 engineered descriptors (hea_fast.features set "zeng2024"), in the authors' order.
DVAE_FEATURES = ("k", "vm", "tm", "vac", "delta", "delta_chi", "delta_s_mix", "delta_h_mix")
DVAE_SPLIT_SIZES = {"labelled": 864, "unlabelled": 296, "validation": 75, "test": 138}


@register("dvae_splits")
def _build_dvae(verify: bool) -> pd.DataFrame:
    raw = read_csv("dvae_hea_zeng2024", "ssvae_splits_1373.csv", verify)
    frac = raw[list(DVAE_ELEMENTS)].to_numpy(np.float64)
    # The paper's model reads exactly these 30 fractions; keep them as given (no renormalisation) and
    # only derive the canonical formula from them.
    parsed = Parsed(frac, DVAE_ELEMENTS, canonical_formulas(frac, DVAE_ELEMENTS), [""] * len(raw))
    meta = {"split": raw["split"].astype(str), "orig_index": raw["orig_index"].astype(np.int64),
            "formula_raw": raw["Alloys"].astype(str), "single_phase": raw["Class"].astype(np.int64)}
    tail = {c: raw[c].to_numpy() for c in DVAE_FEATURES}
    tail.update({f"{c}_n": raw[f"{c}_n"].to_numpy() for c in DVAE_FEATURES})
    return tidy_frame(meta, parsed, source="zeng2024", tail=tail)


def load_dvae_splits(*, verify: bool | None = None) -> pd.DataFrame:
    """The d-VAE paper's 1373 alloys with its exact splits (Zeng, Khan, Post, arXiv 2409.06740).

    ``split``: labelled 864 / unlabelled 296 / validation 75 / test 138 (the unlabelled rows keep
    their true labels; the paper hides them in training). ``single_phase`` is the paper's Class.
    Element columns are the paper's 30 fractions in its order (Fe, Ni, Cr, Co, Al, …, Li, Sc; see
    DVAE_ELEMENTS), exactly as given. The raw features ``k … delta_h_mix`` and the z-scored ``*_n``
    (mean/population-std over all 1373 rows) are kept with the paper's conventions (``vac`` counts
    all non-core electrons; ΔH from qmpy's Miedema pairs). ``orig_index`` indexes the merged table.
    """
    return get("dvae_splits", verify)
