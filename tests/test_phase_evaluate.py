"""`hea-fast phase evaluate` and `hea_fast.validation.external`: label parsing, metrics per slice against
scikit-learn and `metrics` on hand-made masks, the training-composition match against a brute-force loop,
and the command end to end (outputs, errors that name the value)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from hea_fast.cli import main
from hea_fast.phase import load_model
from hea_fast.phase.model import alloy_systems
from hea_fast.validation.external import SLICES, evaluate_predictions, parse_labels
from hea_fast.validation.scores import metrics


@pytest.fixture(scope="module")
def model():
    return load_model("default")


def test_parse_labels_reads_numbers_words_and_phases():
    vals = [1, 0, 1.0, "0", True, "yes", "No", "FCC", " bcc ", "HCP", "FCC+BCC", "BCC + Laves", "IM", "AM",
            "BCC1/BCC2", None, "", float("nan"), "multi-phase"]
    y, why = parse_labels(vals)
    want = [1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, np.nan, np.nan, np.nan, 0]
    np.testing.assert_array_equal(y, np.array(want, dtype=float))
    assert why[15] == why[16] == why[17] == "no label" and why[0] == ""
    # another compilation's vocabulary: named by --single, everything else non-empty is 0
    y, _ = parse_labels(["SS", "ss", "MP", "SS+IM", ""], single=["SS"])
    np.testing.assert_array_equal(y, [1, 1, 0, 0, np.nan])
    # one lattice with a solid-solution or disordered qualifier, single-phase words; IM phase names and
    # multi-phase words (the datasets' vocabulary, hea_fast.datasets.tidy, reads Laves and sigma as IM)
    ones = ["FCC_SS", "SS-BCC", "bcc solid solution", "Single-phase FCC", "BCC (disordered)", "disordered BCC",
            "A2", "single", "Single phase", "single-phase SS"]
    zeros = ["Laves", "sigma", "mu", "multiple", "Multiple phases", "two-phase", "dual phase", "FCC + BCC (disordered)"]
    y, _ = parse_labels(ones + zeros)
    np.testing.assert_array_equal(y, [1.0] * len(ones) + [0.0] * len(zeros))


@pytest.mark.parametrize("vals, needle", [(["FCC", "SS"], "'SS' (row 1)"), ([0, 2], "2 (row 1)"),
                                          (["B2"], "--single B2"), ([0.5], "0.5 (row 0)"),
                                          (["ordered BCC"], "'ordered BCC'"), (["L12"], "'L12'"),
                                          (["FCC (ordered)"], "'FCC (ordered)'"),
                                          # a dangling separator names one phase, not several: refused, not 0
                                          (["FCC+BCC", "FCC,"], "'FCC,' (row 1)"), (["BCC +"], "'BCC +' (row 0)"),
                                          (["/ FCC"], "'/ FCC'")])
def test_parse_labels_names_what_it_cannot_read(vals, needle):
    with pytest.raises(ValueError) as e:
        parse_labels(vals)
    assert needle in str(e.value)


def test_slices_equal_sklearn_and_metrics_on_their_masks():
    rng = np.random.default_rng(3)
    n = 300
    y = (rng.random(n) < 0.4).astype(float)
    p = np.clip(0.3 * y + rng.random(n) * 0.7, 0, 1)
    y[:5] = np.nan  # unlabelled rows are left out
    p[5:8] = np.nan  # so are rows without a probability
    systems = np.array([f"s{k}" for k in rng.integers(0, 60, n)], dtype=object)
    dom = rng.random(n) < 0.7
    train = rng.random(n) < 0.5
    rep = evaluate_predictions(y, p, systems, dom, train, n_boot=50, seed=1)
    assert tuple(rep) == SLICES
    ok = np.isfinite(y) & np.isfinite(p)
    r = rep["all"]
    assert r["n"] == ok.sum() == n - 8
    assert r["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y[ok], p[ok] >= 0.5), abs=1e-12)
    assert r["auc"]["value"] == pytest.approx(skm.roc_auc_score(y[ok], p[ok]), abs=1e-12)
    assert r["log_loss"]["value"] == pytest.approx(skm.log_loss(y[ok], p[ok]), abs=1e-12)
    masks = {"in domain": ok & dom, "out of domain": ok & ~dom, "training compositions": ok & train,
             "new compositions": ok & ~train, "new compositions in domain": ok & ~train & dom}
    for name, m in masks.items():
        ref = metrics(y[m].astype(int), p[m], n_boot=50, seed=1, groups=systems[m])
        assert rep[name]["n"] == m.sum()
        for k in ("accuracy", "auc", "ece", "brier"):
            assert rep[name][k]["value"] == pytest.approx(ref[k]["value"], abs=1e-12)
            assert rep[name][k]["lo"] == pytest.approx(ref[k]["lo"], abs=1e-12)
    assert tuple(evaluate_predictions(y, p, systems, n_boot=0)) == ("all",)
    with pytest.raises(ValueError, match="equal-length"):
        evaluate_predictions(y[:-1], p, systems)


def test_training_match_equals_a_brute_force_loop(model):
    dom = model.domain
    T = dom.points_[:, len(dom.descriptors):] / dom.fraction_weight  # the training fractions
    rng = np.random.default_rng(0)
    pick = rng.choice(T.shape[0], 40, replace=False)
    rows = [T[i] for i in pick]
    for i in pick[:20]:  # perturbed: one element +/- 0.3 at.% (then renormalised), or a new element added
        f = T[i].copy()
        j = rng.choice(np.flatnonzero(f > 0))
        f[j] += rng.choice([-0.003, 0.003, 0.0004])
        rows.append(f / f.sum())
    F = np.array(rows)
    els = list(dom.elements_)
    got = dom.training_match(F, els)

    def brute(f):
        for t in T:
            if all((f[k] > 5e-4) == (t[k] > 5e-4) and abs(f[k] - t[k]) <= 1e-3 + 1e-12 for k in range(len(els))):
                return True
        return False

    np.testing.assert_array_equal(got, [brute(f) for f in F])
    assert got[:40].all() and not got[40:].all()
    # an element no training alloy has never matches; the order of the columns does not matter
    extra = np.hstack([F[:3], np.full((3, 1), 0.0)])
    extra[0, -1] = 0.01
    assert list(dom.training_match(extra, els + ["Hg"])) == [False, True, True]
    assert dom.training_match(F[:, ::-1], els[::-1]).tolist() == got.tolist()
    with pytest.raises(ValueError, match="shape"):
        dom.training_match(F[:, :5], els)
    # a larger shuffled batch (queries grouped by element set inside): training alloys, perturbed ones,
    # ones with an element dropped; against the same rule row by row in NumPy
    rows = [T[i] for i in rng.choice(T.shape[0], 300, replace=False)]
    for i in rng.choice(T.shape[0], 200, replace=False):
        f = T[i].copy()
        j = rng.choice(np.flatnonzero(f > 0))
        if rng.random() < 0.5:
            f[j] += rng.choice([-0.002, 0.0008, 0.0011])
        else:
            f[j] = 0.0
        rows.append(f / f.sum())
    F = np.array(rows)[rng.permutation(len(rows))]
    want = [bool((((f > 5e-4) == (T > 5e-4)) & (np.abs(f - T) <= 1e-3 + 1e-12)).all(axis=1).any()) for f in F]
    np.testing.assert_array_equal(dom.training_match(F, els), want)
    assert 300 <= sum(want) < len(want)
    assert dom.training_match(np.zeros((0, len(els))), els).shape == (0,)
    # every training alloy is a training composition, the one with 0.034 at.% C included (an element
    # below 0.05 at.% reads as absent on both sides); a trace of an element no training alloy has does not
    assert dom.training_match(T, els).all()
    assert ((T > 0) & (T <= 5e-4)).any()
    trace = np.hstack([T[:2] * (1 - 1e-4), np.full((2, 1), 1e-4)])
    assert list(dom.training_match(trace, els + ["Hg"])) == [False, False]


def _table(tmp_path):
    df = pd.DataFrame({
        "Alloy": ["CoCrFeMnNi", "HfNbTaTiZr", "NbMoTaW", "Al0.5CoCrFeNi", "AlCoCrCuFeNi", "Al2CoCrFeNi",
                  "Co21Cr20Fe20Mn20Ni19", "Ti30Nb30Mo10Ta25W5", "CuNi", "Fe50Cr50", "Nd20Fe40Co40", "notaformula",
                  "CoCrNi", "Al0.3CoCrFeNi", "AlCrFeNiV", "Ti25Zr25Nb25Ta25", "AlCoCrFeNi"],
        "Phase": ["FCC", "BCC", "BCC", "FCC", "FCC+BCC", "BCC+B2", "FCC", "BCC", "FCC", "BCC+sigma", "IM", "FCC", None,
                  "FCC", "BCC+B2", "BCC", "BCC+B2"]})
    path = tmp_path / "labelled.csv"
    df.to_csv(path, index=False)
    return df, path


def test_evaluate_command_end_to_end(model, tmp_path, capsys):
    df, path = _table(tmp_path)
    out = tmp_path / "report"
    assert main(["phase", "evaluate", str(path), "--label-column", "Phase", "-o", str(out), "--n-boot", "200"]) == 0
    text = capsys.readouterr().out
    assert "14 of 17 rows scored (1 unreadable formulas, 1 without a label, 1 without a probability" in text
    rec = json.loads((out / "metrics.json").read_text())
    assert rec["counts"] == {"rows": 17, "unreadable_formula": 1, "no_label": 1, "no_probability": 1, "scored": 14}
    # the same numbers from the library, computed here
    good = df[df["Alloy"] != "notaformula"].reset_index(drop=True)
    fr = model.predict_frame(good["Alloy"].tolist(), memory=True)  # evaluate scores as phase predict does
    y, _ = parse_labels(good["Phase"].tolist())
    from hea_fast.commands._tables import BadRows

    batch, _ = BadRows("t", path).parse(good["Alloy"])
    train = model.domain.training_match(np.asarray(batch.fractions), batch.elements)
    # AlCoCrFeNi is no training composition (its sources tie) but its records are blended in: memory, so "known"
    recorded = (fr["training_records"] != "").to_numpy()
    assert not train[-1] and recorded[-1]
    known = train | recorded
    ref = evaluate_predictions(y, fr["p_single"].to_numpy(), alloy_systems(batch), fr["in_domain"].to_numpy(), known,
                               n_boot=200, seed=0)
    for name in SLICES:
        assert rec["slices"][name]["n"] == ref[name]["n"]
        for k in ("accuracy", "auc", "log_loss", "ece"):
            a, r = rec["slices"][name][k]["value"], ref[name][k]["value"]
            assert (np.isnan(a) and np.isnan(r)) or a == pytest.approx(r, abs=1e-12)
    assert known.sum() == rec["slices"]["training compositions"]["n"] + 1  # CoCrNi is known but unlabelled
    pred = pd.read_csv(out / "predictions.csv")
    assert pred["training_composition"].tolist() == train.tolist()  # the column: trained on, as phase predict
    assert len(pred) == 16 and {"label", "p_single", "in_domain", "training_composition", "reason"} <= set(pred.columns)
    assert (out / "reliability.png").stat().st_size > 1000 and (out / "report.md").read_text().startswith("# default")


@pytest.mark.parametrize("argv, needle", [(["--label-column", "Nope"], "no column 'Nope'"),
                                          (["--label-column", "Phase", "--model", "nowhere/model"], "nowhere")])
def test_evaluate_command_errors_are_one_line(tmp_path, capsys, argv, needle):
    _, path = _table(tmp_path)
    assert main(["phase", "evaluate", str(path), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_evaluate_label_errors_name_the_line_of_the_file(tmp_path, capsys):
    """The CLI names the file line of an unreadable label (as its bad formulas), not the 0-based row of
    the library: the line is found here by scanning the file's text."""
    path = tmp_path / "labels.csv"
    path.write_text('formula,label\nCoCrFeMnNi,FCC\n\n"AlCoCrFeNi",FCC+B2\nNbTaTi,SS\n')
    assert main(["phase", "evaluate", str(path), "--label-column", "label", "--n-boot", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = 1 + next(i for i, text in enumerate(path.read_text().splitlines()) if text.endswith(",SS"))
    assert line == 5 and len(err) == 1 and f"line {line}, column 'label': label 'SS' is not one" in err[0], err


def test_evaluate_command_other_vocabularies_need_single(tmp_path, capsys):
    path = tmp_path / "ss.csv"
    pd.DataFrame({"formula": ["CoCrFeMnNi", "AlCoCrCuFeNi", "HfNbTaTiZr", "Al2CoCrFeNi"],
                  "label": ["SS", "MP", "SS", "MP"]}).to_csv(path, index=False)
    assert main(["phase", "evaluate", str(path), "--label-column", "label", "--n-boot", "0"]) == 2
    assert "--single SS" in capsys.readouterr().err
    assert main(["phase", "evaluate", str(path), "--label-column", "label", "--single", "ss", "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "| all | 4 | 0.50 |" in out
