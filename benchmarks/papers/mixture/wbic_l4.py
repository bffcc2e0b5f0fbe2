"""WBIC subset search to L = 4 on the Singh 2023 sheet (arXiv 2504.20354's data), with its statistics.

What it runs (default anchors NbMoTaW + CoCrFeMnNi, the 15 `DEFAULT_DESCRIPTORS`, the sampler
settings of reproduce.py):

1. the exhaustive mixture search over all 1,940 subsets of size <= 4 of the 15 candidates, and the
   same search for one global model (K = 1); both resumable (``*.ckpt.json`` next to the outputs).
   The standardization, anchors, seeds and chunking are those of
   ``SparseMixtureClassifier(max_size=4, random_state=0)``, so the subsets of size <= 3 get the
   values of the L <= 3 run in ``out/singh2023/ranking_top200.csv``;
2. the rank, WBIC and model probability of the paper's 4-descriptor set {delta, VEC, chi_allen_mean,
   dchi_allen} and of the selected set; the marginal inclusion probability of each descriptor;
   Monte Carlo intervals for both (parametric bootstrap of each subset's WBIC within its standard
   error: the sampler's error only, not the error of WBIC as an approximation of the free energy);
   the same under the "size" prior (uniform over sizes) as a sensitivity check;
3. a re-scoring of the contenders (top 10, the paper's set, every drop-one subset below) with an
   independent seed, each cluster's WBIC to a standard error <= ``--refine-stderr`` (so the
   mixture's, a sum over 2 clusters, to <= sqrt(2) times that);
4. the ablation: drop each descriptor of the selected set (and of the paper's set) in turn; the
   WBIC of the smaller set, and the out-of-fold enrichment at p >= 0.75 (5-fold stratified CV,
   seed 0, the folds of reproduce.py; each fold refits the mixture on that fixed subset).

Usage (repository root, HEA_FAST_DATA pointing at the data home):
    nice -n 19 python benchmarks/papers/mixture/wbic_l4.py [--out DIR] [--quiet]
Outputs: DIR (default out/singh2023_L4/): ranking_L4.csv (every subset), global_ranking_L4.csv,
marginals.csv, contenders.csv, ablation.csv, summary.json; each finished run is appended to
out/runs.jsonl.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import reproduce as R  # noqa: E402  (puts the repository root on sys.path)

from hea_fast._io import atomic_write_json  # noqa: E402
from hea_fast.mixture.anchors import DEFAULT_ANCHORS, Standardizer  # noqa: E402
from hea_fast.mixture.enrichment import enrichment  # noqa: E402
from hea_fast.mixture.model import DEFAULT_DESCRIPTORS, SparseMixtureClassifier  # noqa: E402
from hea_fast.mixture.search import search_subsets  # noqa: E402

PAPER_SET = ("delta", "VEC", "chi_allen_mean", "dchi_allen")


def append_run(record: dict, log: Path) -> None:
    """Append one JSON line to the results log (rewritten atomically)."""
    old = log.read_text() if log.exists() else ""
    from hea_fast._io import atomic_write

    atomic_write(log, old + json.dumps(record, default=str) + "\n")


def logsumexp(a, axis=None):
    m = np.max(a, axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def probabilities(wbic, logp):
    s = -(np.asarray(wbic) - logp)
    return np.exp(s - logsumexp(s, axis=-1)[..., None] if s.ndim > 1 else s - logsumexp(s))


def marginals(rk: pd.DataFrame, names, logp, n_boot=2000, seed=0):
    """Posterior inclusion probability of each descriptor, and its Monte Carlo 95 % interval
    (each subset's WBIC redrawn from N(wbic, stderr^2), independently)."""
    w, se = rk["wbic"].to_numpy(), rk["stderr"].to_numpy()
    inc = np.array([[names[j] in s for j in range(len(names))] for s in rk["subset"]], dtype=float)
    p = probabilities(w, logp)
    rng = np.random.default_rng(seed)
    W = w[None, :] + se[None, :] * rng.standard_normal((n_boot, w.size))
    P = probabilities(W, logp[None, :])
    M = P @ inc  # (n_boot, p)
    out = pd.DataFrame(dict(descriptor=names, inclusion=p @ inc, mc_low=np.quantile(M, 0.025, axis=0),
                            mc_high=np.quantile(M, 0.975, axis=0)))
    return out, P


def oof_fixed_subset(F, y, subset, anchors_df, folds, args):
    """Out-of-fold P(single) of the mixture on a fixed descriptor subset (refitted in every fold)."""
    cols = list(subset)
    k = len(cols)
    oof = np.full(len(y), np.nan)
    for fold, (tr, te) in enumerate(folds):
        m = SparseMixtureClassifier(
            anchors=anchors_df[cols], descriptors=cols, max_size=k, compare_global=False,
            model_prior=lambda s, k=k: 0.0 if len(s) == k else -math.inf,  # only the full subset
            n_iter=args.n_iter, burn_in=args.burn_in, n_chains=args.n_chains, n_draws=args.n_draws,
            random_state=fold)
        m.fit(F.iloc[tr][cols], y[tr])
        assert tuple(m.selected_descriptors_) == tuple(cols)
        oof[te] = m.predict_proba(F.iloc[te][cols])[:, 1]
    return oof


def heldout_metrics(y, p):
    from sklearn.metrics import roc_auc_score

    e = enrichment(y, p, threshold=0.75, n_boot=2000, seed=1)
    pc = np.clip(p, 1e-12, 1 - 1e-12)
    return dict(precision_075=e.precision, ci_low=e.ci_low, ci_high=e.ci_high, n_pass=e.n_pass,
                recall_075=e.recall, enrichment_075=e.enrichment, roc_auc=float(roc_auc_score(y, p)),
                log_loss=float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="singh2023")
    ap.add_argument("--max-size", type=int, default=4)
    ap.add_argument("--n-iter", type=int, default=300)
    ap.add_argument("--burn-in", type=int, default=100)
    ap.add_argument("--n-chains", type=int, default=4)
    ap.add_argument("--n-draws", type=int, default=250)
    ap.add_argument("--refine-stderr", type=float, default=0.05)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--search-only", action="store_true", help="stop after the two searches")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else HERE / "out" / f"{args.dataset}_L{args.max_size}"
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    load0 = os.getloadavg()

    F, y, formulas, src, counts = R.load(args.dataset)
    names = list(DEFAULT_DESCRIPTORS)
    F = F[names]
    st = Standardizer.fit(F.to_numpy())
    Z = st.transform(F.to_numpy())
    anchors_df = R.anchor_frame(list(DEFAULT_ANCHORS))[names]
    Az = st.transform(anchors_df.to_numpy())
    common = dict(prior_var=10.0, beta_n="cluster", n_iter=args.n_iter, burn_in=args.burn_in,
                  n_chains=args.n_chains, seed=0, chunk_size=64, progress=not args.quiet)
    L = args.max_size
    ts = time.time()
    rk = search_subsets(Z, y, names, L, anchors=Az, checkpoint=out / f"search_mixture_L{L}.ckpt.json", **common)
    t_mix = time.time() - ts
    print(f"[{args.dataset}] mixture search L <= {L}: {len(rk)} subsets ({t_mix:.0f} s)", flush=True)
    ts = time.time()
    grk = search_subsets(Z, y, names, L, checkpoint=out / f"search_global_L{L}.ckpt.json", **common)
    t_glob = time.time() - ts
    print(f"[{args.dataset}] global search L <= {L}: {len(grk)} subsets ({t_glob:.0f} s)", flush=True)
    if args.search_only:
        append_run(dict(script="wbic_l4.py", argv=sys.argv, finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                        search_seconds=dict(mixture=round(t_mix, 1), global_=round(t_glob, 1)),
                        loadavg_start=load0, loadavg_end=os.getloadavg()), HERE / "out" / "runs.jsonl")
        return 0

    def tab(df):
        d = df.copy()
        d["subset"] = [" + ".join(s) for s in d["subset"]]
        return d.drop(columns=["indices"])

    R.save_csv(tab(rk), out / f"ranking_L{L}.csv")
    R.save_csv(tab(grk), out / f"global_ranking_L{L}.csv")

    info = dict(dataset=args.dataset, n=int(len(y)), n_single=int(y.sum()), candidates=names,
                n_candidates=len(names), max_size=L, n_subsets=int(len(rk)), anchors=list(DEFAULT_ANCHORS),
                prior="uniform over the subsets of size <= L of the candidates",
                sampler=dict(n_iter=args.n_iter, burn_in=args.burn_in, n_chains=args.n_chains, seed=0),
                search_seconds=dict(mixture=t_mix, global_=t_glob,
                                    note="this invocation only; ~0 when the searches resumed from their "
                                         "checkpoints (see out/runs.jsonl for the run that did them)"))

    key = {tuple(s): i for i, s in enumerate(rk["subset"])}
    best = tuple(rk.iloc[0]["subset"])
    paper = tuple(n for n in names if n in PAPER_SET)  # candidate order

    def row(s):
        r = rk.iloc[key[tuple(s)]]
        return dict(subset=" + ".join(s), rank=int(r["rank"]), wbic=float(r["wbic"]), stderr=float(r["stderr"]),
                    model_prob=float(r["model_prob"]))

    # ---- probabilities and marginals (uniform prior over the 1,940 subsets; then "size" prior)
    logp_u = np.zeros(len(rk))
    marg_u, P_u = marginals(rk, names, logp_u)
    logp_s = np.array([-math.lgamma(len(names) + 1) + math.lgamma(len(s) + 1) + math.lgamma(len(names) - len(s) + 1)
                       for s in rk["subset"]])
    marg_s, P_s = marginals(rk, names, logp_s)
    marg = marg_u.rename(columns={"inclusion": "inclusion_uniform", "mc_low": "mc_low_uniform",
                                  "mc_high": "mc_high_uniform"})
    marg["inclusion_size_prior"] = marg_s["inclusion"].to_numpy()
    marg["mc_low_size_prior"] = marg_s["mc_low"].to_numpy()
    marg["mc_high_size_prior"] = marg_s["mc_high"].to_numpy()
    marg = marg.sort_values("inclusion_uniform", ascending=False)
    R.save_csv(marg, out / "marginals.csv")
    ib, ip = key[best], key[paper]
    info["selected"] = dict(**row(best), prob_mc95=[float(np.quantile(P_u[:, ib], q)) for q in (0.025, 0.975)],
                            prob_size_prior=float(probabilities(rk["wbic"].to_numpy(), logp_s)[ib]))
    info["paper_set"] = dict(**row(paper), prob_mc95=[float(np.quantile(P_u[:, ip], q)) for q in (0.025, 0.975)],
                             prob_size_prior=float(probabilities(rk["wbic"].to_numpy(), logp_s)[ip]),
                             delta_wbic_vs_selected=float(rk.iloc[ip]["wbic"] - rk.iloc[ib]["wbic"]),
                             delta_stderr=float(math.hypot(rk.iloc[ip]["stderr"], rk.iloc[ib]["stderr"])))
    info["prob_by_size"] = {int(k): float(v) for k, v in rk.groupby("size")["model_prob"].sum().items()}
    info["global_best"] = dict(subset=" + ".join(grk.iloc[0]["subset"]), wbic=float(grk.iloc[0]["wbic"]),
                               stderr=float(grk.iloc[0]["stderr"]))
    info["marginals"] = marg.to_dict(orient="records")
    print(f"[{args.dataset}] selected {best} rank 1 WBIC {rk.iloc[ib]['wbic']:.2f} ± {rk.iloc[ib]['stderr']:.2f} "
          f"p {rk.iloc[ib]['model_prob']:.3f}; paper set rank {int(rk.iloc[ip]['rank'])} WBIC "
          f"{rk.iloc[ip]['wbic']:.2f} p {rk.iloc[ip]['model_prob']:.2e}", flush=True)

    # ---- drop-one sets, contenders and their re-scoring with an independent seed
    def drops(s):
        return [tuple(x for x in s if x != d) for d in s]

    sets = [tuple(s) for s in rk["subset"].head(10)] + [paper] + drops(best) + drops(paper)
    if len(best) < L:  # adding one descriptor to the selected set, for completeness
        sets += [tuple(n for n in names if n in best or n == a) for a in names if a not in best]
    sets = list(dict.fromkeys(sets))
    idx = [tuple(names.index(n) for n in s) for s in sets]
    ts = time.time()
    ref = search_subsets(Z, y, names, subsets=idx, anchors=Az, target_stderr=args.refine_stderr,
                         checkpoint=out / "refine.ckpt.json",
                         **{**common, "seed": 1, "n_iter": args.n_iter, "progress": not args.quiet})
    t_ref = time.time() - ts
    rmap = {tuple(s): r for s, r in zip(ref["subset"], ref.itertuples())}
    cont = pd.DataFrame([dict(**row(s), wbic_refined=float(rmap[s].wbic), stderr_refined=float(rmap[s].stderr),
                              n_iter_refined=int(rmap[s].n_iter)) for s in sets])
    R.save_csv(cont, out / "contenders.csv")
    info["refine"] = dict(seed=1, target_stderr=args.refine_stderr, seconds=t_ref, n_sets=len(sets))
    print(f"[{args.dataset}] re-scored {len(sets)} contender subsets to stderr <= {args.refine_stderr} "
          f"({t_ref:.0f} s)", flush=True)

    # ---- ablation: WBIC (refined values) and out-of-fold enrichment of each drop-one subset
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0).split(F, y))
    rows = []
    ts = time.time()
    for base in dict.fromkeys([best, paper]):
        fb, eb = rmap[base], None
        for s, dropped in [(base, None)] + list(zip(drops(base), base)):
            p = oof_fixed_subset(F, y, s, anchors_df, folds, args)
            m = heldout_metrics(y, p)
            if dropped is None:
                eb = m
            r = rmap[s]
            rows.append(dict(base=" + ".join(base), dropped=dropped or "(none)", subset=" + ".join(s),
                             wbic=float(r.wbic), stderr=float(r.stderr),
                             delta_wbic=float(r.wbic - fb.wbic), delta_stderr=float(math.hypot(r.stderr, fb.stderr)),
                             **m, delta_precision_075=m["precision_075"] - eb["precision_075"],
                             delta_log_loss=m["log_loss"] - eb["log_loss"]))
            print(f"  ablation {rows[-1]['base']} - {rows[-1]['dropped']}: ΔWBIC {rows[-1]['delta_wbic']:+.2f} "
                  f"± {rows[-1]['delta_stderr']:.2f}, precision@0.75 {m['precision_075']:.3f} "
                  f"[{m['ci_low']:.3f}, {m['ci_high']:.3f}] ({m['n_pass']} pass), AUC {m['roc_auc']:.3f}", flush=True)
    abl = pd.DataFrame(rows)
    R.save_csv(abl, out / "ablation.csv")
    info["ablation"] = abl.to_dict(orient="records")
    info["ablation_seconds"] = time.time() - ts
    info["runtime_s"] = time.time() - t0
    info["loadavg_start"] = list(load0)
    info["loadavg_end"] = list(os.getloadavg())
    info["argv"] = sys.argv
    atomic_write_json(out / "summary.json", info, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    append_run(dict(script="wbic_l4.py", argv=sys.argv, finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                    runtime_s=round(info["runtime_s"], 1), loadavg_start=load0, loadavg_end=os.getloadavg(),
                    selected=info["selected"], paper_set=info["paper_set"]), HERE / "out" / "runs.jsonl")
    print(f"[{args.dataset}] done in {info['runtime_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
