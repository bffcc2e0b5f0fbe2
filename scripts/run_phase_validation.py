"""Run the cross-source phase validation into benchmarks/papers/phase_validation/ (issue #15).

Same arguments as `hea-fast validate phase` (hea_fast/commands/validate.py), with the output
folder defaulting to the benchmark folder; resumes from its results.jsonl when interrupted, so
adding a model to `hea_fast.validation.MODELS` and rerunning fits only the new model (the tables
cover every model of ``--models``, default all):

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 python scripts/run_phase_validation.py

Afterwards it writes the model selection (``selection.json``, ``selection.md``): per model, the
mean over the held-out sources of AUC, log-loss and ECE under leave-one-source-out (each source
weighs the same, whatever its size) with the pooled and grouped scores beside them. The rule that
picked the default phase model: the best mean AUC and mean log-loss across held-out sources,
decided on this protocol only. ``--selection-only`` rewrites these two files from an existing
results.json without running anything.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hea_fast._io import atomic_write, atomic_write_json, read_json
from hea_fast.commands import validate

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "papers" / "phase_validation"
DEFAULT_MODEL = "ensemble_forest_sources"  # what scripts/train_default_phase.py trains (the bundled default; ensemble_forest_soft until 2026-12-07 17:00 UTC)


def selection(results: dict, default: str = DEFAULT_MODEL) -> dict:
    """Per-model summary of results.json's score table: ``loso_source_mean`` (mean over held-out
    sources of auc, log_loss, ece, brier, accuracy), ``loso_all``, ``grouped``, ``random`` (pooled
    test rows), the ranks by mean AUC and mean log-loss, and whether `default` beats every other
    model on both means."""
    table = results["table"]
    models = list(dict.fromkeys(r["model"] for r in table))
    metrics = ("auc", "log_loss", "ece", "brier", "accuracy")
    out: dict = {"rule": "mean over the held-out sources (leave-one-source-out) of AUC (higher is better) and "
                         "log-loss (lower is better); nothing chosen on an independent set", "models": {}}
    for m in models:
        rows = [r for r in table if r["model"] == m]
        per = {r["subset"]: r for r in rows if r["protocol"] == "loso" and r["subset"] != "all"}
        entry = {"n_sources": len(per),
                 "loso_per_source": {s: {k: per[s][k] for k in metrics} for s in sorted(per)},
                 "loso_source_mean": {k: (sum(per[s][k] for s in per) / len(per) if per else None) for k in metrics}}
        for proto, key in (("loso", "loso_all"), ("grouped", "grouped"), ("random", "random")):
            hit = [r for r in rows if r["protocol"] == proto and r["subset"] == "all"]
            entry[key] = {k: hit[0][k] for k in metrics} if hit else None
        out["models"][m] = entry
    scored = {m: e["loso_source_mean"] for m, e in out["models"].items() if e["n_sources"]}
    by_auc = sorted(scored, key=lambda m: -scored[m]["auc"])
    by_ll = sorted(scored, key=lambda m: scored[m]["log_loss"])
    out["rank_mean_auc"], out["rank_mean_log_loss"] = by_auc, by_ll
    if default in scored:
        others = [m for m in scored if m != default]
        d = scored[default]
        out["default"] = {
            "model": default,
            "beats_all_on_mean_auc": all(d["auc"] >= scored[m]["auc"] for m in others),
            "ties_on_mean_auc": [m for m in others if d["auc"] == scored[m]["auc"]],
            "beats_all_on_mean_log_loss": all(d["log_loss"] <= scored[m]["log_loss"] for m in others),
            "ties_on_mean_log_loss": [m for m in others if d["log_loss"] == scored[m]["log_loss"]],
            "loso_pooled_ece": out["models"][default]["loso_all"]["ece"],
            "loso_mean_source_ece": d["ece"],
            "ece_target": 0.05,
        }
    return out


def selection_markdown(sel: dict) -> str:
    lines = ["| model | mean AUC | mean log-loss | mean ECE | pooled LOSO AUC | pooled LOSO log-loss | pooled LOSO ECE "
             "| grouped AUC | grouped log-loss |", "|---|---|---|---|---|---|---|---|---|"]
    for m in sel["rank_mean_log_loss"]:
        e = sel["models"][m]
        s, a, g = e["loso_source_mean"], e["loso_all"], e["grouped"] or {}
        lines.append(f"| {m} | {s['auc']:.3f} | {s['log_loss']:.3f} | {s['ece']:.3f} | {a['auc']:.3f} | "
                     f"{a['log_loss']:.3f} | {a['ece']:.3f} | {g.get('auc', float('nan')):.3f} | "
                     f"{g.get('log_loss', float('nan')):.3f} |")
    sources = sorted({s for e in sel["models"].values() for s in e["loso_per_source"]})
    lines += ["", "AUC / log-loss per held-out source:", "",
              "| model | " + " | ".join(sources) + " |", "|---|" + "---|" * len(sources)]
    for m in sel["rank_mean_log_loss"]:
        per = sel["models"][m]["loso_per_source"]
        lines.append(f"| {m} | " + " | ".join(f"{per[s]['auc']:.3f} / {per[s]['log_loss']:.3f}" if s in per else "–"
                                               for s in sources) + " |")
    if "default" in sel:
        d = sel["default"]
        ties = lambda k: f" (tied with {', '.join(d[k])})" if d.get(k) else ""  # noqa: E731
        lines += ["", f"Default `{d['model']}`: at least as good as every other model on mean AUC: "
                      f"{d['beats_all_on_mean_auc']}{ties('ties_on_mean_auc')}; on mean log-loss: "
                      f"{d['beats_all_on_mean_log_loss']}{ties('ties_on_mean_log_loss')}; out-of-source ECE "
                      f"{d['loso_pooled_ece']:.3f} pooled, {d['loso_mean_source_ece']:.3f} mean over sources "
                      f"(target <= {d['ece_target']})."]
    return "\n".join(lines) + "\n"


def write_selection(out_dir: Path) -> dict:
    sel = selection(read_json(out_dir / "results.json", what="validation results"))
    atomic_write_json(out_dir / "selection.json", sel, indent=1)
    atomic_write(out_dir / "selection.md", selection_markdown(sel))
    return sel


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from _checkout import warn_if_not_checkout

    warn_if_not_checkout()
    if "--selection-only" in argv:
        argv.remove("--selection-only")
        only = argparse.ArgumentParser(prog="run_phase_validation.py --selection-only")
        only.add_argument("-o", "--out", default=str(OUT))
        sel = write_selection(Path(only.parse_args(argv).out))
        print(selection_markdown(sel))
        return 0
    parser = argparse.ArgumentParser(prog="run_phase_validation.py")
    validate.register(parser.add_subparsers(dest="cmd"))
    if "--out" not in argv and "-o" not in argv:
        argv = ["--out", str(OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT)] + argv
    args = parser.parse_args(["phase"] + argv)
    try:
        rc = int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"run_phase_validation.py: error: {exc}", file=sys.stderr)
        return 2
    if rc == 0:
        print(selection_markdown(write_selection(Path(args.out))))
    return rc


if __name__ == "__main__":
    sys.exit(main())
