"""Screen every 5-element alloy of the 15 usual HEA metals at 1 at.% steps within 5-35 at.%
(1,661,863,203 compositions) with the default phase model, resumably (issue #15 item 6).

The run is exactly `hea-fast screen --step 1 --top-k K --checkpoint CK` (default palette, 5
elements, every element 5-35 at.%, --scorer phase, default chunk size and domain pool): the same
checkpoint can be resumed by that command or by this script. `--fraction F` stops once that share
of the space's chunks is done (the rest stays resumable); the results then describe the screened
part and give an extrapolated time for the whole space, labelled as such. Each invocation appends
its wall time, CPU time and peak resident set (`resource.getrusage`, the figure `/usr/bin/time -v`
reports as "Maximum resident set size"), its niceness and OMP_NUM_THREADS to the run log beside the
checkpoint; the results (benchmarks/results/phase_screen_1p66e9.{json,md}) sum them and quote each
command as it was run (priority included). Once the runs are done, a call with nothing left to do
and `--time-logs LOG...` rewrites the results quoting the `/usr/bin/time -v` logs.

    PYTHONPATH=. OMP_NUM_THREADS=1 /usr/bin/time -v .venv/bin/python scripts/screen_phase_full.py \
        [--fraction 0.05] [--threads 2] > build/phase_screen_1p66e9/log.txt 2>&1
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "phase_screen_1p66e9"
WORK = ROOT / "build" / "phase_screen_1p66e9"
SIZE = 1_661_863_203


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


class LogBar:
    """Progress as one plain line every `every` seconds (the screen's bar, for a log file)."""

    def __init__(self, total, initial, every):
        self.total, self.n, self.every = total, int(initial), every
        self.t0 = self.last = time.monotonic()
        self.start = self.n

    def update(self, n):
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            rate = (self.n - self.start) / (now - self.t0)
            print(f"{time.strftime('%H:%M:%S')} {self.n:,}/{self.total:,} ({100 * self.n / self.total:.2f} %) "
                  f"{rate / 1e6:.2f} M/s, load {os.getloadavg()[0]:.1f}", flush=True)

    def set_postfix(self, order=None, **_):
        """The screen's stage (best-first: bounding a window of chunks, then scoring it), logged."""
        if order:
            print(f"{time.strftime('%H:%M:%S')} {order}", flush=True)

    def close(self):
        pass


def _time_logs(paths) -> list[tuple[str, str]]:
    """(file name, "wall …, user …, max RSS …") of each /usr/bin/time -v log."""
    out = []
    for p in paths:
        want = {"Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall", "User time (seconds)": "user s",
                "Maximum resident set size (kbytes)": "max RSS KiB"}
        got = {}
        for line in Path(p).read_text(errors="replace").splitlines():
            key, _, value = line.strip().rpartition(": ")
            if key in want:
                got[want[key]] = value
        if got:
            out.append((Path(p).name, ", ".join(f"{k} {v}" for k, v in got.items())))
    return out


def _command(run: dict) -> str:
    """The command line of a logged invocation, with its environment and priority."""
    env = {"PYTHONPATH": run.get("pythonpath"), "OMP_NUM_THREADS": run.get("omp_num_threads")}
    nice = run.get("nice")
    return ("".join(f"{k}={shlex.quote(v)} " for k, v in env.items() if v) + (f"nice -n {nice} " if nice else "")
            + f"/usr/bin/time -v .venv/bin/python scripts/screen_phase_full.py {run.get('args', '')}").rstrip()


def _priority(runs) -> str:
    nices = sorted({r.get("nice") for r in runs}, key=str)
    if nices == [0]:
        return "normal priority"
    return "niceness " + ", ".join("unknown" if n is None else str(n) for n in nices)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fraction", type=float, default=1.0, help="share of the space's chunks to have done (0-1]")
    ap.add_argument("--top-k", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    ap.add_argument("--checkpoint", type=Path, default=WORK / "checkpoint.json")
    ap.add_argument("--results", type=Path, default=RESULTS, help="results path without suffix (.json, .md)")
    ap.add_argument("--progress-every", type=float, default=30.0, help="seconds between progress lines")
    ap.add_argument("--time-logs", type=Path, nargs="*", default=(),
                    help="logs of earlier invocations under /usr/bin/time -v, quoted in the results")
    args = ap.parse_args(argv)
    if not 0 < args.fraction <= 1:
        ap.error(f"--fraction {args.fraction} must be in (0, 1]")

    from hea_fast import _progress
    from hea_fast.screen import DEFAULT_CHUNK_SIZE, DEFAULT_PALETTE, PhaseScorer, hea_space, screen
    from hea_fast.screen.domain import default_pool

    _progress.progress_bar = lambda iterable=None, **kw: LogBar(kw.get("total"), kw.get("initial", 0),
                                                                args.progress_every)

    space = hea_space(DEFAULT_PALETTE, 5, 1.0)
    if len(space) != SIZE:
        raise SystemExit(f"the space has {len(space):,} compositions, expected {SIZE:,}")
    n_chunks = math.ceil(len(space) / DEFAULT_CHUNK_SIZE)
    target = math.ceil(args.fraction * n_chunks)
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    if args.checkpoint.is_file():
        done = len(json.loads(args.checkpoint.read_text())["state"]["done"])
    todo = max(0, target - done)
    print(f"{len(space):,} compositions in {n_chunks:,} chunks; {done:,} done, {todo:,} to do now "
          f"(target {target:,} = {args.fraction:g} of the chunks); checkpoint {args.checkpoint}", flush=True)
    scorer = PhaseScorer(threads=args.threads)
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), _cpu_s()
    res = screen(space, scorer, top_k=args.top_k, checkpoint=args.checkpoint, progress=True, threads=args.threads,
                 max_chunks=todo)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    runs_path = args.checkpoint.with_name("runs.json")
    runs = json.loads(runs_path.read_text()) if runs_path.is_file() else []
    if todo:  # a call with nothing left to do only rewrites the results
        runs.append({"started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - wall)),
                     "args": " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
                     "chunks": todo, "wall_s": round(wall, 1), "scan_s": round(res.elapsed_s, 1), "cpu_s": round(cpu, 1),
                     "peak_rss_MiB": round(_peak_mib(), 1), "threads": args.threads, "nice": os.nice(0),
                     "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "pythonpath": os.environ.get("PYTHONPATH"),
                     "loadavg_start": [round(x, 2) for x in load0],
                     "loadavg_end": [round(x, 2) for x in os.getloadavg()]})
    from hea_fast._io import atomic_write_json

    atomic_write_json(runs_path, runs, indent=1)
    write_results(res, runs, space, scorer, args, n_chunks, default_pool(args.top_k))
    return 0


def write_results(res, runs, space, scorer, args, n_chunks, pool) -> None:
    from hea_fast._io import atomic_write, atomic_write_json
    from hea_fast.screen import DEFAULT_CHUNK_SIZE

    s = res.summary()
    scan = sum(r["scan_s"] for r in runs)
    cpu = sum(r["cpu_s"] for r in runs)
    frac = res.n_scored / len(space)
    per_s = res.n_scored / scan if scan else float("nan")
    top = res.top
    cols = ["rank", "formula", "p_single", "in_domain", "domain_score"] + [
        c for c in ("nearest_training_alloy", "nearest_distance", "nearest_single") if c in res.top.columns]
    doc = {
        "what": "every 5-element alloy of the 15 usual HEA metals at 1 at.% steps, each element 5-35 at.%, "
                "screened with the default phase model (hea_fast.phase) and its applicability domain",
        "space": s["space"], "size": len(space), "chunks": n_chunks, "fraction_screened": frac,
        "complete": res.n_scored == len(space),
        "model": str(getattr(scorer.model, "metadata", {}).get("name", "default")),
        "top_k": args.top_k, "domain_pool": pool,
        "n_scored": res.n_scored, "n_passing": res.n_passing, "domain": s.get("domain"),
        "scan_s": round(scan, 1), "cpu_s": round(cpu, 1), "compositions_per_s": round(per_s),
        "compositions_per_cpu_s": round(res.n_scored / cpu) if cpu else None,
        "extrapolated_full_scan_s": None if res.n_scored == len(space) else round(len(space) / per_s, 0),
        "peak_rss_MiB": max(r["peak_rss_MiB"] for r in runs), "runs": runs,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "top": top[cols].head(50).to_dict(orient="records"),
        "written_by": [_command(r) for r in runs],
        "resume": "PYTHONPATH=. .venv/bin/python scripts/screen_phase_full.py --fraction 1 (or a larger --fraction), or "
                  f"hea-fast screen --step 1 --top-k {args.top_k} --checkpoint "
                  f"{args.checkpoint.relative_to(ROOT) if args.checkpoint.is_relative_to(ROOT) else args.checkpoint}"
                  + (" (the same run: nothing is left to screen; it rewrites the results from the checkpoint, which holds "
                     "the pool)" if res.n_scored == len(space) else " (the same run: it screens the rest)"),
    }
    atomic_write_json(args.results.with_suffix(".json"), doc, indent=1)
    d = s.get("domain") or {}
    lines = [
        "# Screening 1,661,863,203 HEA compositions with the default phase model",
        "",
        f"Space: {doc['what']} (`hea_fast.screen.hea_space(DEFAULT_PALETTE, 5, 1.0)`; size checked against "
        "an independent count in tests/test_screen_phase.py).",
        "",
        f"- screened: {res.n_scored:,} compositions ({100 * frac:.2f} % of the space"
        + ("" if doc["complete"] else f"; the first {100 * frac:.2f} % of the lattice order, i.e. the element systems "
           "that come first lexicographically — not a random sample") + ")",
        f"- scan time: {scan:,.0f} s wall ({per_s / 1e6:.2f} M compositions/s), {cpu:,.0f} s CPU "
        f"({doc['compositions_per_cpu_s'] / 1e6:.2f} M per CPU-second); peak resident set {doc['peak_rss_MiB']:,.0f} MiB",
    ]
    lines.append(f"- issue #15's target for the fused path is >= 10 M compositions/s on 2 cores end to end; this run "
                 f"reached {per_s / 1e6:.2f} M/s wall at {_priority(runs)} on a shared VM "
                 f"({doc['compositions_per_cpu_s'] / 1e6:.2f} "
                 "M per CPU-second, i.e. at most twice that on 2 free cores): "
                 + ("met" if per_s >= 1e7 else "**not met**"))
    if not doc["complete"]:
        lines.append(f"- **extrapolated** scan of the whole space at this rate: {doc['extrapolated_full_scan_s'] / 60:,.0f} "
                     "min (not measured; the checkpoint is resumable: see below)")
    lines += [
        f"- passing (finite P(single phase)): {res.n_passing:,}",
        f"- every chunk of {DEFAULT_CHUNK_SIZE:,} ranks is scanned by the fused kernel for its best {pool:,} "
        f"(the domain pool, not the top {args.top_k:,}); the pool's applicability domain is scored at the end, on its "
        "best candidates in score order until the top are found",
        f"- domain pool (the best {pool:,} by P(single phase)), the best {d.get('pool_examined', pool):,} examined: "
        f"{d.get('pool_in_domain', 0):,} in domain, {d.get('pool_out_of_domain', 0):,} out; the top {len(top):,} are "
        "in-domain candidates",
        "",
        "Loads during the runs (1/5/15-min load average at start and end; the VM has "
        f"{os.cpu_count()} cores shared with other jobs):",
        "",
        "| started (UTC) | chunks | wall s | scan s | CPU s | peak RSS MiB | load start | load end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r['started_utc']} | {r['chunks']:,} | {r['wall_s']:,} | {r['scan_s']:,} | {r['cpu_s']:,} | "
                     f"{r['peak_rss_MiB']:,} | {r['loadavg_start']} | {r['loadavg_end']} |")
    timed = _time_logs(args.time_logs)
    if timed:
        lines += ["", "`/usr/bin/time -v` of the invocations (whole process: imports, scan, domain of the pool, "
                  "report):", ""]
        lines += [f"- {name}: {info}" for name, info in timed]
    lines += ["", f"Top 20 in-domain candidates{' of the screened part' if not doc['complete'] else ''}:", "",
              "| rank | formula | p_single | domain_score | nearest training alloy (sources calling it single) |",
              "|---|---|---|---|---|"]
    for row in top.head(20).itertuples():
        near = (f"{row.nearest_training_alloy} ({row.nearest_single})" if "nearest_training_alloy" in top.columns
                else "–")
        lines.append(f"| {row.rank} | {row.formula} | {row.p_single:.4f} | {row.domain_score:.3f} | {near} |")
    lines += ["", "Commands (each invocation resumes the checkpoint and stops at its --fraction):", "", "```"]
    lines += list(dict.fromkeys(_command(r) for r in runs))
    lines += ["```", "", f"{'Rerun (the run is complete)' if doc['complete'] else 'Resume'}: {doc['resume']}.", ""]
    atomic_write(args.results.with_suffix(".md"), "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
