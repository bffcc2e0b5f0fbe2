"""The `hea-fast` command line.

Each command group lives in its own module under `hea_fast.commands` and exposes
`register(subparsers)`; modules keep heavy imports (torch, pyro, dask) inside their handlers so
`hea-fast --help` stays fast. Handlers are stored as `func` on the parsed namespace. Every parser
is a `hea_fast.commands._common.ArgumentParser`: the CLI convention written there (units, names,
defaults in --help, bad rows, negative numbers) holds for every command.
"""
from __future__ import annotations

import importlib
import sys

from hea_fast.commands._common import ArgumentParser, one_line

# (group name or None for top-level commands, help, command modules registering into that group)
_GROUPS = [
    (None, None, ["hea_fast.commands.featurize", "hea_fast.commands.screen"]),
    ("datasets", "List and inspect the public datasets", ["hea_fast.commands.datasets"]),
    ("mixture", "Sparse anchor-guided Bayesian logistic mixture (arXiv 2504.20354)", ["hea_fast.commands.mixture"]),
    ("ssvae", "Disentangled semi-supervised VAE (arXiv 2409.06740)",
     ["hea_fast.commands.ssvae", "hea_fast.commands.ssvae_design"]),
    ("xyield", "Yield strength: Maresca-Curtin simulation, pseudo-images, Bi-RPT transfer",
     ["hea_fast.commands.xyield_data", "hea_fast.commands.xyield_train"]),
    ("phase", "The default phase model: P(single phase) with an applicability domain", ["hea_fast.commands.phase"]),
    ("validate", "Cross-source validation of the phase classifiers", ["hea_fast.commands.validate"]),
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="hea-fast",
        description="Machine-learned discovery of high-entropy alloys. Compositions and bounds are in at.%, "
                    "temperatures in K, stresses in MPa; every option's --help states its default.",
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
    except BrokenPipeError:  # `hea-fast screen ... | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit must not fail
        return 141
    except (ValueError, FileNotFoundError) as exc:  # bad input: one line naming the value or file
        print(f"hea-fast: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except ImportError as exc:  # a feature whose optional dependency is not installed
        print(f"hea-fast: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # --device cuda where no GPU or CUDA module is available
        from hea_fast._backend import CUDAUnavailableError

        if not isinstance(exc, CUDAUnavailableError):
            raise
        print(f"hea-fast: error: {one_line(exc)} (--device cpu runs on the CPU)", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
