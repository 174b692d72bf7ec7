import torch

from t2i.eval.rprecision import r_precision
from t2i.text.damsm import DAMSM, DAMSMConfig, attend_regions


def _tiny(vocab=20):
    torch.manual_seed(0)
    return DAMSM(DAMSMConfig(vocab_size=vocab, img_size=32, emb_dim=16, text_dim=16, nf=8, backbone="cnn"))


def test_shapes_and_padding():
    m = _tiny().eval()
    tok = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    words, sent, mask = m.encode_text(tok, torch.tensor([3, 2]))
    assert words.shape == (2, 16, 5) and sent.shape == (2, 16)
    assert mask.tolist() == [[False] * 3 + [True] * 2, [False] * 2 + [True] * 3]
    regions, glob = m.image_encoder(torch.randn(2, 3, 64, 64))  # other sizes are resized
    assert regions.shape == (2, 16, 8, 8) and glob.shape == (2, 16)
    # padded words get no say in the region context of real words
    ctx = attend_regions(words, regions, 4.0, mask)
    words2 = words.clone()
    words2[0, :, 3:] = 100.0
    ctx2 = attend_regions(words2, regions, 4.0, mask)
    assert torch.allclose(ctx[:, :, :2], ctx2[:, :, :2], atol=1e-5)


def test_loss_trains_down_on_a_toy_problem():
    torch.manual_seed(0)
    m = _tiny()
    imgs = torch.rand(4, 3, 32, 32) * 2 - 1
    tok = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]])
    ln = torch.tensor([3, 3, 3, 3])
    opt = torch.optim.Adam(m.parameters(), 2e-3)
    losses = []
    for _ in range(60):
        words, sent, mask = m.encode_text(tok, ln)
        l = m.loss(imgs, words, sent, mask)
        opt.zero_grad(); l.backward(); opt.step()
        losses.append(l.item())
    assert losses[-1] < 0.5 * losses[0]


def test_loss_is_differentiable_wrt_images():
    m = _tiny().eval().requires_grad_(False)
    imgs = torch.randn(3, 3, 32, 32, requires_grad=True)
    words, sent, mask = m.encode_text(torch.tensor([[1, 2], [3, 4], [5, 0]]), torch.tensor([2, 2, 1]))
    m.loss(imgs, words, sent, mask, class_ids=torch.tensor([0, 0, 1])).backward()
    assert imgs.grad is not None and imgs.grad.abs().sum() > 0


def test_larger_images_are_resized_under_bf16_autocast():
    # the 256 px recipes train under bf16 autocast; antialiased resizing has no bf16 kernel on CPU
    m = _tiny().eval()
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    ref, _ = m.image_encoder(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        regions, glob = m.image_encoder(x.bfloat16())
    assert regions.shape == ref.shape and glob.shape == (2, 16)
    assert torch.allclose(regions.float(), ref, atol=0.1 * ref.abs().max().item())


def test_r_precision_moves():
    g = torch.Generator().manual_seed(0)
    sent = torch.randn(200, 8, generator=g)
    assert r_precision(sent + 0.01 * torch.randn(200, 8, generator=g), sent, sent) == 1.0
    assert r_precision(torch.randn(200, 8, generator=g), sent, sent) < 0.1


def test_batched_word_similarity_equals_the_per_pair_definition():
    import torch.nn.functional as F

    m = _tiny().eval()
    words, _, mask = m.encode_text(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]))
    regions, _ = m.image_encoder(torch.randn(3, 3, 32, 32))
    sim = m.word_similarity(words, mask, regions)
    for i in range(3):
        for j in range(2):
            ctx = attend_regions(words[j:j + 1], regions[i:i + 1], m.cfg.gamma1, mask[j:j + 1])
            cos = F.cosine_similarity(ctx, words[j:j + 1], dim=1)[0][~mask[j]]
            ref = torch.log(torch.exp(m.cfg.gamma2 * cos).sum()) / m.cfg.gamma2
            assert torch.allclose(sim[i, j], ref, atol=1e-5)


def test_pretrained_backbone_is_frozen_and_differentiable():
    m = DAMSM(DAMSMConfig(vocab_size=10, emb_dim=8, text_dim=16, backbone="efficientnet-lite0"))
    enc = m.image_encoder
    trainable = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert trainable == {"region.weight", "region.bias", "glob.weight", "glob.bias"}
    m.train()
    assert not enc.trunk.training  # frozen ImageNet statistics stay in eval mode
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    regions, glob = enc(x)
    assert regions.shape == (2, 16, 8, 8) and glob.shape == (2, 16)
    glob.sum().backward()
    assert x.grad.abs().sum() > 0  # the DAMSM loss reaches generated images through the frozen trunk


def test_r_precision_ceiling_counts_distractors_the_image_also_matches():
    from t2i.eval.rprecision import r_precision_ceiling

    n = 150
    classes = torch.arange(n)
    unique = [{"has_belly_color": str(i)} for i in range(n)]
    assert r_precision_ceiling(unique, unique, classes) == 1.0  # every caption names what only its image has
    shared = [{"has_belly_color": "red"} for _ in range(n)]
    assert abs(r_precision_ceiling(shared, shared, classes) - 0.01) < 1e-9  # all 99 distractors fit too
    half = [{"has_belly_color": "red" if i % 2 else "blue"} for i in range(n)]
    assert 0.01 < r_precision_ceiling(half, half, classes) < 0.1


def test_cnn_pretrained_trunk_is_pretrained_then_frozen(synth_root, tmp_path):
    from t2i.text.damsm import load_damsm
    from t2i.training.damsm import train_damsm

    torch.manual_seed(0)
    out = tmp_path / "damsm"
    metrics = train_damsm(str(synth_root), str(out), img_size=64, steps=3, batch_size=8, pretrain_steps=4,
                          eval_every=3, backbone="cnn-pretrained", emb_dim=16, text_dim=16, nf=8)
    assert (out / "trunk" / "train_state.pt").is_file()  # the pre-training stage ran (and can resume)
    assert 0.0 <= metrics["r_precision"] <= 1.0 and 0.0 < metrics["r_precision_ceiling"] <= 1.0
    model, _ = load_damsm(out)
    trunk_after_pretrain = ckpt_tensors(out / "trunk")
    for name, t in model.image_encoder.trunk.state_dict().items():
        assert torch.equal(t, trunk_after_pretrain[f"model.trunk.{name}"])  # the DAMSM stage left it alone
    fresh = DAMSM(model.cfg).image_encoder.trunk.state_dict()
    assert any(not torch.equal(t, fresh[k]) for k, t in model.image_encoder.trunk.state_dict().items()
               if t.is_floating_point())


def ckpt_tensors(run):
    from t2i import checkpoint as ckpt

    return {k: v for k, v in ckpt.load_train_state(run)["model"].items()} | \
        {f"model.{k}": v for k, v in ckpt.load_train_state(run)["model"].items()}
