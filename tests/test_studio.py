"""The studio's logic without Gradio: t2i/studio/ (models, generate, look inside, compare, edit, cards),
t2i/imageio.py (uploads) and t2i/viz/cam.py (Grad-CAM). Tiny checkpoints from the `studio_checkpoints` fixture."""
from __future__ import annotations

import io
import json
import sys
import threading
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2i import checkpoint as ckpt
from t2i.imageio import ImageInputError, prepare_upload
from t2i.pipeline import CaptionError
from t2i.studio import ModelEntry, Studio, StudioError, read_prompts, user_message

CAPTION = "this bird has a white belly and black wings"


def _root(tmp_path: Path, studio_checkpoints: Path, names=("dfgan-tiny", "swfgan-tiny",
                                                           "attr-classifier-synthbirds-64")) -> Path:
    """A checkpoints folder holding links to some of the fixture's models."""
    root = tmp_path / "checkpoints"
    root.mkdir()
    for n in names:
        (root / n).symlink_to(studio_checkpoints / n, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def studio(studio_checkpoints, tmp_path_factory):
    return Studio(studio_checkpoints, extra_models=[], out_dir=tmp_path_factory.mktemp("studio_out"))


# --- uploads ------------------------------------------------------------------------------------------------------
def _png_bytes(im: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt)
    return buf.getvalue()


def test_prepare_upload_modes_crop_and_notes(tmp_path):
    rgba = Image.new("RGBA", (40, 20), (255, 0, 0, 0))
    rgba.putpixel((20, 10), (0, 0, 255, 255))
    notes: list[str] = []
    out = prepare_upload(rgba, notes=notes)
    assert out.mode == "RGB" and out.size == (20, 20)  # centre-crop of 40x20
    assert out.getpixel((0, 0)) == (255, 255, 255)  # transparent -> white
    assert out.getpixel((10, 10)) == (0, 0, 255)
    assert any("centre-cropped 40x20" in n for n in notes) and any("white" in n for n in notes)
    gray = Image.new("L", (30, 30), 128)
    assert prepare_upload(gray).getpixel((3, 3)) == (128, 128, 128)
    pal = Image.new("P", (30, 30), 0)
    pal.putpalette([10, 200, 30] + [0] * 765)
    assert prepare_upload(pal).getpixel((0, 0)) == (10, 200, 30)
    f = tmp_path / "bird.png"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(f)
    assert prepare_upload(str(f), size=32).size == (32, 32)
    assert prepare_upload(_png_bytes(gray)).size == (30, 30)
    assert prepare_upload(np.zeros((20, 24, 3), np.uint8)).size == (20, 20)


def test_prepare_upload_huge_is_downscaled_first(tmp_path):
    f = tmp_path / "huge.png"
    Image.new("RGB", (4000, 4000), (0, 128, 255)).save(f)
    notes: list[str] = []
    out = prepare_upload(f, max_side=1024, notes=notes)
    assert out.size == (1024, 1024) and any("downscaled from 4000x4000" in n for n in notes)
    j = tmp_path / "wide.jpg"
    Image.new("RGB", (5000, 1000), (200, 10, 10)).save(j, quality=80)
    out = prepare_upload(j)  # default max_side 4096: JPEG decoded at reduced scale, then cropped
    assert out.size[0] == out.size[1] <= 4096
    r, g, b = out.getpixel((5, 5))
    assert r > 150 and g < 60


def test_prepare_upload_rejects_bad_files(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("this is not an image")
    with pytest.raises(ImageInputError, match="not an image"):
        prepare_upload(txt)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageInputError, match="empty"):
        prepare_upload(empty)
    with pytest.raises(ImageInputError, match="not found"):
        prepare_upload(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="too small"):
        prepare_upload(Image.new("RGB", (8, 300)))
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(_png_bytes(Image.effect_noise((256, 256), 50).convert("RGB"))[:2000])
    with pytest.raises(ImageInputError, match="damaged|truncated|could not be read"):
        prepare_upload(trunc)
    with pytest.raises(ImageInputError, match="no image"):
        prepare_upload(None)


def test_prepare_upload_decompression_bomb(tmp_path, monkeypatch):
    f = tmp_path / "bomb.png"
    Image.new("1", (3000, 3000)).save(f)  # 9 megapixels in a few KB
    with pytest.raises(ImageInputError, match="too large"):
        prepare_upload(f, max_pixels=1_000_000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)  # PIL's own guard (header) -> the same message
    with pytest.raises(ImageInputError, match="too large"):
        prepare_upload(f)


# --- CAM --------------------------------------------------------------------------------------------------------
def test_grad_cam_shape_range_and_errors(studio_checkpoints):
    from t2i.eval.attributes import load_attr_classifier
    from t2i.viz.cam import grad_cam, heatmap, predict_probs

    clf = load_attr_classifier(studio_checkpoints / "attr-classifier-synthbirds-64")
    img = Image.effect_noise((48, 48), 60).convert("RGB")
    cam = grad_cam(clf, img, "has_belly_color", "red")
    assert cam.shape == (48, 48) and cam.dtype == np.float32
    assert 0.0 <= cam.min() and cam.max() <= 1.0
    assert cam.max() in (0.0, 1.0)  # scaled to its maximum (or all zero)
    cam_pred = grad_cam(clf, img, "has_belly_color")  # the predicted value
    assert cam_pred.shape == (48, 48)
    assert not any(p.requires_grad for p in clf.parameters())  # the classifier stays frozen
    probs = predict_probs(clf, img)
    assert abs(sum(p for _, p in probs["has_belly_color"]) - 1) < 1e-4
    assert heatmap(img, cam).size == img.size
    with pytest.raises(ValueError, match="no attribute"):
        grad_cam(clf, img, "has_tail_colour", "red")
    with pytest.raises(ValueError, match="no value"):
        grad_cam(clf, img, "has_belly_color", "tartan")


def test_grad_cam_finds_the_evidence():
    """A classifier whose 'red' logit is the mean redness of its last block: CAM peaks on the red patch."""
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig
    from t2i.viz.cam import grad_cam

    torch.manual_seed(0)
    clf = AttrClassifier(AttrClassifierConfig(groups={"has_belly_color": ["red", "blue"]}, img_size=32, nf=4)).eval()
    with torch.no_grad():  # identity-ish features that keep the red channel, then a head reading it
        for m in clf.features.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                for c in range(min(m.in_channels, m.out_channels)):
                    m.weight[c, c, 1, 1] = 1.0
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_parameters()
                m.running_mean.fill_(-1.0)  # shift inputs in [-1, 1] to be positive through the ReLUs
        fc = clf.fc[1]  # Flatten -> Linear over the 4x4 map of the last block
        fc.weight.zero_()
        fc.bias.zero_()
        fc.weight[0, :16] = 1.0 / 16  # unit 0 = the red channel averaged over the 4x4 map
        head = clf.heads["has_belly_color"]
        head.weight.zero_()
        head.bias.zero_()
        head.weight[0, 0] = 1.0  # 'red' = average-pooled red channel
    clf.requires_grad_(False)
    arr = np.full((32, 32, 3), 0, np.uint8)
    arr[20:30, 4:14, 0] = 255  # a red patch, bottom-left
    cam = grad_cam(clf, Image.fromarray(arr), "has_belly_color", "red")
    ys, xs = np.unravel_index(cam.argmax(), cam.shape)
    assert 16 <= ys < 32 and 0 <= xs < 18, (ys, xs)
    assert cam[20:30, 4:14].mean() > cam[2:10, 20:30].mean()


# --- models, generate, look inside ---------------------------------------------------------------------------
def test_discovery_kinds_default_and_status(studio, studio_checkpoints, tmp_path):
    kinds = {e.name: e.kind for e in studio.entries}
    assert kinds["dfgan-tiny"] == "t2i" and kinds["swfgan-tiny"] == "t2i"
    assert kinds["attr-classifier-synthbirds-64"] == "classifier"
    assert studio.default_generator() == "swfgan-tiny"  # it has the best recorded AttrAcc
    sw = studio.entry("swfgan-tiny")
    assert sw.label() == "experimental · swfgan-tiny · SWF-GAN" and "FID 123.40" in sw.metrics_line()
    # works = the judge's PartAcc >= 0.5 and FID <= 100: marked, listed first, said in plain words
    good = ModelEntry("good", sw.folder, {**sw.record, "metrics": {"part_acc/in_species": 0.61,
                                                                    "part_acc/novel": 0.45, "fid": 60.0}}, "t2i")
    assert good.works and good.label() == "✓ good · SWF-GAN"
    assert good.plain_summary() == "Paints the colour you name on 61 % of the bird's parts (45 % for unusual combinations)."
    assert not ModelEntry("blobs", sw.folder, {**sw.record, "metrics": {"part_acc/in_species": 0.61, "fid": 180.0}},
                          "t2i").works
    # CI-GAN's text-to-image numbers sit under t2i/ (beside its edit numbers): they decide its mark and summary
    cig = {"part_acc/in_species": 0.2, "t2i/part_acc/in_species": 0.6, "t2i/part_acc/novel": 0.4, "t2i/fid": 80.0}
    edit = ModelEntry("cig", sw.folder, {**sw.record, "metrics": cig}, "edit")
    assert edit.works and "Edit" in edit.verdict() and "60 %" in edit.plain_summary() and "0.6" in edit.metrics_line()
    assert not ModelEntry("cig", sw.folder, {**sw.record, "metrics": {**cig, "t2i/fid": 150.0}}, "edit").works
    assert "method document 000" in sw.source()
    assert "2 trained models ready" in studio.status()
    assert [e.kind for e in studio.catalogue()][:2] == ["t2i", "t2i"]
    assert "| `swfgan-tiny` | experimental | SWF-GAN | 32 | 2 | 0.512 |" in studio.overview()
    # an untrained shipped folder (config.json only) is listed but refused with a clear message
    root = _root(tmp_path, studio_checkpoints, ("dfgan-tiny",))
    (root / "ssagan-synthbirds-64").mkdir()
    rec = json.loads((studio_checkpoints / "dfgan-tiny" / "config.json").read_text())
    (root / "ssagan-synthbirds-64" / "config.json").write_text(json.dumps({**rec, "model_type": "ssagan"}))
    s = Studio(root, extra_models=["no-such-user/no-such-model"], out_dir=tmp_path / "out")
    assert "not trained yet" in s.entry("ssagan-synthbirds-64").label()
    assert "1 not trained yet" in s.status() and "no-such-user/no-such-model" in s.status()
    with pytest.raises(StudioError, match="not trained yet"):
        s.generate(CAPTION, "ssagan-synthbirds-64")
    with pytest.raises(StudioError, match="unknown model"):
        s.generate(CAPTION, "nope")
    only_untrained = tmp_path / "untrained"
    only_untrained.mkdir()
    (only_untrained / "ssagan-synthbirds-64").symlink_to(root / "ssagan-synthbirds-64")
    s = Studio(only_untrained, extra_models=[], out_dir=tmp_path / "out")
    assert s.default_generator() is None and "none trained yet" in s.status()
    with pytest.raises(StudioError, match="none is trained yet"):
        s.generate(CAPTION, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "No text-to-image models found" in Studio(empty, extra_models=[]).status()


def test_generate_packages_gallery_grid_and_info(studio):
    g = studio.generate(CAPTION + " zzyzx", "swfgan-tiny", seed=3, n=4)
    assert len(g.gallery) == 4 and g.gallery[0][0].size == (256, 256) and g.gallery[0][1] == "#1 · seed 3"
    grid = Image.open(g.grid_path)
    assert grid.format == "PNG" and grid.text["caption"] == CAPTION + " zzyzx" and grid.text["seed"] == "3"
    assert grid.size[0] > grid.size[1] > 100  # 4 tiles in a row, upscaled to >= 128 px
    assert "**4 images**" in g.info and "`white`" in g.info and "~~zzyzx~~" in g.info
    again = studio.generate(CAPTION + " zzyzx", "swfgan-tiny", seed=3, n=4)
    assert again.result is g.result  # cached: Look inside and Download reuse it
    other = studio.generate(CAPTION, "swfgan-tiny", seed=4, n=4)
    assert other.result.images[0].tobytes() != g.result.images[0].tobytes()


def test_best_of_keeps_the_best_matching_draws(studio):
    pipe = studio.pipeline("swfgan-tiny")
    caps = [CAPTION, "a bird with a red crown"]
    plain = pipe(caps, seed=5, n=2)
    assert pipe(caps, seed=5, n=2, rerank=1).images[0].tobytes() == plain.images[0].tobytes() and plain.scores == []
    best = pipe(caps, seed=5, n=2, rerank=3, return_tensors=True)
    pool = pipe(caps, seed=5, n=6, return_tensors=True)  # the same 6 draws per caption
    match = pipe.match_scores(pool.tensors.images[-1], pool.captions).view(2, 6)
    assert best.captions == [CAPTION, CAPTION, caps[1], caps[1]] and best.best_of == 3 and plain.best_of == 1
    for c in range(2):
        top = match[c].topk(2)
        assert best.scores[2 * c:2 * c + 2] == pytest.approx(top.values.tolist(), abs=1e-5)  # best first
        for j, i in enumerate(top.indices.tolist()):
            assert best.images[2 * c + j].tobytes() == pool.images[6 * c + i].tobytes()
            assert (best.masks["block1"][2 * c + j] == pool.masks["block1"][6 * c + i]).all()
    assert match.max() > match.min()  # the DAMSM scores tell the draws apart
    with pytest.raises(CaptionError, match="best-of"):
        pipe(CAPTION, rerank=99)
    # the studio: image i is the best of 3 draws from seed + i alone, so that seed brings the same bird back
    g = studio.generate(CAPTION, "swfgan-tiny", seed=5, n=2, rerank=3)
    assert "best of 3 tries" in g.info and "seeds 5–6" in g.info and len(g.gallery) == 2
    assert g.seeds == [5, 6] and [c for _, c in g.gallery] == ["#1 · seed 5", "#2 · seed 6"]
    again = pipe(CAPTION, seeds=[6], rerank=3)
    assert again.seeds == [6] and again.scores == pytest.approx(g.result.scores[1:], abs=1e-4)
    assert np.abs(_px(again.images[0]) - _px(g.result.images[1])).max() <= 2  # batch of 1 vs 2: rounding only
    r = studio.look_inside(CAPTION, "swfgan-tiny", seed=6, n=1, index=1, rerank=3)
    assert np.abs(_px(r.image) - _px(g.gallery[1][0])).max() <= 4
    assert studio.generate(CAPTION, "swfgan-tiny", seed=6, n=1, rerank=3).seeds == [6]
    # a word swap keeps caption A's draws: B is drawn from the very same noise, not from its own best
    other = "a bird with a red crown"
    assert len(g.result.picks) == 2 and all(0 <= i < 3 for i in g.result.picks)
    b = pipe(other, seeds=[5, 6], rerank=3, picks=g.result.picks)
    assert b.picks == g.result.picks and b.scores == []
    forced = pipe(CAPTION, seeds=[6], rerank=3, picks=g.result.picks[1:])  # the kept draw, without scoring
    assert np.abs(_px(forced.images[0]) - _px(g.result.images[1])).max() <= 2
    c = studio.compare(CAPTION, other, ["swfgan-tiny"], seed=5, n=2, rerank=3)
    assert [im.tobytes() for im in c.rows["swfgan-tiny"][2:]] == [im.tobytes() for im in
                                                                   studio.run(other, "swfgan-tiny", 5, 2, None, 3,
                                                                              picks=g.result.picks).images]
    with pytest.raises(ValueError, match="picks needs seeds"):
        pipe(other, seed=5, n=2, rerank=3, picks=[0, 1])


def _px(im):
    return np.asarray(im, dtype=np.int16)


def test_best_of_without_damsm_encoders_says_so(studio_checkpoints, monkeypatch):
    import t2i.pipeline as pl

    pipe = pl.TextToImagePipeline.from_pretrained(studio_checkpoints / "dfgan-tiny")
    pipe.record = {**pipe.record, "train": {**(pipe.record.get("train") or {}), "damsm": "/nowhere/damsm-x"}}
    monkeypatch.setattr(pl, "DAMSM_NAME", "/nowhere/damsm-shipped")
    with pytest.raises(ckpt.CheckpointError, match="best-of-k needs DAMSM encoders"):
        pipe(CAPTION, n=2, rerank=2)
    assert len(pipe(CAPTION, n=2).images) == 2  # plain draws need no DAMSM


@pytest.mark.parametrize("caption, match", [
    ("", "empty"),
    ("   ", "empty"),
    ("🐦🐦🐦 🌈", "no English words"),
    ("un oiseau rouge avec des ailes noires", "unknown: un, oiseau"),
    ("红色的鸟", "no English words"),
    ("qwerty " * 800, "vocabulary"),
])
def test_bad_captions_raise_readable_errors(studio, caption, match):
    with pytest.raises(CaptionError, match=match) as e:
        studio.generate(caption, "dfgan-tiny")
    msg = user_message(e.value)
    assert len(msg) <= 710 and "Traceback" not in msg


def test_long_caption_is_cut_not_refused(studio):
    g = studio.generate(("a small bird with a red belly and black wings " * 120)[:5000], "dfgan-tiny", n=1)
    assert len(g.gallery) == 1 and "Long caption" in g.info


@pytest.mark.parametrize("kw, match", [({"n": 0}, "between 1 and 8"), ({"n": 99}, "between 1 and 8"),
                                        ({"seed": -1}, "seed"), ({"truncation": 9}, "truncation"),
                                        ({"rerank": 0}, "best-of"), ({"rerank": "many"}, "best-of"),
                                        ({"model": ""}, "no model selected")])
def test_bad_settings(studio, kw, match):
    args = {"caption": CAPTION, "model": "dfgan-tiny", **kw}
    with pytest.raises(StudioError, match=match):
        studio.generate(**args)


def test_look_inside_swfgan_masks_attention_cam(studio):
    r = studio.look_inside(CAPTION, "swfgan-tiny", seed=0, n=4, index=2)
    assert r.image.size == (256, 256)
    assert len(r.stages) == 1 and r.stages[0][1].startswith("stage 1")
    assert [c.split(" ·")[0] for _, c in r.masks] == ["layer 1", "layer 2", "layer 3"]
    assert len(r.word_attn) == 1 and r.word_attn_sheet is not None and r.word_attn_sheet.size[0] > 300
    assert r.cam is not None and r.cam.size == (256, 256)
    mentioned = [v for lab, v in r.attribute_choices if lab.startswith("★")]
    assert set(mentioned) == {"has_belly_color::white", "has_wing_color::black"}
    assert r.attribute in mentioned and "checker looks" in r.cam_info and "%" in r.cam_info
    img, info, used = studio.cam(studio.run(CAPTION, "swfgan-tiny", 0, 4).images[1], "has_crown_color::blue")
    assert used == "has_crown_color::blue" and "crown: blue" in info
    with pytest.raises(StudioError, match="unknown attribute"):
        studio.cam(img, "has_crown_color::tartan")
    with pytest.raises(StudioError, match="between 1 and 4"):
        studio.look_inside(CAPTION, "swfgan-tiny", seed=0, n=4, index=5)


def test_look_inside_dfgan_and_no_classifier(studio_checkpoints, tmp_path):
    s = Studio(_root(tmp_path, studio_checkpoints, ("dfgan-tiny",)), extra_models=[], out_dir=tmp_path / "o")
    r = s.look_inside(CAPTION, "dfgan-tiny", seed=0, n=1, index=1)
    assert r.masks == [] and r.word_attn == [] and r.word_attn_sheet is None
    assert "no word attention" in r.info
    assert r.cam is None and "attr-classifier-synthbirds-64" in r.cam_info and r.attribute_choices == []
    with pytest.raises(StudioError, match="CAM saliency needs"):
        s.cam(r.image, None)


@pytest.mark.parametrize("family, stages, note", [
    ("ecagan", ["stage 1 · 8 px", "stage 2 · 16 px", "stage 3 · 32 px"], "3 stages"),
    ("ffgan", ["stage 1 · 32 px"], "one picture: its 3 feature stages fuse before the image"),
])
def test_multi_stage_model_shows_every_stage(studio_checkpoints, tmp_path, family, stages, note):
    """An (untrained) tiny ECAGAN / FF-GAN folder written directly: ECAGAN paints a picture per stage; FF-GAN fuses its
    three feature stages into one picture, and the notes say so rather than "1 stage"."""
    import dataclasses

    from t2i.models import get_family
    from t2i.text.damsm import TextEncoder

    src = json.loads((studio_checkpoints / "swfgan-tiny" / "config.json").read_text())
    tcfg = src["text_encoder_config"]
    fam = get_family(family)
    extra = dict(carafe_c_mid=8) if family == "ecagan" else {}
    cfg = fam.config_from_dict(dict(img_size=32, ngf=8, ndf=8, z_dim=8, text_dim=16, c_dim=8, **extra))
    torch.manual_seed(0)
    root = _root(tmp_path, studio_checkpoints, ())
    te = TextEncoder(tcfg["vocab_size"], tcfg["emb_dim"], tcfg["text_dim"], tcfg["dropout"])
    from t2i.data.vocab import Vocabulary

    vocab = Vocabulary.load(studio_checkpoints / "swfgan-tiny" / "vocab.json")
    ckpt.save_model_folder(root / f"{family}-tiny", family, dataclasses.asdict(cfg),
                           {"generator": fam.build_generator(cfg), "text_encoder": te}, vocab=vocab,
                           text_encoder_config=tcfg, resolution=32)
    s = Studio(root, extra_models=[], out_dir=tmp_path / "o")
    r = s.look_inside(CAPTION, f"{family}-tiny", seed=1, n=2, index=2)
    assert [c for _, c in r.stages] == stages
    assert r.word_attn and r.masks and note in r.info


def test_compare_rows_difference_and_word_changes(studio):
    c = studio.compare("a bird with a red belly and black wings", "a bird with a blue belly and black wings",
                       ["dfgan-tiny", "swfgan-tiny"], seed=0, n=2)
    assert "**red → blue**" in c.info and "`dfgan-tiny`" in c.info and "mean pixel change" in c.info
    assert c.sheet.size[0] > 3 * 160 and c.sheet.size[1] > 4 * 160  # 3 columns, 2 models x 2 images
    assert len(c.rows["swfgan-tiny"]) == 4
    only_a = studio.compare(CAPTION, "", None, seed=0, n=1)  # all trained models, no B column
    assert "mean pixel change" not in only_a.info and set(only_a.rows) == {"dfgan-tiny", "swfgan-tiny"}
    assert Studio.word_changes("a red bird", "a big blue bird") == ["red → big blue"]
    assert Studio.word_changes("a red bird", "a red bird now") == ["added “now”"]
    with pytest.raises(CaptionError):
        studio.compare(CAPTION, "🐦", None)
    with pytest.raises(StudioError, match="at most 4"):
        studio.compare(CAPTION, None, None, n=5)


# --- edit, latent space, model cards --------------------------------------------------------------------------
@dataclass
class _EditResult:
    original: Image.Image
    inversion: Image.Image
    edited: Image.Image
    seconds: float


class _FakeEditPipeline:
    """The EditPipeline contract from the brief (t2i.edit is written elsewhere)."""

    loads = 0

    @classmethod
    def from_pretrained(cls, name, device="cpu"):
        cls.loads += 1
        time.sleep(0.05)
        return cls()

    running = 0
    most_at_once = 0

    def square_upload(self, image, notes=None, bird=True, max_side=None):  # the centre square (no segmenter here)
        from t2i.imageio import prepare_upload

        return prepare_upload(image, notes=notes, **({} if max_side is None else {"max_side": max_side}))

    def edit(self, image, text, steps=50, lam=1.0, seed=0, progress=None, part_mask=True, find_bird=True):
        from t2i.pipeline import check_caption

        check_caption(text)
        cls = type(self)
        cls.running += 1
        cls.most_at_once = max(cls.most_at_once, cls.running)
        time.sleep(0.2 if text == "slow" else 0)
        cls.running -= 1
        assert image.mode == "RGB" and image.size[0] == image.size[1]
        x = image.resize((64, 64))
        for i in range(steps):
            if progress:
                progress(i + 1, steps)
        return _EditResult(x, x.copy(), Image.eval(x, lambda v: 255 - v), 0.01)

    def generate(self, text, seed=0, n=1, steps=50, progress=None):
        rng = np.random.default_rng(seed)
        return [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(n)]

    def __call__(self, captions, seed=0, n=1, truncation=None, seeds=None):
        """The call shape both pipelines share (t2i.pipeline.Pipeline): images from generate, one per seed in seeds."""
        from t2i.pipeline import GenerationResult

        cls = type(self)
        cls.running += 1
        cls.most_at_once = max(cls.most_at_once, cls.running)
        time.sleep(0.2 if captions == "a slow bird" else 0)
        cls.running -= 1
        captions = [captions] if isinstance(captions, str) else list(captions)
        draws = [(seed, n)] if seeds is None else [(v, 1) for v in seeds]
        images = [im for c in captions for v, k in draws for im in self.generate(c, seed=v, n=k)]
        return GenerationResult(captions=[c for c in captions for v, k in draws for _ in range(k)], images=images,
                                stages=[images], seeds=list(seeds) * len(captions) if seeds is not None else [])


@pytest.fixture
def cigan_root(tmp_path, studio_checkpoints, monkeypatch):
    root = _root(tmp_path, studio_checkpoints, ("dfgan-tiny",))
    f = root / "cigan-tiny"
    f.mkdir()
    (f / "config.json").write_text(json.dumps({"model_type": "cigan", "config": {"stage": "aligner"},
                                               "components": ["generator"], "metrics": {"psnr": 21.5}}))
    (f / "model.safetensors").write_bytes(b"")
    fake = types.ModuleType("t2i.edit")
    fake.EditPipeline = _FakeEditPipeline
    monkeypatch.setitem(sys.modules, "t2i.edit", fake)
    _FakeEditPipeline.loads = 0
    return root


def test_edit_unavailable_without_cigan(studio, tmp_path):
    assert not studio.edit_available()
    with pytest.raises(StudioError, match="Editing model not available"):
        studio.edit(Image.new("RGB", (64, 64)), "a blue belly")
    figs, msg = studio.latent_space()
    assert figs == [] and "No CI-GAN checkpoint" in msg


def test_edit_with_an_edit_pipeline(cigan_root, tmp_path):
    s = Studio(cigan_root, extra_models=[], out_dir=tmp_path / "o")
    assert s.edit_available() and [e.name for e in s.edit_models()] == ["cigan-tiny"]
    assert "cigan-tiny" in [e.name for e in s.generators()]
    calls = []
    rgba = Image.new("RGBA", (300, 200), (200, 30, 30, 255))
    out = s.edit(rgba, "this bird has a blue belly", steps=7, lam=2.0, progress=lambda i, t: calls.append((i, t)))
    assert calls[-1] == (7, 7) and len(calls) == 7
    assert out.original.size == out.edited.size == (64, 64) and "7 steps" in out.info
    assert "centre-cropped 300x200" in out.info
    with pytest.raises(ImageInputError, match="not an image"):
        s.edit(b"GIF89a-not-really", "a blue belly")
    with pytest.raises(CaptionError, match="empty"):
        s.edit(rgba, "  ")
    with pytest.raises(StudioError, match="steps"):
        s.edit(rgba, "a blue belly", steps=0)
    g = s.generate("a blue bird", "cigan-tiny", seed=1, n=2)  # CI-GAN also serves Generate (images only)
    assert len(g.gallery) == 2 and g.result.masks == {}
    g2 = s.generate("a blue bird", "cigan-tiny", seed=1, n=2, rerank=4)  # best-of does not apply: one draw each
    assert "Best of applies to the text-to-image GANs" in g2.info and "Best of applies" not in g.info
    assert [im.tobytes() for im in g2.result.images] == [im.tobytes() for im in g.result.images]
    # concurrent first requests load the model once
    s2 = Studio(cigan_root, extra_models=[], out_dir=tmp_path / "o2")
    _FakeEditPipeline.loads = 0
    ts = [threading.Thread(target=s2.pipeline, args=("cigan-tiny",)) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert _FakeEditPipeline.loads == 1


def test_latent_space_figures(cigan_root, tmp_path):
    s = Studio(cigan_root, extra_models=[], out_dir=tmp_path / "o")
    figs, msg = s.latent_space()
    assert figs == [] and "No t-SNE figures" in msg
    for name in ("tsne_cycle.png", "tsne_nocycle.png"):
        Image.new("RGB", (40, 30), "white").save(cigan_root / "cigan-tiny" / name)
    figs, msg = s.latent_space("cigan-tiny")
    assert [c for _, c in figs] == ["cigan-tiny: with cycle consistency", "cigan-tiny: without cycle consistency"]


def test_model_cards(studio, tmp_path):
    card, details, figures = studio.model_card("swfgan-tiny")
    assert "A tiny test model card" in card and "license: mit" not in card  # README, front matter dropped
    assert "**Experimental**" in card
    assert "| AttrAcc | 0.512 |" in details and "| FID | 123.40 | ↓ better |" in details and "#### Config" in details
    assert [(p.name, c) for p, c in figures] == [("samples.png", "samples")]
    card, details, figures = studio.model_card("dfgan-tiny")
    assert "DF-GAN" in card and "What it adds" in card and "| training steps | 2 |" in card
    assert "No metrics recorded" in details
    assert figures and figures[0][0].parent.name == "samples"  # the trainer's latest grid
    card, _, _ = studio.model_card("attr-classifier-synthbirds-64")
    assert "Attribute classifier" in card


def test_shipped_cards_render_whole():
    """The shipped cards as the Models tab shows them: no image link (it would 404), metrics and config only in
    the details, every figure an existing file, and the CI-GAN card short."""
    s = Studio(ckpt.SHIPPED, extra_models=[])
    for e in s.catalogue():
        card, details, figures = s.model_card(e.name)
        assert "![" not in card and "## Metrics" not in card and "## Config" not in card, e.name
        assert "Seed 0" not in card and all(p.is_file() for p, _ in figures), e.name
        assert len(card.splitlines()) < 60, e.name


def test_prompts_and_messages():
    prompts = read_prompts()
    assert len(prompts) >= 5 and "a small bird with a red belly and black wings" in prompts
    assert user_message(CaptionError("x" * 5000)).endswith("…") and len(user_message(CaptionError("x" * 5000))) < 110
    assert "Something went wrong (RuntimeError" in user_message(RuntimeError("boom"))


@pytest.mark.parametrize("parallel", [1, 2])
def test_edits_of_one_model_run_side_by_side_up_to_the_limit(cigan_root, tmp_path, parallel):
    s = Studio(cigan_root, extra_models=[], out_dir=tmp_path / "o", parallel=parallel)
    _FakeEditPipeline.most_at_once = 0
    img = Image.new("RGB", (64, 64), (200, 30, 30))
    ts = [threading.Thread(target=s.edit, args=(img, "slow"), kwargs={"steps": 1}) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert _FakeEditPipeline.most_at_once == parallel


@pytest.mark.parametrize("parallel", [1, 2])
def test_generations_of_one_model_run_side_by_side_up_to_the_limit(cigan_root, tmp_path, parallel):
    s = Studio(cigan_root, extra_models=[], out_dir=tmp_path / "o", parallel=parallel)
    _FakeEditPipeline.most_at_once = 0
    ts = [threading.Thread(target=s.run, args=("a slow bird", "cigan-tiny", seed, 1)) for seed in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert _FakeEditPipeline.most_at_once == parallel


def test_the_studio_serves_the_traced_generator_with_the_eager_images(studio_checkpoints, tmp_path):
    fast = Studio(studio_checkpoints, extra_models=[], out_dir=tmp_path / "a")
    eager = Studio(studio_checkpoints, extra_models=[], out_dir=tmp_path / "b", fast=False)
    assert type(fast.pipeline("dfgan-tiny").generator).__name__ == "TracedGenerator"
    assert type(eager.pipeline("dfgan-tiny").generator).__name__ != "TracedGenerator"
    a = fast.run("a small bird with a red belly", "dfgan-tiny", seed=3, n=2, rerank=2)
    b = eager.run("a small bird with a red belly", "dfgan-tiny", seed=3, n=2, rerank=2)
    assert a.picks == b.picks
    for x, y in zip(a.images, b.images):
        assert np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16)).max() <= 2


def test_concurrent_requests_share_the_pipeline_text_cache_safely(studio):
    pipe = studio.pipeline("dfgan-tiny")
    errors = []

    def work(k):
        try:
            for j in range(30):
                pipe.encode([f"a bird with a {'red blue green black'.split()[j % 4]} belly {k} {j}"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors


def test_gallery_as_fast_png_files(studio):
    """The app hands the gallery over as PNG files the studio wrote (fast compression, lossless), not as PIL images
    for the web UI to encode."""
    g = studio.generate(CAPTION, "dfgan-tiny", seed=11, n=3)
    files = studio.as_files(g.gallery)
    assert [c for _, c in files] == [c for _, c in g.gallery]
    for (path, _), (im, _) in zip(files, g.gallery):
        back = Image.open(path)
        assert back.format == "PNG" and path.parent == studio.out_dir
        assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(im.convert("RGB")))
    assert studio.as_files(g.gallery) == files  # the same images: the same files, written once
    assert not list(studio.out_dir.glob("*.tmp"))


def test_newest_request_drops_a_slow_earlier_generate_of_the_same_session():
    """The page's on-load Generate, still drawing when the user clicks Generate, must not overwrite the user's images."""
    from t2i.studio import NewestRequest

    newest = NewestRequest(max_sessions=2)
    on_load = newest.start("tab-a")
    other_tab = newest.start("tab-b")  # another browser tab's requests do not count
    assert newest.is_newest("tab-a", on_load) and newest.is_newest("tab-b", other_tab)
    click = newest.start("tab-a")
    assert not newest.is_newest("tab-a", on_load) and newest.is_newest("tab-a", click)
    newest.start("tab-c")  # only the last max_sessions sessions are remembered
    assert newest.is_newest("tab-a", click) and newest.is_newest("tab-b", 12345)  # a forgotten session: nothing newer
