"""The formula grammar (hea_fast.parse, the `parse` kernel): the issue's examples, the group-share
rule, errors with positions, the compiled batch parser against the pure-Python reference on a
hypothesis corpus, and agreement with pymatgen's Composition on plain formulas.

Expected fractions are worked out by hand from the amounts as written (closed forms), not copied
from the parser's output.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hea_fast import composition as C
from hea_fast import parse as P
from hea_fast._backend import core
from hea_fast.composition import (
    CompositionBatch,
    CompositionBatchError,
    CompositionError,
    parse_formula,
)
from hea_fast.parse import normalise_notation

ENGINES = ("cpp", "python")


def _frac(amounts: dict) -> dict:
    s = math.fsum(amounts.values())
    return {k: v / s for k, v in amounts.items() if v}


def _batch_dict(b: CompositionBatch, i: int = 0) -> dict:
    return {e: float(v) for e, v in zip(b.elements, b.fractions[i]) if v != 0}


def _assert_close(got: dict, want: dict, rel=1e-14):
    assert set(got) == set(want), (got, want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=rel, abs=0), (k, got, want)


# --------------------------------------------------------------------------------------------
# The examples, both engines
# --------------------------------------------------------------------------------------------
CASES = [
    ("Al0.5CoCrFeNi", {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("Al10Co20Cr20Fe20Ni20", {"Al": 10, "Co": 20, "Cr": 20, "Fe": 20, "Ni": 20}),
    ("Al 0.5 Co Cr Fe Ni", {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("Al.5CoCrFeNi", {"Al": 0.5, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("AlCoCrFeMo0Ni", {"Al": 1, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("Al1e-2CoCrFeNi", {"Al": 0.01, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("Al1E-2CoCrFeNi", {"Al": 0.01, "Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}),
    ("Al2.5e1Co75", {"Al": 25, "Co": 75}),
    ("\tAl\n0.5 Co  ", {"Al": 0.5, "Co": 1}),
    ("Fe1Er", {"Fe": 1, "Er": 1}),  # 'E' + lower-case letter is an element, not an exponent
    ("Fe2Eu1Es", {"Fe": 2, "Eu": 1, "Es": 1}),
    ("CoCrCo", {"Co": 2, "Cr": 1}),  # repeated symbols add up
    ("Al1.Co", {"Al": 1, "Co": 1}),
    ("Al1e-400Co", {"Co": 1}),  # underflows to zero like float(): dropped
    ("NaN2", {"Na": 1, "N": 2}),  # only a whole-text 'NaN' is a missing value
    ("Na", {"Na": 1}),
    ("AlCrNbTiV\u00a0", {"Al": 1, "Cr": 1, "Nb": 1, "Ti": 1, "V": 1}),  # as in the MPEA dataset
    ("Al\u2009Co\u30000.5\x1cNi\x85 ", {"Al": 1, "Co": 0.5, "Ni": 1}),  # Unicode whitespace
    # group-share rule: percent-like levels -> the group's total share
    ("(CoCrCuFeNi)96Nb4", {"Co": 19.2, "Cr": 19.2, "Cu": 19.2, "Fe": 19.2, "Ni": 19.2, "Nb": 4}),
    ("(FeNi)0.5Cr0.5", {"Fe": 0.25, "Ni": 0.25, "Cr": 0.5}),
    ("(Fe2Ni)60Co40", {"Fe": 40, "Ni": 20, "Co": 40}),
    ("((AlCo)50Cr50)90Ni10", {"Al": 22.5, "Co": 22.5, "Cr": 45, "Ni": 10}),
    ("(AlCoCrFeNi)99.99999Mo0.00001", {"Al": 19.999998, "Co": 19.999998, "Cr": 19.999998,
                                       "Fe": 19.999998, "Ni": 19.999998, "Mo": 0.00001}),
    # otherwise multiplicative (chemistry)
    ("Ti(ZrHf)2", {"Ti": 1, "Zr": 2, "Hf": 2}),
    ("Ti(ZrHf)2Nb", {"Ti": 1, "Zr": 2, "Hf": 2, "Nb": 1}),
    ("(TiZr)3(NbTa)2", {"Ti": 3, "Zr": 3, "Nb": 2, "Ta": 2}),
    ("Al(CoCr)", {"Al": 1, "Co": 1, "Cr": 1}),
    ("(Al(Co2Cr)2)3", {"Al": 3, "Co": 12, "Cr": 6}),
    ("(Al0Co0)2Ni", {"Ni": 1}),
    ("(CoCr)0Ni", {"Ni": 1}),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("formula,amounts", CASES, ids=[c[0] for c in CASES])
def test_examples(formula, amounts, engine):
    want = _frac(amounts)
    b = CompositionBatch.from_formulas([formula], engine=engine)
    _assert_close(_batch_dict(b), want)
    assert b.fractions.sum() == pytest.approx(1.0, abs=1e-15)
    _assert_close(parse_formula(formula), want)


def test_group_share_rule_decides_per_level():
    # same group, same subscript: a 100-sum level means shares, a 3-sum level multiplies
    assert parse_formula("(CoCrCuFeNi)96Nb4")["Nb"] == pytest.approx(0.04)
    assert parse_formula("(CoCrCuFeNi)96Nb")["Nb"] == pytest.approx(1 / 481)  # unit sum 97: multiplicative
    assert parse_formula("Ti(ZrHf)2")["Ti"] == pytest.approx(0.2)
    # the tolerance: 1e-6 relative of 100 or 1
    assert parse_formula("(FeNi)99.99995Co0.00004")["Co"] == pytest.approx(4e-7, rel=1e-12)
    assert parse_formula("(FeNi)99.9998Co0.0001")["Co"] == pytest.approx(0.0001 / 199.9997, rel=1e-12)


def test_parse_amounts_keeps_units():
    assert C.parse_amounts("Al10Co20Cr20Fe20Ni20") == {"Al": 10, "Co": 20, "Cr": 20, "Fe": 20, "Ni": 20}
    assert C.parse_amounts("(CoCrCuFeNi)96Nb4")["Nb"] == 4.0


def test_compiled_element_table_matches_python():
    assert core.PARSE_ELEMENTS == C.ELEMENTS
    assert core.PARSE_MAX_DEPTH == C.MAX_DEPTH
    assert set(core.PARSE_STATUS) - {"ok", "not_a_string", "outside_set"} == set(P.MESSAGES)


# --------------------------------------------------------------------------------------------
# Errors: code, position (a Python string index), and a message naming formula and position
# --------------------------------------------------------------------------------------------
DEEP = "(" * 33 + "Al" + ")" * 33
ERRORS = [
    ("Xx", "unknown_symbol", 0, "'Xx'"),
    ("AlCoXxNi", "unknown_symbol", 4, "'Xx'"),
    ("ALCOCRFENI", "unknown_symbol", 0, "case-sensitive"),
    ("D", "unknown_symbol", 0, "write H"),
    ("FeT2", "unknown_symbol", 2, "'T'"),
    ("", "empty", None, "empty formula"),
    ("   \t", "empty", None, "empty formula"),
    ("Al0Co0", "all_zero", None, "all amounts are zero"),
    ("(AlCo)0", "all_zero", None, "all amounts are zero"),
    ("Al-0.5Co", "negative", 2, "negative"),
    ("Al - .5Co", "negative", 3, "negative"),
    ("Al-", "unexpected_char", 2, "'-'"),
    ("Ti-6Al-4V", "negative", 2, "weight percent"),
    ("Al10Co90 (wt.%)", "unexpected_char", 10, "weight percent is not read"),  # never read as at.%
    ("Al10Co90 wt%", "unexpected_char", 9, "weight percent is not read"),
    ("Al-Co, Cr", "unexpected_char", 2, "'-'"),  # the rewritten text fails too: the original's error
    ("Al$_{0.5}$Xx", "unexpected_char", 2, "'$'"),
    ("Al+2Co", "unexpected_char", 2, "'+'"),
    ("Al0,5CoCrFeNi", "decimal_comma", 3, "decimal comma"),
    ("Al, Co", "unexpected_char", 2, "','"),
    ("Al1.2.3Co", "malformed_number", 2, "'1.2.'"),
    ("Al.Co", "malformed_number", 2, "'.'"),
    ("Al1eCo", "malformed_exponent", 2, "'1e'"),
    ("Al1E+Co", "malformed_exponent", 2, "'1E+'"),
    ("Al1e999Co", "nonfinite", 2, "'1e999'"),
    ("(Al1e200)1e200Co", "overflow", None, "overflow"),
    ("Al1e308Co1e308", "overflow", None, "overflow"),
    ("0.5Al", "amount_without_element", 0, "amount without an element"),
    ("Al(2Co)", "amount_without_element", 3, "amount without an element"),
    ("Al(CoCr", "unclosed_paren", 2, "never closed"),
    ("((Al)Co", "unclosed_paren", 0, "never closed"),
    ("AlCo)2", "unexpected_close", 4, "unexpected ')'"),
    ("Al()2Co", "empty_group", 2, "empty group"),
    ("Al( )Co", "empty_group", 2, "empty group"),
    (DEEP, "too_deep", 32, "deeper than 32"),
    ("Al\u200bCo", "unexpected_char", 2, "'\\u200b'"),  # zero-width space: not whitespace to str.isspace()
    ("Alé2Co", "unexpected_char", 2, "'é'"),
    ("Al０.５Co", "unexpected_char", 2, "'０'"),  # full-width digits are not amounts
    ("Al\u0663Co", "unexpected_char", 2, "'\u0663'"),  # Arabic-Indic 3: \d and float() accept it
    ("日本Al", "unexpected_char", 0, "'日'"),
    ("Al😀Co", "unexpected_char", 2, "'😀'"),
    ("Co\x00Cr", "unexpected_char", 2, "'\\x00'"),
    ("nan", "missing_value", 0, "missing value 'nan'"),
    ("NaN", "missing_value", 0, "missing value 'NaN'"),  # would read as Na + N
    (" INF\t", "missing_value", 1, "missing value 'INF'"),  # would read as I + N + F
    ("-inf", "missing_value", 0, "missing value '-inf'"),
    ("None", "missing_value", 0, "missing value 'None'"),
    ("N/A", "missing_value", 0, "missing value 'N/A'"),
    ("Al inf", "unexpected_char", 3, "'i'"),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("formula,code,pos,text", ERRORS, ids=[repr(e[0])[:20] for e in ERRORS])
def test_errors_name_formula_reason_and_position(formula, code, pos, text, engine):
    with pytest.raises(CompositionBatchError) as info:
        CompositionBatch.from_formulas(["CoCrFeNi", formula], engine=engine)
    (label, err), = info.value.errors
    assert label == 1
    assert isinstance(err, CompositionError) and isinstance(err, ValueError)
    assert err.code == code
    assert err.position == pos
    assert err.formula == formula
    msg = str(err)
    assert text in msg and repr(formula) in msg
    if pos is not None:
        assert f"at position {pos}" in msg
    with pytest.raises(CompositionError) as single:
        parse_formula(formula)
    assert str(single.value) == msg


NOTATIONS = [  # published notation, the same alloy in the grammar
    ("Al-Co-Cr-Fe-Ni", "AlCoCrFeNi"),
    ("Co – Cr – Fe – Mn – Ni", "CoCrFeMnNi"),
    ("Al0.5-CoCrFeNi", "Al0.5CoCrFeNi"),
    ("AlCoCrFeNi₂.₁", "AlCoCrFeNi2.1"),
    ("Al₀.₃CoCrFeNi", "Al0.3CoCrFeNi"),
    ("Al$_{0.5}$CoCrFeNi", "Al0.5CoCrFeNi"),
    ("Al_{0.5}CoCrFeNi", "Al0.5CoCrFeNi"),
    ("Al_0.5CoCrFeNi", "Al0.5CoCrFeNi"),
    ("\\mathrm{Al}_{0.5}\\mathrm{CoCrFeNi}", "Al0.5CoCrFeNi"),
    ("[CoCrFeNi]96Nb4", "(CoCrFeNi)96Nb4"),
    ("Al(0.5)CoCrFeNi", "Al0.5CoCrFeNi"),
    ("AlCoCrFeNi(2.1)", "AlCoCrFeNi2.1"),
    ("Ti(1.5)Zr(ZrHf)(0.5)", "Ti1.5Zr(ZrHf)0.5"),
    ("Al10Co22.5Cr22.5Fe22.5Ni22.5 at.%", "Al10Co22.5Cr22.5Fe22.5Ni22.5"),
    ("Fe50Mn30Co10Cr10 (at. %)", "Fe50Mn30Co10Cr10"),
    ("CoCrFeMnNi (as-cast)", "CoCrFeMnNi"),
    ("Al0.3CoCrFeNi (aged 700 C, 24 h)", "Al0.3CoCrFeNi"),
    ("CoCrFeMnNi (annealed at 1100 \u00b0C)", "CoCrFeMnNi"),
    ("CoCrFeMnNi (Cantor alloy)", "CoCrFeMnNi"),
    ("AlCoCrFeNi2.1 (EHEA)", "AlCoCrFeNi2.1"),
    ("CoCrFeNi (Annealed, 1200 K)", "CoCrFeNi"),
    ("HfNbTaTiZr (Senkov et al.)", "HfNbTaTiZr"),
    ("CoCrFeMnNi*", "CoCrFeMnNi"),
    ("HfNbTaTiZr \u2020", "HfNbTaTiZr"),
    ("NbMoTaW **", "NbMoTaW"),
    ("AlxCoCrFeNi (x = 0.3)", "Al0.3CoCrFeNi"),
    ("AlxCoCrFeNi, x=0.3", "Al0.3CoCrFeNi"),
    ("AlxCoCrFeNiTiy (x = 0.5, y = 0.2)", "Al0.5CoCrFeNiTi0.2"),
    ("Al$_x$CoCrFeNi (x=0.75)", "Al0.75CoCrFeNi"),
    ("(CoCrFeNi)xAly (x = 90; y = 10)", "(CoCrFeNi)90Al10"),
]
NOT_FAMILIES = [  # variables without a value (or values without their variable) stay errors, and
    # so do remarks that may name part of the composition
    "AlxCoCrFeNi", "AlxCoCrFeNi (y = 0.3)", "AlxCoCrFeNiTiy (x = 0.5)", "CoCrFeNiDy (y = 0.3)",
    "Ni60Cr20 (balance Fe)", "Ni60Cr20 (bal. Fe)", "CoCrFeNi (doped with 0.5 C)", "CoCrFeNi (plus 2 at.% C)",
    "CoCrFeNi (Al-free)", "HfNbTaTiZr (NbTa-rich)", "CoCrFeNi (In air)", "CoCrFeNi (alloy B)",
    # ... or may stand for an amount: these read as pure Nb / CoCrFeNi when dropped as remarks
    "Nb(nan)", "Nb(inf)", "CoCrFeNi (NAN)", "Nb(x)", "CoCrFeNiAl (y)", "Nb(-inf)", "Nb (Infinity)",
]


@pytest.mark.parametrize("engine", ENGINES)
def test_published_notations_parse_as_their_plain_form(engine):
    pub, plain = zip(*NOTATIONS)
    a = CompositionBatch.from_formulas(list(pub) + ["CoCrFeNi"], engine=engine)
    b = CompositionBatch.from_formulas(list(plain) + ["CoCrFeNi"], engine=engine)
    assert a.elements == b.elements
    np.testing.assert_array_equal(a.fractions, b.fractions)
    for p_, q in NOTATIONS:
        assert parse_formula(p_) == parse_formula(q)
    # the grammar's own texts are never rewritten: a plain formula's normal form is itself
    for q in plain:
        assert normalise_notation(q) == q
    for q in NOT_FAMILIES:
        with pytest.raises(CompositionError, match=f"in formula {re.escape(repr(q))}"):
            parse_formula(q)
        bad = CompositionBatch.from_formulas([q, "CoCrFeNi"], engine=engine, errors="skip")
        assert [i for i, _ in bad.skipped] == [0]


LABELLED = [  # a compilation's formula with a phase or processing label, the alloy it names
    ("CoCrFeNi (FCC)", "CoCrFeNi"),            # the grammar alone reads F + C + C
    ("NbMoTaW (BCC)", "NbMoTaW"),              # B + C + C
    ("AlCoCrFeNi (HIP)", "AlCoCrFeNi"),        # H + I + P
    ("CoCrFeNi (B2)", "CoCrFeNi"),             # boron 2
    ("CoCrFeNi [SPS]", "CoCrFeNi"),
    ("AlCoCrFeNi (BCC+B2)", "AlCoCrFeNi"),     # rejected by the grammar ('+'): the retry path
    ("CoCrFeNi(AC)", "CoCrFeNi"),              # rejected ('A')
    ("CoCrFeMnNi FCC", "CoCrFeMnNi"),
    ("Al0.3CoCrFeNi-HIP", "Al0.3CoCrFeNi"),
    ("CoCrFeNi (FCC) (HIP)", "CoCrFeNi"),
    ("FeCoNiB0.2 (FCC)", "FeCoNiB0.2"),        # the alloy's own boron stays
]
NOT_LABELS = [  # texts that end like a label but are components, read by the grammar as written
    "Fe40Mn40Co10Cr10 B2",                      # a bare B2 after a space is boron
    "NbMoTaWC", "CoCrFeNiW0.5C0.1", "Al0.5(CoCrFeNi)", "(FeCoNi)86Al7Ti7", "CoCrFeNi(SC)2",
]


@pytest.mark.parametrize("engine", ENGINES)
def test_trailing_phase_and_processing_labels_are_not_read_as_elements(engine):
    pub, plain = zip(*LABELLED)
    a = CompositionBatch.from_formulas(list(pub) + ["NbTa"], engine=engine)
    b = CompositionBatch.from_formulas(list(plain) + ["NbTa"], engine=engine)
    assert a.elements == b.elements  # no F, H, I, P column left behind by a label
    np.testing.assert_array_equal(a.fractions, b.fractions)
    for p_, q in LABELLED:
        assert parse_formula(p_) == parse_formula(q), p_
    for q in NOT_LABELS:
        assert P.strip_labels(q) == q
        assert parse_formula(q) == P.parse_formula_reference(q)
    assert parse_formula("Fe40Mn40Co10Cr10 B2")["B"] == pytest.approx(2 / 102)
    # a label alone is not a formula; with a fixed element set the label is not "outside" it
    with pytest.raises(CompositionError, match="empty formula"):
        CompositionBatch.from_formulas(["(FCC)"], engine=engine)
    c = CompositionBatch.from_formulas(["CoCrFeNi (FCC)", "CoCrFeNi"], elements=["Co", "Cr", "Fe", "Ni"],
                                       engine=engine)
    np.testing.assert_array_equal(c.fractions, np.full((2, 4), 0.25))
    # a palette that includes the label's elements (carbon steels) still drops the label
    d = CompositionBatch.from_formulas(["CoCrFeNi (FCC)", "FeC0.1"], elements=["C", "F", "Co", "Cr", "Fe", "Ni"],
                                       engine=engine)
    np.testing.assert_array_equal(d.fractions[0], [0, 0, 0.25, 0.25, 0.25, 0.25])


def test_error_is_exported_and_a_value_error():
    import hea_fast

    assert hea_fast.CompositionError is CompositionError
    with pytest.raises(ValueError, match=r"unknown element symbol 'Xx' at position 2 in formula 'AlXx'"):
        hea_fast.parse_formula("AlXx")


def test_non_string_formula_rejected():
    with pytest.raises(CompositionError, match="must be a string"):
        parse_formula(3.5)


# --------------------------------------------------------------------------------------------
# Compiled parser == Python reference: bit-identical fractions, identical errors
# --------------------------------------------------------------------------------------------
def _assert_engines_agree(formulas: list, threads=None):
    F, zc, status, pos, length = core.parse_formulas(formulas, None, threads)
    cols = {C.ELEMENTS[z - 1]: j for j, z in enumerate(zc)}
    present = set()
    for i, f in enumerate(formulas):
        try:
            ref = P.parse_formula_reference(f)
        except CompositionError as e:
            got = (core.PARSE_STATUS[status[i]], int(pos[i]), int(length[i]))
            want = (e.code, -1 if e.position is None else e.position, e.length)
            assert got == want, (f, got, want)
            assert not F[i].any()
            assert str(P.error_for_status(got[0], f, got[1], got[2])) == str(e)
            continue
        assert status[i] == 0, (f, core.PARSE_STATUS[status[i]])
        row = np.zeros(len(zc))
        for e, v in ref.items():
            row[cols[e]] = v
        present |= set(ref)
        np.testing.assert_array_equal(F[i], row, err_msg=repr(f))  # bit-identical
    assert set(cols) == present


SYMBOLS = ["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Zr", "Hf", "Nb", "Ta", "Mo", "W", "V", "Cu", "Mn", "C", "B",
           "N", "Er", "Eu", "Es", "Xx", "D", "T", "A", "Og"]
# whitespace as str.isspace() has it, Unicode spaces included (the compiled parser lists them)
_ws = st.sampled_from(["", "", "", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0",
                       "\u1680", "\u2000", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"])
_amount = st.one_of(
    st.just(""),
    st.integers(0, 200).map(str),
    st.floats(0, 120, allow_nan=False).map(repr),
    st.floats(1e-320, 1e300, allow_nan=False).map(lambda x: f"{x:.6e}"),
    st.sampled_from([".5", "0.", "1.", "1e-2", "1E-2", "2.5e1", "0", "00", "1e999", "1e-400", "007",
                     "96", "4", "0.25", "33.3333", "1E+3", "5e-324"]),
)


def _element():
    return st.builds(lambda s, w1, a, w2: s + w1 + a + w2, st.sampled_from(SYMBOLS), _ws, _amount, _ws)


def _group(inner):
    return st.builds(lambda w, f, a: "(" + w + f + ")" + a, _ws, inner, _amount)


@st.composite
def _share(draw, inner):
    """A level whose amounts sum to 100 or 1 and that holds a group: the group-share rule."""
    total = draw(st.sampled_from([100.0, 1.0]))
    k = draw(st.integers(0, 3))
    amts = [round(draw(st.floats(0, total / (k + 1))), 3) for _ in range(k)]
    syms = draw(st.lists(st.sampled_from(SYMBOLS[:16]), min_size=k, max_size=k))
    group = "(" + draw(inner) + ")" + f"{total - sum(amts):.6f}"
    parts = [s + f"{a:g}" for s, a in zip(syms, amts)]
    parts.insert(draw(st.integers(0, k)), group)
    return draw(_ws).join(parts)


def _level(children):
    inner = st.one_of(children, _share(children))
    return st.lists(st.one_of(_element(), _group(inner)), min_size=1, max_size=5).map("".join)


FORMULA = st.recursive(st.lists(_element(), min_size=1, max_size=6).map("".join), _level, max_leaves=12)
SHARE = _share(FORMULA)
JUNK = list("()-+,.eE0123456789 \t\r\v\f") + ["\u00a0", "\u2009", "\u3000", "\x1c", "\x1f", "\x85", "\u1680",
                                               "\u202f", "\u205f", "\u200b", "\u2028", "\u200a", "\u200c", "é",
                                               "０", "\u0663", "\x00", "x", "Al", "Co", "Q", "😀", "E", "e"]


@st.composite
def _mutated(draw):
    s = draw(st.one_of(FORMULA, SHARE))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(s)))
        op = draw(st.sampled_from(["insert", "replace", "delete"]))
        c = draw(st.sampled_from(JUNK))
        if op == "insert":
            s = s[:i] + c + s[i:]
        elif op == "replace":
            s = s[:i] + c + s[i + 1:]
        else:
            s = s[:i] + s[i + 1:]
    return s


MARKERS = st.builds(lambda w1, m, w2: w1 + m + w2, st.sampled_from(["", " ", "\u00a0", "\u2009\t"]), st.sampled_from(
    ["NaN", "nan", "inf", "INFINITY", "None", "null", "<NA>", "n/a", "NA", "Na", "InF", "-INF", "+inf", "nan2",
     "NaNNaN", "\u0130nf", "N/a", "infinit", "NoNe", "nan\u00a0", "\u3000INF", "na\x00n"]),
    st.sampled_from(["", " ", "\u00a0", "\u2009\t"]))
CORPUS = st.one_of(FORMULA, SHARE, _mutated(), MARKERS, st.text(max_size=25),
                   st.text(alphabet=st.sampled_from(list("AlCoNiEeDTX()0123456789.,+- \t")), max_size=25))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CORPUS, min_size=1, max_size=25))
def test_compiled_parser_matches_reference_hypothesis(formulas):
    _assert_engines_agree(formulas)


def _random_formulas(n: int, seed: int) -> list[str]:
    """A seeded corpus in the styles found in HEA datasets (moles, at.%, groups, spaces, exponents),
    with a few corrupted rows."""
    rng = np.random.default_rng(seed)
    els = np.array(["Al", "Co", "Cr", "Fe", "Ni", "Ti", "Zr", "Hf", "Nb", "Ta", "Mo", "W", "V", "Cu", "Mn"])
    out = []
    for _ in range(n):
        k = rng.integers(2, 7)
        syms = rng.choice(els, size=k, replace=False)
        style = rng.integers(0, 7)
        if style == 0:
            parts = [s + (f"{a:.3g}" if a != 1 else "") for s, a in zip(syms, rng.uniform(0, 3, k).round(2))]
        elif style == 1:
            parts = [f"{s}{a:g}" for s, a in zip(syms, rng.dirichlet(np.ones(k)).round(3) * 100)]
        elif style == 2:
            parts = ["(" + "".join(syms[:-1]) + f"){100 - (x := rng.integers(1, 20))}", f"{syms[-1]}{x}"]
        elif style == 3:
            parts = [f"{s} {a:.2e} " for s, a in zip(syms, rng.uniform(0, 2, k))]
        elif style == 4:
            parts = [syms[0], "(" + "".join(syms[1:]) + f"){rng.integers(1, 4)}"]
        elif style == 5:
            parts = [f"{s}.{rng.integers(1, 99)}" for s in syms]
        else:  # a percent-like level nested in a multiplicative group
            x = rng.uniform(0.5, 20)
            parts = ["((" + "".join(syms[1:-1]) + f"){100 - x:.4f}{syms[-1]}{x:.4f})", f"{rng.uniform(1, 3):.3f}",
                     syms[0]]
        f = "".join(parts)
        if rng.random() < 0.05:
            i = rng.integers(0, len(f) + 1)
            f = f[:i] + rng.choice(JUNK) + f[i:]
        out.append(f)
    return out


def test_compiled_parser_matches_reference_seeded_corpus():
    formulas = _random_formulas(10_000, seed=7)
    _assert_engines_agree(formulas, threads=2)
    a = CompositionBatch.from_formulas(formulas, errors="skip", engine="cpp")
    b = CompositionBatch.from_formulas(formulas, errors="skip", engine="python")
    assert a.elements == b.elements and a.skipped == b.skipped
    np.testing.assert_array_equal(a.fractions, b.fractions)
    np.testing.assert_array_equal(a.index, b.index)
    assert len(a.skipped) > 50  # the corpus exercises the error paths too
    # a fixed element set (in a non-sorted order): rows with other elements are reported alike
    els = ["Ni", "Fe", "Co", "Cr", "Al", "Ti", "Zr", "Hf", "Nb", "Ta", "Mo", "W"]
    a = CompositionBatch.from_formulas(formulas, elements=els, errors="skip", engine="cpp")
    b = CompositionBatch.from_formulas(formulas, elements=els, errors="skip", engine="python")
    assert a.elements == b.elements == tuple(els) and a.skipped == b.skipped
    assert sum("not in the requested element set" in r for _, r in a.skipped) > 1000
    np.testing.assert_array_equal(a.fractions, b.fractions)


TRICKY_NUMBERS = ["9007199254740993", "9007199254740992", "9999999999999999999", "18446744073709551617",
                  "0.1", "1.0000000000000002", "0.30000000000000004441", "123456789012345678901234567890",
                  "0.000000000000000000000000000001", "2.2250738585072014e-308", "4.9e-324", "1e-323",
                  "1.7976931348623157e308", "1e23", "1e22", "8.98846567431158e307", "3.14159265358979323846264",
                  "7e-22", "7e-23", "1.5e+22", "00000000000000000000001.5", "0.0000000000000000000000"]


def test_amounts_are_correctly_rounded_like_float():
    # the compiled parser's fast path (Clinger) and its from_chars/strtod fallback vs float()
    formulas = [f"Co1Al{x}" for x in TRICKY_NUMBERS] + [f"Al{x}" for x in TRICKY_NUMBERS]
    _assert_engines_agree(formulas)
    F, zc, status, _, _ = core.parse_formulas([f"Co1Al{x}" for x in TRICKY_NUMBERS[:4]])
    al = list(zc).index(13)
    for i, x in enumerate(TRICKY_NUMBERS[:4]):
        assert F[i, al] == float(x) / (1.0 + float(x))


def test_thread_count_does_not_change_results():
    formulas = _random_formulas(20_000, seed=11)
    r1 = core.parse_formulas(formulas, None, 1)
    r4 = core.parse_formulas(formulas, None, 4)
    for x, y in zip(r1, r4):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------------------------
# Agreement with pymatgen's Composition on plain formulas (no percent-like groups)
# --------------------------------------------------------------------------------------------
def test_agrees_with_pymatgen_on_plain_formulas():
    mg = pytest.importorskip("pymatgen.core")
    rng = np.random.default_rng(3)
    syms = [e for e in C.ELEMENTS[:94] if e not in ("D", "T")]
    formulas = []
    for _ in range(400):
        k = rng.integers(1, 8)
        parts = []
        for s in rng.choice(syms, size=k, replace=False):
            a = [1.0, float(rng.integers(1, 100)), round(rng.uniform(0.01, 50), 4)][rng.integers(0, 3)]
            parts.append(s + ("" if a == 1.0 else f"{a:g}"))
        formulas.append("".join(parts))
    formulas += ["Ti(ZrHf)2", "(TiZr)3(NbTa)2", "Al(Co2Cr)2", "Al 0.5 Co Cr Fe Ni", "Al.5CoCrFeNi"]
    b = CompositionBatch.from_formulas(formulas)
    for i, f in enumerate(formulas):
        comp = mg.Composition(f)
        want = {str(el): comp.get_atomic_fraction(el) for el in comp.elements}
        _assert_close(_batch_dict(b, i), want, rel=1e-12)


