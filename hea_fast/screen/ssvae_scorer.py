"""`SSVAEScorer`: P(single phase) from the SSVAE classifier head in a screen (see `hea_fast.screen.scorers`
for the scorer protocol): the C++ head kernel on decoded chunks, or on a lattice space the ranks scored
without decoding (zeng2024 descriptors by the block kernel, then the head, one C++ pass)."""
from __future__ import annotations

import numpy as np

from hea_fast.screen.palette import fused_inputs
from hea_fast.screen.scorers import Scorer, model_gaps, torch_key
from hea_fast.screen.spaces import CompositionSpace, native_lattice

__all__ = ["SSVAEScorer"]


class SSVAEScorer(Scorer):
    """P(single phase) from the SSVAE classifier head (compositions outside its elements get NaN
    and are never kept).

    engine="cpp" (default): the C++ head kernel (`hea_fast.ssvae.head`, float32 like the torch
    model). On a `CompositionSpace` the ranks are scored without decoding (`lattice_columns`: the
    zeng2024 descriptors by the descriptor block kernel, then the head, one C++ pass); on other
    spaces the chunk's zeng2024 descriptors (`hea_fast.ssvae.design.features_of`) go through the
    head kernel. engine="torch": the previous path, `hea_fast.ssvae.design.screen_proba` (at.% in
    float32, descriptors, the torch model). The two agree to float32 rounding of the descriptors
    and the network (tests/test_ssvae_head.py). `threads`: kernel threads (None: all cores).
    """

    probability = True

    def __init__(self, model, name: str = "p_single_ssvae", threshold: float | None = None, engine: str = "cpp",
                 threads: int | None = None):
        if engine not in ("cpp", "torch"):
            raise ValueError(f"engine must be 'cpp' or 'torch', got {engine!r}")
        self.model = model
        self.name = name
        self.threshold = threshold
        self.engine = engine
        self.threads = threads
        self._palettes: dict[tuple, tuple | None] = {}

    def run_key(self) -> str:
        return self._memo_key(lambda: torch_key(self.model, elements=list(self.model.config.elements)))

    def palette_gaps(self, elements, table):
        """Elements outside the model's and the data of its zeng2024 descriptors."""
        known = self.model.config.elements
        return model_gaps(elements, known, f"the SSVAE's {len(known)} elements", "zeng2024", None)

    def score(self, batch, desc):
        from hea_fast.ssvae import design

        if self.engine == "torch":
            return np.asarray(design.screen_proba(self.model, batch), dtype=np.float64)
        from hea_fast.ssvae.head import ssvae_head

        X, ok = _model_fractions(self.model, batch)
        out = np.full(len(ok), np.nan)
        sel = np.flatnonzero(ok)
        if sel.size:
            e = design.features_of(self.model, X[sel], threads=self.threads)
            out[sel] = ssvae_head(self.model, e, threads=self.threads)
        return out

    def lattice_args(self, elements: tuple) -> tuple | None:
        """(props, pair, gas constant, log offset, int32 columns, uint8 allowed) of the palette
        `elements` for `core.ssvae_head_lattice`: the zeng2024 element data of the palette elements
        the model knows (zero rows elsewhere, `allowed` 0 there, so compositions holding them give
        NaN), or None when the model's features are not zeng2024 descriptors or an element lacks data."""
        if elements not in self._palettes:
            self._palettes[elements] = _ssvae_palette(tuple(self.model.config.elements),
                                                      tuple(self.model.config.features), elements)
        return self._palettes[elements]

    def lattice_columns(self, space, start, stop, table, threads):
        """P(single phase) of lattice ranks [start, stop) in one C++ pass (decode -> zeng2024
        descriptors -> head); `table` is not used: the SSVAE reads its own zeng2024 element data."""
        if self.engine != "cpp" or not isinstance(space, CompositionSpace):
            return None
        args = self.lattice_args(tuple(space.elements))
        if args is None:
            return None
        from hea_fast._backend import core
        from hea_fast.ssvae.head import head_arrays

        p = core.ssvae_head_lattice(native_lattice(space), start, stop, *args, **head_arrays(self.model),
                                    threads=threads if threads is not None else self.threads)
        return {self.name: p}


def _model_fractions(model, batch) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of a chunk over the model's elements (n, E_model) and the rows the model can score
    (no amount of an element outside its elements, non-empty)."""
    F = np.asarray(batch.fractions, dtype=np.float64)
    idx = {e: i for i, e in enumerate(model.config.elements)}
    inside = np.array([e in idx for e in batch.elements], bool)
    ok = ~(F[:, ~inside] > 0).any(axis=1) & (F[:, inside].sum(axis=1) > 0)
    X = np.zeros((F.shape[0], len(idx)))
    X[:, [idx[e] for e, k in zip(batch.elements, inside) if k]] = F[:, inside]
    return X, ok


def _ssvae_palette(model_elements: tuple, features: tuple, elements: tuple) -> tuple | None:
    from hea_fast.elements import PROPERTIES
    from hea_fast.features import DESCRIPTOR_SETS

    _, mapping = DESCRIPTOR_SETS["zeng2024"]
    if any(f not in mapping for f in features):
        return None
    names = tuple(mapping[f] for f in features)
    inside = [e for e in elements if e in model_elements]
    E = len(elements)
    allowed = np.array([e in model_elements for e in elements], dtype=np.uint8)
    props = np.zeros((E, len(PROPERTIES)))
    pair = np.zeros((E, E))
    if inside:
        sub = fused_inputs(tuple(inside), names, "zeng2024")
        if sub is None:
            return None
        sp, sh, gas, log_offset, cols = sub
        pos = np.flatnonzero(allowed)
        props[pos] = sp
        pair[np.ix_(pos, pos)] = sh
    else:  # no composition of the palette can be scored: every rank gives NaN
        from hea_fast.elements import ElementTable
        from hea_fast.features import DESCRIPTOR_INDEX

        tab = ElementTable.load("zeng2024")
        gas, log_offset = tab.gas_constant, tab.log_offset
        cols = np.array([DESCRIPTOR_INDEX[n] for n in names], dtype=np.int32)
    for a in (props, pair, allowed):
        a.setflags(write=False)
    return props, pair, gas, log_offset, cols, allowed
