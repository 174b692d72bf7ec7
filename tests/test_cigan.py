"""CI-GAN: StyleGAN2 networks, the three training stages' loss steps, text-guided optimisation, t-SNE (tiny, CPU)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from t2i.losses import infonce_l2
from t2i.models import get_family
from t2i.models.cigan import (CIGAN, Encoder, LatentDiscriminator, LatentTextEncoder, generate_from_text, invert,
                              text_guided_optimise)
from t2i.models.registry import StepContext
from t2i.models.stylegan2 import Discriminator, Generator
from t2i.nn.modconv import MinibatchStd, ModulatedConv2d

torch.set_num_threads(1)

TINY = dict(img_size=16, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32, d_channel_base=256,
            d_channel_max=32, enc_channel_base=256, enc_channel_max=32, latent_d_hidden=32, latent_d_layers=2,
            vocab_size=50, text_embed_dim=16, text_hidden=32, mbstd_group=2)


def tiny(stage: str = "stylegan", **kw):
    return CIGAN.config_from_dict({**TINY, "stage": stage, **kw})


class FakePerceptual(nn.Module):
    """Stands in for t2i.losses.PerceptualLoss: MSE of a frozen random conv's features."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1).requires_grad_(False)

    def forward(self, a, b, mask=None):
        return F.mse_loss(self.conv(a), self.conv(b))


def ctx_for(cfg, n=4, step=1, perceptual=None, tokens=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(n, 3, cfg.img_size, cfg.img_size, generator=g) * 2 - 1
    toks = lengths = None
    if tokens:
        lengths = torch.tensor([5, 3, 7, 2, 6, 4, 7, 1][:n])
        toks = torch.randint(1, cfg.vocab_size, (n, 7), generator=g)
        toks[torch.arange(7)[None] >= lengths[:, None]] = 0
    return StepContext(real=real, sent=None, words=None, word_mask=None, cfg=cfg, perceptual=perceptual, step=step,
                       tokens=toks, lengths=lengths)


def grads(net: nn.Module) -> list:
    return [p.grad for p in net.parameters()]


def has_grad(net: nn.Module) -> bool:
    return any(g is not None and g.abs().sum() > 0 for g in grads(net))


def no_grad_at_all(net: nn.Module) -> bool:
    return all(g is None for g in grads(net)) and not any(p.requires_grad for p in net.parameters())


def fake_store(**ckpts):
    """A load_fn over in-memory 'model folders' laid out like t2i.checkpoint writes them."""
    def load_fn(path):
        cfg, modules = ckpts[path]
        tensors = {f"{name}.{k}": v.clone() for name, m in modules.items() for k, v in m.state_dict().items()}
        return {"model_type": "cigan", "config": dataclasses.asdict(cfg), "components": sorted(modules)}, tensors
    return load_fn


@pytest.fixture(scope="module")
def stage1():
    """A (briefly 'trained') stage-1 generator and its config."""
    cfg = tiny("stylegan")
    G = CIGAN.build(cfg)["G"]
    with torch.no_grad():
        G.mapping(torch.randn(64, cfg.z_dim), update_w_avg=True)
    return cfg, G


# --- networks ----------------------------------------------------------------------------------------------------
def test_family_registered_and_shapes():
    assert get_family("cigan") is CIGAN
    cfg = tiny()
    G, D = Generator(32, 32, 16, 2, channel_base=256, channel_max=32), Discriminator(16, 256, 32, 2)
    z = torch.randn(4, 32)
    img, ws = G(z, return_ws=True)
    assert img.shape == (4, 3, 16, 16) and ws.shape == (4, G.num_ws, 32) and G.num_ws == 6
    assert G.synthesis(torch.randn(4, G.num_ws, 32)).shape == (4, 3, 16, 16)  # W+
    assert D(img).shape == (4,)
    E = Encoder(16, 32, 8, 256, 32)
    assert E(img).shape == (4, 32)
    assert LatentDiscriminator(32, 32, 2)(torch.randn(4, 32)).shape == (4,)
    c = ctx_for(cfg)
    T = LatentTextEncoder(50, 32, 16, 32)
    t = T(c.tokens, c.lengths)
    assert t.shape == (4, 32)
    # padding after the caption's end does not change its code
    T.eval()
    longer = torch.cat([c.tokens, torch.zeros(4, 3, dtype=torch.long)], 1)
    assert torch.allclose(T(c.tokens, c.lengths), T(longer, c.lengths), atol=1e-6)


def test_256px_builds():
    cfg = tiny(img_size=256, channel_base=128, channel_max=8, d_channel_base=128, d_channel_max=8,
               enc_channel_base=128, enc_channel_max=8)
    nets = CIGAN.build(cfg)
    img = nets["G"](torch.randn(1, cfg.z_dim))
    assert img.shape == (1, 3, 256, 256) and nets["G"].num_ws == 14
    assert nets["D"](img).shape == (1,)
    assert CIGAN.make_encoder(cfg)(img).shape == (1, cfg.w_dim)


def test_modconv_fused_equals_reference_and_demodulation_keeps_std():
    torch.manual_seed(0)
    fused = ModulatedConv2d(32, 32, 3, w_dim=16, fused=True)
    ref = ModulatedConv2d(32, 32, 3, w_dim=16, fused=False)
    auto = ModulatedConv2d(32, 32, 3, w_dim=16)  # fused=None: by device (activation scaling on CPU)
    ref.load_state_dict(fused.state_dict())
    auto.load_state_dict(fused.state_dict())
    x = torch.randn(4, 32, 8, 8)
    for scale in (0.1, 1.0, 30.0):  # styles far from 1 must not blow up or kill the signal
        w = torch.randn(4, 16) * scale
        a, b = fused(x, w), ref(x, w)
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
        assert torch.equal(auto(x, w), b)
        std = a.flatten(1).std(1)
        assert ((std > 0.5) & (std < 2.0)).all(), (scale, std)
    up = ModulatedConv2d(32, 8, 3, w_dim=16, up=True)
    assert up(x, torch.randn(4, 16)).shape == (4, 8, 16, 16)
    rgb = ModulatedConv2d(32, 3, 1, w_dim=16, demodulate=False)
    assert rgb(x, torch.randn(4, 16)).shape == (4, 3, 8, 8)


def test_minibatch_std_and_truncation():
    y = MinibatchStd(4, 1)(torch.randn(6, 8, 4, 4))  # 6 is not a multiple of 4: groups of 3
    assert y.shape == (6, 9, 4, 4)
    G = Generator(32, 32, 16, 2, channel_base=256, channel_max=32)
    z = torch.randn(8, 32)
    G.mapping(z, update_w_avg=True)
    assert G.mapping.w_avg.abs().sum() > 0
    assert torch.allclose(G.mapping(z, psi=0.0), G.mapping.w_avg.expand(8, -1))
    a, b = G(z, noise_mode="const"), G(z, noise_mode="const")
    assert torch.equal(a, b)


# --- stage 1 -------------------------------------------------------------------------------------------------------
def test_stylegan_stage_losses_and_gradients():
    cfg = tiny("stylegan", pl_weight=2.0, style_mixing=0.9)
    nets = CIGAN.build(cfg)
    assert set(nets) == {"G", "D"} and not CIGAN.needs_text(cfg) and CIGAN.has_discriminator(cfg)
    ctx = ctx_for(cfg, step=0)  # step 0: lazy R1 and path length are due
    loss, logs = CIGAN.d_loss(nets, ctx)
    loss.backward()
    assert torch.isfinite(loss) and "r1" in logs and "d_adv" in logs
    assert has_grad(nets["D"]) and all(g is None for g in grads(nets["G"]))
    for m in nets.values():
        m.zero_grad(set_to_none=True)
    loss, logs = CIGAN.g_loss(nets, ctx)
    loss.backward()
    assert torch.isfinite(loss) and {"g_adv", "pl", "pl_mean"} <= set(logs)
    assert has_grad(nets["G"]) and float(nets["G"].pl_mean) > 0
    loss, logs = CIGAN.d_loss(nets, ctx_for(cfg, step=1))
    assert "r1" not in logs


def test_stylegan_stage_reuses_the_d_steps_fakes_for_the_g_step():
    """reuse_fake (issue 22): one G forward per step; the D step's loss still sends no gradient to G."""
    cfg = tiny("stylegan")
    nets = CIGAN.build(cfg)
    calls = []
    nets["G"].register_forward_hook(lambda *a: calls.append(1))
    ctx = dataclasses.replace(ctx_for(cfg, step=1), reuse_fake=True)
    loss, _ = CIGAN.d_loss(nets, ctx)
    loss.backward()
    assert all(g is None for g in grads(nets["G"])) and "g_fake" in ctx.shared
    loss, _ = CIGAN.g_loss(nets, ctx)
    loss.backward()
    assert calls == [1] and has_grad(nets["G"]) and not ctx.shared


# --- stage 2 -------------------------------------------------------------------------------------------------------
def test_encoder_stage_attach_losses_and_frozen_generator(stage1):
    cfg1, G1 = stage1
    cfg = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="runs/sg")
    assert cfg.lr_g == 5e-4 and cfg.betas == (0.9, 0.99)  # optimiser defaults reset per stage
    nets = CIGAN.build(cfg)
    assert set(nets) == {"G", "Gen", "D", "D_latent"}
    CIGAN.attach_pretrained(nets, cfg, fake_store(**{"runs/sg": (cfg1, {"generator": G1})}))
    assert torch.equal(nets["Gen"].mapping.w_avg, G1.mapping.w_avg)
    assert torch.equal(nets["G"].w_mean, G1.mapping.w_avg)  # E starts at the centre of W
    assert not any(p.requires_grad for p in nets["Gen"].parameters())
    ctx = ctx_for(cfg, step=0, perceptual=FakePerceptual())
    loss, logs = CIGAN.d_loss(nets, ctx)
    loss.backward()
    assert {"d_adv", "r1", "d_latent"} <= set(logs)
    assert has_grad(nets["D"]) and has_grad(nets["D_latent"])
    assert all(g is None for g in grads(nets["G"])) and no_grad_at_all(nets["Gen"])
    for m in nets.values():
        m.zero_grad(set_to_none=True)
    loss, logs = CIGAN.g_loss(nets, ctx)
    loss.backward()
    assert {"pix", "per", "adv", "cycle", "latent_adv", "psnr"} <= set(logs)
    assert has_grad(nets["G"]) and no_grad_at_all(nets["Gen"])


def test_encoder_stage_without_cycle_drops_latent_terms(stage1):
    cfg1, G1 = stage1
    cfg = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="sg", cycle=False, lam_per=0.0)
    nets = CIGAN.build(cfg)
    assert "D_latent" not in nets
    CIGAN.attach_pretrained(nets, cfg, fake_store(sg=(cfg1, {"generator": G1})))
    ctx = ctx_for(cfg)
    _, d_logs = CIGAN.d_loss(nets, ctx)
    loss, g_logs = CIGAN.g_loss(nets, ctx)
    loss.backward()
    assert "d_latent" not in d_logs and not {"cycle", "latent_adv", "per"} & set(g_logs)
    assert {"pix", "adv"} <= set(g_logs) and has_grad(nets["G"])


def test_encoder_stage_with_the_real_perceptual_loss(stage1):
    pytest.importorskip("efficientnet_lite_pytorch")
    from t2i.losses import PerceptualLoss

    cfg1, G1 = stage1
    cfg = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="sg")
    nets = CIGAN.build(cfg)
    CIGAN.attach_pretrained(nets, cfg, fake_store(sg=(cfg1, {"generator": G1})))
    loss, logs = CIGAN.g_loss(nets, ctx_for(cfg, n=2, perceptual=PerceptualLoss(size=32)))
    loss.backward()
    assert logs["per"] > 0 and has_grad(nets["G"]) and no_grad_at_all(nets["Gen"])


def test_attach_pretrained_refuses_mismatches(stage1):
    cfg1, G1 = stage1
    cfg = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="sg")
    with pytest.raises(ValueError, match="needs generator_ckpt"):
        CIGAN.attach_pretrained(CIGAN.build(tiny("encoder")), tiny("encoder"), fake_store())
    other = dataclasses.replace(cfg1, w_dim=16)
    with pytest.raises(ValueError, match="w_dim"):
        CIGAN.attach_pretrained(CIGAN.build(cfg), cfg, fake_store(sg=(other, {"generator": G1})))
    enc_cfg = dataclasses.replace(cfg, generator_ckpt=None)
    with pytest.raises(ValueError, match="expected 'stylegan'"):
        CIGAN.attach_pretrained(CIGAN.build(cfg), cfg, fake_store(sg=(enc_cfg, {"generator": G1})))


# --- stage 3 -------------------------------------------------------------------------------------------------------
def test_aligner_stage_losses_and_frozen_nets(stage1):
    cfg1, G1 = stage1
    cfg2 = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="sg")
    nets2 = CIGAN.build(cfg2)
    store = {"sg": (cfg1, {"generator": G1})}
    CIGAN.attach_pretrained(nets2, cfg2, fake_store(**store))
    ship = CIGAN.ship_modules(cfg2, nets2, nets2["G"])
    assert set(ship) == {"generator", "Gen"}
    store["enc"] = (cfg2, ship)
    store["enc_only"] = (cfg2, {"generator": nets2["G"]})  # a folder without the generator: read generator_ckpt

    for enc_path in ("enc", "enc_only"):
        cfg = CIGAN.config_for_stage(cfg2, "aligner", encoder_ckpt=enc_path)
        assert CIGAN.needs_text(cfg) and not CIGAN.has_discriminator(cfg)
        nets = CIGAN.build(cfg)
        assert set(nets) == {"G", "Enc", "Gen"} and CIGAN.g_keys == ("G",)
        CIGAN.attach_pretrained(nets, cfg, fake_store(**store))
        assert torch.equal(nets["Enc"].head.weight, nets2["G"].head.weight)
        assert torch.equal(nets["Gen"].mapping.w_avg, G1.mapping.w_avg)
        ctx = ctx_for(cfg)
        d, d_logs = CIGAN.d_loss(nets, ctx)
        assert d.item() == 0 and d_logs == {}
        loss, logs = CIGAN.g_loss(nets, ctx)
        loss.backward()
        assert {"infonce", "l2_pos", "top1"} <= set(logs)
        assert has_grad(nets["G"]) and no_grad_at_all(nets["Enc"]) and no_grad_at_all(nets["Gen"])
    with pytest.raises(ValueError, match="tokens"):
        CIGAN.g_loss(nets, ctx_for(cfg, tokens=False))


def test_infonce_lower_for_aligned_pairs_and_text_encoder_learns():
    torch.manual_seed(0)
    w = torch.randn(8, 32)
    t = w + 0.3 * torch.randn(8, 32)
    assert infonce_l2(t, w) < infonce_l2(t[torch.randperm(8)], w) - 1.0
    # the LSTM learns to put each caption next to its own code
    T = LatentTextEncoder(30, 32, 16, 32, dropout=0.0)
    tokens = torch.randint(1, 30, (8, 5))
    lengths = torch.full((8,), 5)
    opt = torch.optim.Adam(T.parameters(), lr=1e-2)
    before = infonce_l2(T(tokens, lengths), w).item()
    for _ in range(60):
        loss = infonce_l2(T(tokens, lengths), w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = T(tokens, lengths).detach()
    assert infonce_l2(t, w) < before and infonce_l2(t, w) < infonce_l2(t[torch.roll(torch.arange(8), 1)], w)


# --- inference -----------------------------------------------------------------------------------------------------
def test_text_guided_optimise_moves_w_towards_t(stage1):
    _, G = stage1
    torch.manual_seed(1)
    w0, t = torch.randn(2, 32), torch.randn(2, 32)
    calls = []
    dists = []
    for steps in (5, 10, 20, 40):
        w, img = text_guided_optimise(G, w0, t, steps=steps, lr=0.05, progress=lambda i, n: calls.append((i, n)))
        dists.append((w - t).norm(dim=1).mean().item())
        assert img.shape == (2, 3, 16, 16)
    assert calls[:5] == [(i, 5) for i in range(1, 6)] and len(calls) == 5 + 10 + 20 + 40
    assert all(b < a for a, b in zip(dists, dists[1:])) and dists[0] < (w0 - t).norm(dim=1).mean().item()
    # editing: the perceptual preservation term runs, under inference_mode, without touching G's gradients
    x_ref, per = G.synthesis(w0, noise_mode="const").detach(), FakePerceptual()
    with torch.inference_mode():
        w, img = text_guided_optimise(G, w0, t, steps=3, lr=0.05, lam_per=1.0, x_ref=x_ref, perceptual=per,
                                      lam_pix=1.0)
    assert img.shape == (2, 3, 16, 16) and all(p.grad is None for p in G.parameters())
    # W+ start, W text feature
    wp, _ = text_guided_optimise(G, G.synthesis.broadcast(w0), t, steps=3, lr=0.05)
    assert wp.shape == (2, G.num_ws, 32)
    with pytest.raises(ValueError):
        text_guided_optimise(G, w0, t, steps=1, lam_per=1.0)


def test_invert_and_generate_from_text(stage1):
    _, G = stage1
    E = Encoder(16, 32, 8, 256, 32)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    w = invert(E, G, x)
    assert w.shape == (2, 32)
    w_ref = invert(E, G, x, steps=3, lr=0.01)
    assert w_ref.shape == (2, 32) and not torch.equal(w, w_ref)
    t = torch.randn(2, 32)
    a = generate_from_text(G, None, t, steps=3, generator=torch.Generator().manual_seed(0))
    b = generate_from_text(G, G.mapping, t, steps=3, generator=torch.Generator().manual_seed(0))
    assert a[1].shape == (2, 3, 16, 16) and torch.equal(a[1], b[1])


def test_preview_ship_and_load_inference(stage1, tmp_path):
    from t2i import checkpoint as ckpt

    cfg1, G1 = stage1
    assert CIGAN.preview(G1, ctx_for(cfg1)).shape == (4, 3, 16, 16)
    cfg2 = CIGAN.config_for_stage(cfg1, "encoder", generator_ckpt="sg")
    nets2 = CIGAN.build(cfg2)
    CIGAN.attach_pretrained(nets2, cfg2, fake_store(sg=(cfg1, {"generator": G1})))
    assert CIGAN.preview(nets2["G"], ctx_for(cfg2), nets=nets2).shape == (4, 3, 16, 16)
    cfg3 = CIGAN.config_for_stage(cfg2, "aligner", encoder_ckpt="enc")
    nets3 = CIGAN.build(cfg3)
    CIGAN.attach_pretrained(nets3, cfg3, fake_store(enc=(cfg2, CIGAN.ship_modules(cfg2, nets2, nets2["G"]))))
    assert CIGAN.preview(nets3["G"], ctx_for(cfg3), nets=nets3).shape == (4, 3, 16, 16)
    # the aligner's folder is self-contained: text encoder + encoder + generator, strict round trip
    folder = ckpt.save_model_folder(tmp_path / "cigan", "cigan", dataclasses.asdict(cfg3),
                                    CIGAN.ship_modules(cfg3, nets3, nets3["G"]))
    record = ckpt.read_config(folder)
    cfg = CIGAN.config_from_dict(json.loads(json.dumps(record["config"])))
    assert cfg == cfg3
    from t2i.models.cigan import load_cigan

    _, _, roles = load_cigan(folder)
    assert set(roles) == {"text", "encoder", "stylegan"}
    assert torch.equal(roles["stylegan"].mapping.w_avg, G1.mapping.w_avg)


def test_config_validation():
    with pytest.raises(ValueError, match="unknown config keys"):
        CIGAN.config_from_dict({"stage": "stylegan", "nf": 3})
    with pytest.raises(ValueError, match="stage"):
        CIGAN.config_from_dict({"stage": "finetune"})
    with pytest.raises(ValueError, match="power of two"):
        CIGAN.config_from_dict({"img_size": 48})
    cfg = CIGAN.config_from_dict({"betas": [0.5, 0.9], "lr_g": 1e-3})
    assert cfg.betas == (0.5, 0.9) and cfg.lr_g == 1e-3 and cfg.lr_d == 0.002


# --- t-SNE ---------------------------------------------------------------------------------------------------------
def test_latent_tsne_writes_png(tmp_path):
    from t2i.viz.tsne import cycle_tsne_comparison, latent_frechet, latent_tsne

    rng = np.random.default_rng(0)
    ws = rng.normal(size=(20, 8))
    near, far = rng.normal(size=(12, 8)), rng.normal(size=(12, 8)) * 0.3 + 2.0
    labels = ["red", "blue", "yellow"] * 4
    fig = latent_tsne(ws, near, labels, "W", out_png=tmp_path / "one.png", perplexity=5)
    assert (tmp_path / "one.png").stat().st_size > 1000 and len(fig.axes) == 1
    fig = cycle_tsne_comparison(ws, near, far, labels, out_png=tmp_path / "two.png", perplexity=5)
    assert (tmp_path / "two.png").stat().st_size > 1000 and len(fig.axes) == 2
    assert 0 <= latent_frechet(ws, near) < latent_frechet(ws, far)
    with pytest.raises(ValueError):
        latent_tsne(ws, near, labels[:5])


def test_code_bank_lookup_marks_missing_rows_and_wplus_text_encoder():
    from t2i.models.cigan import CodeBank

    bank = CodeBank()
    with pytest.raises(ValueError, match="empty"):
        bank(torch.tensor([0]))
    codes = torch.randn(2, 3, 4)
    bank.fill(codes, torch.tensor([2, 0]))
    got, ok = bank(torch.tensor([0, 1, 2, 5]))
    assert ok.tolist() == [True, False, True, False]
    assert torch.equal(got[0], codes[1]) and torch.equal(got[2], codes[0])
    assert bank.state_dict() == {}  # never saved with a run
    cfg = tiny("aligner", invert_steps=2, wplus=True)
    t = CIGAN.make_text_encoder(cfg)(torch.tensor([[3, 4, 0]]), torch.tensor([2]))
    assert t.shape == (1, 2 * 4 - 2, cfg.w_dim)  # 16 px: num_ws = 6
    with pytest.raises(ValueError, match="invert_steps"):
        tiny("aligner", wplus=True)
    w, t = torch.randn(8, 32) * 10, torch.randn(8, 32) * 10
    assert infonce_l2(t, w, tau=1e6).item() == pytest.approx(np.log(8), abs=1e-3)  # a huge temperature: uniform
    assert infonce_l2(w + 0.1, w, tau=1.0).item() < 1e-3 < infonce_l2(w + 0.1, w, tau=1e3).item()
