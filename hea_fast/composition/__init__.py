"""Alloy compositions as batches: `CompositionBatch` and `as_batch`, the one way in (DESIGN.md §4).

`as_batch` is the only coercion of user input to fractions in the package: formulas (the grammar of
`hea_fast.parse`), {element: amount} dicts, DataFrames of element columns, pymatgen Compositions, (n, E) arrays of
amounts with `elements=`, or a batch. Formulas are parsed by the compiled multi-threaded parser
(`hea_fast._core.parse_formulas`, csrc/cpu/parse_cpu.cpp): bit-identical fractions and identical errors to the
pure-Python reference `hea_fast.parse`. Errors raise `CompositionError` (a ValueError) naming the formula, position
and reason; `CompositionBatch.from_formulas` reports every bad row at once (`CompositionBatchError.errors`) or, with
`errors="skip"`, drops and records them.

Modules: `batch` (`CompositionBatch`, `as_batch`, `row_amounts`, the parsers' entry points) and `rows`
(`RowAmounts`: input read in place for the kernels).
"""
from hea_fast.composition.batch import CompositionBatch, as_batch, parse_formulas, parse_formulas_reference, row_amounts
from hea_fast.composition.rows import RowAmounts
from hea_fast.parse import (  # noqa: F401  (the grammar, re-exported: ENGINES, MESSAGES, is_element for callers)
    ELEMENTS,
    ENGINES,
    MAX_DEPTH,
    MESSAGES,
    CompositionBatchError,
    CompositionError,
    element_z,
    is_element,
    parse_amounts,
    parse_formula,
)

__all__ = ["ELEMENTS", "MAX_DEPTH", "CompositionError", "CompositionBatchError", "CompositionBatch", "element_z",
           "parse_formula", "parse_amounts", "parse_formulas", "parse_formulas_reference", "as_batch", "RowAmounts",
           "row_amounts"]
