"""Composition batches (hea_fast.composition): every bad row reported, the skip option, row labels,
element sets, the other input types `as_batch` accepts, and row selection.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hea_fast import composition as C
from hea_fast._backend import core
from hea_fast.composition import (
    CompositionBatch,
    CompositionBatchError,
    CompositionError,
    as_batch,
)

ENGINES = ("cpp", "python")


def _assert_row(b: CompositionBatch, i: int, amounts: dict, rel=1e-14):
    """Row i of batch b holds `amounts` normalised (worked out here with math.fsum, not by the parser)."""
    total = math.fsum(amounts.values())
    got = {e: float(v) for e, v in zip(b.elements, b.fractions[i]) if v != 0}
    assert got == pytest.approx({k: v / total for k, v in amounts.items() if v}, rel=rel, abs=0)





# --------------------------------------------------------------------------------------------
# Batches: every bad row reported, skip option, labels, element sets
# --------------------------------------------------------------------------------------------
BATCH = ["Al0.5CoCrFeNi", "Xx", "CoCrFeNi", "", None, "Al0,5Co", float("nan"), "Ti(ZrHf)2", "Al(Co"]
BAD = {1: "unknown element symbol 'Xx'", 3: "empty formula", 4: "missing formula",
       5: "decimal comma", 6: "missing formula", 8: "never closed"}


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_reports_every_bad_row(engine):
    with pytest.raises(CompositionBatchError) as info:
        CompositionBatch.from_formulas(BATCH, engine=engine)
    errs = info.value.errors
    assert [i for i, _ in errs] == sorted(BAD)
    for i, e in errs:
        assert BAD[i] in str(e)
    text = str(info.value)
    assert f"{len(BAD)} of {len(BATCH)} compositions are invalid" in text and "errors= option" in text
    for i in BAD:
        assert f"row {i}:" in text


@pytest.mark.parametrize("engine", ENGINES)
def test_batch_skip_keeps_good_rows_in_order(engine):
    b = CompositionBatch.from_formulas(BATCH, errors="skip", engine=engine)
    assert b.index.tolist() == [0, 2, 7]
    assert [i for i, _ in b.skipped] == sorted(BAD)
    assert all(BAD[i] in reason for i, reason in b.skipped)
    assert b.elements == ("Al", "Ti", "Cr", "Fe", "Co", "Ni", "Zr", "Hf")  # atomic-number order
    _assert_row(b, 0, {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1})
    _assert_row(b, 1, {"Co": 1, "Cr": 1, "Fe": 1, "Ni": 1})
    _assert_row(b, 2, {"Ti": 0.2, "Zr": 0.4, "Hf": 0.4})
    assert list(b.to_dataframe().index) == [0, 2, 7]


@pytest.mark.parametrize("engine", ENGINES)
def test_series_labels_in_errors_and_index(engine):
    s = pd.Series(["CoCrFeNi", "Xx", "AlCo"], index=["a", "b", "c"])
    with pytest.raises(CompositionBatchError) as info:
        CompositionBatch.from_formulas(s, engine=engine)
    assert [lab for lab, _ in info.value.errors] == ["b"]
    b = CompositionBatch.from_formulas(s, errors="skip", engine=engine)
    assert list(b.index) == ["a", "c"] and b.skipped[0][0] == "b"


@pytest.mark.parametrize("engine", ENGINES)
def test_requested_elements_fix_columns_and_reject_others(engine):
    b = CompositionBatch.from_formulas(["NiCo", "Fe3Ni"], elements=["Ni", "Fe", "Co", "Cr"], engine=engine)
    assert b.elements == ("Ni", "Fe", "Co", "Cr")
    np.testing.assert_array_equal(b.fractions, [[0.5, 0, 0.5, 0], [0.25, 0.75, 0, 0]])
    with pytest.raises(CompositionBatchError) as info:
        CompositionBatch.from_formulas(["NiCo", "AlNi", "Xx"], elements=["Ni", "Co"], engine=engine)
    (i1, e1), (i2, e2) = info.value.errors
    assert (i1, i2) == (1, 2)
    assert str(e1) == "element(s) ['Al'] not in the requested element set ['Ni', 'Co'] in formula 'AlNi'"
    assert e1.code == "outside_set" and "'Xx'" in str(e2)
    with pytest.raises(CompositionError, match="unknown element symbol 'Q'"):
        CompositionBatch.from_formulas(["Ni"], elements=["Ni", "Q"], engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_inputs_dicts_and_pymatgen_rows(engine):
    mg = pytest.importorskip("pymatgen.core")
    rows = ["CoCr", {"Pt": 2, "Au": 2}, mg.Composition("Fe2Ni2"), {"Fe": -1}]
    b = CompositionBatch.from_formulas(rows, errors="skip", engine=engine)
    assert b.elements == ("Cr", "Fe", "Co", "Ni", "Pt", "Au")
    np.testing.assert_array_equal(b.fractions, [[0.5, 0, 0.5, 0, 0, 0], [0, 0, 0, 0, 0.5, 0.5],
                                                [0, 0.5, 0, 0.5, 0, 0]])
    assert b.skipped[0][0] == 3 and "negative amount" in b.skipped[0][1]


def test_empty_batch_and_bad_options():
    b = CompositionBatch.from_formulas([])
    assert len(b) == 0 and b.elements == ()
    with pytest.raises(ValueError, match="engine"):
        CompositionBatch.from_formulas(["Al"], engine="rust")
    with pytest.raises(ValueError, match="errors"):
        CompositionBatch.from_formulas(["Al"], errors="ignore")
    with pytest.raises(TypeError, match="single str"):
        core.parse_formulas("AlCo")
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        core.parse_formulas(["AlCo"], None, -1)
    with pytest.raises(ValueError, match="atomic number 119 at index 1"):
        core.parse_formulas(["AlCo"], np.array([13, 119]))
    with pytest.raises(ValueError, match="element Al appears twice"):
        core.parse_formulas(["AlCo"], np.array([13, 27, 13]))
    with pytest.raises(CompositionError, match="duplicate elements"):
        CompositionBatch.from_formulas(["AlCo"], elements=["Al", "Co", "Al"])


def test_lone_surrogate_falls_back_to_python():
    bad = "Al\ud800Co"  # not encodable as UTF-8: the compiled parser hands the row to Python
    with pytest.raises(CompositionBatchError) as info:
        CompositionBatch.from_formulas(["Al", bad])
    (i, e), = info.value.errors
    assert i == 1 and e.code == "unexpected_char" and e.position == 2


# --------------------------------------------------------------------------------------------
# Other input types
# --------------------------------------------------------------------------------------------
def test_dict_and_dataframe_inputs_percent_or_fractions():
    cantor_al = {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}
    _assert_row(as_batch(cantor_al), 0, cantor_al)
    pct = pd.DataFrame({"Ni": [25.0, 50.0], "Co": [25.0, 50.0], "Fe": [50.0, 0.0], "label": ["x", "y"]})
    fr = pct[["Ni", "Co", "Fe"]] / 100.0
    a, b = as_batch(pct), as_batch(fr)
    assert a.elements == b.elements == ("Fe", "Co", "Ni")
    np.testing.assert_allclose(a.fractions, [[0.5, 0.25, 0.25], [0, 0.5, 0.5]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(a.fractions, b.fractions, rtol=0, atol=1e-15)
    with pytest.raises(CompositionError, match=r"non-finite amount nan in row 1, column 'Co'"):
        as_batch(pd.DataFrame({"Ni": [1.0, 1.0], "Co": [1.0, np.nan]}))
    with pytest.raises(CompositionError, match=r"negative amount -1.0 in row 0, column 'Ni'"):
        as_batch(pd.DataFrame({"Ni": [-1.0], "Co": [1.0]}))
    with pytest.raises(CompositionError, match="all amounts are zero in row 0"):
        as_batch(pd.DataFrame({"Ni": [0.0], "Co": [0.0]}))
    for bad, msg in [({"Xx": 1}, "unknown element symbol 'Xx'"), ({"Al": float("nan")}, "non-finite"),
                     ({"Al": float("inf")}, "non-finite"), ({"Al": -0.5, "Co": 1}, "negative amount -0.5"),
                     ({"Al": 0, "Co": 0}, "all amounts are zero"), ({"Al": "x"}, "not a number")]:
        with pytest.raises(CompositionError, match=msg):
            CompositionBatch.from_dict(bad)


def test_pymatgen_composition_input():
    mg = pytest.importorskip("pymatgen.core")
    b = as_batch(mg.Composition("Al0.5CoCrFeNi"))
    _assert_row(b, 0, {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1})


def test_formulas_round_trip():
    b = CompositionBatch.from_formulas(["Al0.5CoCrFeNi", "(CoCrCuFeNi)96Nb4"])
    assert b.formulas() == ["Al11.111111Cr22.222222Fe22.222222Co22.222222Ni22.222222",
                            "Cr19.2Fe19.2Co19.2Ni19.2Cu19.2Nb4"]
    again = CompositionBatch.from_formulas(b.formulas())
    np.testing.assert_allclose(again.fractions, b.fractions, atol=1e-8)


def test_batch_row_selection_keeps_labels_and_rejects_bad_keys():
    b = CompositionBatch.from_formulas(pd.Series(["CoCrNi", "bad!", "NbMoTaW", "AlCoCrFeNi"], index=[10, 11, 12, 13]),
                                       errors="skip")
    assert list(b.index) == [10, 12, 13]
    assert b[-1].formulas() == b[2].formulas() == ["Al20Cr20Fe20Co20Ni20"]
    assert list(b[1:].index) == [12, 13]
    assert list(b[np.array([2, 0])].index) == [13, 10]
    m = b[np.array([True, False, True])]
    assert list(m.index) == [10, 13] and m.formulas() == b.formulas()[::2]
    np.testing.assert_array_equal(m.fractions, b.fractions[[0, 2]])
    with pytest.raises(IndexError, match="row 3 is out of range for a batch of 3"):
        b[3]
    with pytest.raises(IndexError, match="boolean mask of shape"):
        b[np.array([True, False])]
    with pytest.raises(IndexError, match="integer array or boolean mask"):
        b[np.array([0.5])]



# --------------------------------------------------------------------------------------------
# as_batch: arrays of amounts with elements=, duck-typed batches, bad arrays named
# --------------------------------------------------------------------------------------------
def test_as_batch_normalises_arrays_of_amounts_in_the_given_column_order():
    A = np.array([[20.0, 20.0, 60.0], [1.0, 0.0, 3.0]])
    b = as_batch(A, elements=["Ni", "Al", "Co"])  # not atomic-number order: kept as given
    assert b.elements == ("Ni", "Al", "Co")
    np.testing.assert_array_equal(b.fractions, A / A.sum(axis=1, keepdims=True))
    one = as_batch([0.5, 0.5], elements=["Nb", "Mo"])
    np.testing.assert_array_equal(one.fractions, [[0.5, 0.5]])
    lists = as_batch([[1, 1], [3, 1]], elements=["Ti", "Zr"])
    np.testing.assert_array_equal(lists.fractions, [[0.5, 0.5], [0.75, 0.25]])
    # an array gives the same batch as the formulas it encodes
    np.testing.assert_allclose(as_batch(A[:1], elements=["Ni", "Al", "Co"]).select(["Al", "Co", "Ni"]).fractions,
                               as_batch("Ni20Al20Co60").fractions, rtol=0, atol=1e-15)


@pytest.mark.parametrize("A,elements,match", [
    (np.ones((2, 2)), None, "elements="),
    (np.ones((2, 3)), ["Al", "Co"], r"shape \(2, 3\) does not match the 2 elements"),
    (np.array([[1.0, np.nan]]), ["Al", "Co"], r"row 0: amount of Co is nan"),
    (np.array([[1.0, 0.0], [-1.0, 2.0]]), ["Al", "Co"], r"row 1: amount of Al is -1.0"),
    (np.zeros((1, 2)), ["Al", "Co"], "row 0: all amounts are zero"),
    (np.ones((1, 2)), ["Al", "Xx"], "Xx"),
    (np.array([[1e308, 1e308]]), ["Al", "Co"], "row 0: amounts overflow to infinity"),  # not a row of zeros
])
def test_as_batch_rejects_bad_arrays_naming_the_value(A, elements, match):
    with pytest.raises(CompositionError, match=match):
        as_batch(A, elements=elements)


def test_as_batch_accepts_duck_typed_batches_and_reorders():
    class Duck:
        fractions = np.array([[0.25, 0.75]])
        elements = ("Fe", "Ni")

    b = as_batch(Duck())
    assert isinstance(b, CompositionBatch) and b.elements == ("Fe", "Ni")
    np.testing.assert_array_equal(as_batch(Duck(), elements=["Ni", "Fe", "Co"]).fractions, [[0.75, 0.25, 0.0]])
    with pytest.raises(CompositionError, match="contains Fe"):
        as_batch(Duck(), elements=["Ni"])


def test_amounts_whose_row_sum_overflows_are_refused_by_every_input_type():
    """Finite amounts summing past DBL_MAX: a dict always raised; an array or a DataFrame gave a
    'batch' whose row was all zeros (amount / inf), breaking the rows-sum-to-1 invariant."""
    d = {"Fe": 1e308, "Ni": 1e308}
    for obj, els in ((d, None), (pd.DataFrame([d]), None), (np.array([[1e308, 1e308]]), ["Fe", "Ni"])):
        with pytest.raises(CompositionError, match="amounts overflow to infinity"):
            as_batch(obj, elements=els)
    # the same amounts scaled into range are a fine equiatomic row
    np.testing.assert_array_equal(as_batch(pd.DataFrame([{"Fe": 1e307, "Ni": 1e307}])).fractions, [[0.5, 0.5]])


def test_parse_formulas_kernel_and_reference_agree():
    f = ["Al0.5CoCrFeNi", "(CoCrCuFeNi)96Nb4", "Ti(ZrHf)2"]
    a, b = C.parse_formulas(f), C.parse_formulas_reference(f)
    assert a.elements == b.elements
    np.testing.assert_array_equal(a.fractions, b.fractions)


# --------------------------------------------------------------------------------------------
# row_amounts: numeric input read in place, bad rows located
# --------------------------------------------------------------------------------------------
def test_row_amounts_reads_numeric_input_without_a_copy():
    from hea_fast.composition import row_amounts

    A = np.array([[20.0, 20.0, 60.0], [1.0, 0.0, 3.0]])
    ra = row_amounts(A, elements=["Ni", "Al", "Co"])
    assert ra.data is A and ra.elements == ("Ni", "Al", "Co") and ra.n_rows == ra.m == 2 and not ra.normalized
    F = np.asfortranarray(A)
    ra = row_amounts(F, elements=["Ni", "Al", "Co"])
    assert isinstance(ra.data, tuple) and all(np.shares_memory(c, F) for c in ra.data)
    np.testing.assert_array_equal(ra.array(), A)
    df = pd.DataFrame({"Ni": [20.0, 1.0], "Al": [20.0, 0.0], "Co": [60.0, 3.0], "name": ["a", "b"]}, index=[7, 9])
    ra = row_amounts(df)
    assert ra.elements == ("Al", "Co", "Ni") and list(ra.labels) == [7, 9]  # atomic-number order
    assert np.shares_memory(ra.data[2], df["Ni"].to_numpy())
    np.testing.assert_array_equal(ra.array(), A[:, [1, 2, 0]])
    b = as_batch("AlNi3")
    assert row_amounts(b).data is b.fractions and row_amounts(b).normalized
    # a frame restricted to `elements`: a row holding another element is unreadable
    ra = row_amounts(df, elements=["Ni", "Co"], errors="skip")
    assert ra.bad == {0: "contains Al, which is not in the element set ['Ni', 'Co']"} and list(ra.rows) == [1]
    with pytest.raises(CompositionError, match="row 7 contains Al"):
        row_amounts(df, elements=["Ni", "Co"])


def test_row_amounts_skip_records_unparseable_rows_by_position():
    from hea_fast.composition import row_amounts

    s = pd.Series(["AlNi", "Xx", "CoCr", "Fe(("], index=list("abcd"))
    ra = row_amounts(s, errors="skip")
    assert ra.n_rows == 4 and ra.m == 2 and list(ra.rows) == [0, 2] and list(ra.labels) == list("abcd")
    assert set(ra.bad) == {1, 3} and "Xx" in ra.bad[1]
    with pytest.raises(CompositionBatchError):
        row_amounts(s)
    mask, first, total = row_amounts(np.array([[1.0, np.nan], [0.0, 0.0], [-1.0, 2.0], [1.0, 3.0]]),
                                     elements=["Al", "Co"]).invalid_rows()
    np.testing.assert_array_equal(mask, [True, True, True, False])
    np.testing.assert_array_equal(first, [1, -1, 0, -1])
    assert total[3] == 4.0
