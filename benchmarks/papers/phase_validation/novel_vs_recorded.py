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

from _variant_log import metrics_row, pooled_loso  # noqa: E402  (same folder)

from hea_fast._io import atomic_write  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("ensemble_forest_sources", "ensemble_forest_soft")  # the default since 2026-12-07 17:00 UTC, the earlier one


def main() -> int:
    from hea_fast.phase.records import RecordTable
    from hea_fast.validation import element_columns, harmonised_phase_data

    data = harmonised_phase_data()
    els = element_columns(data)
    # the records other sources hold for each held-out row (the same for every model), sources in sorted order
    n_rec = np.concatenate([
        RecordTable.from_frame(data[data["source"] != held]).records_for(
            data.loc[data["source"] == held, els].to_numpy(), els)[0] for held in sorted(data["source"].unique())])
    shown = ("accuracy", "auc", "log_loss", "ece")
    out = ["# Novel and recorded held-out alloys (`novel_vs_recorded.py`)", "",
           "Leave one source out (keyed), the stored held-out predictions of the default `ensemble_forest_sources` "
           "and of the earlier default `ensemble_forest_soft` (the model alone, no records blended). Recorded: "
           "another source reports a composition within 1e-3. Value [95 % cluster bootstrap by alloy system].", ""]
    for model in MODELS:
        y, p, n_el, groups, _ = pooled_loso(data, HERE / "results.jsonl", model)
        out += [f"## `{model}`", "", "| held-out alloys | n | single-phase rate | " + " | ".join(shown) + " |",
                "|---|---|---|" + "---|" * len(shown)]
        for name, m in (("all", np.ones_like(y, dtype=bool)), ("recorded", n_rec > 0), ("novel", n_rec == 0),
                        ("novel, >= 3 elements", (n_rec == 0) & (n_el >= 3)),
                        ("novel, >= 4 elements", (n_rec == 0) & (n_el >= 4))):
            out.append(metrics_row(name, y[m], p[m], groups[m], shown, (f"{y[m].mean():.2f}",)))
        out.append("")
    out += ["Reproduce: `HEA_FAST_DATA=../shared/data PYTHONPATH=. python "
            "benchmarks/papers/phase_validation/novel_vs_recorded.py`", ""]
    atomic_write(HERE / "novel_vs_recorded.md", "\n".join(out))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
