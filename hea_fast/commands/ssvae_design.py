"""`hea-fast ssvae generate|nudge` — inverse design with the SSVAE (arXiv 2409.06740).

generate  decode latent points z with a target probability of single phase; the decoded composition
          is projected onto the design constraints (by default the high-entropy-alloy definition:
          5 or more elements, each 5-35 at.%), rounded to whole at.% that still meet them, re-scored
nudge     the iterative design loop from start alloys; whole trajectories, the best step (+ a PNG)

Constraints (hea_fast.ssvae.design.Constraints) are honoured by every mode: --allow / --forbid /
--require, --bound El=lo:hi (at.%), --min-elements / --max-elements, --min-fraction /
--max-fraction (at.% of every element present), and a cost penalty.
"""
from __future__ import annotations

import sys

from hea_fast.commands._common import add_command, atpct, csv_list, parse_bounds, positive_int, probability, say
from hea_fast.commands._tables import output_table
from hea_fast.commands.ssvae import MODEL_HELP


def _constraints(args, cmd: str):
    from hea_fast.ssvae.design import Constraints

    cost = {}
    for item in csv_list(args.cost or ""):
        el, _, v = item.partition("=")
        try:
            cost[el.strip()] = float(v)
        except ValueError:
            raise ValueError(f"--cost item {item!r}: expected ELEMENT=VALUE") from None
    if args.cost_csv:
        from hea_fast.commands._tables import read_table

        df = read_table(args.cost_csv)
        if not {"element", "cost"} <= set(df.columns):
            raise ValueError(f"{args.cost_csv}: needs columns 'element' and 'cost', has {list(df.columns)}")
        cost.update({str(e): float(c) for e, c in zip(df["element"], df["cost"])})
    if args.cost_weight and not cost:
        raise ValueError("--cost-weight needs --cost or --cost-csv")
    hea = not getattr(args, "no_hea", False)
    return Constraints(allowed=tuple(csv_list(args.allow)) if args.allow else None,
                       forbidden=tuple(csv_list(args.forbid or "")), required=tuple(csv_list(args.require or "")),
                       bounds=parse_bounds(args.bound, cmd=cmd), cost=cost, cost_weight=float(args.cost_weight or 0.0),
                       min_elements=args.min_elements if hea else None, max_elements=args.max_elements,
                       min_fraction=args.min_fraction if hea else None,
                       max_fraction=args.max_fraction if hea else None)


def _add_constraints(p, hea: bool):
    g = p.add_argument_group("design constraints (not in the paper); amounts in at.%")
    g.add_argument("--allow", help="comma-separated elements that may appear (default: the model's 30)")
    g.add_argument("--forbid", help="comma-separated elements that must not appear (default: none)")
    g.add_argument("--require", help="comma-separated elements every alloy contains (default: none)")
    g.add_argument("--bound", action="append", metavar="El=LO:HI",
                   help="at.%% range of an element when present, e.g. Al=0:10 (repeatable; LO > 0 requires it) "
                   "(default: none)")
    if hea:
        g.add_argument("--min-elements", type=positive_int, default=5,
                       help="fewest elements per alloy (the HEA definition: 5; CoCrFeNi-type quaternaries need 4)")
        g.add_argument("--min-fraction", type=atpct, default=5.0, help="at.%% of every element present, at least")
        g.add_argument("--max-fraction", type=atpct, default=35.0, help="at.%% of every element present, at most")
        g.add_argument("--no-hea", action="store_true",
                       help="decode as the paper does: drop --min-elements, --min-fraction and --max-fraction")
    else:
        g.add_argument("--min-elements", type=positive_int, default=None, help="fewest elements per alloy "
                       "(default: no limit; e.g. 5 with --min-fraction 5 --max-fraction 35 for the HEA definition)")
        g.add_argument("--min-fraction", type=atpct, default=None,
                       help="at.%% of every element present, at least (default: no limit)")
        g.add_argument("--max-fraction", type=atpct, default=None,
                       help="at.%% of every element present, at most (default: no limit)")
    g.add_argument("--max-elements", type=positive_int, default=None, help="most elements per alloy (default: no limit)")
    g.add_argument("--cost", help="per-element cost, e.g. Co=30,Ni=15 (any unit: $/kg, density, ...) (default: none)")
    g.add_argument("--cost-csv", help="CSV with columns element,cost (default: none)")
    g.add_argument("--cost-weight", type=float, default=0.0, help="λ in p_i ∝ p_i·exp(−λ·cost_i), per cost unit")


def _parse_z(args, z_dim):
    import numpy as np

    pts = []
    for s in args.z or []:
        try:
            v = [float(t) for t in s.split(",")]
        except ValueError:
            raise ValueError(f"--z {s!r}: expected comma-separated numbers, e.g. 0.1,-0.4") from None
        pts.append(v)
    if args.grid:
        axes = []
        for part in args.grid.split(","):
            try:
                lo, hi, n = part.split(":")
                if int(n) < 1:
                    raise ValueError
                axes.append(np.linspace(float(lo), float(hi), int(n)))
            except ValueError:
                raise ValueError(f"--grid {args.grid!r}: expected LO:HI:N (N >= 1) per latent axis, "
                                 "comma-separated") from None
        mesh = np.meshgrid(*axes, indexing="ij")
        pts += np.stack([m.ravel() for m in mesh], 1).tolist()
    if not pts:
        raise ValueError("give latent points with --z and/or --grid")
    bad = [q for q in pts if len(q) != z_dim]
    if bad:
        raise ValueError(f"latent point {bad[0]} has {len(bad[0])} coordinates; the model's latent size is {z_dim}")
    return np.asarray(pts)


def _generate(args):
    from hea_fast.commands._common import load_ssvae_model
    from hea_fast.commands._tables import write_table
    from hea_fast.ssvae.design import generate

    model = load_ssvae_model(args.model)
    z = _parse_z(args, model.config.z_dim)
    cons = _constraints(args, "ssvae generate")
    els = model.config.elements
    if cons.shaped():
        cons.count_range(els)  # an infeasible request stops here, in one line
    df = generate(model, z, args.p, constraints=cons)
    why = [cons.violations(els, _atpct_row(els, a)) if a else "no composition" for a in df["alloy"]]
    bad = [i for i, w in enumerate(why) if w]
    if bad:  # cannot happen with a feasible projection; reported rather than written
        say("ssvae generate", f"{len(bad)} of {len(df)} latent points gave no alloy meeting the constraints, "
            f"e.g. {df['alloy'].iloc[bad[0]]!r}: {why[bad[0]]}")
        df = df.drop(index=df.index[bad]).reset_index(drop=True)
    if not len(df):
        raise ValueError("no latent point gave an alloy meeting the constraints; widen them")
    write_table(df, args.output)
    print(f"wrote {args.output}: {len(df)} alloys ({df['alloy'].nunique()} distinct, {int(df['n_elements'].min())}-"
          f"{int(df['n_elements'].max())} elements), mean |p_target − p_single| = {df['abs_error'].mean():.3f}")
    return 0


def _atpct_row(elements, formula: str):
    import re

    import numpy as np

    amounts = dict((e, float(v)) for e, v in re.findall(r"([A-Z][a-z]?)(\d+)", formula))
    return np.array([amounts.get(e, 0.0) for e in elements])


def _background(model):
    """(z of the labelled training alloys, their labels) for the nudge plot, or (None, None) without
    the data home."""
    from hea_fast.ssvae.data import load_splits
    from hea_fast.ssvae.plots import latent_loc

    try:
        s = load_splits(int((getattr(model, "training_info", None) or {}).get("split_seed", 42)))["labelled"]
    except (OSError, ValueError) as exc:
        say("ssvae nudge", f"plot drawn without the training alloys ({exc})")
        return None, None
    return latent_loc(model, s.x, s.y), s.y


def _nudge(args):
    import pandas as pd

    from hea_fast.commands._common import load_ssvae_model
    from hea_fast.commands._tables import write_table
    from hea_fast.ssvae import plots
    from hea_fast.ssvae.design import best_step, compositions_to_atpct, nudge

    model = load_ssvae_model(args.model)
    cons = _constraints(args, "ssvae nudge")
    if cons.shaped():
        cons.count_range(model.config.elements)
    compositions_to_atpct(model, list(args.formula))  # every bad start alloy named before any loop runs
    trajs = []
    for f in args.formula:
        t = nudge(model, f, cutoff=args.cutoff, max_steps=args.max_steps, constraints=cons)
        t.insert(0, "start_alloy", f)
        t["best"] = False
        t.loc[t.index[int(t["p_single"].to_numpy().argmax())], "best"] = True
        trajs.append(t)
        first, best, last = t.iloc[0], best_step(t), t.iloc[-1]
        print(f"{f}: start {first['alloy']} (p_single {first['p_single']:.3f}); best step {int(best['step'])}: "
              f"{best['alloy']} (p_single {best['p_single']:.3f}); "
              + (f"reached {args.cutoff:g} at step {int(last['step'])}" if last["reached"] else
                 f"{args.cutoff:g} not reached in {int(last['step'])} steps (last {last['alloy']}, "
                 f"{last['p_single']:.3f})"))
    df = pd.concat(trajs, ignore_index=True)
    write_table(df, args.output)
    if args.plot:
        bg, bgc = _background(model)
        plots.nudge_trajectory(trajs[0], args.plot, background=bg, background_c=bgc, cutoff=args.cutoff)
    return 0


def register(sub) -> None:
    h = "decode latent points with a target probability of single phase"
    p = add_command(sub, "generate", _generate, help=h,
                    description=h + ". By default every alloy meets the high-entropy-alloy definition (5 or more "
                    "elements, each 5-35 at.%); the decoded composition is projected onto the constraints, rounded "
                    "to whole at.% that still meet them, and re-scored by the classifier (p_single).")
    p.add_argument("--model", default="default", help=MODEL_HELP)
    p.add_argument("--z", action="append", metavar="Z1,Z2", help="a latent point, e.g. --z -1,0 (repeatable) "
                   "(default: none; give --z or --grid)")
    p.add_argument("--grid", metavar="LO:HI:N,LO:HI:N",
                   help="a grid over the latent axes, e.g. --grid -2:2:5,-2:2:5 (default: none)")
    p.add_argument("--p", type=probability, default=1.0, help="φ fed to the decoder, a probability (1 = single phase)")
    p.add_argument("-o", "--output", required=True, type=output_table, help="output .csv or .parquet")
    _add_constraints(p, hea=True)

    h = "iterative design: nudge start alloys towards single phase"
    p = add_command(sub, "nudge", _nudge, help=h,
                    description=h + " (the paper's loop; constraints only when given). Prints the start, the best "
                    "step and where the loop stopped; the CSV holds every step (column best marks the best).")
    p.add_argument("formula", nargs="+", help="start alloy(s), e.g. Fe14Ni16Cr22Co14Al22Cu8")
    p.add_argument("--model", default="default", help=MODEL_HELP)
    p.add_argument("--cutoff", type=probability, default=0.6, help="stop once P(single phase) >= cutoff")
    p.add_argument("--max-steps", type=int, default=10, help="most decode steps")
    p.add_argument("-o", "--output", required=True, type=output_table,
                   help="output .csv or .parquet of the trajectories")
    p.add_argument("--plot", default=None, help="PNG of the first trajectory over the training alloys (default: none)")
    _add_constraints(p, hea=False)


if __name__ == "__main__":  # pragma: no cover
    from hea_fast.cli import main

    sys.exit(main(["ssvae", *sys.argv[1:]]))
