"""Optional dependencies ("extras") and the error a feature raises when its extra is not installed.

The core install (`pip install hea_fast`) needs numpy, scipy, pandas, pyarrow and scikit-learn only:
parsing, featurizing, the mixture model, screening, Maresca–Curtin, the datasets and the default phase
model. The rest comes with an extra (pyproject.toml `[project.optional-dependencies]`):

    ssvae     torch, pyro-ppl, safetensors   hea_fast.ssvae
    xyield    torch, safetensors             hea_fast.xyield.{masked_l0, cnn, sparsity, protocol}
    plots     matplotlib                     figures (hea_fast.plots.pyplot)
    dask      dask[distributed]              screening / WBIC search on a Dask cluster
    progress  tqdm                           tqdm progress bars (a plain-text bar otherwise)
    lightgbm  lightgbm                       the ``lgbm`` model of the phase validation (hea_fast.validation)
    all       everything above

A feature calls `require(...)` (or, around its module-level imports, raises `extra_error(...)`) so a
user without the extra reads which extra to install instead of a bare "No module named 'torch'".
"""
from __future__ import annotations

import importlib
from typing import Iterable

__all__ = ["EXTRAS", "PIP_NAMES", "extra_error", "pip_name", "require"]

# extra -> the importable top-level modules it provides (kept in step with pyproject.toml)
EXTRAS: dict[str, tuple[str, ...]] = {
    "ssvae": ("torch", "pyro", "safetensors"),
    "xyield": ("torch", "safetensors"),
    "plots": ("matplotlib",),
    "dask": ("dask", "distributed"),
    "progress": ("tqdm",),
    "lightgbm": ("lightgbm",),
}

# importable module -> the name pip installs it under
PIP_NAMES: dict[str, str] = {"pyro": "pyro-ppl", "distributed": "dask[distributed]", "dask": "dask[distributed]"}


def pip_name(module: str) -> str:
    """The name pip installs the importable `module` under (e.g. pyro -> pyro-ppl)."""
    return PIP_NAMES.get(module.split(".")[0], module.split(".")[0])


def _join(names: list[str]) -> str:
    names = list(dict.fromkeys(names))  # unique, in order
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _message(feature: str, modules: Iterable[str], extra: str, failed: str, exc: BaseException) -> str:
    needs = _join([pip_name(m) for m in modules])
    top = failed.split(".")[0]
    not_installed = isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == top
    why = f"{pip_name(top)} is not installed" if not_installed else f"importing {top} failed: {exc}"
    return f"{feature} needs {needs} ({why}): pip install 'hea_fast[{extra}]'"


def extra_error(exc: ImportError, extra: str, feature: str) -> ImportError:
    """The ImportError to raise (``from exc``) when a module-level import of `extra`'s packages failed.

    Usage, around the imports a module needs from an extra::

        try:
            import torch
        except ImportError as exc:
            raise extra_error(exc, "xyield", "hea_fast.xyield.cnn") from exc
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    failed = exc.name or EXTRAS[extra][0]
    err = ImportError(_message(feature, EXTRAS[extra], extra, failed, exc), name=exc.name)
    return err


def require(modules: str | Iterable[str], extra: str, feature: str) -> None:
    """Import `modules` (e.g. ``("torch", "pyro")``); when one cannot be imported, raise an ImportError
    naming `feature`, what it needs and the extra that installs it, e.g.
    "hea_fast.ssvae needs torch, pyro-ppl and safetensors (pyro-ppl is not installed): pip install 'hea_fast[ssvae]'".
    """
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; known: {sorted(EXTRAS)}")
    modules = (modules,) if isinstance(modules, str) else tuple(modules)
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError as exc:
            raise ImportError(_message(feature, modules, extra, m, exc), name=m) from exc
