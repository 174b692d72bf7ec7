"""The four one-stage families (dfgan, ssagan, swfgan, csagan): shapes, ranges, masks, word attention,
determinism, loss steps and gradients, ablation switches, larger resolutions. Tiny configs, CPU, 1 thread."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from t2i import losses
from t2i.models import StepContext, get_family
from t2i.models.base import TextConditionalGenerator
from t2i.nn.affine import OneWayDiscriminator
from t2i.nn.coord_mask import CoordMask

torch.set_num_threads(1)

FAMILIES = ["dfgan", "ssagan", "swfgan", "csagan"]
N, D, L, NPAD = 3, 16, 6, 2  # batch, text dim, words, padded words at the end of every caption


def tiny_cfg(name: str, **kw):
    fam = get_family(name)
    base = dict(img_size=64, nf=4, z_dim=16, text_dim=D)
    names = {f.name for f in dataclasses.fields(fam.Config)}
    for k, v in dict(mask_hidden=8, g0_nf=2, c_dim=8, coord_reduction=8).items():
        if k in names:
            base[k] = v
    base.update(kw)
    return fam.config_from_dict(base)


def text(n=N, seed=0):
    g = torch.Generator().manual_seed(seed)
    sent = torch.randn(n, D, generator=g)
    words = torch.randn(n, D, L, generator=g)
    word_mask = torch.zeros(n, L, dtype=torch.bool)
    word_mask[:, L - NPAD:] = True
    return sent, words, word_mask


class FakeDAMSM:
    """Stands in for t2i.text.damsm.DAMSM: same loss signature, differentiable in the images."""

    def __init__(self):
        self.calls = 0

    def loss(self, images, words, sent, word_mask, class_ids=None):
        assert images.dim() == 4 and images.size(1) == 3
        self.calls += 1
        return (images.mean(dim=(1, 2, 3)) - sent.mean(dim=1)).pow(2).mean()


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def build(name, **kw):
    cfg = tiny_cfg(name, **kw)
    fam = get_family(name)
    torch.manual_seed(0)
    return fam, cfg, fam.build(cfg)


@pytest.mark.parametrize("name", FAMILIES)
def test_forward_shapes_ranges_masks(name):
    fam, cfg, nets = build(name)
    G = nets["G"]
    assert isinstance(G, TextConditionalGenerator)
    sent, words, word_mask = text()
    z = G.sample_z(N, truncation=cfg.truncation)
    assert z.shape == (N, cfg.z_dim) and z.abs().max() <= cfg.truncation
    out = G(z, sent, words, word_mask)
    assert len(out.images) == 1 and out.image.shape == (N, 3, 64, 64)
    assert out.image.min() >= -1 and out.image.max() <= 1
    n_blocks = len(G.blocks)
    assert n_blocks == 4
    if name == "dfgan":
        assert out.masks == {}
    else:
        assert sorted(out.masks) == [f"block{i}" for i in range(1, n_blocks + 1)]
        for i, (k, m) in enumerate(sorted(out.masks.items())):
            res = 8 * 2 ** i
            assert m.shape == (N, 1, res, res), (k, m.shape)
            assert m.min() >= 0 and m.max() <= 1
    assert (out.kl is not None) == (name == "csagan")
    if name == "swfgan":
        assert sorted(out.word_attn) == ["block3", "block4"]  # 2 sentence + 2 word blocks at 64 px
        for k, a in out.word_attn.items():
            assert a.shape[:2] == (N, L) and a.shape[2] == a.shape[3]
            torch.testing.assert_close(a.sum(dim=1), torch.ones(N, *a.shape[2:]))
            assert torch.all(a[:, L - NPAD:] == 0), "padded words must get no attention"
    else:
        assert out.word_attn == {}


def test_swfgan_ignores_padded_words():
    from t2i.nn.affine import WordAffine

    fam, cfg, nets = build("swfgan")
    G = nets["G"].eval()
    word_affines = [m for m in G.modules() if isinstance(m, WordAffine)]
    assert len(word_affines) == 8  # 2 word blocks x 2 sub-blocks x 2 affines
    for m in word_affines:  # they start as the identity (gamma = 1, beta = 0): move them as training would
        for mlp in (m.fc_gamma, m.fc_beta):
            torch.nn.init.normal_(mlp[2].weight, std=0.3)
    sent, words, word_mask = text()
    z = G.sample_z(N, generator=torch.Generator().manual_seed(1))
    words2 = words.clone()
    words2[:, :, L - NPAD:] = torch.randn(N, D, NPAD) * 10
    with torch.no_grad():
        a = G(z, sent, words, word_mask).image
        b = G(z, sent, words2, word_mask).image
        c = G(z, sent, words2, None).image  # without the mask the padding does matter
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    # a caption made only of padding must not give NaN
    all_pad = torch.ones(N, L, dtype=torch.bool)
    with torch.no_grad():
        assert torch.isfinite(G(z, sent, words, all_pad).image).all()


@pytest.mark.parametrize("name", FAMILIES)
def test_same_seed_same_image_eval(name):
    fam, cfg, nets = build(name)
    G = nets["G"]
    G.train()
    sent, words, word_mask = text()
    with torch.no_grad():
        G(G.sample_z(N), sent, words, word_mask)  # move the BN running statistics off their init
    G.eval()
    imgs = []
    for _ in range(2):
        z = G.sample_z(N, generator=torch.Generator().manual_seed(123), truncation=cfg.truncation)
        with torch.no_grad():
            imgs.append(G(z, sent, words, word_mask).image)
    torch.testing.assert_close(imgs[0], imgs[1], rtol=0, atol=0)
    z2 = G.sample_z(N, generator=torch.Generator().manual_seed(124), truncation=cfg.truncation)
    with torch.no_grad():
        assert not torch.allclose(imgs[0], G(z2, sent, words, word_mask).image)


def _ctx(cfg, damsm=None):
    sent, words, word_mask = text()
    real = torch.rand(N, 3, cfg.img_size, cfg.img_size, generator=torch.Generator().manual_seed(5)) * 2 - 1
    return StepContext(real=real, sent=sent, words=words, word_mask=word_mask, cfg=cfg, damsm=damsm,
                       class_ids=torch.arange(N))


@pytest.mark.parametrize("name", FAMILIES)
def test_loss_steps_backprop(name):
    fam, cfg, nets = build(name)
    G, D = nets["G"], nets["D"]
    damsm = FakeDAMSM()
    ctx = _ctx(cfg, damsm)

    loss, logs = fam.d_loss(nets, ctx)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert all(isinstance(v, float) for v in logs.values())
    assert logs["ma_gp"] > 0
    loss.backward()
    assert all(p.grad is not None for p in D.parameters()), "every D parameter must be reached"
    assert sum(p.grad.abs().sum() for p in D.parameters()) > 0
    assert all(p.grad is None for p in G.parameters()), "d_loss must not backprop into G"
    assert ctx.real.grad is None and ctx.sent.grad is None, "the step must not touch the batch tensors"

    D.zero_grad(set_to_none=True)
    loss, logs = fam.g_loss(nets, ctx)
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in G.named_parameters() if p.grad is None]
    assert not missing, f"G parameters not reached: {missing}"
    assert G.fc.weight.grad.abs().sum() > 0 and G.to_rgb.conv.weight.grad.abs().sum() > 0
    expect_damsm = name in ("ssagan", "csagan")
    assert damsm.calls == int(expect_damsm) and ("damsm" in logs) == expect_damsm
    if name == "csagan":
        assert "kl" in logs
        assert G.ca.fc.weight.grad.abs().sum() > 0
        assert G.g0.fc.weight.grad.abs().sum() > 0 and G.g0_weight.grad.abs().sum() > 0


def test_g_loss_without_damsm_object():
    fam, cfg, nets = build("csagan")
    loss, logs = fam.g_loss(nets, _ctx(cfg, damsm=None))
    assert torch.isfinite(loss) and "damsm" not in logs


def test_ma_gp_gradient_nonzero():
    torch.manual_seed(0)
    disc = OneWayDiscriminator(nf=4, img_size=64, text_dim=D)
    real = (torch.rand(N, 3, 64, 64) * 2 - 1).requires_grad_(True)
    sent = torch.randn(N, D).requires_grad_(True)
    gp = losses.ma_gp(disc(real, sent), real, sent)
    assert gp > 0
    gp.backward()
    assert sum(p.grad.abs().sum() for p in disc.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("name,switch,drops", [
    ("swfgan", "use_coord_mask", True), ("swfgan", "use_word_level", False),
    ("csagan", "use_ssf", True), ("csagan", "use_damsm", False), ("csagan", "use_csa", False),
    ("csagan", "use_g0", True),
])
def test_ablation_switches(name, switch, drops):
    fam, cfg_full, nets_full = build(name)
    fam, cfg, nets = build(name, **{switch: False})
    G = nets["G"]
    if drops:
        assert n_params(G) < n_params(nets_full["G"])
    damsm = FakeDAMSM()
    ctx = _ctx(cfg, damsm)
    d, _ = fam.d_loss(nets, ctx)
    d.backward()
    g, logs = fam.g_loss(nets, ctx)
    g.backward()
    assert torch.isfinite(d) and torch.isfinite(g)
    sent, words, word_mask = text()
    out = G(G.sample_z(N), sent, words, word_mask)
    assert out.image.shape == (N, 3, 64, 64)
    if switch == "use_coord_mask":
        assert out.masks == {} and sorted(out.word_attn) == ["block3", "block4"]
    if switch == "use_word_level":
        assert out.word_attn == {} and len(out.masks) == 4
    if switch == "use_ssf":
        assert out.masks == {}
    if switch == "use_damsm":
        assert damsm.calls == 0 and "damsm" not in logs
    if switch == "use_csa":
        assert out.kl is None and G.ca is None and "kl" not in logs
    if switch == "use_g0":
        assert G.g0 is None


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("size,n_blocks", [(128, 5), (256, 6)])
def test_larger_resolutions_build(name, size, n_blocks):
    fam, cfg, nets = build(name, img_size=size, nf=2, mask_hidden=4) if name in ("ssagan", "csagan") else \
        build(name, img_size=size, nf=2)
    G, D = nets["G"].eval(), nets["D"]
    assert len(G.blocks) == n_blocks
    sent, words, word_mask = text(n=1)
    with torch.no_grad():
        out = G(G.sample_z(1), sent, words, word_mask)
        assert out.image.shape == (1, 3, size, size)
        assert D(out.image, sent).shape == (1,)
    if name == "swfgan":
        assert G.n_sentence_blocks == (n_blocks + 1) // 2
        assert len(out.word_attn) == n_blocks - G.n_sentence_blocks


def test_channel_schedule_and_config():
    from t2i.nn.affine import d_channels, g_channels

    assert g_channels(32, 64) == [256, 256, 128, 64, 32]
    assert len(g_channels(32, 128)) - 1 == 5 and len(g_channels(32, 256)) - 1 == 6
    assert d_channels(32, 64) == [32, 64, 128, 256, 256]
    fam = get_family("csagan")
    cfg = fam.config_from_dict({"betas": [0.0, 0.9], "img_size": 128})
    assert cfg.betas == (0.0, 0.9) and (cfg.magp_k, cfg.lambda_kl, cfg.lambda_damsm) == (2.0, 0.01, 0.05)
    assert cfg.truncation == 0.88 and cfg.nf == 32 and cfg.z_dim == 100 and cfg.text_dim == 256
    with pytest.raises(ValueError):
        fam.config_from_dict({"img_size": 100})
    with pytest.raises(ValueError):
        fam.config_from_dict({"no_such_key": 1})
    assert get_family("dfgan").Config().lambda_damsm == 0.0 and get_family("dfgan").Config().cond_with_z


def test_coord_mask_predictor():
    torch.manual_seed(0)
    cm = CoordMask(16, reduction=4)
    f = torch.randn(2, 16, 8, 12)
    m, vis = cm(f)
    assert m.shape == f.shape and vis.shape == (2, 1, 8, 12)
    assert vis.min() >= 0 and vis.max() <= 1
    # m = f * m_x * m_y: the attention factor is separable, so m / f has rank one per channel
    ratio = (m / f)[0, 0]
    assert torch.linalg.matrix_rank(ratio, atol=1e-5) == 1
