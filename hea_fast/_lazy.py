"""Lazy public names for package `__init__` modules (PEP 562).

A package lists its public names and the submodule defining each; a name is imported on first
access and then cached in the package, so `import hea_fast` (or `hea_fast.xyield`) imports neither
torch nor the compiled core, and never initialises CUDA (forked Dask/multiprocessing workers break
when the parent did).
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, table: Mapping[str, str]) -> tuple[Callable, Callable]:
    """(`__getattr__`, `__dir__`) for `package` whose public name N lives in module `table[N]`.

    Usage in a package's `__init__.py`: ``__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)``.
    """

    def __getattr__(name: str):
        mod = table.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(mod), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(table) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
