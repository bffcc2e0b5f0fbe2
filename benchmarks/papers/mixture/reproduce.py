"""Reproduce the sparse anchor-guided mixture of arXiv 2504.20354 on the Singh 2023 sheet and Yan 2021.

For each dataset:
  * full-data fit: ranked subset table, selected descriptors, per-cluster coefficients (Senkov
    NbMoTaW vs Cantor CoCrFeMnNi anchors), mixture WBIC vs the best single global model, automatic
    anchor selection over the anchor table, a K sweep;
  * held-out evaluation on stratified K-fold splits: the mixture, a single sparse Bayesian logistic
    regression (same WBIC subset search, K = 1), scikit-learn LogisticRegression and
    GradientBoosting on all candidate descriptors: accuracy, ROC-AUC, enrichment at p >= 0.75;
  * plots: WBIC ranking, clusters in descriptor space, enrichment curves (out-of-fold).

Usage (from the repository root; HEA_FAST_DATA pointing at the data home):
    nice -n 19 python benchmarks/papers/mixture/reproduce.py [--max-size 4] [--folds 5] [--out DIR] [--heldout-only] 2>&1 | tee out/run.log
--max-size is the paper's L (default 4; the committed out/ came from --max-size 3, see README.md). Model
probabilities are normalised over the subsets of size <= L of the candidates only.
Outputs go to benchmarks/papers/mixture/out/ (overwritten atomically file by file).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from hea_fast._io import atomic_path, atomic_write_json  # noqa: E402
from hea_fast.mixture.enrichment import enrichment, enrichment_curve  # noqa: E402
from hea_fast.mixture.model import DEFAULT_DESCRIPTORS, SparseMixtureClassifier, k_sweep  # noqa: E402

OUT = Path(__file__).resolve().with_name("out")


def load(name):
    """(descriptor frame, y, formulas, counts) with one row per distinct composition.

    hea_fast.datasets parses the sheet; `load_phase_dataset` keeps the first row of each composition
    (0.1 at.% resolution) and drops compositions whose rows disagree on the label; alloys whose
    elements lack data for a candidate descriptor (or with non-finite descriptors) are dropped."""
    from hea_fast.features import featurize
    from hea_fast.mixture.training_data import load_phase_dataset, supported_rows

    batch, y, src = load_phase_dataset(name)
    names = list(DEFAULT_DESCRIPTORS)
    mask, bad = supported_rows(batch, names)
    print(f"  {name}: {len(y)} distinct compositions with consistent labels; dropping {int((~mask).sum())} "
          f"without element/pair data or with non-finite descriptors (e.g. {bad[:6]})", flush=True)
    keep = np.flatnonzero(mask)
    batch, y = batch[keep], np.asarray(y, dtype=np.int64)[mask]
    F = featurize(batch, descriptors=names)[names].reset_index(drop=True)
    counts = dict(n_loaded=int(mask.size), dropped_unsupported=int((~mask).sum()))
    return F, y, list(batch.formulas()), src, counts


def descriptors(formulas):
    """Descriptor frame of plain formulas (the anchors); all must be supported."""
    from hea_fast.features import featurize

    names = list(DEFAULT_DESCRIPTORS)
    return featurize(list(formulas), descriptors=names)[names].reset_index(drop=True)


def anchor_frame(names):
    """Anchor descriptor rows (index = anchor names) from hea_fast/data/anchors.csv."""
    from hea_fast.mixture.anchors import resolve_anchors

    anames, formulas = resolve_anchors(names)
    F = descriptors(formulas)
    if not np.isfinite(F.to_numpy()).all():
        raise ValueError(f"anchors without finite descriptors: {anames}")
    F.index = anames
    return F


def save_csv(df, path):
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def baselines_fit_predict(Ftr, ytr, Fte, seed):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(Ftr, ytr)
    out["sklearn_logistic"] = lr.predict_proba(Fte)[:, 1]
    gb = GradientBoostingClassifier(random_state=seed).fit(Ftr, ytr)
    out["gradient_boosting"] = gb.predict_proba(Fte)[:, 1]
    return out


def metrics(y, p, thr=0.75, seed=0):
    from sklearn.metrics import roc_auc_score

    e = enrichment(y, p, threshold=thr, n_boot=1000, seed=seed)
    return dict(accuracy=float(((p >= 0.5) == y).mean()),
                roc_auc=float(roc_auc_score(y, p)) if len(set(y)) == 2 else math.nan,
                precision_at_075=e.precision, n_pass_075=e.n_pass, base_rate=e.base_rate,
                enrichment_075=e.enrichment, recall_075=e.recall)


def run_dataset(name, args):
    t0 = time.time()
    F, y, formulas, src, counts = load(name)
    info = dict(dataset=name, source=src, n=int(len(y)), n_single=int(y.sum()), **counts,
                descriptors=list(DEFAULT_DESCRIPTORS), max_size=args.max_size, folds=args.folds)
    print(f"[{name}] n = {len(y)} ({y.mean():.1%} single-phase)", flush=True)
    common = dict(max_size=args.max_size, n_iter=args.n_iter, burn_in=args.burn_in, n_chains=args.n_chains,
                  n_draws=args.n_draws, threads=args.threads, progress=not args.quiet)
    odir = Path(args.out) / name
    odir.mkdir(parents=True, exist_ok=True)

    # ---- full-data fit with the paper's anchor pair
    from hea_fast.mixture.anchors import DEFAULT_ANCHORS, load_anchor_table

    pair = anchor_frame(list(DEFAULT_ANCHORS))
    cands = anchor_frame(list(load_anchor_table()["name"]))
    common["anchors"] = pair
    if args.heldout_only:
        heldout(F, y, common, odir, info, name, t0, args.folds)
        info.update(heldout_only=True, runtime_s=time.time() - t0)
        atomic_write_json(odir / "results.json", info, indent=2,
                          default=lambda o: o.item() if hasattr(o, "item") else str(o))
        print(f"[{name}] held-out folds done in {info['runtime_s']:.0f} s", flush=True)
        return info
    m = SparseMixtureClassifier(random_state=0, checkpoint=str(odir / "search_full.ckpt.json"), **common).fit(F, y)
    rk = m.ranking_.copy()
    rk["subset"] = [" + ".join(s) for s in rk["subset"]]
    save_csv(rk.drop(columns=["indices"]).head(200), odir / "ranking_top200.csv")
    grk = m.global_ranking_.copy()
    grk["subset"] = [" + ".join(s) for s in grk["subset"]]
    save_csv(grk.drop(columns=["indices"]).head(50), odir / "global_ranking_top50.csv")
    co = m.coefficients()
    save_csv(co, odir / "coefficients.csv")
    m.save(odir / "model")
    info.update(anchors=m.anchor_names_, selected=m.selected_descriptors_,
                free_energy=m.free_energy_, free_energy_stderr=m.free_energy_stderr_,
                global_subset=[m.feature_names_in_[j] for j in m.global_subset_],
                global_free_energy=m.global_free_energy_, global_free_energy_stderr=m.global_free_energy_stderr_,
                cluster_sizes=[int(v) for v in m.cluster_sizes_],
                cluster_single_fraction=[float(a / b) if b else None for a, b in zip(m.cluster_positive_, m.cluster_sizes_)],
                top5=[dict(subset=r.subset, wbic=r.wbic, stderr=r.stderr, prob=r.model_prob)
                      for r in rk.head(5).itertuples()])
    print(f"[{name}] selected {m.selected_descriptors_}: mixture WBIC {m.free_energy_:.1f} vs global "
          f"{m.global_free_energy_:.1f} ({time.time() - t0:.0f} s)", flush=True)

    # ---- beyond the paper: automatic anchors and K sweep (smaller search to bound the runtime)
    if not args.skip_auto:
        ma = SparseMixtureClassifier(n_anchors=2, compare_global=False, random_state=0,
                                     **{**common, "anchors": "auto", "candidate_anchors": cands, "max_size": min(args.max_size, args.auto_max_size)}).fit(F, y)
        tab = ma.anchor_table_.copy()
        tab["anchors"] = [" + ".join(a) for a in tab["anchors"]]
        save_csv(tab.drop(columns=["indices"]), odir / "auto_anchor_table.csv")
        info["auto_anchors"] = dict(anchors=ma.anchor_names_, selected=ma.selected_descriptors_,
                                    wbic=ma.free_energy_, stderr=ma.free_energy_stderr_,
                                    scored_at_subset=tab.attrs.get("subset"),
                                    max_size=min(args.max_size, args.auto_max_size))
        kc = {k: v for k, v in common.items() if k != "anchors"}
        sw = k_sweep(F, y, ks=(1, 2, 3), random_state=0, candidate_anchors=cands, **{**kc, "max_size": min(args.max_size, args.auto_max_size)})
        sw["anchors"] = [" + ".join(a) for a in sw["anchors"]]
        sw["subset"] = [" + ".join(a) for a in sw["subset"]]
        save_csv(sw, odir / "k_sweep.csv")
        info["k_sweep"] = sw.to_dict(orient="records")
        print(f"[{name}] auto anchors {ma.anchor_names_}; K sweep WBIC {list(np.round(sw['wbic'], 1))} "
              f"({time.time() - t0:.0f} s)", flush=True)

    curves = heldout(F, y, common, odir, info, name, t0, args.folds)
    info["runtime_s"] = time.time() - t0
    plots(name, m, F, y, rk, curves, odir)
    atomic_write_json(odir / "results.json", info, indent=2,
                      default=lambda o: o.item() if hasattr(o, "item") else str(o))
    print(f"[{name}] done in {info['runtime_s']:.0f} s", flush=True)
    return info


def heldout(F, y, common, odir, info, name, t0, folds_n):
    """Stratified K-fold held-out evaluation; the subset search (to the same L) runs inside each
    training fold. Each fold's two searches checkpoint to odir/search_fold{k}_{mixture,global}.ckpt.json,
    so an interrupted run resumes where it stopped. Returns the out-of-fold enrichment curves."""
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=folds_n, shuffle=True, random_state=0)
    oof = {k: np.full(len(y), np.nan) for k in ("mixture", "bayes_logistic_single", "sklearn_logistic",
                                                "gradient_boosting")}
    rows = []
    for fold, (tr, te) in enumerate(skf.split(F, y)):
        Ftr, Fte, ytr, yte = F.iloc[tr], F.iloc[te], y[tr], y[te]
        ck = str(odir / f"search_fold{fold}_{{}}.ckpt.json")
        mm = SparseMixtureClassifier(random_state=fold, compare_global=False, checkpoint=ck.format("mixture"),
                                     **common).fit(Ftr, ytr)
        mg = SparseMixtureClassifier(random_state=fold, compare_global=False, checkpoint=ck.format("global"),
                                     **{**common, "anchors": ()}).fit(Ftr, ytr)
        preds = {"mixture": mm.predict_proba(Fte)[:, 1], "bayes_logistic_single": mg.predict_proba(Fte)[:, 1]}
        preds.update(baselines_fit_predict(Ftr.to_numpy(), ytr, Fte.to_numpy(), fold))
        for k, p in preds.items():
            oof[k][te] = p
            rows.append(dict(fold=fold, model=k, n_test=len(te), **metrics(yte, p, seed=fold),
                             selected=" + ".join(mm.selected_descriptors_) if k == "mixture" else
                             (" + ".join(mg.selected_descriptors_) if k == "bayes_logistic_single" else "")))
        print(f"[{name}] fold {fold}: " + ", ".join(f"{r['model']} acc {r['accuracy']:.3f} auc {r['roc_auc']:.3f} "
                                                      f"prec@.75 {r['precision_at_075']:.3f}"
                                                      for r in rows[-4:]) + f" ({time.time() - t0:.0f} s)", flush=True)
    folds = pd.DataFrame(rows)
    save_csv(folds, odir / "heldout_folds.csv")
    summ = folds.groupby("model")[["accuracy", "roc_auc", "precision_at_075", "n_pass_075", "enrichment_075",
                                   "recall_075"]].agg(["mean", "std"])
    summ.columns = [f"{a}_{b}" for a, b in summ.columns]
    summ = summ.reset_index()
    save_csv(summ, odir / "heldout_summary.csv")
    pooled = {k: dict(**metrics(y, p, seed=1), **{f"ci_{b}": v for b, v in zip(
        ("low", "high"), (lambda e: (e.ci_low, e.ci_high))(enrichment(y, p, 0.75, n_boot=2000, seed=1)))})
        for k, p in oof.items()}
    info["heldout_pooled"] = pooled
    info["heldout_summary"] = summ.to_dict(orient="records")
    curves = []
    for k, p in oof.items():
        c = enrichment_curve(y, p)
        c.insert(0, "model", k)
        curves.append(c)
    curves = pd.concat(curves)
    save_csv(curves, odir / "enrichment_curves.csv")
    return curves


def plots(name, m, F, y, rk, curves, odir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # WBIC ranking
    top = rk.head(30)
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.errorbar(top["wbic"], np.arange(len(top)), xerr=2 * top["stderr"], fmt="o", ms=3)
    ax.set_yticks(np.arange(len(top)))
    ax.set_yticklabels(top["subset"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("mixture WBIC (nats), ±2 s.e.")
    ax.set_title(f"{name}: top descriptor subsets (anchors {', '.join(m.anchor_names_)})")
    fig.tight_layout()
    fig.savefig(odir / "wbic_ranking.png", dpi=120)
    plt.close(fig)

    # clusters in descriptor space (first two selected descriptors, standardized)
    Z = m.standardizer_.transform(F[m.feature_names_in_].to_numpy())
    S = list(m.subset_)
    j0, j1 = (S + S)[:2] if len(S) >= 2 else (S[0], S[0])
    lab = m.cluster_of(F)
    fig, ax = plt.subplots(figsize=(7, 6))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
    for c in range(m.n_clusters_):
        for yy, mk in ((1, "o"), (0, "x")):
            sel = (lab == c) & (y == yy)
            ax.scatter(Z[sel, j0], Z[sel, j1], s=12, marker=mk, c=colors[c % 4], alpha=0.6,
                       label=f"{m.anchor_names_[c] if m.anchor_names_ else 'global'} cluster, "
                             f"{'single' if yy else 'multi'}-phase")
    A = m.anchors_z_
    ax.scatter(A[:, j0], A[:, j1], marker="*", s=300, c="k", label="anchors")
    for c, nm in enumerate(m.anchor_names_):
        ax.annotate(nm, (A[c, j0], A[c, j1]), xytext=(5, 5), textcoords="offset points")
    ax.set_xlabel(f"{m.feature_names_in_[j0]} (standardized)")
    ax.set_ylabel(f"{m.feature_names_in_[j1]} (standardized)")
    ax.legend(fontsize=7)
    ax.set_title(f"{name}: nearest-anchor clusters in the selected descriptors")
    fig.tight_layout()
    fig.savefig(odir / "clusters.png", dpi=120)
    plt.close(fig)

    # enrichment curves
    fig, ax = plt.subplots(figsize=(7, 5))
    for k, g in curves.groupby("model"):
        ax.plot(g["threshold"], g["precision"], marker=".", label=k)
    ax.axhline(curves.attrs.get("base_rate", y.mean()), color="gray", ls="--", label="base rate")
    ax.axhline(y.mean(), color="gray", ls="--")
    ax.axvline(0.75, color="k", ls=":", lw=0.8)
    ax.set_xlabel("threshold on p(single-phase)")
    ax.set_ylabel("fraction single-phase among passing (out-of-fold)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(f"{name}: enrichment curve")
    fig.tight_layout()
    fig.savefig(odir / "enrichment_curve.png", dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="singh2023,yan2021")
    ap.add_argument("--max-size", type=int, default=4, help="largest descriptor subset (the paper's L)")
    ap.add_argument("--auto-max-size", type=int, default=2, help="max_size for auto anchors and the K sweep")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-iter", type=int, default=300)
    ap.add_argument("--burn-in", type=int, default=100)
    ap.add_argument("--n-chains", type=int, default=4)
    ap.add_argument("--n-draws", type=int, default=250)
    ap.add_argument("--skip-auto", action="store_true")
    ap.add_argument("--heldout-only", action="store_true",
                    help="only the held-out folds (search inside each training fold), no full-data fit or plots")
    ap.add_argument("--threads", type=int, default=None, help="sampler threads (default: all cores)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--out", default=str(OUT), help="output folder (default: out/ next to this script)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = {}
    for name in args.datasets.split(","):
        res[name] = run_dataset(name.strip(), args)
    cfg = vars(args)
    atomic_write_json(out / "run_config.json", dict(args=cfg, argv=sys.argv), indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
