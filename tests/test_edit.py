"""CI-GAN editing: EditPipeline (t2i.edit), the edit / inversion / text-to-image numbers and t-SNE figures
(t2i.eval.edits), the `edit`, `tsne` and `eval` commands — on a tiny 3-stage CI-GAN trained for a few steps."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from t2i import checkpoint as ckpt
from t2i.cli import main
from t2i.edit import EditPipeline, EditResult
from t2i.edit_config import EditConfig
from t2i.pipeline import CaptionError

torch.set_num_threads(1)

TINY = dict(img_size=32, z_dim=16, w_dim=16, mapping_layers=2, channel_base=64, channel_max=16, d_channel_base=64,
            d_channel_max=16, enc_channel_base=64, enc_channel_max=16, latent_d_hidden=16, latent_d_layers=2,
            text_embed_dim=16, text_hidden=16, mbstd_group=2)
TEXT = "this bird has a red belly"


def _train(root, out, steps, **model):
    from t2i.training.gan import Trainer, load_run_config

    tc, _ = load_run_config(None, {"train.model": "cigan", "train.data": str(root), "train.out": str(out),
                                   "train.steps": steps, "train.batch_size": 2, "train.log_every": 100,
                                   "train.sample_every": 1000, "train.save_every": 1000})
    Trainer(tc, {**TINY, **model}).train()
    return out


@pytest.fixture(scope="module")
def cigan(cub_tiny, tmp_path_factory):
    """Stage folders of a tiny CI-GAN trained for 2-3 steps per stage on the fixture set (and a no-cycle encoder)."""
    root = tmp_path_factory.mktemp("cigan")
    s1 = _train(cub_tiny, root / "s1", 3, stage="stylegan")
    s2 = _train(cub_tiny, root / "s2", 2, stage="encoder", generator_ckpt=str(s1))
    s2n = _train(cub_tiny, root / "s2n", 2, stage="encoder", generator_ckpt=str(s1), cycle=False)
    s3 = _train(cub_tiny, root / "s3", 3, stage="aligner", encoder_ckpt=str(s2))
    return {"s1": s1, "s2": s2, "s2n": s2n, "s3": s3}


@pytest.fixture(scope="module")
def pipe(cigan):
    return EditPipeline.from_pretrained(cigan["s3"])


@pytest.fixture(scope="module")
def clf_folder(tmp_path_factory):
    """An untrained tiny attribute classifier folder over the SynthBirds schema (the metrics only need readings)."""
    from t2i.data.synthbirds import ATTRIBUTES
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig

    torch.manual_seed(0)
    cfg = AttrClassifierConfig(groups={g: list(v) for g, v in ATTRIBUTES.items()}, img_size=32, nf=4)
    folder = tmp_path_factory.mktemp("shipped") / "attr-classifier-synthbirds-64"
    ckpt.save_model_folder(folder, "attr-classifier", dataclasses.asdict(cfg), {"classifier": AttrClassifier(cfg)},
                           step=0, resolution=32)
    return folder


def _bird(size=(48, 48), mode="RGB", seed=0):
    """A SynthBirds bird (the part segmenter must find one) in the middle of a noise picture of `size`."""
    from t2i.data.synthbirds import make_species, render_bird

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 4), dtype=np.uint8)
    arr[..., 3] = 255
    im = Image.fromarray(arr, "RGBA")
    side = min(size)
    if side >= 16:
        bird = render_bird(make_species(0)[seed % 200][1], rng, side)[0].convert("RGBA")
        im.paste(bird, ((size[0] - side) // 2, (size[1] - side) // 2))
    return im.convert(mode)


# --- the pipeline ---------------------------------------------------------------------------------------------------
def test_edit_returns_model_size_images_with_progress(pipe):
    calls = []
    res = pipe.edit(_bird(), TEXT, steps=4, lam=1.0, seed=0, progress=lambda i, t: calls.append((i, t)))
    assert isinstance(res, EditResult)
    assert res.original.size == res.inversion.size == res.edited.size == (32, 32)
    assert all(im.mode == "RGB" for im in (res.original, res.inversion, res.edited))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert res.seconds > 0 and res.w_inverted.shape == res.w_edited.shape == (1, 16)
    assert not torch.equal(res.w_inverted, res.w_edited)  # the optimisation moved w
    assert res.words == ["this", "bird", "has", "a", "red", "belly"] and res.unknown == []
    again = pipe.edit(_bird(), TEXT, steps=4, lam=1.0, seed=0)
    assert again.edited.tobytes() == res.edited.tobytes() and torch.equal(again.w_edited, res.w_edited)
    zero = pipe.edit(_bird(), TEXT, steps=0)
    assert zero.edited.tobytes() == zero.inversion.tobytes()


def test_refined_inversion_reconstructs_better_and_counts_in_progress(pipe):
    """invert_steps > 0: In-Domain refinement of E(x) lowers the pixel error of the inversion; the progress bar
    covers both phases."""
    from t2i.edit import pil_to_tensor

    x = pil_to_tensor(_bird((32, 32), seed=3))
    mse = [torch.nn.functional.mse_loss(pipe.synthesize(pipe.invert(x, steps=k, lr=0.05)), x).item() for k in (0, 30)]
    assert mse[1] < mse[0]
    calls = []
    res = pipe.edit(_bird(), TEXT, steps=2, invert_steps=3, progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 5) for i in range(1, 6)]
    assert not torch.equal(res.w_inverted, pipe.edit(_bird(), TEXT, steps=2).w_inverted)
    with pytest.raises(ValueError, match="invert_steps"):
        pipe.edit(_bird(), TEXT, invert_steps=-1)


def test_batched_edit_equals_single_edits(pipe):
    from t2i.edit import pil_to_tensor

    x = torch.cat([pil_to_tensor(_bird((32, 32), seed=s)) for s in (1, 2)])
    t, _, _ = pipe.encode_text([TEXT, "a bird with black wings"])
    both = pipe.edit_tensors(x, t, EditConfig.paper(steps=3))
    for i in range(2):
        one = pipe.edit_tensors(x[i:i + 1], t[i:i + 1], EditConfig.paper(steps=3))
        # equal up to float noise (Adam's first steps are sign-like, so near-zero gradients can flip a move of lr)
        assert (one["w"] - both["w"][i:i + 1]).abs().mean() < 0.05 * (one["w"] - one["w0"]).abs().mean()


def test_bad_inputs_give_results_or_clear_errors(pipe):
    for text in ("", "   ", None):
        with pytest.raises(CaptionError, match="empty|must be text"):
            pipe.edit(_bird(), text, steps=1)
    with pytest.raises(CaptionError, match="vocabulary"):
        pipe.edit(_bird(), "xyzzy qwerty", steps=1)
    with pytest.raises(CaptionError, match="no English words"):
        pipe.edit(_bird(), "!!! ???", steps=1)
    part = pipe.edit(_bird(), "this bird has a rufous belly", steps=1)  # one unknown word: edited, word reported
    assert part.unknown == ["rufous"]
    for img in (_bird(mode="RGBA"), _bird(mode="L"), _bird(mode="P"), _bird((80, 40)), _bird((4000, 60)),
                np.zeros((20, 20, 3), np.uint8)):  # any format and shape (noise: the centre square, no bird search)
        res = pipe.edit(img, TEXT, steps=1, find_bird=False)
        assert res.original.size == res.edited.size == (32, 32) and res.original.mode == "RGB"
    with pytest.raises(ValueError, match="too small"):
        pipe.edit(_bird((8, 8)), TEXT, steps=1)
    with pytest.raises(ValueError, match="no image"):
        pipe.edit(None, TEXT, steps=1)
    with pytest.raises(ValueError, match="not an image file"):
        pipe.edit(b"GIF89a-not-really", TEXT, steps=1)
    for kw, msg in (({"steps": -1}, "steps"), ({"steps": 2.5}, "steps"), ({"lam": float("nan")}, "preservation"),
                    ({"lam": -1}, "preservation"), ({"seed": "x"}, "seed")):
        with pytest.raises(ValueError, match=msg):
            pipe.edit(_bird(), TEXT, **{"steps": 1, **kw})


def test_damsm_guidance_moves_the_edit_towards_the_text_and_can_be_off(pipe):
    from t2i.edit import EditPipeline, pil_to_tensor
    from t2i.edit_config import MASKED_GUIDANCE
    from t2i.studio import EDIT_GUIDANCE

    assert EDIT_GUIDANCE == MASKED_GUIDANCE  # the app's slider starts at the library's default (part-masked edit)
    x = pil_to_tensor(_bird((32, 32), seed=4))
    t, _, _ = pipe.encode_text([TEXT])
    runs = {g: pipe.edit_tensors(x, t, EditConfig.whole(steps=8, lr=0.05, guidance=g), texts=[TEXT])
            for g in (0.0, 20.0)}
    assert not torch.equal(runs[0.0]["w"], runs[20.0]["w"])
    match = pipe.guidance_loss([TEXT], 1.0)  # DAMSM: the text against its colour-swapped alternatives
    with torch.no_grad():
        assert match(runs[20.0]["edited"]) < match(runs[0.0]["edited"])
    with pytest.raises(ValueError, match="texts"):
        pipe.edit_tensors(x, t, EditConfig.whole(steps=1, guidance=1.0))
    with pytest.raises(ValueError, match="guidance"):
        pipe.edit(_bird(), TEXT, steps=1, guidance=-1)
    # a pipeline without its DAMSM: a clear message, and editing with guidance 0 still works
    nets = {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}
    bare = EditPipeline(pipe.cfg, nets, pipe.vocab, pipe.record, damsm="/no/such/damsm")
    with pytest.raises(ckpt.CheckpointError, match="guidance = 0"):
        bare.edit(_bird(), TEXT, steps=1)
    assert bare.edit(_bird(), TEXT, steps=1, guidance=0).edited.size == (32, 32)


def test_part_masked_edit_keeps_the_input_outside_the_part(pipe):
    from t2i.edit import pil_to_tensor

    x = pil_to_tensor(_bird((32, 32), seed=5))
    t, _, _ = pipe.encode_text([TEXT])
    m = torch.zeros(1, 1, 32, 32)
    m[..., 12:24, 8:20] = 1.0
    out = pipe.edit_tensors(x, t, EditConfig.masked(steps=6, guidance=5.0, lam=1.0), texts=[TEXT], masks=m)
    assert torch.equal(out["mask"], m)
    outside, inside = (m == 0).expand_as(x), (m == 1).expand_as(x)
    assert torch.allclose(out["edited"][outside], x[outside])  # the upload as it was
    assert torch.allclose(out["edited"][inside], pipe.synthesize(out["w"])[inside], atol=1e-5)  # the generator's
    whole = pipe.edit_tensors(x, t, EditConfig.whole(steps=6, guidance=5.0), texts=[TEXT])
    assert (whole["edited"] - x)[outside].abs().mean() > 0.01  # unmasked, the generator redoes everything
    # the segmenter's mask from the text: one part named -> a partial mask; no part named -> all ones
    masks = pipe.part_masks(x.repeat(2, 1, 1, 1), [TEXT, "a small red bird"])
    assert masks.shape == (2, 1, 32, 32) and masks[0].mean() < 0.9 and torch.equal(masks[1], torch.ones_like(masks[1]))
    res = pipe.edit(_bird((50, 40), seed=6), TEXT, steps=2)  # the default: part-masked
    assert res.edited.size == (32, 32)
    with pytest.raises(ValueError, match="texts"):
        pipe.edit_tensors(x, t, EditConfig.masked(steps=1, guidance=0))
    nets = {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}
    bare = EditPipeline(pipe.cfg, nets, pipe.vocab, pipe.record, segmenter="/no/such/segmenter")
    with pytest.raises(ckpt.CheckpointError, match="part_mask=False"):
        bare.edit(_bird(), TEXT, steps=1)
    assert bare.edit(_bird(), TEXT, steps=1, part_mask=False).edited.size == (32, 32)


def test_masked_edit_with_a_perceptual_weight_uses_it(pipe):
    """Regression (bab6128): a part-masked edit's perceptual term was weighted by 0 whatever lam said. The objective
    now holds the term at lam * per_weight on the composite, and it changes the edit."""
    from t2i.edit import pil_to_tensor

    x = pil_to_tensor(_bird((32, 32), seed=7))
    t, _, _ = pipe.encode_text([TEXT])
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:24, 8:24] = 1.0
    config = EditConfig.masked(steps=4, guidance=0.0, lam=2.0)
    objective = pipe.objective(x, config, [TEXT], m)
    assert objective.lam_per == 2.0 * config.per_weight > 0
    img = pipe.synthesize(pipe.invert(x, steps=0))
    composite = m * img + (1 - m) * x
    with torch.no_grad():
        assert torch.allclose(objective.image_terms(img), 2.0 * config.per_weight * pipe.perceptual(composite, x))
    assert pipe.objective(x, config.replace(lam=0.0), [TEXT], m).image_terms(img) == 0
    runs = {lam: pipe.edit_tensors(x, t, config.replace(lam=lam), texts=[TEXT], masks=m)["w"] for lam in (0.0, 2.0)}
    assert not torch.equal(runs[0.0], runs[2.0])


def test_edit_config_presets_and_checks():
    from t2i import edit_config as ec

    masked, whole, paper = EditConfig.masked(), EditConfig.whole(), EditConfig.paper()
    assert (masked.part_mask, masked.guidance, masked.lr, masked.lam) == (True, ec.MASKED_GUIDANCE, ec.MASKED_LR,
                                                                          ec.MASKED_LAM)
    assert (whole.part_mask, whole.guidance, whole.lr, whole.lam) == (False, ec.GUIDANCE, ec.DEFAULT_LR, 1.0)
    assert (paper.part_mask, paper.guidance, paper.pix_weight, paper.lam) == (False, 0.0, 0.0, 1.0)
    assert masked.steps == whole.steps == paper.steps == ec.DEFAULT_STEPS
    assert masked.replace(steps=None, lam=0.5) == dataclasses.replace(masked, lam=0.5)  # None keeps the preset's
    assert EditConfig.masked(steps=3.0).steps == 3 and masked.invert_steps is None  # None: the model's
    for kw, msg in (({"steps": -1}, "steps"), ({"steps": 2.5}, "steps"), ({"lam": float("nan")}, "preservation"),
                    ({"lr": 0}, "learning rate"), ({"guidance": -1}, "guidance"), ({"invert_steps": -1}, "invert")):
        with pytest.raises(ValueError, match=msg):
            EditConfig.masked(**kw)


def test_damsm_contrast_loss_ignores_padding_and_has_gradients(tiny_damsm):
    from t2i.data.vocab import Vocabulary
    from t2i.text.damsm import load_damsm

    model, vocab = load_damsm(tiny_damsm)
    texts = ["a bird with a red belly", "a bird with a blue belly", "a bird with black wings"]
    enc = [vocab.encode(c, 8) for c in texts]
    words, sent, mask = model.encode_text(torch.tensor([e.ids for e in enc]), torch.tensor([e.length for e in enc]))
    img = torch.rand(1, 3, 32, 32, requires_grad=True)
    two = model.contrast_loss(img, words[:2], sent[:2], mask[:2])
    padded = model.contrast_loss(img, words, sent, mask, valid=torch.tensor([[True, True, False]]))
    three = model.contrast_loss(img, words, sent, mask)
    assert torch.allclose(two, padded) and not torch.allclose(two, three)
    (grad,) = torch.autograd.grad(two, img)
    assert grad.abs().sum() > 0
    assert isinstance(vocab, Vocabulary)


def test_generate(pipe):
    calls = []
    a = pipe.generate(TEXT, seed=1, n=2, steps=2, progress=lambda i, t: calls.append((i, t)))
    assert len(a) == 2 and all(im.size == (32, 32) for im in a) and calls == [(1, 2), (2, 2)]
    b = pipe.generate(TEXT, seed=1, n=2, steps=2)
    c = pipe.generate(TEXT, seed=2, n=2, steps=2)
    assert a[0].tobytes() == b[0].tobytes() and a[0].tobytes() != c[0].tobytes()
    with pytest.raises(CaptionError):
        pipe.generate("  ")
    with pytest.raises(ValueError, match="n must be"):
        pipe.generate(TEXT, n=0)


def test_full_size_edit_is_pasted_into_the_upload_and_size_upsamples(pipe, tmp_path):
    """Issue 30: the edit at the upload's own size (the 4x upsampler's image inside the part mask, the upload's
    pixels outside it) and text-to-image at 4x the model's side; the 32 px results are unchanged."""
    from t2i.models.upsampler import Upsampler, UpsamplerConfig

    torch.manual_seed(0)
    up = Upsampler(UpsamplerConfig(channels=8, blocks=1, up_channels=8)).eval()
    nets = {"stylegan": pipe.G, "encoder": pipe.E, "text": pipe.T}
    big = EditPipeline(pipe.cfg, nets, pipe.vocab, pipe.record, size=128, upsampler=up)
    photo = _bird((120, 90), seed=7)
    res = big.edit(photo, TEXT, steps=2)  # full_size follows the pipeline's size
    ref = pipe.edit(photo, TEXT, steps=2)
    assert res.edited.tobytes() == ref.edited.tobytes() and ref.full_edited is None and ref.mask is not None
    assert res.upload.size == res.full_edited.size == (90, 90) and res.full_inversion.size == (128, 128)
    m = Image.fromarray((np.where(res.mask < 0.05, 0, res.mask) * 255).astype(np.uint8)).resize((90, 90))
    far = np.asarray(m.filter(ImageFilter.MaxFilter(9))) == 0  # well outside the part (and its feathered edge)
    a, u = np.asarray(res.full_edited), np.asarray(res.upload)
    assert far.any() and (a[far] == u[far]).all()
    whole = big.edit(photo, TEXT, steps=2, part_mask=False)
    assert whole.mask is None and whole.full_edited.size == (90, 90)
    assert big.edit(photo, TEXT, steps=1, full_size=False).full_edited is None
    t2i_res = big(TEXT, seed=3, steps=2)
    assert t2i_res.images[0].size == (128, 128) and t2i_res.originals[0].tobytes() == \
        pipe(TEXT, seed=3, steps=2).images[0].tobytes()
    assert big(TEXT, seed=3, steps=2, size=32).images[0].size == (32, 32)
    with pytest.raises(ValueError, match="size must be 32"):
        pipe(TEXT, size=256)


def test_call_is_text_to_image_in_the_pipelines_call_shape(pipe):
    res = pipe([TEXT, "a bird with black wings"], seed=3, n=2, steps=2)
    assert len(res.images) == 4 and res.captions == [TEXT] * 2 + ["a bird with black wings"] * 2
    assert res.images[0].tobytes() == pipe.generate(TEXT, seed=3, n=2, steps=2)[0].tobytes()
    assert res.words[0] == pipe.encode_text_full([TEXT])[1][0] and res.stages == [res.images]
    psi = pipe(TEXT, seed=3, steps=2, truncation=0.2).images[0]  # truncation: the psi of the random start
    assert psi.tobytes() != res.images[0].tobytes()
    per_seed = pipe(TEXT, seeds=[4, 3], steps=2)  # one image per seed: seed 3 alone redraws the image it showed
    assert per_seed.seeds == [4, 3] and per_seed.images[1].tobytes() == pipe(TEXT, seed=3, steps=2).images[0].tobytes()
    with pytest.raises(CaptionError):
        pipe([])
    with pytest.raises(ValueError, match="truncation"):
        pipe(TEXT, truncation=-1)


def test_from_pretrained_refuses_other_folders(cigan, tiny_damsm, tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="'stylegan'-stage"):
        EditPipeline.from_pretrained(cigan["s1"])
    with pytest.raises(ckpt.CheckpointError, match="'encoder'-stage.*aligner"):
        EditPipeline.from_pretrained(cigan["s2"])
    with pytest.raises(ckpt.CheckpointError, match="not a CI-GAN"):
        EditPipeline.from_pretrained(tiny_damsm)
    with pytest.raises(ckpt.CheckpointError):
        EditPipeline.from_pretrained(tmp_path / "nope")
    from t2i import load_pipeline

    assert isinstance(load_pipeline(cigan["s3"]), EditPipeline)


# --- metrics, t-SNE, CLI ----------------------------------------------------------------------------------------------
def test_edit_plan_and_part_masks(synth_root):
    from t2i.data.attributes import read_image_attributes
    from t2i.data.captions import CaptionDataset
    from t2i.data.synthbirds import parse_caption
    from t2i.eval.edits import edit_plan, part_masks, pick_indices

    _, labels = read_image_attributes(synth_root)
    data = CaptionDataset(synth_root, "test", 64, augment=False)
    idx = pick_indices(len(data), 9)
    plan = edit_plan(data, idx, labels, seed=0)
    assert plan == edit_plan(data, idx, labels, seed=0)
    assert [p["attr"] for p in plan[:3]] == ["has_belly_color", "has_wing_color", "has_crown_color"]
    for p in plan:
        assert p["target"] != p["current"] and parse_caption(p["text"]) == {p["attr"]: p["target"]}
    m0 = part_masks(synth_root, data, idx, [p["attr"] for p in plan], dilate=0)
    m2 = part_masks(synth_root, data, idx, [p["attr"] for p in plan], dilate=2)
    assert m0.shape == (9, 1, 64, 64) and m0.flatten(1).any(1).all()
    assert (m2 | ~m0).all() and m2.sum() > m0.sum()  # dilation grows the part


def test_part_colour_reader_reads_the_parts_of_real_images(synth_root):
    from t2i.data.attributes import read_image_attributes
    from t2i.data.captions import CaptionDataset
    from t2i.data.synthbirds import PART_COLOUR_ATTRS
    from t2i.eval.edits import PartColourReader
    from t2i.partseg import load_part_map

    reader = PartColourReader.fit(synth_root, 64, every=1)
    _, labels = read_image_attributes(synth_root)
    data = CaptionDataset(synth_root, "test", 64, augment=False)
    x = torch.stack([data[i]["image"] for i in range(len(data))])
    seg = np.stack([load_part_map(synth_root, s, 64) for s in data.samples])
    read = reader.read(x, seg)
    for a in ("has_belly_color", "has_wing_color", "has_upperparts_color"):
        hits = [read[a][i] == labels[s.key][a] for i, s in enumerate(data.samples) if read[a][i] is not None]
        assert np.mean(hits) > 0.8, a
    assert set(read) == set(PART_COLOUR_ATTRS)
    flat = -torch.ones_like(x[:1])  # a black picture reads black wherever the part is
    assert reader.read(flat, seg[:1])["has_belly_color"] == ["black"]


def test_inversion_edit_and_text_to_image_numbers(cigan, pipe, synth_root, clf_folder):
    from t2i.eval.edits import evaluate_edits, evaluate_inversion, evaluate_text_to_image

    inv = evaluate_inversion(cigan["s2"], synth_root, n=6)
    assert inv["inv/n"] == 6 and all(math.isfinite(inv[k]) for k in
                                     ("inv/psnr", "inv/cycle_mse", "inv/cycle_rel", "inv/latent_fd"))
    assert inv["inv/cycle_mse"] >= 0
    m = evaluate_edits(None, synth_root, str(clf_folder), n=6, config=EditConfig.whole(steps=2), pipe=pipe, latency_n=1,
                       return_records=True)
    for k in ("edit/success", "edit/preservation", "edit/preservation_vs_inversion", "edit/classifier/success",
              "edit/classifier/preservation_gt", "edit/target_on_inversion"):
        assert 0 <= m[k] <= 1, k
    # the judge reads parts: SynthBirds' perfect edit (the bird re-rendered, one part recoloured) passes it
    assert m["edit/success_ceiling"] >= 0.8 and m["edit/preservation_ceiling"] >= 0.9
    for k in ("edit/psnr_outside", "edit/psnr_inversion", "edit/psnr_inversion_outside", "edit/seconds_per_edit",
              "edit/latency_s"):
        assert math.isfinite(m[k]) and m[k] > 0, k
    assert len(m["records"]) == 6 and m["edit/n"] == 6
    t = evaluate_text_to_image(None, synth_root, str(clf_folder), limit=4, steps=2, pipe=pipe)
    assert 0 <= t["attr_acc"] <= 1 and 0 <= t["attr_acc_ceiling"] <= 1 and t["n_images"] == 4
    # the part-level judge on the three caption sets, with chance, and diversity (SynthBirds root)
    for k in ("part_acc/in_species", "part_acc/in_species/chance", "part_acc/novel", "part_acc/freestyle"):
        assert 0 <= t[k] <= 1, k
    assert t["part_acc/in_species/real"] >= 0.8 and t["diversity"] >= 0
    assert math.isnan(t["diversity_real"]) or t["diversity_real"] > 0  # NaN: no test species with 2 images here


def test_tsne_command_writes_three_figures(cigan, synth_root, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["tsne", "--cycle", str(cigan["s2"]), "--nocycle", str(cigan["s2n"]), "--data", str(synth_root),
                 "--out", str(out), "--n", "12"]) == 0
    for name in ("tsne_cycle.png", "tsne_nocycle.png", "tsne_compare.png"):
        with Image.open(out / name) as im:
            assert im.size[0] > 100
    assert "latent_fd_cycle" in capsys.readouterr().out


def test_edit_command_writes_a_strip(cigan, tmp_path, capsys):
    src = tmp_path / "in.png"
    _bird((70, 50), "RGBA").save(src)
    out = tmp_path / "out" / "edit.png"
    assert main(["edit", "--model", str(cigan["s3"]), "--image", str(src), "--text", TEXT, "--out", str(out),
                 "--steps", "2", "--lam", "0.5", "--invert-steps", "2"]) == 0
    with Image.open(out) as im:
        assert im.size[0] > 3 * 64
    assert "edited in" in capsys.readouterr().out
    assert main(["edit", "--model", str(cigan["s3"]), "--image", str(src), "--text", " ", "--out", str(out)]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["edit", "--model", str(cigan["s2"]), "--image", str(src), "--text", TEXT, "--out", str(out)]) == 2
    assert "aligner" in capsys.readouterr().err


def test_eval_command_on_cigan_folders(cigan, synth_root, clf_folder, tiny_damsm, tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "SHIPPED", clf_folder.parent)  # the classifier as a shipped model
    import t2i.edit as edit_mod

    monkeypatch.setattr(edit_mod, "GUIDANCE_DAMSM", str(tiny_damsm))  # the edits' DAMSM guidance
    from t2i.partseg import PartSegConfig, PartSegmenter

    seg = tmp_path / "seg"  # an untrained tiny part segmenter: the masked edits only need some mask
    ckpt.save_model_folder(seg, "part-segmenter", dataclasses.asdict(PartSegConfig(img_size=32, nf=4)),
                           {"segmenter": PartSegmenter(PartSegConfig(img_size=32, nf=4))})
    monkeypatch.setattr(edit_mod, "PART_SEGMENTER", str(seg))
    import t2i.edit_config

    monkeypatch.setattr(t2i.edit_config, "DEFAULT_STEPS", 2)
    monkeypatch.setattr(edit_mod, "GEN_STEPS", 2)
    out = tmp_path / "m.json"
    assert main(["eval", str(cigan["s3"]), "--data", str(synth_root), "--limit", "4", "--json", str(out)]) == 0
    m = json.loads(out.read_text())
    for k in ("inv/psnr", "inv/cycle_mse", "edit/success", "edit/preservation", "edit/psnr_outside",
              "edit/seconds_per_edit", "t2i/attr_acc", "gen/fid"):
        assert k in m, k
    assert m["stage"] == "aligner" and m["edit/steps"] == 2
    assert (cigan["s3"] / "edits.png").is_file()  # the edit sheet the model card shows
    assert main(["eval", str(cigan["s2"]), "--data", str(synth_root), "--limit", "4", "--json", str(out)]) == 0
    assert "edit/success" not in json.loads(out.read_text())


def test_ship_cigan_writes_samples_and_keeps_the_status_note(cigan, tmp_path):
    import json

    from PIL import Image

    from t2i.eval.card import ship, write_card

    dest = ship(cigan["s3"], "cigan-x", tmp_path, note="Interim checkpoint: 3 steps.")
    card = (dest / "README.md").read_text()
    assert "> Interim checkpoint: 3 steps." in card and "![samples](samples.png)" in card
    assert Image.open(dest / "samples.png").size[0] > 0  # text-to-image by optimisation, 4 seeds per caption
    write_card(dest, {"attr_acc": 0.5})  # a later card (eval --all) keeps the note
    card = (dest / "README.md").read_text()
    assert "Interim checkpoint" in card and "| attr_acc | 0.5 |" in card
    write_card(dest, note="")  # '' removes it
    assert "Interim" not in (dest / "README.md").read_text()
    assert json.loads((dest / "config.json").read_text())["status_note"] is None
    enc = ship(cigan["s2"], "cigan-enc", tmp_path)  # encoder stage: the frozen generator's samples
    assert (enc / "samples.png").is_file() and "![samples](samples.png)" in (enc / "README.md").read_text()


def test_stylegan_snapshot_warm_starts_whatever_the_modconv_implementation(cigan, cub_tiny, tmp_path):
    """fused_modconv changes how, not what, G computes: a snapshot taken with one warm-starts the other; an
    architecture field still refuses."""
    from t2i import checkpoint as ckpt
    from t2i.training.gan import Trainer, load_run_config

    _train(cub_tiny, tmp_path / "fused", 1, stage="stylegan", fused_modconv=True)
    snap = ckpt.save_snapshot(tmp_path / "fused", tmp_path / "snap")

    def tc(out):
        return load_run_config(None, {"train.model": "cigan", "train.data": str(cub_tiny), "train.out": str(out),
                                      "train.steps": 2, "train.batch_size": 2, "train.init": str(snap)})[0]

    assert Trainer(tc(tmp_path / "auto"), {**TINY, "stage": "stylegan"}).resume()[0] == 1
    with pytest.raises(ckpt.CheckpointError, match="another model config"):
        Trainer(tc(tmp_path / "wide"), {**TINY, "stage": "stylegan", "channel_max": 32}).resume()


def test_stylegan_stage_quick_eval_is_fid(cub_tiny, tmp_path, monkeypatch):
    """CI-GAN's stage 1 has no captions to follow: its quick eval (the one `train gan` injects) is the FID of
    eval_images samples of the folder just written, logged and used to keep the best; the later stages have none.
    (evaluate_generator_fid itself is measured by test_eval_command_on_cigan_folders; here it is counted, not run: two 2048^2
    matrix square roots would double this file's time.)"""
    import t2i.eval.edits as edits
    from t2i.eval.generators import quick_eval
    from t2i.models.registry import get_family
    from t2i.training.gan import Trainer, load_run_config

    calls = []

    def fid(folder, data_root, n, device="cpu"):
        calls.append((ckpt.read_config(folder)["step"], n))
        return {"gen/fid": [250.0, 200.0][len(calls) - 1], "gen/fid_n": n}

    monkeypatch.setattr(edits, "evaluate_generator_fid", fid)

    tc, _ = load_run_config(None, {"train.model": "cigan", "train.data": str(cub_tiny), "train.out": str(tmp_path / "r"),
                                   "train.steps": 4, "train.batch_size": 2, "train.eval_every": 2,
                                   "train.eval_images": 6, "train.save_every": 1000, "train.sample_every": 1000})
    Trainer(tc, {**TINY, "stage": "stylegan"}, evaluator=quick_eval).train()
    evals = [r for r in map(json.loads, (tmp_path / "r" / "log.jsonl").read_text().splitlines()) if "eval/fid" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert calls == [(2, 6), (4, 6)] and [r["eval/fid"] for r in evals] == [250.0, 200.0]
    assert all(r["eval/fid_n"] == 6 for r in evals)
    kept = json.loads((tmp_path / "r" / "best" / "config.json").read_text())["quick_eval"]
    assert kept["eval/fid"] == min(r["eval/fid"] for r in evals)
    family = get_family("cigan")
    assert family.quick_eval_kind(family.Config(stage="encoder")) is None


def test_encoder_snapshot_warm_starts_onto_a_newer_generator(cigan, cub_tiny, tmp_path):
    """Stage 2 warm-started from a snapshot taken over another frozen StyleGAN2: the trained nets (E, its EMA, the
    discriminators) and the step come from the snapshot, the frozen generator from this run's generator_ckpt."""
    from t2i.edit import load_cigan
    from t2i.training.gan import Trainer, load_run_config

    snap = ckpt.save_snapshot(cigan["s2"], tmp_path / "snap")
    newer = _train(cub_tiny, tmp_path / "s1b", 5, stage="stylegan")  # another generator
    tc = load_run_config(None, {"train.model": "cigan", "train.data": str(cub_tiny), "train.out": str(tmp_path / "o"),
                                "train.steps": 4, "train.batch_size": 2, "train.init": str(snap)})[0]
    tr = Trainer(tc, {**TINY, "stage": "encoder", "generator_ckpt": str(newer)})
    assert tr.resume()[0] == 2
    groups, _ = ckpt.load_snapshot(snap)
    for k, v in tr.nets["G"].state_dict().items():
        torch.testing.assert_close(v, groups["nets.G"][k].to(v.dtype))
    _, _, nets = load_cigan(newer)
    want, old = nets["stylegan"].state_dict(), groups["nets.Gen"]
    got = tr.nets["Gen"].state_dict()
    assert any(not torch.equal(want[k], old[k].to(want[k].dtype)) for k in want)  # the two generators differ
    for k in want:
        torch.testing.assert_close(got[k], want[k])


def test_code_bank_build_stops_on_sigterm_with_its_codes_saved(cigan, cub_tiny, tmp_path, monkeypatch):
    """A SIGTERM while the bank is built (a session's end, `kill`) finishes the batch under way, saves it and
    returns; the same call then goes on from there instead of starting again."""
    import os
    import signal

    import t2i.models.cigan as cigan_models
    from t2i.training.cigan_codes import build_code_bank, read_code_bank

    real_invert, calls = cigan_models.invert, []

    def invert_then_term(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives during the first batch
        return real_invert(*a, **kw)

    monkeypatch.setattr(cigan_models, "invert", invert_then_term)
    bank, before = tmp_path / "codes.safetensors", signal.getsignal(signal.SIGTERM)
    build_code_bank(str(cigan["s2"]), cub_tiny, bank, steps=1, batch=1, progress=False)
    codes, idx, _ = read_code_bank(bank)
    assert len(calls) == 1 and codes.shape[0] == 1  # stopped after the batch under way, which was kept
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    build_code_bank(str(cigan["s2"]), cub_tiny, bank, steps=1, batch=1, progress=False)
    codes2, idx2, _ = read_code_bank(bank)
    assert idx2[:1].tolist() == idx.tolist() and sorted(idx2.tolist()) == [0, 1, 2] and len(calls) == 3


def test_code_bank_wplus_aligner_edits_and_generates(cigan, cub_tiny, tmp_path, capsys):
    """The refined-inversion recipe: `train cigan-codes` writes (and resumes) a bank of W+ codes; an aligner with
    invert_steps/wplus trains on it (rows without a code sit out); its EditPipeline inverts uploads the same way
    and edits / generates in W+. A bank built otherwise is refused."""
    from t2i.training.cigan_codes import read_code_bank

    bank = tmp_path / "codes.safetensors"
    args = ["train", "cigan-codes", "--encoder", str(cigan["s2"]), "--data", str(cub_tiny), "--out", str(bank),
            "--steps", "2", "--batch-size", "2"]
    assert main(args + ["--limit", "2"]) == 0
    codes, idx, meta = read_code_bank(bank)
    assert codes.shape[0] == 2 and codes.dim() == 3 and meta["wplus"] is True and len(set(idx.tolist())) == 2
    assert main(args) == 0  # resumes: keeps the first 2, adds the rest of the (3-image) split
    codes3, idx3, _ = read_code_bank(bank)
    assert idx3[:2].tolist() == idx.tolist() and torch.equal(codes3[:2], codes) and sorted(idx3.tolist()) == [0, 1, 2]
    assert main(args[:-2] + ["--steps", "3"]) == 2 and "other settings" in capsys.readouterr().err

    s3 = _train(cub_tiny, tmp_path / "s3w", 3, stage="aligner", encoder_ckpt=str(cigan["s2"]), code_bank=str(bank),
                invert_steps=2, wplus=True)
    log = [json.loads(line) for line in (s3 / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r.get("infonce", 0.0)) for r in log)
    p = EditPipeline.from_pretrained(s3)
    assert p.cfg.wplus and p.cfg.invert_steps == 2
    res = p.edit(_bird(), TEXT, steps=2)
    num_ws = p.G.synthesis.num_ws
    assert res.w_inverted.shape == (1, num_ws, 16) and res.w_edited.shape == (1, num_ws, 16)
    assert not torch.equal(res.w_edited, res.w_inverted)
    assert len(p.generate(TEXT, n=2, steps=2)) == 2
    from t2i.edit import pil_to_tensor

    t, _, _ = p.encode_text([TEXT])
    out = p.edit_tensors(pil_to_tensor(_bird((32, 32))), t, EditConfig.whole(steps=2), texts=[TEXT])
    assert out["w"].shape == (1, num_ws, 16) and torch.isfinite(out["edited"]).all()
    with pytest.raises(ValueError, match="does not match"):
        _train(cub_tiny, tmp_path / "bad", 1, stage="aligner", encoder_ckpt=str(cigan["s2"]), code_bank=str(bank),
               invert_steps=5, wplus=True)
