"""The `hea-fast` command line.

Each command group lives in its own module under `hea_fast.commands` and exposes
`register(subparsers)`; modules keep heavy imports (torch, pyro, dask) inside their handlers so
`hea-fast --help` stays fast. Handlers are stored as `func` on the parsed namespace.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# (group name or None for top-level commands, help, command modules registering into that group)
_GROUPS = [
    (None, None, ["hea_fast.commands.featurize", "hea_fast.commands.screen"]),
    ("datasets", "List and inspect the public datasets", ["hea_fast.commands.datasets"]),
    ("mixture", "Sparse anchor-guided Bayesian logistic mixture (arXiv 2504.20354)", ["hea_fast.commands.mixture"]),
    ("ssvae", "Disentangled semi-supervised VAE (arXiv 2409.06740)", ["hea_fast.commands.ssvae"]),
    ("xyield", "Yield strength: Maresca-Curtin simulation, pseudo-images, Bi-RPT transfer",
     ["hea_fast.commands.xyield_data", "hea_fast.commands.xyield_train"]),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hea-fast",
        description="Machine-learned discovery of high-entropy alloys.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group, help_text, modules in _GROUPS:
        if group is None:
            target = top
        else:
            gp = top.add_parser(group, help=help_text, description=help_text)
            target = gp.add_subparsers(dest=f"{group}_command", metavar="SUBCOMMAND")
            gp.set_defaults(func=lambda args, _gp=gp: (_gp.print_help(), 2)[1])
        for name in modules:
            # every command module exists: a failing import is a broken install and must be seen,
            # not a command that silently disappears from --help
            importlib.import_module(name).register(target)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from hea_fast import __version__

        print(__version__)
        return 0
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        rc = func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"hea-fast: error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
