"""Train the bundled default phase model used by `hea-fast screen` / `make demo`.

SparseMixtureClassifier (anchor-guided sparse Bayesian logistic mixture, arXiv 2504.20354) fitted
on the Singh 2023 phase sheet (single phase vs not), with the default anchors (Senkov-type
refractory and Cantor) and descriptor subsets up to size 3 from the default candidates, seed 0.
Writes hea_fast/data/models/mixture_default/ (JSON + npz, no pickle).

    HEA_FAST_DATA=../shared/data python scripts/train_default_mixture.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from hea_fast import datasets
from hea_fast.mixture import SparseMixtureClassifier

OUT = Path(__file__).resolve().parents[1] / "hea_fast" / "data" / "models" / "mixture_default"


def main() -> int:
    df = datasets.load_singh2023()
    df = df[df["single_phase"].notna()]
    # keep alloys whose every element has complete data in the default table (drops e.g. N, C, B)
    import numpy as np

    from hea_fast.elements import PROPERTIES, ElementTable

    tab = ElementTable.load("default")
    els = [c for c in df.columns if c in tab]
    complete = {e for e in els if np.isfinite(tab.property_matrix([e], PROPERTIES)).all()}
    present = df[els].to_numpy() > 0
    ok = ~(present[:, [e not in complete for e in els]]).any(axis=1)
    print(f"{int(ok.sum())} of {len(df)} alloys have complete element data", file=sys.stderr)
    df = df[ok]
    t0 = time.perf_counter()
    model = SparseMixtureClassifier(max_size=3, random_state=0, progress=True)
    model.fit(df["formula"].tolist(), df["single_phase"].astype(int).to_numpy())
    dt = time.perf_counter() - t0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    model.save(OUT)
    info = {
        "dataset": "singh2023 (via hea_fast.datasets.load_singh2023)",
        "n_train": int(len(df)),
        "fit_seconds": round(dt, 1),
        "selected_descriptors": list(model.selected_descriptors_),
        "free_energy_mixture": round(float(model.free_energy_), 2),
        "free_energy_global": round(float(model.global_free_energy_), 2),
        "seed": 0,
        "command": "HEA_FAST_DATA=../shared/data python scripts/train_default_mixture.py",
    }
    (OUT / "TRAINING.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
