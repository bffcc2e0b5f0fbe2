"""SSVAE data splits as arrays: the d-VAE paper's (arXiv 2409.06740) and their equivalent built from
the MIT-licensed Yan 2021 table (the bundled default model's training data).

``source="dvae"`` (default): the paper's splits come from ``train_test_split(random_state=42)`` applied three times to the 1373
merged alloys (test 10 %, then unlabelled 30 % of the rest, then validation 20 % of the unlabelled
part) giving 864/296/75/138. `shuffle_split` reproduces scikit-learn's recipe in NumPy (the same
indices in the same order, tested against ``train_test_split``), so loading the splits does not
import scikit-learn. Re-running that recipe on the table ordered by ``orig_index``
reproduces the released split files row for row (checked in tests/test_ssvae_train.py), so split
seed s means the same recipe with ``random_state=s``; seed 42 is the paper's split.

``source="yan2021"``: the same alloys rebuilt from the public sources only — `load_yan2021` (Yan,
Lu, Wang 2021 as republished by C. Zeng under the MIT licence) restricted to alloys whose elements
all lie in the model's 30, one row per composition (0.1 at.%: later duplicates dropped, and the
compositions that occur with both labels dropped entirely, 1364 rows), descriptors computed with
the bundled ``zeng2024`` table (equal to the paper's features, tests/test_elements.py). The same
three-split recipe then gives labelled / unlabelled / validation / test; the unlabelled rows are
labelled alloys whose labels are hidden in training, as in the paper. ``orig_index`` is the row of
``2021Yan_dataset.csv``.

Compositions are returned in at.% (×100 of the fractions, float32, as the authors feed them) and
descriptors raw (units in `hea_fast.ssvae.model`).
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
import pandas as pd

from hea_fast.datasets import DVAE_ELEMENTS as TOP30
from hea_fast.datasets import DVAE_FEATURES as FEATURES
from hea_fast.datasets import load_dvae_splits

SPLITS = ("labelled", "unlabelled", "validation", "test")
SOURCES = ("dvae", "yan2021")


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


def yan_table() -> pd.DataFrame:
    """The Yan 2021 alloys over the model's 30 elements (see the module docstring), ordered by their
    row in the source, with Alloys / Class / orig_index, the 30 fractions and the 8 descriptors."""
    from hea_fast.datasets import composition_batch, load_yan2021
    from hea_fast.features import featurize_array

    yan = load_yan2021()  # data home (or download), checksum; DatasetNotFoundError naming the file
    others = [e for e in yan.attrs["elements"] if e not in TOP30]
    keep = (yan["parse_error"] == "") & yan[others].fillna(0.0).eq(0.0).all(axis=1)
    keep &= ~yan["label_conflict"] & ~yan["duplicate"]
    rows = yan[keep]
    out = pd.DataFrame({"Alloys": rows["formula_raw"].to_numpy(), "Class": rows["single_phase"].to_numpy(np.int64),
                        "orig_index": np.flatnonzero(keep.to_numpy())})
    for e in TOP30:
        out[e] = rows[e].fillna(0.0).to_numpy(np.float64) if e in rows.columns else 0.0
    feats = featurize_array(composition_batch(rows), descriptors="zeng2024")
    for j, f in enumerate(FEATURES):
        out[f] = feats[:, j]
    return out


def shuffle_split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices of ``sklearn.model_selection.train_test_split(rows, test_size=test_size,
    random_state=seed)`` for n rows (shuffled, no stratification), computed as scikit-learn's
    ShuffleSplit does: the permutation ``np.random.RandomState(seed).permutation(n)``, whose first
    ceil(test_size * n) entries are the test rows and the rest the training rows, in that order."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"split seed must be an integer in [0, 2**32), got {seed!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size!r}")
    n_test = ceil(test_size * n)
    if not 0 < n_test < n:
        raise ValueError(f"cannot split {n} rows with test_size={test_size}: {n_test} test rows leave "
                         f"{n - n_test} for training")
    perm = np.random.RandomState(int(seed)).permutation(n)
    return perm[n_test:], perm[:n_test]


def _split_frames(table: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, ...]:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"split seed must be a non-negative integer, got {seed!r}")

    def split(df, test_size):
        train, test = shuffle_split(len(df), test_size, int(seed))
        return df.iloc[train], df.iloc[test]

    lab, test = split(table, 0.1)
    lab, unl = split(lab, 0.3)
    unl, val = split(unl, 0.2)
    return lab, unl, val, test


def load_splits(seed: int = 42, source: str = "dvae") -> dict[str, Split]:
    """{labelled, unlabelled, validation, test} -> Split for split seed `seed` (42 = the paper's).

    source: "dvae" (the paper's 1373 alloys and features, data home) or "yan2021" (the equivalent
    from the MIT-licensed Yan 2021 table, see the module docstring).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown split source {source!r}; choose one of {SOURCES}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"split seed must be a non-negative integer, got {seed!r}")
    table = _table() if source == "dvae" else yan_table()
    return {k: _as_split(v) for k, v in zip(SPLITS, _split_frames(table, seed))}


def paper_split_table() -> pd.DataFrame:
    """The released split table (paper's split labels in column `split`), ordered by orig_index."""
    return _table()
