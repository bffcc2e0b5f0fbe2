"""`hea_fast.phase.records`: the recorded compositions behind a phase model and the known-alloy blend."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hea_fast.phase.records import RECORDS_FILE, RecordTable, blend, composition_matches

ELS = ("Al", "Co", "Cr", "Fe", "Ni", "Ti")


def _table(seed=0, m=60):
    """A random table over ELS: 3-5 element sets, some rows 1e-4..2e-3 apart from another row."""
    rng = np.random.default_rng(seed)
    F = np.zeros((m, len(ELS)))
    for i in range(m):
        if i >= 20 and rng.random() < 0.5:  # a near twin of an earlier row (same set)
            j = int(rng.integers(0, i))
            x = F[j].copy()
            on = np.flatnonzero(x)
            x[on] += rng.uniform(-2e-3, 2e-3, on.size)
            F[i] = np.clip(x, 1e-3, None) * (x > 0)
        else:
            on = rng.choice(len(ELS), size=int(rng.integers(3, 6)), replace=False)
            F[i, on] = rng.uniform(0.05, 0.4, on.size)
        F[i] /= F[i].sum()
    n = rng.integers(1, 20, m)
    k = rng.integers(0, n + 1)
    return RecordTable([f"A{i}" for i in range(m)], ELS, F, n, k)


def _brute(t: RecordTable, q: dict, tol=1e-3):
    n = k = 0
    for i in range(len(t)):
        r = dict(zip(t.elements, t.fractions[i]))
        keys = set(q) | set(r)
        if {e for e in keys if q.get(e, 0) > tol / 2} != {e for e in keys if r.get(e, 0) > tol / 2}:
            continue
        if max(abs(q.get(e, 0.0) - r.get(e, 0.0)) for e in keys) <= tol + 1e-12:
            n, k = n + int(t.n_records[i]), k + int(t.n_single[i])
    return n, k


def test_records_for_sums_every_recorded_composition_within_tol_brute_force():
    t = _table()
    rng = np.random.default_rng(1)
    # queries: the rows themselves, rows moved by up to 1.5e-3, a trace of another element, random alloys
    Q = [t.fractions[i] + rng.uniform(-1.5e-3, 1.5e-3, len(ELS)) * (t.fractions[i] > 0) for i in range(len(t))]
    Q += list(t.fractions)
    trace = t.fractions[:10].copy()
    trace[:, 0] += 3e-4  # below tol / 2: still the alloy
    Q += list(trace)
    Q += [rng.dirichlet(np.ones(len(ELS))) for _ in range(20)]
    Q = np.clip(np.asarray(Q), 0, None)
    Q /= Q.sum(axis=1, keepdims=True)
    n, k = t.records_for(Q, ELS)
    want = [_brute(t, dict(zip(ELS, q))) for q in Q]
    assert [(int(a), int(b)) for a, b in zip(n, k)] == want
    assert (n[len(t):2 * len(t)] >= t.n_records).all()  # a recorded composition matches at least itself
    assert (n > 0).sum() > len(t) and (n == 0).sum() > 0  # both outcomes are exercised
    # columns in another order and an element the table lacks
    perm = [4, 2, 0, 5, 1, 3]
    n2, k2 = t.records_for(Q[:, perm], [ELS[j] for j in perm])
    np.testing.assert_array_equal(n2, n)
    np.testing.assert_array_equal(k2, k)
    extra = np.hstack([Q[:5] * 0.99, np.full((5, 1), 0.01)])
    assert (t.records_for(extra, ELS + ("Nb",))[0] == 0).all()
    zero_extra = np.hstack([Q[:5], np.zeros((5, 1))])  # a zero column of an unknown element is no element
    np.testing.assert_array_equal(t.records_for(zero_extra, ELS + ("Nb",))[0], n[:5])
    # amounts in at.% read as the same compositions; rows without a positive finite total match nothing
    np.testing.assert_array_equal(t.records_for(100 * Q, ELS)[0], n)
    bad = np.vstack([np.zeros(len(ELS)), np.full(len(ELS), np.nan), Q[0]])
    assert list(t.records_for(bad, ELS)[0]) == [0, 0, n[0]]


def test_composition_matches_yields_each_query_with_the_references_of_its_set():
    t = _table(seed=3)
    Q = t.fractions[::3]
    seen = np.zeros(len(Q), dtype=int)
    for rows, cand, gap in composition_matches(Q, t.fractions, block=4):
        seen[rows] += 1
        assert gap.shape == (len(rows), len(cand)) and len(rows) <= 4
        np.testing.assert_allclose(gap, np.abs(Q[rows][:, None, :] - t.fractions[cand][None]).max(axis=2))
        assert ((t.fractions[cand] > 5e-4) == (Q[rows[0]] > 5e-4)).all()
    assert (seen == 1).all()


@pytest.mark.parametrize("n_cols", [6, 64, 65, 90])
def test_composition_matches_groups_by_element_set_at_any_width(n_cols):
    """The element sets are grouped through one integer per row up to 64 columns and row-wise beyond: both
    yield every query whose set the references hold, once, with exactly the references of that set
    (brute force)."""
    rng = np.random.default_rng(n_cols)
    sets = [rng.choice(n_cols, size=rng.integers(2, 6), replace=False) for _ in range(12)]

    def rows(n):
        out = np.zeros((n, n_cols))
        for i in range(n):
            cols = sets[rng.integers(len(sets))]
            out[i, cols] = rng.dirichlet(np.ones(len(cols)))
        return out

    T, Q = rows(200), rows(300)
    Q[:3] = 0.0
    Q[:3, [0, n_cols - 1]] = 0.5  # a set no reference has (unless drawn): yielded only if present
    sup_T, sup_Q = T > 5e-4, Q > 5e-4
    seen = np.zeros(len(Q), dtype=int)
    for r, cand, gap in composition_matches(Q, T, block=7):
        seen[r] += 1
        want = np.flatnonzero((sup_T == sup_Q[r[0]]).all(axis=1))
        np.testing.assert_array_equal(np.sort(cand), want)
        assert (sup_Q[r] == sup_Q[r[0]]).all()
        np.testing.assert_allclose(gap, np.abs(Q[r][:, None, :] - T[cand][None]).max(axis=2))
    has_set = np.array([(sup_T == q).all(axis=1).any() for q in sup_Q])
    np.testing.assert_array_equal(seen, has_set.astype(int))
    assert has_set.sum() > 250 and (~has_set).sum() >= 1


def test_blend_is_the_records_weighted_by_their_number():
    p = np.array([0.2, 0.2, 0.9, 0.5])
    n = np.array([0, 3, 1, 3000])
    k = np.array([0, 3, 0, 0])
    out = blend(p, n, k, kappa=3.0)
    np.testing.assert_allclose(out, [0.2, 0.5 * 0.2 + 0.5 * 1.0, 0.75 * 0.9, 3 / 3003 * 0.5], rtol=1e-12)
    assert blend(p, n, k, kappa=1e-300)[1] == 1.0


def test_from_frame_sums_the_sources_of_each_key():
    data = pd.DataFrame({"source": ["a", "b", "a", "c"], "key": ["Co:500,Ni:500", "Co:500,Ni:500", "Fe:1000", "Co:500,Ni:500"],
                         "formula": ["CoNi", "Co50Ni50", "Fe", "NiCo"], "n_records": [2, 3, 1, 4],
                         "n_single": [2, 0, 1, 1], "Co": [0.5, 0.5, 0, 0.5], "Ni": [0.5, 0.5, 0, 0.5],
                         "Fe": [0, 0, 1.0, 0], "single_phase": [1, 0, 1, 0]})
    data.attrs["elements"] = ["Co", "Ni", "Fe"]
    t = RecordTable.from_frame(data)
    assert list(t.formula) == ["CoNi", "Fe"] and t.elements == ("Co", "Ni", "Fe")
    np.testing.assert_array_equal(t.n_records, [9, 1])
    np.testing.assert_array_equal(t.n_single, [3, 1])
    n, k = t.records_for(np.array([[0.5004, 0.4996], [0.6, 0.4]]), ["Ni", "Co"])
    assert list(n) == [9, 0] and list(k) == [3, 0]


def test_save_load_round_trip_and_bad_files(tmp_path):
    t = _table()
    path = t.save(tmp_path)
    assert path == tmp_path / RECORDS_FILE
    back = RecordTable.load(tmp_path)
    assert back.elements == t.elements and list(back.formula) == list(t.formula)
    np.testing.assert_array_equal(back.fractions, t.fractions)
    np.testing.assert_array_equal(back.n_records, t.n_records)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=str(path)):
        RecordTable.load(tmp_path)
    np.savez(path, formula=t.formula, elements=np.asarray(t.elements), fractions=t.fractions, n_records=t.n_records)
    with pytest.raises(ValueError, match=r"lacks \['n_single'\]"):
        RecordTable.load(tmp_path)
    with pytest.raises(ValueError, match="records unreadable"):
        RecordTable.load(tmp_path / "nope")


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(fractions=a["fractions"][:, :3]), "shape"),
    (lambda a: a.update(elements=("Al",) * 6), "repeat"),
    (lambda a: a.update(n_single=a["n_records"] + 1), "n_single <= n_records"),
    (lambda a: a.update(n_records=a["n_records"].astype(float)), "integers"),
    (lambda a: a.update(n_records=a["n_records"][:-1]), "shapes"),
    (lambda a: a["fractions"].__setitem__((0, 0), np.nan), "finite"),
    (lambda a: a["fractions"].__setitem__((0, 0), a["fractions"][0, 0] + 0.1), "summing to 1"),
])
def test_inconsistent_tables_are_refused(change, match):
    t = _table()
    a = {"formula": t.formula, "elements": t.elements, "fractions": t.fractions.copy(), "n_records": t.n_records,
         "n_single": t.n_single}
    change(a)
    with pytest.raises(ValueError, match=match):
        RecordTable(**a)
    with pytest.raises(ValueError, match=r"expected \(n, 6\)"):
        t.records_for(np.ones((2, 5)) / 5, ELS)
