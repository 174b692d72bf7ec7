"""The shared 4x upsampler (issue 30): shapes, determinism, range, a tiny training run -> a loadable folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from t2i.checkpoint import CheckpointError
from t2i.models.upsampler import Upsampler, UpsamplerConfig, bicubic, load_upsampler, save_upsampler


def _images(n=2, side=64, seed=0):
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _trained_like(cfg=None):
    torch.manual_seed(0)
    m = Upsampler(cfg or UpsamplerConfig(channels=8, blocks=2, up_channels=8)).eval()
    with torch.no_grad():  # the tail starts at zero (= bicubic); give it weights so the residual shows
        m.tail.weight.normal_(0, 0.1)
    return m


def test_shapes_range_and_determinism():
    m = _trained_like()
    x = _images(3)
    with torch.inference_mode():
        y, y2 = m(x), m(x)
    assert y.shape == (3, 3, 256, 256)
    assert torch.equal(y, y2)
    assert y.min() >= -1 and y.max() <= 1
    assert not torch.allclose(y, bicubic(x))  # a residual is added
    with torch.inference_mode():
        assert m(_images(1, 40)).shape == (1, 3, 160, 160)  # fully convolutional
        assert torch.allclose(m(x[1:2]), y[1:2], atol=1e-5)  # batch-independent
    with pytest.raises(ValueError):
        m(torch.zeros(1, 1, 64, 64))


def test_untrained_is_bicubic_and_default_config():
    m = Upsampler().eval()
    assert (m.cfg.channels, m.cfg.blocks) == (32, 6)
    x = _images(2)
    with torch.inference_mode():
        assert torch.allclose(m(x), bicubic(x))
    with pytest.raises(ValueError):
        UpsamplerConfig(scale=2)


def test_folder_round_trip_and_errors(tmp_path):
    m = _trained_like()
    save_upsampler(tmp_path / "up", m, step=3)
    loaded = load_upsampler(tmp_path / "up")
    x = _images(2)
    with torch.inference_mode():
        assert torch.equal(loaded(x), m(x))
    assert not any(p.requires_grad for p in loaded.parameters())

    rec = json.loads((tmp_path / "up" / "config.json").read_text())
    assert rec["model_type"] == "upsampler"
    rec["config"]["channels"] = 16  # config disagrees with the weights
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps(rec))
    (tmp_path / "bad" / "model.safetensors").write_bytes((tmp_path / "up" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError):
        load_upsampler(tmp_path / "bad")
    rec["config"]["channels"], rec["model_type"] = 8, "part-segmenter"
    (tmp_path / "bad" / "config.json").write_text(json.dumps(rec))
    with pytest.raises(CheckpointError, match="not an upsampler"):
        load_upsampler(tmp_path / "bad")
    rec["model_type"], rec["config"]["scale"] = "upsampler", 3
    (tmp_path / "bad" / "config.json").write_text(json.dumps(rec))
    with pytest.raises(CheckpointError):
        load_upsampler(tmp_path / "bad")
    (tmp_path / "up" / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError):
        load_upsampler(tmp_path / "up")
    with pytest.raises(CheckpointError):
        load_upsampler(tmp_path / "missing")


def test_pairs_and_degradation():
    from t2i.training.upsampler import PairCrops, degrade, downscale, render_pair_hr

    hr = render_pair_hr(0, 1, 5)
    assert hr.shape == (256, 256, 3) and hr.dtype == np.uint8
    assert np.array_equal(hr, render_pair_hr(0, 1, 5))  # deterministic
    lr = downscale(hr)
    assert lr.shape == (64, 64, 3)
    d = degrade(lr, np.random.default_rng(0))
    assert d.shape == lr.shape and d.dtype == np.uint8 and not np.array_equal(d, lr)
    torch.manual_seed(0)
    b = PairCrops(hr[None], crop=16, p_degrade=0.5)[0]
    assert b["image"].shape == (3, 16, 16) and b["target"].shape == (3, 64, 64)
    assert b["image"].abs().max() <= 1 and b["target"].abs().max() <= 1


def test_tiny_training_run_writes_a_loadable_folder(tmp_path):
    from t2i.training.upsampler import train_upsampler

    out = tmp_path / "run"
    kw = dict(pairs=4, test_pairs=2, batch_size=2, crop=16, eval_every=2, save_every=2, channels=8, blocks=1,
              up_channels=8, device="cpu", log=None)
    metrics = train_upsampler(out, steps=2, **kw)
    assert {"psnr", "psnr_bicubic", "psnr_gain", "lite0_l1", "lite0_l1_bicubic"} <= set(metrics)
    rec = json.loads((out / "config.json").read_text())
    assert rec["model_type"] == "upsampler" and rec["step"] == 2
    assert rec["metrics"]["psnr_bicubic"] == pytest.approx(metrics["psnr_bicubic"])
    up = load_upsampler(out)
    assert up.cfg.channels == 8
    x = _images(2)
    with torch.inference_mode():
        first = up(x)
    assert first.shape == (2, 3, 256, 256)
    train_upsampler(out, steps=3, **{**kw, "perceptual": 0.0})  # resumes from step 2 (cached pairs reused)
    assert json.loads((out / "config.json").read_text())["step"] == 3
    with torch.inference_mode():
        assert not torch.equal(load_upsampler(out)(x), first)
