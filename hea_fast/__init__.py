"""hea_fast: machine-learned discovery of high-entropy alloys with a compiled C++/CUDA core.

Public names are imported lazily (PEP 562) so `import hea_fast` stays fast and never imports
torch/pyro or initialises CUDA (forked Dask/multiprocessing workers break if the parent did).
"""
from __future__ import annotations

from hea_fast._lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> defining submodule
_LAZY = {
    "CompositionError": "hea_fast.composition",
    "CompositionBatch": "hea_fast.composition",
    "parse_formula": "hea_fast.composition",
    "as_batch": "hea_fast.composition",
    "featurize": "hea_fast.features",
    "featurize_array": "hea_fast.features",
    "missing_data": "hea_fast.features",
    "list_descriptors": "hea_fast.features",
    "DescriptorTransformer": "hea_fast.descriptor_transformer",
    "ElementTable": "hea_fast.elements",
    "cuda_available": "hea_fast._backend",
}

__all__ = sorted(_LAZY) + ["__version__"]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
