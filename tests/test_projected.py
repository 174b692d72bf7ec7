"""The projected discriminator (ours, issue 23): shapes, gradients, a frozen feature network, the mismatched
caption term, DiffAugment, and the `d = "projected"` switch in tiny one- and multi-stage runs."""
import dataclasses
import json

import pytest
import torch

from t2i.models import get_family
from t2i.models.registry import StepContext
from t2i.nn.projected import ProjectedDiscriminator, _shared_feature_net, diff_augment
from t2i.training.gan import Trainer, load_run_config

TINY = {"img_size": 32, "nf": 4, "text_dim": 16, "z_dim": 8, "d": "projected", "d_width": 8}


def _batch(n=4, text_dim=16, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    sent = torch.randn(n, text_dim, generator=g)
    words = torch.randn(n, text_dim, 6, generator=g)
    mask = torch.zeros(n, 6, dtype=torch.bool)
    mask[:, 4:] = True
    return img, sent, words, mask


def test_shapes_and_gradients_reach_heads_and_image_not_the_feature_net():
    torch.manual_seed(0)
    D = ProjectedDiscriminator(text_dim=16, input_size=64, width=8)
    img, sent, words, mask = _batch(size=64)
    img.requires_grad_(True)
    logits, mis = D(img, sent, words, mask, mismatched=(sent.roll(1, 0), words.roll(1, 0), mask))
    # heads at 16, 8, 4, 2 px: the first two are strided down to 4x4, the last two keep their side
    assert logits.shape == mis.shape == (4, 16 + 16 + 16 + 4)
    (logits.mean() - mis.mean()).backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters() if p.requires_grad)
    net = _shared_feature_net("cpu")
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert not any(k.startswith("features.net") or "_blocks" in k for k in D.state_dict())  # not saved with D


def test_diff_augment_keeps_shape_shifts_and_cuts_out_and_is_differentiable():
    torch.manual_seed(0)
    x = (torch.rand(6, 3, 32, 32) + 0.5).requires_grad_(True)  # no zero pixel before augmenting
    t = diff_augment(x, ("translation",))
    assert t.shape == x.shape and not torch.equal(t, x)
    c = diff_augment(x, ("cutout",))
    zero_share = (c == 0).all(dim=1).float().mean(dim=(1, 2))
    assert torch.allclose(zero_share, torch.full((6,), 0.25))  # a 16x16 square of a 32x32 image
    (t.sum() + c.sum()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_mismatched_caption_term_teaches_d_to_tell_captions_apart():
    torch.manual_seed(0)
    D = ProjectedDiscriminator(text_dim=16, input_size=32, width=8, augment=())
    img, sent, words, mask = _batch(n=4, size=32, seed=1)
    opt = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=2e-3, betas=(0.0, 0.9))
    mism = (sent.roll(1, 0), words.roll(1, 0), mask.roll(1, 0))

    def gap():
        with torch.no_grad():
            real, mis = D(img, sent, words, mask, mismatched=mism)
        return (real.mean() - mis.mean()).item()

    before = gap()
    for _ in range(40):
        real, mis = D(img, sent, words, mask, mismatched=mism)
        loss = torch.relu(1 - real).mean() + torch.relu(1 + mis).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() > before + 1.0


def _ctx(cfg, n=4):
    img, sent, words, mask = _batch(n=n, text_dim=cfg.text_dim, size=cfg.img_size)
    return StepContext(real=img, sent=sent, words=words, word_mask=mask, cfg=cfg, damsm=None, perceptual=None,
                       step=0, class_ids=torch.zeros(n, dtype=torch.long), tokens=None, lengths=None, indices=None)


@pytest.mark.parametrize("model", ["swfgan", "ecagan", "ffgan"])
def test_every_family_steps_with_the_projected_d_and_leaves_the_feature_net_alone(model):
    fam = get_family(model)
    extra = {"ngf": 8, "ndf": 8, "c_dim": 8} if model != "swfgan" else {"nf": 4}
    if model == "ecagan":
        extra["lambda_per"] = 0.0
    cfg = fam.config_from_dict({"img_size": 32, "text_dim": 16, "z_dim": 8, "d": "projected", "d_width": 8, **extra})
    nets = fam.build(cfg)
    paper = fam.build(dataclasses.replace(cfg, d="paper"))
    final = [k for k in nets if k.startswith("D")][-1]
    assert isinstance(nets[final], ProjectedDiscriminator) and not isinstance(paper[final], ProjectedDiscriminator)
    frozen = {k: v.clone() for k, v in _shared_feature_net("cpu").state_dict().items()}
    ctx = _ctx(cfg)
    opt = torch.optim.Adam([p for k, v in nets.items() for p in v.parameters()], lr=1e-3)
    for step in (fam.d_loss, fam.g_loss):
        loss, logs = step(nets, ctx)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss) and logs
    after = _shared_feature_net("cpu").state_dict()
    assert all(torch.equal(frozen[k], after[k]) for k in frozen)  # BN statistics included


def test_unknown_d_is_refused():
    with pytest.raises(ValueError, match="d must be one of"):
        get_family("dfgan").config_from_dict({"d": "stylegan"})
    with pytest.raises(ValueError, match="d_augment"):
        get_family("dfgan").config_from_dict({"d": "projected", "d_augment": ["hue"]})


def test_switch_in_a_tiny_run_and_a_warm_start_from_a_paper_d_snapshot(tmp_path, cub_tiny, tiny_damsm):
    from t2i import checkpoint as ckpt

    base = {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.batch_size": 2,
            "train.log_every": 1, "train.sample_every": 1000, "train.save_every": 2, "train.steps": 2,
            "train.model": "swfgan"}
    paper = dict(TINY, d="paper")
    Trainer(load_run_config(None, {**base, "train.out": str(tmp_path / "paper")})[0], paper).train()
    snap = ckpt.save_snapshot(tmp_path / "paper", tmp_path / "snap")
    tc = load_run_config(None, {**base, "train.out": str(tmp_path / "proj"), "train.init": str(snap),
                                "train.steps": 4})[0]
    tr = Trainer(tc, dict(TINY))
    g0 = {k: v.clone() for k, v in tr.nets["G"].state_dict().items()}
    step, _ = tr.resume()
    assert step == 2 and isinstance(tr.nets["D"], ProjectedDiscriminator)
    g_snap = tr.nets["G"].state_dict()
    assert any(not torch.equal(g0[k], g_snap[k]) for k in g0)  # G came from the snapshot
    logs = Trainer(tc, dict(TINY)).train()
    assert {"d_loss", "d_real", "d_fake", "d_mis", "g_adv"} <= set(logs) and "ma_gp" not in logs
    rec = json.loads((tmp_path / "proj" / "config.json").read_text())
    assert rec["step"] == 4 and rec["config"]["d"] == "projected"


def test_one_generator_forward_per_step_and_lazy_ma_gp(tmp_path, cub_tiny, tiny_damsm):
    """Speed switches (issue 22): reuse_fake feeds the D step's fakes to the G step (one G forward per step, as
    DF-GAN's code); magp_every = k computes MA-GP on every k-th D step only, with weight k."""
    base = {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.batch_size": 2,
            "train.log_every": 1, "train.sample_every": 1000, "train.save_every": 1000, "train.steps": 4,
            "train.model": "dfgan"}
    model = dict(TINY, d="paper", magp_every=2)
    counts = {}
    for reuse in (True, False):
        tc = load_run_config(None, {**base, "train.out": str(tmp_path / f"r{reuse}"), "train.reuse_fake": reuse})[0]
        tr = Trainer(tc, model)
        calls = []
        tr.nets["G"].register_forward_hook(lambda *a: calls.append(1))
        tr.train()
        counts[reuse] = len(calls)
        rows = [json.loads(ln) for ln in (tmp_path / f"r{reuse}" / "log.jsonl").read_text().splitlines()]
        gp_steps = [r["step"] for r in rows if "ma_gp" in r]
        assert gp_steps == [1, 3]  # ctx.step counts from 0: steps 0 and 2 regularise, logged as 1 and 3
        for r in rows:
            want = r["d_adv"] + 2 * r["ma_gp"] if "ma_gp" in r else r["d_adv"]
            assert abs(r["d_loss"] - want) < 1e-4
    assert counts == {True: 4, False: 8}


def test_compile_switch_compiles_g_for_the_loss_steps_and_keeps_the_saved_names(tmp_path, cub_tiny, tiny_damsm,
                                                                               monkeypatch):
    orig = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, **kw: orig(m, backend="eager"))  # dynamo only: fast in tests
    base = {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.batch_size": 2,
            "train.log_every": 1, "train.sample_every": 1000, "train.save_every": 1, "train.steps": 1,
            "train.model": "dfgan", "train.out": str(tmp_path / "run"), "train.compile": True}
    tr = Trainer(load_run_config(None, base)[0], dict(TINY, d="paper"))
    assert tr.step_nets["G"] is not tr.nets["G"] and tr.step_nets["D"] is tr.nets["D"]
    logs = tr.train()
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    from t2i import checkpoint as ckpt

    assert not any("_orig_mod" in k for k in ckpt.read_weights(tmp_path / "run"))


def test_freezing_d_in_the_g_step_keeps_the_step_and_builds_no_d_weight_graph(tmp_path, cub_tiny, tiny_damsm):
    """freeze_d_in_g (issue 22): the G step runs D with requires_grad off for its weights (their gradients were
    discarded by the next D step's zero_grad), so the weights after training are those of the unfrozen step."""
    base = {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.batch_size": 2, "train.amp": False,
            "train.log_every": 1, "train.sample_every": 1000, "train.save_every": 1000, "train.steps": 3,
            "train.model": "dfgan"}
    weights, seen = {}, {}
    for freeze in (True, False):
        tc = load_run_config(None, {**base, "train.out": str(tmp_path / f"f{freeze}"), "train.freeze_d_in_g": freeze})[0]
        torch.manual_seed(0)
        tr = Trainer(tc, dict(TINY, d="paper"))
        states = []
        tr.nets["D"].register_forward_hook(lambda m, *a: states.append(any(p.requires_grad for p in m.parameters())))
        tr.train()
        seen[freeze] = states
        weights[freeze] = {k: v.detach().clone() for n in ("G", "D") for k, v in
                           ((f"{n}.{k}", v) for k, v in tr.nets[n].state_dict().items())}
        assert all(p.requires_grad for p in tr.nets["D"].parameters())  # back on after each G step
    assert False in seen[True] and True in seen[True] and all(seen[False])
    for k, v in weights[True].items():
        assert torch.allclose(v, weights[False][k], atol=1e-5), k
