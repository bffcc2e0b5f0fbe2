"""hea_fast: machine-learned discovery of high-entropy alloys with a compiled C++/CUDA core.

Public names are imported lazily (PEP 562) so `import hea_fast` stays fast and never imports
torch/pyro or initialises CUDA (forked Dask/multiprocessing workers break if the parent did).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> defining submodule
_LAZY = {
    "CompositionError": "hea_fast.composition",
    "CompositionBatch": "hea_fast.composition",
    "parse_formula": "hea_fast.composition",
    "featurize": "hea_fast.features",
    "featurize_array": "hea_fast.features",
    "list_descriptors": "hea_fast.features",
    "DescriptorTransformer": "hea_fast.features",
    "ElementTable": "hea_fast.elements",
    "cuda_available": "hea_fast._backend",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'hea_fast' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
