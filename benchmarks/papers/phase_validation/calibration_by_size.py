"""Where the default's out-of-source calibration error comes from: binaries against alloys of >= 3 elements.

Leave one source out, the stored held-out predictions of the default (`ensemble_forest_sources`) and of the
earlier default (`ensemble_forest_soft`), nothing refitted,
on both protocols (keyed: results.jsonl; tolerance-matched: loso_tol/results.jsonl). For the held-out rows
pooled over the six folds, split by the number of elements: accuracy, AUC, log-loss and expected
calibration error (`hea_fast.validation.metrics`: 10 equal-width bins, 95 % cluster bootstrap by alloy
system), the mean prediction against the single-phase rate, and, for the binaries, the same per held-out
source (whose labels for binaries disagree: Yan 2021 calls most of its binaries single phase, the Peivaste
compilation almost none).

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/calibration_by_size.py

Writes calibration_by_size.md next to this script (atomically); a few seconds.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import metrics_row, pooled_loso  # noqa: E402  (same folder)

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ensemble_forest_sources", "ensemble_forest_soft")  # the default since 2026-12-07 17:00 UTC, the earlier one
SHOWN = ("accuracy", "auc", "log_loss", "ece")
PROTOCOLS = (("keyed", HERE / "results.jsonl"), ("tolerance-matched", HERE / "loso_tol" / "results.jsonl"))


def row(name: str, y, p, groups) -> str:
    return metrics_row(name, y, p, groups, SHOWN, (f"{p.mean():.3f}", f"{y.mean():.3f}"))


def main() -> int:
    from hea_fast.validation import harmonised_phase_data

    data = harmonised_phase_data()
    head = "| held-out alloys | n | mean P | single-phase rate | " + " | ".join(SHOWN) + " |"
    rule = "|---|---|---|---|" + "---|" * len(SHOWN)
    out = ["# Calibration by alloy size (`calibration_by_size.py`)", "",
           "Leave one source out, the stored held-out predictions of the default `ensemble_forest_sources` (fitted "
           "per source) and of the earlier default `ensemble_forest_soft` (pooled rows), the model alone (no records "
           "blended), pooled over the six held-out sources. Value [95 % cluster bootstrap by alloy system].", ""]
    for (name, log), model in ((p, m) for m in MODELS for p in PROTOCOLS):
        y, p, n_el, groups, src = pooled_loso(data, log, model)
        out += [f"## `{model}`, {name}", "", head, rule]
        for label, m in (("all", np.ones_like(y, dtype=bool)), (">= 3 elements", n_el >= 3),
                         ("binaries", n_el == 2)):
            out.append(row(label, y[m], p[m], groups[m]))
        out += ["", "Binaries by held-out source:", "", head, rule]
        for s in sorted(set(src[n_el == 2])):
            m = (n_el == 2) & (src == s)
            if m.sum() >= 10:  # fewer rows give no interval worth printing
                out.append(row(s, y[m], p[m], groups[m]))
        out.append("")
    out += ["Reproduce: `HEA_FAST_DATA=../shared/data PYTHONPATH=. python "
            "benchmarks/papers/phase_validation/calibration_by_size.py`", ""]
    atomic_write(HERE / "calibration_by_size.md", "\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
