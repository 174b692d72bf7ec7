"""256 px output through the shared 4x upsampler (issue 30, step 2): the pipelines' size option, `generate --size`,
the studio's default, edits pasted into the upload at its own size, the sheet and FID at 256 px. Tiny upsampler
folders (t2i.models.upsampler with a few weights) and the studio fixture's tiny 32 px generators."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from t2i import checkpoint as ckpt
from t2i.models.upsampler import Upsampler, UpsamplerConfig, load_upsampler, save_upsampler
from t2i.upsampling import SHIPPED_UPSAMPLER, composite_edit, pil_tensor, upsample_images

CAPTION = "this bird has a red belly and black wings"


def _upsampler_folder(folder):
    torch.manual_seed(0)
    m = Upsampler(UpsamplerConfig(channels=8, blocks=1, up_channels=8)).eval()
    with torch.no_grad():  # a residual that shows (an untrained one is exactly bicubic)
        m.tail.weight.normal_(0, 0.1)
    save_upsampler(folder, m, step=1)
    return folder


@pytest.fixture(scope="module")
def up_folder(tmp_path_factory):
    return _upsampler_folder(tmp_path_factory.mktemp("up") / SHIPPED_UPSAMPLER)


@pytest.fixture(scope="module")
def pipe64(cub_tiny, up_folder):
    """A 64 px text-to-image pipeline (untrained tiny DF-GAN over the fixture's vocabulary), 256 px by default."""
    from t2i.data.captions import CaptionDataset
    from t2i.models.registry import get_family
    from t2i.pipeline import TextToImagePipeline
    from t2i.text.damsm import TextEncoder

    vocab = CaptionDataset(cub_tiny, "train", 32).vocab
    fam = get_family("dfgan")
    cfg = fam.config_from_dict({"img_size": 64, "nf": 4, "text_dim": 16, "z_dim": 8})
    torch.manual_seed(0)
    return TextToImagePipeline("dfgan", cfg, fam.build_generator(cfg), TextEncoder(len(vocab), 16, 16, 0.0), vocab,
                               {"resolution": 64}, size=256, upsampler=up_folder)


# --- the pipelines --------------------------------------------------------------------------------------------------
def test_a_64px_image_comes_out_at_256_with_the_original_kept(pipe64, up_folder):
    big = pipe64(CAPTION, seed=3, n=2)
    own = pipe64(CAPTION, seed=3, n=2, size=64)  # size=64: the model's images exactly as before
    assert [im.size for im in big.images] == [(256, 256)] * 2 and [im.size for im in own.images] == [(64, 64)] * 2
    assert own.originals == [] and [a.tobytes() for a in big.originals] == [b.tobytes() for b in own.images]
    assert big.stages[-1][0].size == (64, 64) and big.seeds == own.seeds  # look-inside data stay at 64 px
    again = pipe64(CAPTION, seed=3, n=2)
    assert [a.tobytes() for a in again.images] == [b.tobytes() for b in big.images]  # deterministic
    ref = upsample_images(load_upsampler(up_folder), own.images)  # the upsampler on the 8-bit images: ~ the same
    diff = np.abs(np.asarray(ref[0], dtype=float) - np.asarray(big.images[0], dtype=float)).mean()
    assert diff < 1.0 and big.images[0].tobytes() != own.images[0].resize((256, 256), Image.BICUBIC).tobytes()
    for bad in (128, 63.5, True, "256", float("nan")):
        with pytest.raises(ValueError, match="size must be 64"):
            pipe64(CAPTION, size=bad)


def test_best_of_upsamples_the_kept_images_only(pipe64, monkeypatch):
    seen = []
    hook = pipe64.upsampler().register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
    monkeypatch.setattr(pipe64, "match_scores", lambda images, caps: images.float().mean((1, 2, 3)))
    try:
        res = pipe64(CAPTION, seeds=[5, 6], rerank=4)
    finally:
        hook.remove()
    assert seen == [2] and len(res.images) == 2 and res.images[0].size == (256, 256) and len(res.picks) == 2


def test_a_missing_or_broken_upsampler_says_how_to_ship_one(pipe64, tmp_path, studio_checkpoints):
    import t2i
    from t2i.pipeline import TextToImagePipeline

    p = pipe64
    with pytest.raises(ckpt.CheckpointError, match="python -m t2i train upsampler"):
        TextToImagePipeline(p.family, p.cfg, p.generator, p.text_encoder, p.vocab, p.record, size=256,
                            upsampler=tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ckpt.CheckpointError, match="checkpoints/upsampler-synthbirds-256"):
        t2i.load_pipeline(studio_checkpoints / "dfgan-tiny", size=128, upsampler=broken)
    lazy = TextToImagePipeline(p.family, p.cfg, p.generator, p.text_encoder, p.vocab, p.record,
                               upsampler=tmp_path / "missing")  # 64 px by default: nothing to load ...
    assert lazy(CAPTION).images[0].size == (64, 64)
    with pytest.raises(ckpt.CheckpointError, match="size=64"):  # ... until 256 px is asked for
        lazy(CAPTION, size=256)


def test_load_pipeline_size_is_four_times_the_models_side(studio_checkpoints, up_folder):
    import t2i

    pipe = t2i.load_pipeline(studio_checkpoints / "dfgan-tiny", size=128, upsampler=up_folder)  # a 32 px model
    res = pipe(CAPTION, seed=0, n=2)
    assert res.images[0].size == (128, 128) and res.originals[0].size == (32, 32)
    with pytest.raises(ValueError, match="size must be 32"):
        t2i.load_pipeline(studio_checkpoints / "dfgan-tiny", size=256, upsampler=up_folder)


# --- the command line -----------------------------------------------------------------------------------------------
def test_generate_size_flag_default_and_note(studio_checkpoints, tmp_path, capsys, monkeypatch):
    import t2i.upsampling as ups
    from t2i.cli import main

    model, out = str(studio_checkpoints / "dfgan-tiny"), tmp_path / "grid.png"
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--n", "2", "--size", "32"]) == 0
    assert Image.open(out).size == (2 * 64 + 3 * 2, 64 + 2 * 2) and "32 px" in capsys.readouterr().out  # 2x nearest
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--n", "2", "--size", "128"]) == 0
    assert Image.open(out).size == (2 * 128 + 3 * 2, 128 + 2 * 2) and "4x upsampler" in capsys.readouterr().out
    monkeypatch.setattr(ups, "upsampler_shipped", lambda root=None: True)  # default: upsampled when shipped
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--n", "1"]) == 0
    assert Image.open(out).size[1] == 128 + 4 and "note" not in capsys.readouterr().out
    monkeypatch.setattr(ups, "upsampler_shipped", lambda root=None: False)  # ... else 32 px with a note
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--n", "1"]) == 0
    printed = capsys.readouterr().out
    assert Image.open(out).size[1] == 64 + 4 and "note: 32 px images: no upsampler" in printed
    monkeypatch.setattr(ups, "SHIPPED_UPSAMPLER", "no-such-upsampler")
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--size", "128"]) == 2
    assert "python -m t2i train upsampler" in capsys.readouterr().err
    assert main(["generate", CAPTION, "--model", model, "--out", str(out), "--size", "100"]) == 2
    assert "size must be 32" in capsys.readouterr().err


# --- edits at the upload's own size ---------------------------------------------------------------------------------
def test_composite_keeps_the_upload_outside_the_mask(up_folder):
    up = load_upsampler(up_folder)
    rng = np.random.default_rng(0)
    upload = Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8))
    edited = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    mask = np.full((64, 64), 0.03, np.float32)  # the segmenter's faint background: below the floor
    mask[20:40, 24:44] = 1.0
    out = composite_edit(upload, edited, mask, up)
    a, u = np.asarray(out), np.asarray(upload)
    full = np.asarray(upsample_images(up, [edited])[0].resize((300, 300), Image.LANCZOS))
    same = (a == u).all(-1)
    assert out.size == (300, 300) and same.mean() > 0.8  # outside the part: the upload's own pixels
    assert (a[110:175, 125:195] == full[110:175, 125:195]).all()  # inside: the upsampled edit
    assert same[:80].all() and same[:, :90].all() and same[220:].all()  # far from the part: untouched
    whole = composite_edit(upload, edited, None, up)  # a whole-image edit: the whole upsampled picture
    assert np.array_equal(np.asarray(whole), full)
    small = composite_edit(upload.resize((48, 48)), edited, mask, up)  # a small upload: downsized edit
    assert small.size == (48, 48)
    with pytest.raises(ValueError, match="square"):
        composite_edit(upload.crop((0, 0, 300, 200)), edited, mask, up)


class _FakeEditPipeline:
    """An EditPipeline stand-in: edits paint the mask's square blue; full_size pastes it into the upload."""

    upsampler = None

    @classmethod
    def from_pretrained(cls, name, device="cpu", size=None, upsampler=None):
        p = cls()
        p.upsampler = upsampler
        return p

    def square_upload(self, image, notes=None, bird=True, max_side=None):  # the centre square (no segmenter here)
        from t2i.imageio import prepare_upload

        return prepare_upload(image, notes=notes, **({} if max_side is None else {"max_side": max_side}))

    def edit(self, image, text, steps=50, lam=1.0, seed=0, progress=None, part_mask=True, full_size=False,
             find_bird=True):
        small = image.resize((64, 64))
        mask = np.zeros((64, 64), np.float32)
        mask[16:48, 16:48] = 1.0
        edited = np.asarray(small).copy()
        edited[16:48, 16:48] = (20, 40, 220)
        res = types.SimpleNamespace(original=small, inversion=small, edited=Image.fromarray(edited), seconds=0.1,
                                    mask=mask if part_mask else None, upload=None, full_edited=None,
                                    full_inversion=None, mapped=[], unknown=[])
        if full_size:
            res.upload = image
            res.full_edited = composite_edit(image, res.edited, res.mask, self.upsampler)
            res.full_inversion = upsample_images(self.upsampler, [small])[0]
        return res


def _root(tmp_path, studio_checkpoints, up_folder=None, cigan=False, monkeypatch=None):
    root = tmp_path / "checkpoints"
    root.mkdir(parents=True)
    (root / "dfgan-tiny").symlink_to(studio_checkpoints / "dfgan-tiny", target_is_directory=True)
    if up_folder is not None:
        (root / SHIPPED_UPSAMPLER).symlink_to(up_folder, target_is_directory=True)
    if cigan:
        f = root / "cigan-tiny"
        f.mkdir()
        (f / "config.json").write_text(json.dumps({"model_type": "cigan", "config": {"stage": "aligner"},
                                                   "components": ["generator"]}))
        (f / "model.safetensors").write_bytes(b"")
        fake = types.ModuleType("t2i.edit")
        fake.EditPipeline = _FakeEditPipeline
        monkeypatch.setitem(sys.modules, "t2i.edit", fake)
    return root


# --- the studio -----------------------------------------------------------------------------------------------------
def test_studio_shows_upsampled_images_by_default(studio_checkpoints, up_folder, tmp_path):
    from t2i.studio import Studio, StudioError

    s = Studio(_root(tmp_path, studio_checkpoints, up_folder), extra_models=[], out_dir=tmp_path / "o", fast=False)
    assert s.upsampling_available() and not s.problems
    g = s.generate(CAPTION, "dfgan-tiny", seed=2, n=2)
    assert [im.size for im in g.result.images] == [(128, 128)] * 2 and g.result.originals[0].size == (32, 32)
    assert "4x upsampler" in g.info and "128×128 px" in g.info
    assert Image.open(g.grid_path).size == (2 * 128 + 3 * 4, 128 + 2 * 4)  # the grid at the shown size
    own = s.generate(CAPTION, "dfgan-tiny", seed=2, n=2, upsample=False)  # the model's own, shown enlarged
    assert own.result.originals == [] and [a.tobytes() for a in own.result.images] == \
        [b.tobytes() for b in g.result.originals]
    assert own.grid_path != g.grid_path and "4x upsampler" not in own.info
    assert s.run(CAPTION, "dfgan-tiny", 2, 2).images[0].size == (32, 32)  # look inside / compare: 32 px
    assert s.generate(CAPTION, "dfgan-tiny", seed=2, n=2).result is g.result  # cached
    bare = Studio(_root(tmp_path / "b", studio_checkpoints), extra_models=[], out_dir=tmp_path / "o", fast=False)
    assert not bare.upsampling_available()
    assert bare.generate(CAPTION, "dfgan-tiny", seed=2, n=1).result.images[0].size == (32, 32)
    with pytest.raises(StudioError, match="python -m t2i train upsampler"):
        bare.generate(CAPTION, "dfgan-tiny", upsample=True)


def test_studio_edit_is_pasted_into_the_upload_at_its_size(studio_checkpoints, up_folder, tmp_path, monkeypatch):
    from t2i.studio import Studio

    s = Studio(_root(tmp_path, studio_checkpoints, up_folder, cigan=True, monkeypatch=monkeypatch), extra_models=[],
               out_dir=tmp_path / "o")
    rng = np.random.default_rng(1)
    photo = Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    out = s.edit(photo, "this bird has a blue belly", steps=1)
    assert out.full_edited.size == out.upload.size == (240, 240) and out.full_inversion.size == (256, 256)
    assert out.edited.size == (64, 64) and "240×240 px" in out.info and "your photo's own pixels" in out.info
    a, u = np.asarray(out.full_edited), np.asarray(out.upload)
    assert (a[:45] == u[:45]).all() and (a[:, 200:] == u[:, 200:]).all()  # outside the part: the upload exactly
    assert np.abs(a[80:160, 80:160, 2].astype(int) - u[80:160, 80:160, 2]).mean() > 30  # inside: the edit
    plain = s.edit(photo, "this bird has a blue belly", steps=1, full_size=False)
    assert plain.full_edited is None and plain.upload is None
    whole = s.edit(photo, "this bird has a blue belly", steps=1, part_mask=False)
    assert whole.full_edited.size == (240, 240) and "whole picture" in whole.info


# --- the sheet and FID at 256 px ------------------------------------------------------------------------------------
def test_sheet_and_fid_commands(studio_checkpoints, up_folder, synth_root, tmp_path, capsys, monkeypatch):
    from t2i.cli import main
    from t2i.eval import upsampling as ev

    out = tmp_path / "sheet.png"
    assert main(["upsampler", "sheet", "--out", str(out), "--upsampler", str(up_folder), "--models",
                 str(studio_checkpoints / "dfgan-tiny"), str(studio_checkpoints / "swfgan-tiny")]) == 0
    assert Image.open(out).size[1] > 2 * 256 and str(out) in capsys.readouterr().out
    assert {p.split("/")[-1] for p in ev.shipped_generators(studio_checkpoints)} == {"dfgan-tiny", "swfgan-tiny"}
    from t2i.data.captions import CaptionDataset

    data = CaptionDataset(synth_root, "test", 64, augment=False, limit=2)
    hr = ev.render_test_256(data, [0, 1])  # the same test birds at 256 px, cropped as the dataset crops them
    assert hr.shape == (2, 3, 256, 256)
    low = pil_tensor([Image.fromarray(data.load_image(0))])
    small = torch.nn.functional.interpolate(hr[:1], size=64, mode="area")
    assert (small - low).abs().mean() < 0.15  # the 64 px image is the 256 px one, smaller

    from t2i.eval import fid

    class _Features:  # a cheap stand-in for the Inception network (the FID arithmetic is tested elsewhere)
        def __init__(self, device="cpu"):
            pass

        def __call__(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(x, 2).flatten(1).double()

    monkeypatch.setattr(fid, "InceptionFeatures", _Features)
    monkeypatch.setattr(fid, "CACHE", tmp_path / "cache")
    js = tmp_path / "fid.json"
    assert main(["upsampler", "fid", str(studio_checkpoints / "dfgan-tiny"), "--data", str(synth_root), "--limit",
                 "6", "--upsampler", str(up_folder), "--json", str(js)]) == 0
    rec = json.loads(js.read_text())["dfgan-tiny"]
    assert rec["n_images"] == 6 and rec["fid_256_upsampler"] >= 0 and rec["fid_256_bicubic"] >= 0
    assert "FID@256 upsampler" in capsys.readouterr().out and list((tmp_path / "cache").glob("*.npz"))
    assert main(["upsampler", "fid"]) == 2
