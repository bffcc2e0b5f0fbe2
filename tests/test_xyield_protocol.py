"""Bi-RPT hypergradient vs finite differences, honest selection, save/load, resumable pretraining."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hea_fast.xyield.cnn import CNNConfig, XYieldCNN
from hea_fast.xyield.protocol import (
    PretrainConfig,
    ProtocolError,
    TransferConfig,
    carve_validation,
    load_model,
    mse,
    predict,
    pretrain,
    save_model,
    transfer,
)
from hea_fast.xyield.sparsity import lower_level_graph, unrolled_ms_correction

TINY = dict(channels=(2, 3, 2), hidden=4)


pytestmark = pytest.mark.usefixtures("torch_one_thread")



def _tiny_model(seed=0):
    torch.manual_seed(seed)
    m = XYieldCNN(CNNConfig(**TINY)).double()
    for c in m.masked_convs():
        with torch.no_grad():
            c.m_s.copy_(1 + 0.4 * torch.randn_like(c.m_s))
            c.m_t.copy_(1 + 0.4 * torch.randn_like(c.m_t))
        c.eps.fill_(0.5)
    return m.train()


def _upper_after_unrolled_step(model, ms_list, xs, ys, xt, yt, lr):
    """F(m_s) = L_t(θ − η ∇_θ L_s(θ, m_s), m_s, m_t), computed with plain autograd on a copy."""
    m = copy.deepcopy(model)
    for c, v in zip(m.masked_convs(), ms_list):
        with torch.no_grad():
            c.m_s.copy_(v)
    m.set_mode("s")
    thetas = [c.weight for c in m.masked_convs()]
    g = torch.autograd.grad(F.mse_loss(m(xs), ys), thetas)
    with torch.no_grad():
        for t, gi in zip(thetas, g):
            t.sub_(lr * gi)
    m.set_mode("st")
    return m


def test_unrolled_correction_matches_finite_difference_hypergradient(pseudoimage_data):
    model = _tiny_model()
    xs, ys = (t.double() for t in pseudoimage_data(6, 1))
    xt, yt = (t.double() for t in pseudoimage_data(5, 2, scale=1.3))
    lr = 0.5  # large step so the correction term is far from negligible
    ms0 = [c.m_s.detach().clone() for c in model.masked_convs()]

    # analytic: direct ∂L_t/∂m_s at θ' plus the unrolled correction
    m1 = _upper_after_unrolled_step(model, ms0, xs, ys, xt, yt, lr)
    loss = F.mse_loss(m1(xt), yt)
    loss.backward()
    direct = [c.m_s.grad.clone() for c in m1.masked_convs()]
    v = [c.weight.grad.clone() for c in m1.masked_convs()]
    corr = unrolled_ms_correction(lower_level_graph(model, xs, ys), v, lr)

    def F_of(ms_list):
        m = _upper_after_unrolled_step(model, ms_list, xs, ys, xt, yt, lr)
        with torch.no_grad():
            return float(F.mse_loss(m(xt), yt))

    h = 1e-6
    checked = 0
    gen = torch.Generator().manual_seed(3)
    for layer in range(3):
        n = ms0[layer].numel()
        for flat in torch.randperm(n, generator=gen)[:3].tolist():
            plus = [t.clone() for t in ms0]
            minus = [t.clone() for t in ms0]
            plus[layer].view(-1)[flat] += h
            minus[layer].view(-1)[flat] -= h
            fd = (F_of(plus) - F_of(minus)) / (2 * h)
            d = float(direct[layer].view(-1)[flat])
            c = float(corr[layer].view(-1)[flat])
            assert fd == pytest.approx(d + c, rel=1e-4, abs=1e-8)
            if abs(c) > 1e-3 * max(abs(fd), 1e-12) and abs(c) > 1e-7:
                assert abs(fd - (d - c)) > abs(fd - (d + c))  # the flipped sign is worse
                checked += 1
    assert checked >= 3  # the correction mattered at several entries


def test_carve_validation_partitions_training_points():
    fit, val = carve_validation(11, 0.2, seed=4)
    assert len(val) == 2 and len(fit) == 9
    assert sorted(np.concatenate([fit, val]).tolist()) == list(range(11))
    f2, v2 = carve_validation(11, 0.2, seed=4)
    assert np.array_equal(val, v2)
    with pytest.raises(ProtocolError):
        carve_validation(1)


def test_transfer_selects_on_validation_only_and_is_seeded(pseudoimage_data):
    x, y = pseudoimage_data(11, 5)
    xl, yl = pseudoimage_data(64, 6)
    cfg = TransferConfig(epochs=4)
    pre = XYieldCNN(CNNConfig(**TINY))
    m1, info1 = transfer("birpt", x, y, x_low=xl, y_low=yl, pretrained=pre, cfg=cfg, seed=7)
    m2, info2 = transfer("birpt", x, y, x_low=xl, y_low=yl, pretrained=pre, cfg=cfg, seed=7)
    torch.testing.assert_close(predict(m1, x), predict(m2, x))
    vi = info1["val_idx"]
    # the reported selection score is the returned model's MSE on the carved validation points
    assert info1["val"] == pytest.approx(mse(predict(m1, x[vi]), y[vi]), rel=1e-6)
    assert info1["val"] == min(h["val"] for h in info1["history"])
    assert set(info1["sparsity"]) == {"conv1", "conv2", "conv3"}


def test_strong_l1_drives_masks_to_exact_zeros(pseudoimage_data):
    x, y = pseudoimage_data(8, 8)
    xl, yl = pseudoimage_data(32, 9)
    cfg = TransferConfig(epochs=2, gamma=0.2)  # λ = 3.5·0.2 = 0.7 per step: masks die
    m, info = transfer("birpt", x, y, x_low=xl, y_low=yl, pretrained=XYieldCNN(CNNConfig(**TINY)), cfg=cfg)
    zf = [s["zero_fraction"] for s in info["sparsity"].values()]
    assert min(zf) > 0.5


def test_methods_need_their_inputs(pseudoimage_data):
    x, y = pseudoimage_data(6, 10)
    with pytest.raises(ProtocolError, match="pretrained"):
        transfer("pretrain_transfer", x, y)
    with pytest.raises(ProtocolError, match="simulated"):
        transfer("mix_finetune", x, y, pretrained=XYieldCNN(CNNConfig(**TINY)))
    with pytest.raises(ProtocolError, match="unknown method"):
        transfer("magic", x, y)
    with pytest.raises(ProtocolError, match="renamed: use birpt_mt_only"):
        transfer("sparse_transfer", x, y)


def test_save_load_roundtrip_without_pickle(tmp_path, pseudoimage_data):
    x, y = pseudoimage_data(8, 11)
    xl, yl = pseudoimage_data(32, 12)
    m, _ = transfer("birpt_mt_only", x, y, x_low=xl, y_low=yl, pretrained=XYieldCNN(CNNConfig(**TINY)),
                    cfg=TransferConfig(epochs=2))
    save_model(tmp_path / "m", m, {"note": "test"})
    raw = (tmp_path / "m" / "model.safetensors").read_bytes()
    assert b"\x80\x04" not in raw[:16]  # not a pickle stream
    info = json.loads((tmp_path / "m" / "model.json").read_text())
    assert info["mode"] == "t" and info["config"]["channels"] == list(TINY["channels"])
    m2 = load_model(tmp_path / "m")
    torch.testing.assert_close(predict(m2, x), predict(m, x))


def test_corrupt_model_and_checkpoint_files_are_named(tmp_path, pseudoimage_data):
    from hea_fast._io import CheckpointError

    x, y = pseudoimage_data(24, 14)
    m = XYieldCNN(CNNConfig(**TINY))
    save_model(tmp_path / "m", m)
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text('{"format": "hea_fast.xyield.cnn", ')
    with pytest.raises(CheckpointError, match="model.json"):
        load_model(tmp_path / "m")
    ck = tmp_path / "ck"
    pretrain(x, y, CNNConfig(**TINY), PretrainConfig(epochs=2, batch_size=8), seed=0, checkpoint_dir=ck,
             stop_after=1)
    (ck / "checkpoint.json").write_text("{")
    with pytest.raises(CheckpointError, match="checkpoint.json"):
        pretrain(x, y, CNNConfig(**TINY), PretrainConfig(epochs=2, batch_size=8), seed=0, checkpoint_dir=ck)
    assert not list(tmp_path.rglob("*.tmp*"))  # atomic writes leave no temporary files behind


def test_pretraining_resumes_from_checkpoint(tmp_path, pseudoimage_data):
    x, y = pseudoimage_data(96, 13)
    cfg_model = CNNConfig(**TINY)
    full, hist_full = pretrain(x, y, cfg_model, PretrainConfig(epochs=3, batch_size=32), seed=1)
    # "interrupted" after 2 epochs, then resumed to 3 from the checkpoint directory
    pretrain(x, y, cfg_model, PretrainConfig(epochs=3, batch_size=32), seed=1, checkpoint_dir=tmp_path,
             stop_after=2)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())["meta"]
    assert meta["epoch"] == 1
    resumed, hist = pretrain(x, y, cfg_model, PretrainConfig(epochs=3, batch_size=32), seed=1,
                             checkpoint_dir=tmp_path)
    assert len(hist) == 3
    assert hist[-1]["train_loss"] == pytest.approx(hist_full[-1]["train_loss"], rel=1e-5)
    torch.testing.assert_close(predict(resumed, x), predict(full, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["birpt", "imp", "no_pretraining"])
def test_transfer_resumes_from_checkpoint(tmp_path, method, pseudoimage_data):
    """An interrupted transfer (stop_after) resumed from its checkpoint equals the uninterrupted run:
    same history, same selected epoch, same predictions (masks, ε decay, IMP rounds, StepLR, batch RNG)."""
    x, y = pseudoimage_data(12, 21)
    xl, yl = pseudoimage_data(48, 22)
    pre = XYieldCNN(CNNConfig(**TINY))
    cfg = TransferConfig(epochs=5, imp_rounds=2, step_size=2)
    kw = dict(x_low=xl, y_low=yl, pretrained=None if method == "no_pretraining" else pre, cfg=cfg, seed=3,
              model_config=CNNConfig(**TINY))
    full, info_full = transfer(method, x, y, **kw)
    part, info_part = transfer(method, x, y, checkpoint_dir=tmp_path, stop_after=2, **kw)
    assert len(info_part["history"]) == 2
    resumed, info = transfer(method, x, y, checkpoint_dir=tmp_path, **kw)
    assert [h["val"] for h in info["history"]] == pytest.approx([h["val"] for h in info_full["history"]], rel=1e-6)
    assert info["selected_epoch"] == info_full["selected_epoch"]
    torch.testing.assert_close(predict(resumed, x), predict(full, x), rtol=1e-5, atol=1e-6)
    # a checkpoint of another run is refused, not silently continued
    with pytest.raises(ProtocolError, match="different transfer run"):
        transfer(method, x, y, checkpoint_dir=tmp_path, **{**kw, "seed": 4})


def test_cli_classification_task_end_to_end(tmp_path, shared_data, capsys):
    """The 0.5-GPa 5-bin classification variant: pretrain, transfer, evaluate, predict (probabilities)."""
    from hea_fast.cli import main

    pre, out = tmp_path / "pre", tmp_path / "cls"
    assert main(["xyield", "pretrain", "-o", str(pre), "--n-low", "200", "--epochs", "1", "--batch-size", "64",
                 "--task", "classification", "--no-progress"]) == 0
    assert main(["xyield", "transfer", "--method", "pretrain_transfer", "--pretrained", str(pre), "--epochs", "2",
                 "-o", str(out), "--no-progress"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["val_metric"] == "1-accuracy" and 0.0 <= line["val"] <= 1.0
    assert main(["xyield", "evaluate", "--model", str(out)]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n_test"] == 240 - 11 and 0.0 <= res["acc_class5"] <= 1.0
    csv = tmp_path / "c.csv"
    assert main(["xyield", "predict", "--model", str(out), str(out), "-c", "MoNbTaTi", "-T", "300", "-o", str(csv)]) == 0
    import pandas as pd

    df = pd.read_csv(csv)
    p = df[[f"p{k}" for k in range(5)]].to_numpy()
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    assert df["class5"].iloc[0] == p[0].argmax() and df["sigma_y_bin_lo_MPa"].iloc[0] == 500.0 * p[0].argmax()
    # a regression model cannot join a classification ensemble
    reg = tmp_path / "reg"
    assert main(["xyield", "transfer", "--method", "no_pretraining", "--epochs", "1", "-o", str(reg), "--no-progress"]) == 0
    assert main(["xyield", "predict", "--model", str(out), str(reg), "-c", "MoNbTaTi"]) == 2


def test_cli_help_for_every_xyield_subcommand(capsys):
    from hea_fast.cli import main

    for sub in ("simulate", "grid", "pretrain", "transfer", "evaluate", "predict"):
        with pytest.raises(SystemExit) as e:
            main(["xyield", sub, "--help"])
        assert e.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_cli_pretrain_transfer_evaluate_predict(tmp_path, shared_data, capsys):
    from hea_fast.cli import main

    pre = tmp_path / "pre"
    assert main(["xyield", "pretrain", "-o", str(pre), "--n-low", "200", "--epochs", "1", "--batch-size", "64",
                 "--imp-rounds", "1"]) == 0
    assert (pre / "model.safetensors").is_file() and (pre / "imp" / "model.json").is_file()
    assert (pre / "checkpoint" / "checkpoint.json").is_file()
    out = tmp_path / "bi"
    assert main(["xyield", "transfer", "--method", "birpt", "--pretrained", str(pre), "--epochs", "2",
                 "--n-low", "200", "-o", str(out)]) == 0
    assert (out / "checkpoint" / "checkpoint.json").is_file()
    first = (out / "model.safetensors").read_bytes()
    # the same command again resumes from the finished checkpoint and rewrites the same model
    assert main(["xyield", "transfer", "--method", "birpt", "--pretrained", str(pre), "--epochs", "2",
                 "--n-low", "200", "-o", str(out), "--no-progress"]) == 0
    assert (out / "model.safetensors").read_bytes() == first
    capsys.readouterr()
    assert main(["xyield", "evaluate", "--model", str(out)]) == 0  # the model's own split: 5pct, seed 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["split"] == "5pct" and res["n_test"] == 240 - 11 and res["mse_GPa2"] >= 0
    # fold 3 of the CV holds one of the 11 points this model was trained on: refused, not scored
    assert main(["xyield", "evaluate", "--model", str(out), "--split", "cv10:3"]) == 2
    assert "training points" in capsys.readouterr().err
    csv = tmp_path / "p.csv"
    assert main(["xyield", "predict", "--model", str(out), "-c", "MoNbTaTi", "-T", "300", "1200", "-o", str(csv)]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "formula,temperature_K,sigma_y_MPa" and len(lines) == 3
    assert main(["xyield", "evaluate", "--model", str(out), "--split", "cv10:99"]) == 2  # clear error, no crash


def test_classification_pretraining_selects_the_best_validation_epoch():
    """Classification pretraining keeps the epoch with the lowest validation error (1 − accuracy),
    recomputed here on the same seeded carve; it used to compare NaN scores and so always returned
    the first epoch's weights, whatever --epochs said."""
    g = torch.Generator().manual_seed(0)
    n = 320
    u = torch.rand(n, generator=g)
    x = torch.zeros(n, 2, 9, 18)
    x[:, 1] = u[:, None, None]  # the temperature channel decides the class
    x[:, 0, 4, 9] = 1.0
    y = (u > 0.5).float() * 3
    cfg = CNNConfig(channels=(2, 2, 2), hidden=4, task="classification")
    model, hist = pretrain(x, y, cfg, PretrainConfig(epochs=6, batch_size=16, lr=1e-3), seed=0)
    _, val = carve_validation(n, 0.05, 0, min_val=1)
    err = 1.0 - float((predict(model, x[val]).argmax(1) == y[val].long()).float().mean())
    scores = [h["val"] for h in hist]
    assert all(np.isfinite(scores))
    assert err == pytest.approx(min(scores), abs=1e-12)
    assert min(scores) < scores[0]  # the run improved after epoch 0: the first epoch is not the answer


def test_diverged_training_raises_instead_of_returning_a_nan_model():
    """A learning rate that blows the weights up gives NaN validation scores at every epoch: both
    protocols say so (and name the learning rate) rather than returning a model that predicts NaN
    (pretrain) or claiming that no epoch was trained (transfer)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(24, 2, 9, 18, generator=g)
    y = torch.rand(24, generator=g)
    with pytest.raises(ProtocolError, match="finite validation score.*lr_w=1000000000000.0"):
        transfer("no_pretraining", x[:12], y[:12], model_config=CNNConfig(**TINY),
                 cfg=TransferConfig(epochs=2, lr_w=1e12), seed=0)
    with pytest.raises(ProtocolError, match="finite validation score.*lr=1000000000000.0"):
        pretrain(x, y, CNNConfig(**TINY), PretrainConfig(epochs=2, batch_size=8, lr=1e12), seed=0)
