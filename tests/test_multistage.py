"""Multi-stage families (ECAGAN, CAE-GAN, FF-GAN) and their layers: CARAFE, dynamic memory, shapes, losses."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from t2i.models import StepContext, get_family, list_families
from t2i.nn.carafe import CARAFE, carafe_reassemble, carafe_reassemble_reference
from t2i.nn.memory import DynamicMemory
from t2i.nn.stack import stage_sizes

torch.set_num_threads(1)

FAMILIES = ["ecagan", "caegan", "ffgan"]
TEXT_DIM, L = 16, 6
TINY = dict(ngf=8, ndf=8, z_dim=8, text_dim=TEXT_DIM, c_dim=8)
EXTRA = {"ecagan": dict(carafe_c_mid=8), "caegan": dict(n_queries=4), "ffgan": dict(dense_layers=2, dense_growth=4)}


def tiny_cfg(name: str, **over):
    return get_family(name).config_from_dict({**TINY, **EXTRA[name], **over})


def text_batch(n: int, n_words: tuple[int, ...] = (6, 3), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    sent = torch.randn(n, TEXT_DIM, generator=g)
    words = torch.randn(n, TEXT_DIM, L, generator=g)
    mask = torch.arange(L)[None, :] >= torch.tensor(n_words[:n])[:, None]  # True = padding
    return sent, words, mask


def check_word_attn(attn: torch.Tensor, mask: torch.Tensor):
    n = mask.size(0)
    assert attn.shape[:2] == (n, L), attn.shape
    flat = attn.reshape(n, L, -1)
    torch.testing.assert_close(flat.sum(1), torch.ones_like(flat[:, 0]), atol=1e-5, rtol=0)
    assert (flat.masked_select(mask[:, :, None].expand_as(flat)) == 0).all()


class StubPerceptual(nn.Module):
    def forward(self, a, b):
        return (a - b).pow(2).mean()


class FakeDAMSM:
    """Stands in for t2i.text.damsm.DAMSM: a differentiable scalar of the final images."""

    def __init__(self, img_size: int):
        self.img_size, self.calls = img_size, 0

    def loss(self, images, words, sent, word_mask, class_ids):
        assert images.shape[-2:] == (self.img_size, self.img_size) and words.shape[1] == sent.shape[1]
        self.calls += 1
        return images.mean().pow(2) + images.std()


# --- layers -------------------------------------------------------------------------------------------------
def test_carafe_matches_reference_and_kernels_normalised():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 4)
    up = CARAFE(3, scale=2, k_up=5, k_enc=3, c_mid=8)
    k = up.kernels(x)
    assert k.shape == (2, 25, 10, 8)
    torch.testing.assert_close(k.sum(1), torch.ones(2, 10, 8), atol=1e-5, rtol=0)
    fast = carafe_reassemble(x, k, 2, 5)
    torch.testing.assert_close(fast, carafe_reassemble_reference(x, k, 2, 5), atol=1e-5, rtol=0)
    assert up(x).shape == (2, 3, 10, 8)
    # scale 3, k_up 3: the same definition
    k3 = torch.softmax(torch.randn(1, 9, 9, 6), dim=1)
    x3 = torch.randn(1, 2, 3, 2)
    torch.testing.assert_close(carafe_reassemble(x3, k3, 3, 3), carafe_reassemble_reference(x3, k3, 3, 3),
                               atol=1e-5, rtol=0)


def test_dynamic_memory_read_weights():
    torch.manual_seed(0)
    dm = DynamicMemory(channels=8, text_dim=TEXT_DIM, mem_dim=8)
    sent, words, mask = text_batch(2)
    h = torch.randn(2, 8, 4, 4)
    h_new, attn, gate = dm(h, words, mask)
    assert h_new.shape == h.shape and attn.shape == (2, L, 4, 4) and gate.shape == (2, 1, 4, 4)
    check_word_attn(attn, mask)
    assert ((gate >= 0) & (gate <= 1)).all()


def test_stage_sizes():
    assert stage_sizes(64, 3) == [16, 32, 64] and stage_sizes(256, 3) == [64, 128, 256]
    with pytest.raises(ValueError):
        stage_sizes(16, 3)


# --- generators -----------------------------------------------------------------------------------------------
def test_registered():
    assert set(FAMILIES) <= set(list_families())
    for name in FAMILIES:  # a config survives the checkpoint's dict round trip
        fam = get_family(name)
        assert fam.config_from_dict(dataclasses.asdict(fam.Config())) == fam.Config()
    with pytest.raises(ValueError):
        get_family("ecagan").config_from_dict({"no_such_field": 1})


@pytest.mark.parametrize("name", FAMILIES)
def test_generator_outputs(name):
    torch.manual_seed(0)
    fam = get_family(name)
    cfg = tiny_cfg(name)
    G = fam.build_generator(cfg)
    sent, words, mask = text_batch(2)
    z = torch.randn(2, cfg.z_dim)
    out = G(z, sent, words, mask)
    sizes = [64] if name == "ffgan" else [16, 32, 64]
    assert [tuple(im.shape) for im in out.images] == [(2, 3, s, s) for s in sizes]
    for im in out.images:
        assert im.min() >= -1 and im.max() <= 1
    expected = {"stage1": 16, "stage2": 32}
    for key, side in expected.items():
        assert out.word_attn[key].shape == (2, L, side, side)
    if name == "caegan":
        assert out.word_attn["encoder"].shape == (2, L)
    for attn in out.word_attn.values():
        check_word_attn(attn, mask)
    for m in out.masks.values():
        assert m.shape[:2] == (2, 1) and ((m >= 0) & (m <= 1)).all()
    assert out.kl.dim() == 0 and torch.isfinite(out.kl)
    # eval mode: condition = mu and no dropout, so the image is a function of (z, caption)
    G.eval()
    with torch.no_grad():
        torch.testing.assert_close(G(z, sent, words, mask).image, G(z, sent, words, mask).image)


@pytest.mark.parametrize("name", FAMILIES)
def test_losses_reach_every_network(name):
    torch.manual_seed(0)
    fam = get_family(name)
    cfg = tiny_cfg(name, lambda_damsm=5.0)
    nets = fam.build(cfg)
    d_keys = [k for k in nets if k.startswith("D")]
    assert d_keys == (["D"] if name == "ffgan" else ["D0", "D1", "D2"])
    sent, words, mask = text_batch(2)
    damsm = FakeDAMSM(64)
    ctx = StepContext(real=torch.rand(2, 3, 64, 64) * 2 - 1, sent=sent, words=words, word_mask=mask, cfg=cfg,
                      damsm=damsm, perceptual=StubPerceptual() if fam.needs_perceptual else None)

    d, logs = fam.d_loss(nets, ctx)
    d.backward()
    assert torch.isfinite(d) and all(math.isfinite(v) for v in logs.values())
    assert all(p.grad is None for p in nets["G"].parameters()), "d_loss must detach the fakes"
    for k in d_keys:
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in nets[k].parameters()), k

    for net in nets.values():
        net.zero_grad(set_to_none=True)
    g, logs = fam.g_loss(nets, ctx)
    g.backward()
    assert torch.isfinite(g) and damsm.calls == 1 and "g_damsm" in logs and "g_kl" in logs
    assert any(k.startswith("g_per") for k in logs) == fam.needs_perceptual
    missing = [n for n, p in nets["G"].named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, missing


def test_perceptual_required_when_weighted():
    cfg = tiny_cfg("ecagan")
    nets = get_family("ecagan").build(cfg)
    sent, words, mask = text_batch(2)
    ctx = StepContext(real=torch.zeros(2, 3, 64, 64), sent=sent, words=words, word_mask=mask, cfg=cfg)
    with pytest.raises(ValueError, match="perceptual"):
        get_family("ecagan").g_loss(nets, ctx)


def test_ecagan_with_real_perceptual_loss():
    pytest.importorskip("efficientnet_lite_pytorch")
    from t2i.losses import PerceptualLoss

    torch.manual_seed(0)
    fam = get_family("ecagan")
    cfg = tiny_cfg("ecagan")
    nets = fam.build(cfg)
    sent, words, mask = text_batch(2)
    ctx = StepContext(real=torch.rand(2, 3, 64, 64) * 2 - 1, sent=sent, words=words, word_mask=mask, cfg=cfg,
                      perceptual=PerceptualLoss(size=32, blocks=(2, 4)))
    g, logs = fam.g_loss(nets, ctx)
    g.backward()
    assert all(logs[f"g_per_D{i}"] > 0 for i in range(3))
    assert nets["G"].to_rgb[0].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in ctx.perceptual.parameters())


@pytest.mark.parametrize("name", FAMILIES)
def test_256_config_builds(name):
    torch.manual_seed(0)
    fam = get_family(name)
    cfg = tiny_cfg(name, img_size=256, ngf=4, ndf=4, c_dim=4)
    nets = fam.build(cfg)
    sent, words, mask = text_batch(1)
    with torch.no_grad():
        out = nets["G"](torch.randn(1, cfg.z_dim), sent, words, mask)
        sizes = [256] if name == "ffgan" else [64, 128, 256]
        assert [im.shape[-1] for im in out.images] == sizes
        assert out.word_attn["stage1"].shape[-1] == 64 and out.word_attn["stage2"].shape[-1] == 128
        judged = fam.judged(nets, len(out.images))
        for key, idx in judged:
            u, c, mis = nets[key](out.images[idx], sent, sent)
            assert u.shape == c.shape == mis.shape == (1,)


@pytest.mark.parametrize("family", ["caegan", "ecagan", "ffgan"])
def test_a_generator_that_takes_its_variety_from_the_ca_noise_still_varies_at_inference(family):
    """CAE-GAN's collapse (issue 25): trained, it took its variety from the conditioning-augmentation noise and
    little from z; inference used c = mu, so every seed gave the same bird. Here a generator that ignores z
    entirely (its z weights zeroed) must still give different images for different seeds, because the CA noise is
    part of the seeded latent (ca_inference = "sample", AttnGAN's test-time behaviour); "mean" reproduces the bug."""
    from t2i.models import get_family

    fam = get_family(family)
    extra = {"ngf": 8, "ndf": 8, "c_dim": 8, "z_dim": 8, "text_dim": 16, "img_size": 32}
    torch.manual_seed(0)
    imgs = {}
    for mode in ("sample", "mean"):
        cfg = fam.config_from_dict({**extra, "ca_inference": mode})
        G = fam.build_generator(cfg)
        init = G.init if hasattr(G, "init") else G.h1
        with torch.no_grad():
            init.fc.weight[:, cfg.c_dim:] = 0  # z has no say: all variety must come from the CA noise
        G.eval()
        sent, words = torch.randn(1, 16).expand(2, -1), torch.randn(1, 16, 5).expand(2, -1, -1)
        z = torch.cat([G.sample_z(1, generator=torch.Generator().manual_seed(s)) for s in (1, 2)])
        assert z.shape[1] == (16 if mode == "sample" else 8)
        with torch.no_grad():
            imgs[mode] = G(z, sent, words, None).images[-1]
    assert (imgs["sample"][0] - imgs["sample"][1]).abs().max() > 1e-5  # two seeds, two birds (untrained: small)
    assert (imgs["mean"][0] - imgs["mean"][1]).abs().max() < 1e-6  # the old inference: one bird


def test_the_mode_seeking_term_teaches_a_generator_that_ignores_z_to_use_it():
    """lambda_ms (ours, MSGAN): the G step reports the ratio |x1 - x2| / |z1 - z2| on half the batch, and minimising
    1 / ratio makes a generator whose output ignores z depend on it."""
    from t2i.models import get_family
    from t2i.models.registry import StepContext

    fam = get_family("caegan")
    cfg = fam.config_from_dict({"ngf": 8, "ndf": 8, "c_dim": 8, "z_dim": 8, "text_dim": 16, "img_size": 32,
                                "lambda_ms": 1.0, "lambda_damsm": 0.0, "attn_dropout": 0.0})
    torch.manual_seed(0)
    nets = fam.build(cfg)
    G = nets["G"]
    with torch.no_grad():
        G.init.fc.weight[:, cfg.c_dim:] = 0  # z ignored, as the collapsed CAE-GAN
        G.conditioner.ca.fc.weight.zero_()  # and no CA noise either: no variety at all
    n = 4
    ctx = StepContext(real=torch.rand(n, 3, 32, 32) * 2 - 1, sent=torch.randn(n, 16), words=torch.randn(n, 16, 5),
                      word_mask=None, cfg=cfg)
    _, logs = fam.g_loss(nets, ctx)
    before = logs["g_ms_ratio"]
    opt = torch.optim.Adam(G.parameters(), lr=1e-2)
    for _ in range(15):
        out = fam._generate(nets, ctx)
        loss = 1.0 / (fam.mode_seeking(nets, out, ctx) + 1e-5)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, logs = fam.g_loss(nets, ctx)
    assert logs["g_ms_ratio"] > 2 * before  # (not 0 before: batch-norm statistics differ between the halves)


def test_ffgan_per_stage_discriminators_ablation():
    """d_stages = "every" (ours): FF-GAN's generator gets an image per stage and each its own StackGAN++ D, as
    ECAGAN / CAE-GAN, so the paper's one-D claim can be measured; "final" stays the paper's single D."""
    torch.manual_seed(0)
    fam = get_family("ffgan")
    cfg = tiny_cfg("ffgan", d_stages="every", lambda_damsm=1.0)
    nets = fam.build(cfg)
    assert sorted(k for k in nets if k.startswith("D")) == ["D0", "D1", "D2"]
    sent, words, mask = text_batch(2)
    out = nets["G"](torch.randn(2, cfg.z_dim), sent, words, mask)
    assert [im.shape[-1] for im in out.images] == [16, 32, 64]
    assert fam.judged(nets, len(out.images)) == [("D0", 0), ("D1", 1), ("D2", 2)]
    ctx = StepContext(real=torch.rand(2, 3, 64, 64) * 2 - 1, sent=sent, words=words, word_mask=mask, cfg=cfg,
                      damsm=FakeDAMSM(64))
    d, _ = fam.d_loss(nets, ctx)
    d.backward()
    assert all(p.grad is not None for k in ("D0", "D1", "D2") for p in nets[k].parameters())
    for net in nets.values():
        net.zero_grad(set_to_none=True)
    g, _ = fam.g_loss(nets, ctx)
    g.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in nets["G"].stage_rgb.parameters())
    paper = fam.build(tiny_cfg("ffgan"))
    assert [k for k in paper if k.startswith("D")] == ["D"] and paper["G"].stage_rgb is None
    with pytest.raises(ValueError, match="d_stages"):
        fam.build(tiny_cfg("ffgan", d_stages="some"))
