"""Run the cross-source phase validation into benchmarks/papers/phase_validation/ (issue #15).

Same arguments as `hea-fast validate phase` (hea_fast/commands/validate.py), with the output
folder defaulting to the benchmark folder; resumes from its results.jsonl when interrupted:

    HEA_FAST_DATA=../shared/data OMP_NUM_THREADS=1 nice -n 19 python scripts/run_phase_validation.py
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hea_fast.commands import validate

OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "papers" / "phase_validation"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="run_phase_validation.py")
    validate.register(parser.add_subparsers(dest="cmd"))
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--out" not in argv and "-o" not in argv:
        argv = ["--out", str(OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT)] + argv
    args = parser.parse_args(["phase"] + argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"run_phase_validation.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
