"""d-VAE data splits (arXiv 2409.06740) as arrays for the SSVAE.

The paper's splits come from ``train_test_split(random_state=42)`` applied three times to the 1373
merged alloys (test 10 %, then unlabelled 30 % of the rest, then validation 20 % of the unlabelled
part) giving 864/296/75/138. Re-running that recipe on the table ordered by ``orig_index``
reproduces the released split files row for row (checked in tests/test_ssvae_train.py), so split
seed s means the same recipe with ``random_state=s``; seed 42 is the paper's split.

Compositions are returned in at.% (×100 of the fractions, float32, as the authors feed them) and
descriptors raw (units in `hea_fast.ssvae.model`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hea_fast.datasets import load_dvae_splits
from hea_fast.ssvae.model import FEATURES, TOP30

SPLITS = ("labelled", "unlabelled", "validation", "test")


@dataclass
class Split:
    x: np.ndarray  # (n, 30) at.% float32
    e: np.ndarray  # (n, 8) raw descriptors float32
    y: np.ndarray  # (n,) 0/1 float32
    alloys: np.ndarray  # (n,) formula strings as in the source
    orig_index: np.ndarray


def _table() -> pd.DataFrame:
    """The 1373 rows with a `split` column (paper's seed-42 split), ordered by orig_index."""
    df = load_dvae_splits()  # data home, checksum, DatasetNotFoundError naming the file
    # datasets' tidy names -> the source's (Alloys = formula as written, Class = single phase)
    df = df.rename(columns={"formula_raw": "Alloys", "single_phase": "Class"})
    return df.sort_values("orig_index").reset_index(drop=True)


def _as_split(df: pd.DataFrame) -> Split:
    return Split(
        x=(df[list(TOP30)].to_numpy(np.float32) * np.float32(100)),
        e=df[list(FEATURES)].to_numpy(np.float32),
        y=df["Class"].to_numpy(np.float32),
        alloys=df["Alloys"].to_numpy(),
        orig_index=df["orig_index"].to_numpy(),
    )


def load_splits(seed: int = 42) -> dict[str, Split]:
    """{labelled, unlabelled, validation, test} -> Split for split seed `seed` (42 = the paper's)."""
    from sklearn.model_selection import train_test_split

    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"split seed must be a non-negative integer, got {seed!r}")
    table = _table()
    lab, test = train_test_split(table, test_size=0.1, random_state=int(seed))
    lab, unl = train_test_split(lab, test_size=0.3, random_state=int(seed))
    unl, val = train_test_split(unl, test_size=0.2, random_state=int(seed))
    return {k: _as_split(v) for k, v in zip(SPLITS, (lab, unl, val, test))}


def paper_split_table() -> pd.DataFrame:
    """The released split table (paper's split labels in column `split`), ordered by orig_index."""
    return _table()
