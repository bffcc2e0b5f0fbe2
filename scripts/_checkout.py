"""Shared by the training and validation scripts: say when the imported `hea_fast` is not this
checkout's. The scripts import whatever `hea_fast` Python finds first; with a non-editable install
in the environment that is the installed copy, which may be older than the working tree (the
results would then come from stale code). ``PYTHONPATH=.`` from the repository root runs the
checkout."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def warn_if_not_checkout() -> bool:
    """Print a warning to stderr when `hea_fast` is imported from outside this checkout; True if so."""
    import hea_fast

    where = Path(hea_fast.__file__).resolve().parents[1]
    if where == ROOT:
        return False
    print(f"warning: running the hea_fast at {where}, not this checkout ({ROOT}); run with PYTHONPATH=. from "
          "the repository root to use the checkout's code", file=sys.stderr)
    return True
