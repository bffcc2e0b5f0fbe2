"""The `hea-fast screen` command: output files, --help, --device, and the default palette."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hea_fast import screen as S


def test_cli_screen_yield(tmp_path):
    from hea_fast.cli import main

    out = tmp_path / "top.parquet"
    rc = main(["screen", "--elements", "Mo,Nb,Ta,W,V", "--n-elements", "3-4", "--step", "10", "--scorer", "yield",
               "--temperature", "1000", "--top-k", "15", "-o", str(out), "--no-progress"])
    assert rc == 0
    top = pd.read_parquet(out)
    assert len(top) == 15
    col = "sigma_y_1000K_MPa"
    assert np.all(np.diff(top[col].to_numpy()) <= 0)
    assert json.loads(out.with_suffix(".json").read_text())["n_top"] == 15
    assert out.with_suffix(".png").stat().st_size > 1000
    with pytest.raises(SystemExit):
        main(["screen", "--help"])


def test_cli_screen_output_format_follows_the_suffix(tmp_path, capsys):
    from hea_fast.cli import main

    argv = ["screen", "--elements", "Mo,Nb,Ta,W,V", "--n-elements", "4", "--step", "5", "--scorer", "yield",
            "--top-k", "12", "--no-progress", "--plot", str(tmp_path / "p.png")]
    assert main([*argv, "-o", str(tmp_path / "top.parquet")]) == 0
    assert main([*argv, "-o", str(tmp_path / "top.csv")]) == 0
    assert main([*argv, "-o", str(tmp_path / "top.tsv")]) == 0
    pq = pd.read_parquet(tmp_path / "top.parquet")
    assert (tmp_path / "top.csv").read_bytes()[:4] != b"PAR1" and len(pq) == 12
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "top.csv"), pq, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "top.tsv", sep="\t"), pq, check_dtype=False)
    assert json.loads((tmp_path / "top.json").read_text())["n_top"] == 12
    capsys.readouterr()
    # an unsupported type fails in one line naming it, before anything is scored or written
    with pytest.raises(SystemExit) as exc:
        main([*argv, "-o", str(tmp_path / "top.xlsx")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "top.xlsx: unsupported output file type '.xlsx'" in err[0], err
    assert not (tmp_path / "top.xlsx").exists()


def test_cli_screen_device_option(tmp_path, capsys):
    """--device auto screens wherever possible (the CPU here when no GPU is visible) with the same
    top rows as --device cpu; --help documents the option and an unknown device is refused. The
    mixture scorer is the one with a GPU path; --max-fraction 100 lifts the default 5-35 at.% range
    (which 3 elements at 10 at.% steps cannot meet)."""
    from hea_fast._backend import cuda_available
    from hea_fast.cli import main

    base = ["screen", "--scorer", "mixture", "--elements", "Ti,Zr,Nb,Ta,Mo", "--n-elements", "3", "--step", "10",
            "--max-fraction", "100", "--top-k", "12", "--no-progress"]
    tops = {}
    for dev in ("cpu", "auto"):
        out = tmp_path / f"{dev}.parquet"
        assert main(base + ["--device", dev, "-o", str(out)]) == 0
        tops[dev] = pd.read_parquet(out)
    if not cuda_available():
        pd.testing.assert_frame_equal(tops["auto"], tops["cpu"])
    else:
        np.testing.assert_array_equal(tops["auto"]["rank"], tops["cpu"]["rank"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    assert "--device {cpu,cuda,auto}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(base + ["--device", "tpu"])
    assert exc.value.code == 2
    if not cuda_available():  # --device cuda without a GPU: one line, before any work, no traceback
        capsys.readouterr()
        out = tmp_path / "cuda.parquet"
        assert main(base + ["--device", "cuda", "-o", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "CUDA backend unavailable" in err[0] and "--device cpu" in err[0], err
        assert not out.exists()


def test_cli_default_palette_is_the_library_one(capsys):
    from hea_fast.cli import main

    assert len(S.DEFAULT_PALETTE) == 15 and len(set(S.DEFAULT_PALETTE)) == 15
    with pytest.raises(SystemExit):
        main(["screen", "--help"])
    assert ",".join(S.DEFAULT_PALETTE) in capsys.readouterr().out.replace("\n", "").replace(" ", "")


def test_cli_yield_scorers_default_to_the_elements_with_maresca_curtin_inputs(tmp_path, capsys):
    from hea_fast.cli import main
    from hea_fast.commands.screen import YIELD_PALETTE
    from hea_fast.xyield.maresca_curtin import mc_elements

    assert YIELD_PALETTE == tuple(e for e in S.DEFAULT_PALETTE if e in mc_elements()) and len(YIELD_PALETTE) == 11
    out = tmp_path / "y.parquet"
    assert main(["screen", "--scorer", "yield", "--n-elements", "4", "--step", "10", "--top-k", "5", "-o", str(out),
                 "--no-progress"]) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert tuple(summary["space"]["elements"]) == YIELD_PALETTE
    capsys.readouterr()
    # a palette with elements lacking those inputs stops before scoring, naming them (and not the known ones)
    bad = tmp_path / "b.parquet"
    assert main(["screen", "--scorer", "phase+yield", "--elements", "Co,Cr,Fe,Mn,Ni", "-o", str(bad),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hold: Co, Mn, Ni (no Maresca-Curtin inputs" in err[0] and "--forbid" in err[0], err
    assert not bad.exists()
    # forbidden elements are not asked for
    assert main(["screen", "--scorer", "yield", "--elements", "Co,Nb,Mo,Ta,W", "--forbid", "Co", "--n-elements",
                 "4", "--step", "10", "--top-k", "5", "-o", str(bad), "--no-progress"]) == 0


def _lattice_count(n_el, k, units, ok):
    """Brute-force count of k-element compositions of n_el elements in `units` steps, each tuple
    (element index -> units) accepted by ok."""
    import itertools

    count = 0
    for els in itertools.combinations(range(n_el), k):
        for cuts in itertools.combinations(range(1, units), k - 1):
            parts = [b - a for a, b in zip((0, *cuts), (*cuts, units))]
            count += ok(dict(zip(els, parts)))
    return count


def test_cli_bounds_are_at_pct_and_rank_is_the_position(tmp_path, capsys):
    """--bound W=0:20 means at most 20 at.% W (brute-force count of the space), rank is 1..k and
    lattice_index is the composition's index in the space."""
    from hea_fast.cli import main

    out = tmp_path / "b.parquet"
    els = ["Mo", "Nb", "Ta", "W", "V"]
    assert main(["screen", "--elements", ",".join(els), "--n-elements", "3", "--step", "10", "--scorer", "yield",
                 "--temperature", "1000", "--bound", "W=0:20", "--top-k", "40", "-o", str(out), "--no-progress"]) == 0
    top = pd.read_parquet(out)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["n_scored"] == _lattice_count(5, 3, 10, lambda d: d.get(3, 0) <= 2) == 234
    assert (top["x_W"] <= 0.2 + 1e-12).all() and (top["x_W"] > 0).any()
    np.testing.assert_array_equal(top["rank"], np.arange(1, 41))
    space = S.CompositionSpace(els, 3, 10.0, bounds={"W": (0.0, 0.2)})
    np.testing.assert_array_equal(space.rank(top[[f"x_{e}" for e in els]].to_numpy()), top["lattice_index"])
    capsys.readouterr()
    # a bound that reads like a fraction is taken in at.%, with a warning saying how to write 0-20 at.%
    assert main(["screen", "--elements", ",".join(els), "--n-elements", "3", "--step", "10", "--scorer", "yield",
                 "--bound", "W=0:0.2", "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    assert "W=0:20" in capsys.readouterr().err
    # --max-fraction caps every element: 3-element alloys at 10 % steps with each <= 40 at.%
    assert main(["screen", "--elements", ",".join(els), "--n-elements", "3", "--step", "10", "--scorer", "yield",
                 "--max-fraction", "40", "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["n_scored"] == _lattice_count(
        5, 3, 10, lambda d: max(d.values()) <= 4)


@pytest.mark.parametrize("argv, needle", [
    (["--elements", "Ti,Zr,Nb", "--n-elements", "4"], "--n-elements 4 needs 4 elements"),
    (["--elements", "Ti,Zr,Nb,V", "--n-elements", "3", "--forbid", "V,Nb"], "palette offers 2"),
    (["--elements", "Ti,Zr,Nb", "--n-elements", "3", "--bound", "Ti=50:100,Zr=50:100"], "meets the bounds"),
    (["--elements", "Ti,Zr,Nb", "--n-elements", "2", "--bound", "Ti=60:100,Zr=60:100"], "sum to 120"),
    (["--elements", "Ti,Zr,Nb", "--n-elements", "2", "--threshold", "1.5"], "outside [0, 1]"),
    (["--elements", "Ti,Zr,Nb", "--n-elements", "2", "--bound", "W=0:10"], "not in --elements"),
    # refused before the header is printed (it used to print the header, then fail in the library)
    (["--elements", "Mo,Nb,Ta", "--n-elements", "3", "--max-fraction", "100", "--scorer", "yield",
      "--threshold", "nan"], "--threshold nan is not a finite number"),
    (["--elements", "Mo,Nb,Ta", "--n-elements", "3", "--max-fraction", "100", "--scorer", "yield",
      "--temperature", "inf"], "--temperature inf K is not a temperature >= 0 K"),
])
def test_cli_refuses_impossible_screens(tmp_path, capsys, argv, needle):
    from hea_fast.cli import main

    out = tmp_path / "e.parquet"
    assert main(["screen", *argv, "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_cli_plot_says_what_it_shows_and_console_shows_p_single(tmp_path, capsys, monkeypatch):
    """The PNG's title names the space, the scorer, the temperature and the thresholds; the element
    panel has no dot for an element the top-k lacks; mixture+yield prints p_single."""
    from hea_fast import plots
    from hea_fast.cli import main

    figs = []
    real = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (figs.append(fig), real(fig, path))[1])
    out = tmp_path / "m.parquet"
    assert main(["screen", "--elements", "Ti,Zr,Nb,Ta,Mo,Al", "--n-elements", "3", "--step", "10", "--scorer",
                 "mixture+yield", "--min-p", "0.5", "--temperature", "900", "--forbid", "Al", "--top-k", "20",
                 "--max-fraction", "100", "-o", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "p_single" in stdout.splitlines()[0] and "sigma_y_900K_MPa" in stdout.splitlines()[0]
    top = pd.read_parquet(out)
    assert (top["p_single"] >= 0.5).all()
    title = figs[0]._suptitle.get_text()
    for words in ("top 20 of", "3-element alloys of Ti,Zr,Nb,Ta,Mo,Al at 10 at.% steps", "without Al",
                  "yield strength at 900 K", "P(single phase) >= 0.5"):
        assert words in title, title
    present = {c[2:] for c in top.columns if c.startswith("x_") and (top[c] > 0).any()}
    assert "Al" not in present
    twin = [ax for ax in figs[0].axes if ax.get_ylabel().startswith("mean at.%")][0]
    (dots,) = twin.get_lines()
    assert len(dots.get_ydata()) == len(present) and np.all(np.asarray(dots.get_ydata()) > 0)
    bars = figs[0].axes[1]
    assert sorted(t.get_text() for t in bars.get_xticklabels()) == sorted(present)


@pytest.mark.parametrize("name", ["fast", "best"])
def test_cli_screen_with_the_other_bundled_names(tmp_path, capsys, name):
    """`--model fast` (the distilled model) and `--model best` (the default's old name): the top are the
    brute-force best of that model's predict_proba over the whole space, in domain, and the header
    names the model."""
    from hea_fast.cli import main
    from hea_fast.phase import load_model

    out = tmp_path / "best.parquet"
    assert main(["screen", "--elements", "Nb,Mo,Ta,W,Ti", "--n-elements", "5", "--step", "5", "--model", name,
                 "--top-k", "5", "-o", str(out), "--no-progress"]) == 0
    cap = capsys.readouterr()
    header = "from the 'fast' (distilled) phase model" if name == "fast" else "from the default phase model"
    assert header in cap.err + cap.out
    top = pd.read_parquet(out)
    model = load_model(name)
    space = S.hea_space(["Nb", "Mo", "Ta", "W", "Ti"], 5, 5.0)
    from hea_fast.screen.domain import decode_ranks

    batch = decode_ranks(space, np.arange(space.size), 1)
    frame = model.predict_frame(batch)
    p = frame["p_single"].to_numpy()
    p[~frame["in_domain"].to_numpy()] = -np.inf
    np.testing.assert_allclose(top["p_single"].to_numpy(), np.sort(p)[::-1][:5], rtol=0, atol=1e-12)
    assert top["in_domain"].all()


def test_cli_says_when_every_passing_alloy_is_out_of_domain(tmp_path, capsys):
    """Binaries pass P but lie outside the default model's domain (fewer than three elements): the
    console says so instead of 'no alloy passed the thresholds', and names the way to rank them."""
    from hea_fast.cli import main

    out = tmp_path / "b.parquet"
    with pytest.warns(S.DomainPoolWarning, match="only 0 of the"):
        assert main(["screen", "--elements", "Nb,Mo,Ta,W,V", "--n-elements", "2", "--step", "10", "--max-fraction",
                     "100", "--no-progress", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    summary = json.loads(out.with_suffix(".json").read_text())
    n = summary["n_passing"]
    assert n > 0 and summary["domain"]["pool_in_domain"] == 0
    assert f"none of the {n:,} alloys that passed the thresholds is in the applicability domain" in text
    assert "no alloy passed" not in text and "(no PNG: no row to plot)" in text
