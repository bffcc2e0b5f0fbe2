"""How the default does on held-out alloys that no other source reports, against those another source does.

Leave one source out (keyed folds; the default's stored held-out predictions in results.jsonl, nothing
refitted). A held-out alloy is *recorded* when another source reports a composition within 1e-3 of it (the
rule `hea-fast phase predict` uses to blend an alloy with its records, `hea_fast.phase.records`), else
*novel*. An independent compilation's score is a mix of the two: the recorded part is answered from the
records (`memory_blend_tol.md`: nested 0.847 accuracy / 0.920 AUC), the novel part by the model alone
(below).

    HEA_FAST_DATA=../shared/data PYTHONPATH=. python benchmarks/papers/phase_validation/novel_vs_recorded.py

Writes novel_vs_recorded.md next to this script (atomically); ~10 s.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _variant_log import ci  # noqa: E402  (same folder)
from domain_eval import loso_predictions  # noqa: E402

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ensemble_forest_sources", "ensemble_forest_soft")  # the default since 2026-12-07 17:00 UTC, the earlier one


def main() -> int:
    from hea_fast.phase.records import RecordTable
    from hea_fast.validation import element_columns, harmonised_phase_data, metrics

    data = harmonised_phase_data()
    els = element_columns(data)
    preds = loso_predictions(HERE / "results.jsonl")
    shown = ("accuracy", "auc", "log_loss", "ece")
    out = ["# Novel and recorded held-out alloys (`novel_vs_recorded.py`)", "",
           "Leave one source out (keyed), the stored held-out predictions of the default `ensemble_forest_sources` "
           "and of the earlier default `ensemble_forest_soft` (the model alone, no records blended). Recorded: "
           "another source reports a composition within 1e-3. Value [95 % cluster bootstrap by alloy system].", ""]
    for model in MODELS:
        stored = {fold: p for (fold, m), p in preds.items() if m == model}
        y, p, n_el, n_rec, groups = [], [], [], [], []
        for held in sorted(stored):
            test = data[data["source"] == held]
            n, _ = RecordTable.from_frame(data[data["source"] != held]).records_for(test[els].to_numpy(), els)
            y.append(test["single_phase"].to_numpy(float))
            p.append(stored[held])
            n_el.append(test["n_elements"].to_numpy())
            n_rec.append(n)
            groups.append(test["system"].to_numpy())
        y, p, n_el, n_rec, groups = (np.concatenate(a) for a in (y, p, n_el, n_rec, groups))
        out += [f"## `{model}`", "", "| held-out alloys | n | single-phase rate | " + " | ".join(shown) + " |",
                "|---|---|---|" + "---|" * len(shown)]
        for name, m in (("all", np.ones_like(y, dtype=bool)), ("recorded", n_rec > 0), ("novel", n_rec == 0),
                        ("novel, >= 3 elements", (n_rec == 0) & (n_el >= 3)),
                        ("novel, >= 4 elements", (n_rec == 0) & (n_el >= 4))):
            r = metrics(y[m], p[m], n_boot=1000, seed=0, groups=groups[m])
            out.append(f"| {name} | {int(m.sum()):,} | {y[m].mean():.2f} | "
                       + " | ".join(ci(r[k]) for k in shown) + " |")
        out.append("")
    out += ["Reproduce: `HEA_FAST_DATA=../shared/data PYTHONPATH=. python "
            "benchmarks/papers/phase_validation/novel_vs_recorded.py`", ""]
    atomic_write(HERE / "novel_vs_recorded.md", "\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
