"""Train the bundled default phase model used by `hea-fast screen` / `make demo`.

SparseMixtureClassifier (anchor-guided sparse Bayesian logistic mixture, arXiv 2504.20354) fitted
on the Singh 2023 phase sheet (single phase vs not; one row per distinct composition, compositions
with conflicting labels dropped), with the default anchors (Senkov-type
refractory and Cantor) and descriptor subsets up to size 3 from the default candidates, seed 0.
Writes hea_fast/data/models/mixture_default/ (JSON + npz, no pickle).

    HEA_FAST_DATA=../shared/data python scripts/train_default_mixture.py
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from hea_fast._io import atomic_write_json
from hea_fast.mixture import SparseMixtureClassifier
from hea_fast.mixture.training_data import load_phase_dataset, supported_rows

OUT = Path(__file__).resolve().parents[1] / "hea_fast" / "data" / "models" / "mixture_default"


def main() -> int:
    # one row per composition (0.1 at.%), compositions with conflicting labels dropped, alloys
    # without element/pair data for the default descriptors dropped: the same rows as
    # `hea-fast mixture fit singh2023` and benchmarks/papers/mixture/reproduce.py
    batch, y, src = load_phase_dataset("singh2023")
    mask, reasons = supported_rows(batch)
    print(f"{int(mask.sum())} of {mask.size} distinct compositions kept (dropped: {reasons})", file=sys.stderr)
    batch, y = batch[np.flatnonzero(mask)], y[mask]
    t0 = time.perf_counter()
    model = SparseMixtureClassifier(max_size=3, random_state=0, progress=True)
    model.fit(batch, y)
    dt = time.perf_counter() - t0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    model.save(OUT)
    info = {
        "dataset": f"singh2023 ({src}; one row per composition, consistent labels, supported elements)",
        "n_train": int(len(y)),
        "n_single_phase": int(y.sum()),
        "fit_seconds": round(dt, 1),
        "selected_descriptors": list(model.selected_descriptors_),
        "free_energy_mixture": round(float(model.free_energy_), 2),
        "free_energy_global": round(float(model.global_free_energy_), 2),
        "seed": 0,
        "command": "HEA_FAST_DATA=../shared/data python scripts/train_default_mixture.py",
    }
    atomic_write_json(OUT / "TRAINING.json", info, indent=2)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
