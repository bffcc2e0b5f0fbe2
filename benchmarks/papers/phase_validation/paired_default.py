"""The default phase model against the models it replaced or stands beside, paired (issue #15).

Reads the stored held-out predictions of results.jsonl (nothing refitted) and compares the default
(`ensemble_distilled_soft`) with the first default (`ensemble`), the previous default
(`ensemble_distilled`), the `best` model (`ensemble_forest_soft`) and the previous `best`
(`ensemble_forest`) on the same rows: differences other − reference with a paired percentile
bootstrap over alloy systems (1,000 resamples, seed 0; `hea_fast.validation.scores.paired_difference`),
for leave-one-source-out (all held-out rows) and grouped K-fold.

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/paired_default.py

Writes paired_default.md next to this script (atomically); a few seconds.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from domain_eval import loso_predictions  # noqa: E402  (same folder)

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT = "ensemble_distilled_soft"
OTHERS = ("ensemble", "ensemble_distilled", "ensemble_forest_soft", "ensemble_forest")
SHOWN = ("log_loss", "brier", "auc", "ece", "accuracy")


def main() -> int:
    from hea_fast.validation.data import harmonised_phase_data
    from hea_fast.validation.protocols import grouped_folds, loso_folds
    from hea_fast.validation.scores import paired_difference

    data = harmonised_phase_data()
    lines = ["# The default phase model, paired (`paired_default.py`)", "",
             f"Differences `{DEFAULT}` − reference on the same held-out rows, 95 % paired cluster-bootstrap "
             "intervals (alloy systems, 1,000 resamples); an interval without 0 is a difference on these data.", "",
             "| protocol | reference | " + " | ".join(f"Δ{k}" for k in SHOWN) + " |", "|" + "---|" * (2 + len(SHOWN))]
    for proto, folds in (("loso", list(loso_folds(data))), ("grouped", list(grouped_folds(data, 5, 0)))):
        stored = loso_predictions(HERE / "results.jsonl", proto)
        y = np.concatenate([f.test["single_phase"].to_numpy() for f in folds])
        groups = np.concatenate([f.test["system"].to_numpy() for f in folds])
        p = {m: np.concatenate([stored[(f.name, m)] for f in folds]) for m in (DEFAULT,) + OTHERS}
        for ref in OTHERS:
            d = paired_difference(y, p[ref], p[DEFAULT], n_boot=1000, seed=0, groups=groups)
            lines.append(f"| {proto} | {ref} | " + " | ".join(
                f"{d[k]['value']:+.4f} [{d[k]['lo']:+.4f}, {d[k]['hi']:+.4f}]" for k in SHOWN) + " |")
    atomic_write(HERE / "paired_default.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
