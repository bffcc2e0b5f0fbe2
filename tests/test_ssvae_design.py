"""Inverse design with the SSVAE (hea_fast.ssvae.design): screening in chunks and over arbitrary
element columns, constraints (allowed/forbidden elements, bounds, cost penalty) against their
definitions, and constrained generation / nudging with the authors' weights."""
from __future__ import annotations

import re

import numpy as np
import pytest

from hea_fast.ssvae.design import HEA, Constraints, DesignError, generate, nudge, screen, screen_proba
from hea_fast.ssvae.model import TOP30, load_released


@pytest.fixture(scope="module")
def released(shared_data):
    return load_released(shared_data / "dvae_hea_zeng2024_model" / "ssvae_released_state_dict.npz")


def test_screen_chunks_formulas_and_arrays_agree(released):
    from hea_fast.ssvae.data import load_splits

    test = load_splits(42)["test"]
    p_big = screen(released, test.x.astype(np.float64))
    p_small = screen(released, test.x.astype(np.float64), chunk_size=7)
    np.testing.assert_allclose(p_big, p_small, atol=1e-6)  # float32 matmul blocking differs by batch size
    # features from our C++ kernel vs the released table's descriptors
    import torch

    with torch.no_grad():
        p_tab = released.classifier_prob(torch.from_numpy(test.e))[:, 0].numpy()
    np.testing.assert_allclose(p_big, p_tab, atol=2e-5)
    p_f = screen(released, ["CoCrFeNi", "Co25Cr25Fe25Ni25", {"Co": 1, "Cr": 1, "Fe": 1, "Ni": 1}])
    assert np.ptp(p_f) < 1e-7
    with pytest.raises(DesignError, match=r"\['B'\]"):
        screen(released, ["AlCoCrFeNiB"])
    out = screen(released, ["AlCoCrFeNiB", "CoCrFeNi"], errors="report")
    assert np.isnan(out[0]) and out[1] == pytest.approx(p_f[0])


def test_screen_proba_batch_columns(released):
    from hea_fast.composition import CompositionBatch

    forms = ["CoCrFeNi", "AlCoCrFeNiB", "Fe14Ni16Cr22Co14Al22Cu8", "HfNbTaTiZr"]
    b = CompositionBatch.from_formulas(forms)
    p = screen_proba(released, b)
    assert np.isnan(p[1])
    ok = [0, 2, 3]
    np.testing.assert_allclose(p[ok], screen(released, [forms[i] for i in ok]), atol=1e-12)


def test_constraints_definitions():
    els = ("A", "B", "C", "D")
    p = np.array([[0.4, 0.3, 0.2, 0.1]])
    # forbidden / allowed: zero and renormalise (the conditional distribution)
    np.testing.assert_allclose(Constraints(forbidden=("A",)).apply(els, p), [[0, 0.5, 1 / 3, 1 / 6]])
    np.testing.assert_allclose(Constraints(allowed=("A", "B")).apply(els, p), [[4 / 7, 3 / 7, 0, 0]])
    # cost: p_i ∝ p_i exp(−λ c_i), the minimiser of KL(p'‖p) + λ Σ p'_i c_i
    c = {"A": 2.0, "B": 0.0, "C": 1.0, "D": 0.5}
    q = Constraints(cost=c, cost_weight=0.7).apply(els, p)[0]
    ref = p[0] * np.exp(-0.7 * np.array([2.0, 0.0, 1.0, 0.5]))
    np.testing.assert_allclose(q, ref / ref.sum(), rtol=1e-12)
    obj = lambda r: (r * np.log(r / p[0])).sum() + 0.7 * (r * np.array([2.0, 0, 1, 0.5])).sum()  # noqa: E731
    rng = np.random.default_rng(0)
    for _ in range(50):  # no random point of the simplex does better
        r = rng.dirichlet(np.ones(4))
        assert obj(q) <= obj(r) + 1e-12
    # bounds: every bound holds, the sum is 1, and untouched elements keep their ratios
    b = Constraints(bounds={"A": (0, 25), "D": (20, 100)}).apply(els, p)[0]
    assert b[0] <= 0.25 + 1e-12 and b[3] >= 0.2 - 1e-12 and b.sum() == pytest.approx(1)
    assert b[1] / b[2] == pytest.approx(1.5)
    with pytest.raises(DesignError, match="sum to 110"):
        Constraints(bounds={"A": (60, 100), "B": (50, 100)}).apply(els, p)
    with pytest.raises(DesignError, match=r"\['Zz'\]"):
        Constraints(forbidden=("Zz",)).apply(els, p)
    with pytest.raises(DesignError, match="upper bounds"):
        Constraints(allowed=("A",), bounds={"A": (0, 50)}).apply(els, p)


def test_generate_consistency_and_constraints(released):
    z = np.array([[0.0, -0.4], [1.0, 0.5], [-1.0, 1.0]])
    g = generate(released, z, 1.0)
    np.testing.assert_allclose(g["p_single"], screen(released, list(g["alloy"])), atol=1e-12)
    np.testing.assert_allclose(g["abs_error"], np.abs(g["p_single"] - 1.0))
    cons = Constraints(forbidden=("Al", "Cu"), bounds={"Cr": (10, 25)})
    gc = generate(released, z, 1.0, constraints=cons)
    for a in gc["alloy"]:
        assert "Al" not in a and "Cu" not in a
        amounts = {el: int(v) for el, v in re.findall(r"([A-Z][a-z]?)(\d+)", a)}
        assert 10 <= amounts.get("Cr", 0) <= 25 and sum(amounts.values()) == 100  # rounded within the bound
    # a required element's bounds must hold a whole at.% (designs are written in whole at.%): (2.2, 2.8) gave Al2
    # and (0.3, 0.7) no Al at all, silently; bounds with one inside are met exactly
    for bad, hint in (((2.2, 2.8), r"\(2, 3\)"), ((0.3, 0.7), r"\(1, 1\)")):
        with pytest.raises(DesignError, match=rf"bounds for Al .* hold no whole at\.%.*{hint}"):
            generate(released, z, 1.0, constraints=Constraints(bounds={"Al": bad}))
    with pytest.raises(DesignError, match="min_fraction 5.2 and max_fraction 5.8"):
        generate(released, z, 1.0, constraints=Constraints(min_fraction=5.2, max_fraction=5.8, min_elements=5))
    for ok in ((2.2, 3.0), (0.5, 1.0)):
        for a in generate(released, z, 1.0, constraints=Constraints(bounds={"Al": ok}))["alloy"]:
            amounts = {el: int(v) for el, v in re.findall(r"([A-Z][a-z]?)(\d+)", a)}
            assert ok[0] <= amounts.get("Al", 0) <= ok[1], a
    with pytest.raises(DesignError, match="latent size"):
        generate(released, np.zeros(3))
    with pytest.raises(DesignError, match="p_target"):
        generate(released, np.zeros(2), 1.5)


def test_nudge_paper_example_and_constraints(released):
    """The paper's example Fe14Ni16Cr22Co14Al22Cu8 is nudged to a predicted single phase."""
    t = nudge(released, "Fe14Ni16Cr22Co14Al22Cu8", cutoff=0.6, max_steps=10)
    assert t["p_single"].iloc[0] < 0.5 and t["reached"].iloc[-1] and t["p_single"].iloc[-1] >= 0.6
    np.testing.assert_allclose(t["p_single"], screen(released, list(t["alloy"])), atol=2e-6)
    tc = nudge(released, "Fe14Ni16Cr22Co14Al22Cu8", cutoff=0.6, max_steps=10,
               constraints=Constraints(forbidden=("Cu",)))
    assert not any("Cu" in a for a in tc["alloy"])
    with pytest.raises(DesignError, match="cutoff"):
        nudge(released, "CoCrFeNi", cutoff=0)
    assert set(TOP30) == set(released.config.elements)


def test_screen_scorer_uses_screen_proba(released):
    from hea_fast.composition import CompositionBatch
    from hea_fast.screen import SSVAEScorer
    from hea_fast.ssvae import load_model

    b = CompositionBatch.from_formulas(["CoCrFeNi", "AlCoCrFeNiB", "NbMoTaW"])
    got = SSVAEScorer(load_model("released"), engine="torch").score(b, None)
    np.testing.assert_array_equal(got, screen_proba(released, b))  # the torch path is screen_proba
    assert np.isnan(got[1]) and np.isfinite(got[[0, 2]]).all()
    # the default C++ head (float32, like the model) agrees to float32 rounding
    fast = SSVAEScorer(load_model("released")).score(b, None)
    np.testing.assert_allclose(fast, got, rtol=0, atol=5e-6)
    assert np.isnan(fast[1])


def test_compositions_follow_the_formula_grammar_row_by_row(released):
    """Compositions go through hea_fast.composition.as_batch (the documented grammar: group shares,
    dicts, Series); every bad row is reported with its reason, or named in one DesignError."""
    import pandas as pd

    from hea_fast.ssvae.design import classifier_proba, compositions_to_atpct, features_of

    els = list(released.config.elements)
    rows = ["(CoCrFeNi)96Nb4", "Co25 Cr25 Fe25 Ni25", "Xx2Co", "AlCoCrFeNiB", {"Co": 1, "Ni": 3}, "Co("]
    x, ok, reasons = compositions_to_atpct(released, rows, errors="report", dtype=np.float64)
    assert ok.tolist() == [True, True, False, False, True, False]
    assert x[0, els.index("Nb")] == pytest.approx(4.0) and x[0, els.index("Co")] == pytest.approx(24.0)
    assert x[1, els.index("Fe")] == pytest.approx(25.0) and x[4, els.index("Ni")] == pytest.approx(75.0)
    assert not x[~ok].any() and reasons[0] == reasons[1] == reasons[4] == ""
    assert "unknown element symbol 'Xx'" in reasons[2] and "['B']" in reasons[3] and "unbalanced" in reasons[5]
    with pytest.raises(DesignError, match=r"3 of 6 .*row 2: .*Xx.*row 3: .*\['B'\].*row 5"):
        compositions_to_atpct(released, rows)
    # a Series is read by position whatever its index; errors="skip" (composition's word) = "report"
    xs, oks, _ = compositions_to_atpct(released, pd.Series(rows, index=list("abcdef")), errors="skip",
                                       dtype=np.float64)
    np.testing.assert_array_equal(xs, x)
    np.testing.assert_array_equal(oks, ok)
    p = screen(released, rows, errors="report")
    np.testing.assert_array_equal(np.isnan(p), ~ok)
    np.testing.assert_allclose(p[ok], classifier_proba(released, features_of(released, x[ok])), atol=1e-6)


def test_hea_constraints_project_any_decoder_output_onto_the_definition():
    """For peaked and flat decoder outputs alike, the projection + rounding gives whole at.% summing to
    100 with 5+ elements, each 5-35 at.%, only allowed ones and every required one; a composition
    that already meets the limits is kept as it is."""
    import torch

    els = tuple(TOP30)
    rng = np.random.default_rng(0)
    P = np.vstack([rng.dirichlet(np.full(30, a), size=40) for a in (0.02, 0.3, 5.0)])
    P[0] = np.eye(30)[els.index("Li")]  # Li100, as the unconstrained decoder gives
    cons = [Constraints(**HEA), Constraints(allowed=("Co", "Cr", "Fe", "Ni", "Mn", "Al", "Cu", "Ti", "V"), **HEA),
            Constraints(required=("Nb",), forbidden=("Co",), bounds={"Al": (0, 10)}, min_elements=4,
                        min_fraction=8, max_fraction=30, max_elements=6)]
    for c in cons:
        X = c.to_atpct(els, torch.as_tensor(c.apply(els, P), dtype=torch.float32))
        assert X.dtype.kind == "i" and (X.sum(1) == 100).all()
        for row in X:
            assert c.violations(els, row) == "", (c, row[row > 0])
            present = row > 0
            assert present.sum() >= (c.min_elements or 1) and row[present].min() >= (c.min_fraction or 0)
    eq = np.zeros((1, 30))
    eq[0, [els.index(e) for e in ("Co", "Cr", "Fe", "Mn", "Ni")]] = 0.2
    X = Constraints(**HEA).to_atpct(els, Constraints(**HEA).apply(els, eq))
    assert sorted(X[0][X[0] > 0].tolist()) == [20] * 5
    with pytest.raises(DesignError, match="at least 5 elements but allow at most 3"):
        Constraints(allowed=("Co", "Cr", "Fe"), **HEA).count_range(els)
    with pytest.raises(DesignError, match="at least 3 elements"):  # 100 / 35 -> 3 elements at the least
        Constraints(allowed=("Co", "Cr"), max_fraction=35).count_range(els)
    with pytest.raises(DesignError, match="both required and forbidden"):
        Constraints(required=("Co",), forbidden=("Co",)).check(els)


def test_generate_and_nudge_honour_hea_constraints(released):
    z = np.stack(np.meshgrid(np.linspace(-2, 2, 4), np.linspace(-2, 2, 4), indexing="ij"), -1).reshape(-1, 2)
    plain = generate(released, z, 1.0)
    assert (plain["n_elements"] < 5).any()  # the paper's decoding gives non-HEAs (e.g. Li100)
    c = Constraints(**HEA)
    g = generate(released, z, 1.0, constraints=c)
    assert (g["n_elements"] >= 5).all()
    for a in g["alloy"]:
        amounts = [int(v) for v in re.findall(r"\d+", a)]
        assert min(amounts) >= 5 and max(amounts) <= 35 and sum(amounts) == 100, a
    t = nudge(released, "Fe14Ni16Cr22Co14Al22Cu8", cutoff=0.6, max_steps=6, constraints=c)
    for a in t["alloy"]:
        amounts = [int(v) for v in re.findall(r"\d+", a)]
        assert len(amounts) >= 5 and min(amounts) >= 5 and max(amounts) <= 35, a


def test_nudge_stops_when_an_alloy_repeats(monkeypatch):
    """Each nudge step depends on the previous alloy only, so a repeated alloy means a cycle: the loop
    stops at the repeat (last row, `repeats` = the earlier step) instead of cycling to max_steps."""
    import hea_fast.ssvae.design as D
    from hea_fast.ssvae.model import load_model

    model = load_model("default")
    els = list(model.config.elements)
    a, b = np.zeros(len(els), np.int64), np.zeros(len(els), np.int64)
    a[[els.index(e) for e in ("Fe", "Ni", "Cr", "Co")]] = 25
    b[[els.index(e) for e in ("Fe", "Ni", "Cr", "Co", "Mn")]] = 20
    cycle = iter([a, b, a, b, a, b])
    monkeypatch.setattr(D, "_whole_atpct", lambda model, f, constraints: np.stack([next(cycle)]))
    t = nudge(model, "Fe14Ni16Cr22Co14Al22Cu8", cutoff=1.0, max_steps=10)
    assert list(t["alloy"]) == ["Fe14Ni16Cr22Co14Al22Cu8", "Fe25Ni25Cr25Co25", "Fe20Ni20Cr20Co20Mn20",
                                "Fe25Ni25Cr25Co25"]
    assert list(t["repeats"]) == [-1, -1, -1, 1] and not t["reached"].any()
    # without a repeat the loop runs to max_steps as before
    fresh = iter(range(30))

    def distinct(model, f, constraints):
        c = a.copy()
        c[els.index("Fe")] += next(fresh) + 1
        return np.stack([c])

    monkeypatch.setattr(D, "_whole_atpct", distinct)
    t = nudge(model, "Fe14Ni16Cr22Co14Al22Cu8", cutoff=1.0, max_steps=4)
    assert len(t) == 5 and (t["repeats"] == -1).all()


def test_chosen_elements_survive_the_rounding():
    """A required element, or one added to reach min_elements, that the decoder gives ~1e-14 is still
    in the whole-at.% alloy (at least 1 at.%): it vanished in the rounding before, so generated alloys
    broke the very constraints they were projected onto. Reference: the constraints' definitions,
    checked element by element on the integer rows."""
    import torch

    els = tuple(TOP30)
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.full(30, 0.05), size=30)
    P[:, [els.index("Ag"), els.index("Li")]] = 1e-14  # the decoder all but rules them out
    P /= P.sum(1, keepdims=True)
    for c in (Constraints(required=("Ag",), max_elements=5), Constraints(required=("Ag", "Li"), max_elements=6),
              Constraints(min_elements=12), Constraints(min_elements=8, max_fraction=50.0)):
        X = c.to_atpct(els, torch.as_tensor(c.apply(els, P), dtype=torch.float32))
        assert (X.sum(1) == 100).all() and (X >= 0).all()
        for row in X:
            present = {e for e, v in zip(els, row) if v > 0}
            assert set(c.required) <= present, (c, row[row > 0])
            assert (c.min_elements or 1) <= len(present) <= (c.max_elements or 30), (c, row[row > 0])
            assert c.violations(els, row) == ""
    # the same through the model (these latent points lost Ag / fell short of 12 elements before)
    from hea_fast.ssvae.model import load_model

    model = load_model("default")
    z = np.stack(np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-2, 2, 5)), -1).reshape(-1, 2)
    g = generate(model, z, 1.0, constraints=Constraints(required=("Ag",), max_elements=5))
    assert g["alloy"].str.contains("Ag").all() and (g["n_elements"] <= 5).all()
    assert (generate(model, z, 1.0, constraints=Constraints(min_elements=12))["n_elements"] >= 12).all()


def test_bad_design_inputs_raise_instead_of_silent_nan():
    """A non-finite latent point decoded to a NaN composition, written as an empty alloy (or, with the
    HEA limits, as an equimolar quinary unrelated to z); NaN costs did the same. Now DesignError."""
    from hea_fast.ssvae.model import load_model

    model = load_model("default")
    for z in ([[np.nan, 0.0]], [[0.0, np.inf]], [[0.0, 0.0], [1.0, -np.inf]]):
        for c in (None, Constraints(**HEA)):
            with pytest.raises(DesignError, match="non-finite"):
                generate(model, z, 1.0, constraints=c)
    with pytest.raises(DesignError, match="2 target probabilities for 3 latent points"):
        generate(model, np.zeros((3, 2)), [0.2, 0.9])
    with pytest.raises(DesignError, match="latent size is 2"):
        generate(model, np.zeros((2, 2, 2)), 1.0)
    g = generate(model, np.zeros((2, 2)), [0.2, 0.9])  # one target per point still works
    assert list(g["p_target"]) == pytest.approx([0.2, 0.9])
    with pytest.raises(DesignError, match=r"\['Co'\] is not a finite number"):
        generate(model, [0.0, 0.0], 1.0, constraints=Constraints(cost={"Co": np.nan}, cost_weight=1.0))
    with pytest.raises(DesignError, match="cost_weight must be a finite"):
        generate(model, [0.0, 0.0], 1.0, constraints=Constraints(cost={"Co": 1.0}, cost_weight=np.inf))


def test_screen_array_errors_name_the_row_of_the_whole_array():
    """screen() checks an array chunk by chunk: the row an error names is the row of the input, not of
    its chunk (row 3 in chunks of 2 was reported as row 1)."""
    from hea_fast.ssvae.model import load_model

    model = load_model("default")
    X = np.ones((5, 30))
    X[3] = 0.0
    with pytest.raises(DesignError, match="row 3 is empty"):
        screen(model, X, chunk_size=2)
    X = np.ones((5, 30))
    X[4, 2] = -1.0
    with pytest.raises(DesignError, match=r"row 4 holds negative or non-finite amounts: \[-1.0\]"):
        screen(model, X, chunk_size=2)
    # formulas in an object / string array still go through the formula grammar
    np.testing.assert_allclose(screen(model, np.array(["CoCrFeNi", "CoCrFeNiMn"])),
                               screen(model, ["CoCrFeNi", "CoCrFeNiMn"]), atol=0)


def test_cost_penalty_on_property_scales_does_not_overflow():
    """p_i ∝ p_i·exp(−λ·cost_i) with λ·Δcost beyond ~709 (a negative λ to favour a high melting point
    in K) overflowed exp(): the row became NaN and then equimolar over every allowed element.
    Reference: the same formula in 50-digit arithmetic (mpmath)."""
    import mpmath

    mpmath.mp.dps = 50
    els = ("A", "B", "C", "D")
    p = np.array([[0.4, 0.3, 0.2, 0.1], [0.0, 0.5, 0.25, 0.25]])
    tm = {"A": 1811.0, "B": 3290.0, "C": 3287.5, "D": 933.5}  # melting points, K
    for lam, kw in ((-1.0, {}), (-0.003, {}), (2.5, {}), (-1.0, {"forbidden": ("B",)})):
        c = Constraints(cost=tm, cost_weight=lam, **kw)
        q = c.apply(els, p)
        mask = np.array([e not in kw.get("forbidden", ()) for e in els])
        for row, got in zip(p, q):
            w = [mpmath.mpf(float(pi)) * mpmath.exp(-lam * mpmath.mpf(tm[e])) if m else mpmath.mpf(0)
                 for pi, e, m in zip(row, els, mask)]
            ref = np.array([float(x / sum(w)) for x in w])
            np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-300)
    # in the limit every amount goes to the allowed element of extreme cost that the decoder allows
    from hea_fast.ssvae.model import load_model

    model = load_model("default")
    hot = dict(zip(model.config.elements, np.linspace(1000.0, 3000.0, 30)))
    z = np.array([[0.0, 0.0], [-1.0, 1.0]], np.float32)
    g = generate(model, z, 1.0, constraints=Constraints(cost=hot, cost_weight=-1000.0))
    import torch

    with torch.no_grad():
        f = model.decode(torch.as_tensor(z), torch.ones(2, 1)).numpy()
    cost = np.array([hot[e] for e in model.config.elements])
    want = [f"{model.config.elements[int(np.argmax(np.where(row > 0, cost, -np.inf)))]}100" for row in f]
    assert list(g["alloy"]) == want
