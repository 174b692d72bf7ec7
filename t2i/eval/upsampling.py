"""What the shared 4x upsampler (issue 30) does to every shipped generator: a sheet (64 px output | bicubic 256 |
upsampler 256 per generator) and FID at 256 px through the upsampler vs bicubic.

    python -m t2i upsampler sheet                                   # results/upsampler_sheet.png
    python -m t2i upsampler fid csagan-synthbirds-64 --limit 1000   # FID at 256 px, upsampler vs bicubic

FID at 256 px: one image per SynthBirds test caption (t2i.eval.generators.test_captions, the README table's captions
and z seeds), each 64 px image brought to 256 px by the upsampler and by bicubic, against the same test birds
rendered at 256 px (render_bird(size=256) of the dataset's attributes and seeds, cropped around the bird as the
dataset crops its 64 px images, JPEG q95 as it stores them); TF-Inception pool features (t2i.eval.fid). The real
statistics are cached in results/cache by the images they come from.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from t2i import checkpoint as ckpt
from t2i.models.upsampler import bicubic
from t2i.upsampling import SHIPPED_UPSAMPLER, load_output_upsampler, pil_tensor, upsample_tensor
from t2i.viz.grids import sheet_image

SHEET = Path(__file__).resolve().parents[2] / "results" / "upsampler_sheet.png"
FID_RESULTS = Path(__file__).resolve().parents[2] / "results" / "upsampler_fid.json"
SHEET_CAPTION = "a small bird with a red belly, a yellow crown and black wings"
HR = 256


def shipped_generators(root=None) -> list[str]:
    """Folders of `root` (default checkpoints/) that draw from text: the text-to-image GANs and CI-GAN's aligner."""
    from t2i.eval.report import rerankable
    from t2i.pipeline import list_models

    out = []
    for rec in list_models(root):
        aligner = rec.get("model_type") == "cigan" and (rec.get("config") or {}).get("stage") == "aligner"
        if (rerankable(rec) or aligner) and (Path(rec["path"]) / ckpt.WEIGHTS).is_file():
            out.append(rec["path"])
    return out


@torch.no_grad()
def images_64(pipe, captions: list[str], seed: int = 0, batch: int = 50) -> torch.Tensor:
    """One image per caption [N, 3, S, S] in [-1, 1] at the model's own side (the README table's draws: the batch
    from caption i draws with seed + i). CI-GAN: its text-to-image optimisation (generate_tensors)."""
    if hasattr(pipe, "generate_tensors"):
        return torch.cat([pipe.generate_tensors(captions[s:s + batch], seed=seed + s).cpu()
                          for s in range(0, len(captions), batch)])
    from t2i.eval.generators import generate_captions

    return generate_captions(pipe, captions, seed, batch)


def upsampler_sheet(out=SHEET, caption: str = SHEET_CAPTION, seed: int = 0, checkpoints=None, upsampler=None,
                    device: str = "cpu", models: list[str] | None = None, log=print) -> Path:
    """For every shipped text-to-image generator (or `models`), one image of `caption`: its 64 px output
    (nearest-enlarged), bicubic 256 and the upsampler's 256, labelled; written to `out` (PNG)."""
    from t2i import load_pipeline

    up = load_output_upsampler(upsampler, device)
    step = ckpt.read_config(SHIPPED_UPSAMPLER if upsampler is None else upsampler).get("step")
    rows = []
    for m in models or shipped_generators(checkpoints):
        pipe = load_pipeline(m, device=device)
        small = images_64(pipe, [caption], seed)
        if log:
            log(f"{Path(m).name}: {small.shape[-1]} px")
        x = pil_tensor(_to_pil(small))  # what a user gets: the 8-bit image
        rows.append((Path(m).name.replace("-synthbirds", "\nsynthbirds"),
                     [_to_pil(x)[0].resize((4 * x.shape[-1],) * 2, Image.NEAREST), _to_pil(bicubic(x))[0],
                      _to_pil(upsample_tensor(up, x))[0]]))
    if not rows:
        raise ValueError("no text-to-image generator to show (none shipped in checkpoints/)")
    cols = ["model's own 64 px (nearest)", "bicubic 256 px", f"upsampler 256 px (step {step})"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet_image(rows, cols, f"“{caption}” · seed {seed}").save(out, optimize=True)
    return out


def _to_pil(x: torch.Tensor) -> list[Image.Image]:
    from t2i.viz.grids import to_pil

    return to_pil(x)


# --- FID at 256 px --------------------------------------------------------------------------------------------------
def render_test_256(data, indices: list[int], seed: int | None = None) -> torch.Tensor:
    """Test images `indices` of a SynthBirds CaptionDataset rendered again at 256 px: the same bird (the dataset's
    species attributes, its per-image attribute and render seeds), cropped around the bird as the dataset crops
    its images, JPEG q95 as it stores them; [N, 3, 256, 256] in [-1, 1]."""
    from t2i.data.captions import crop_to_box
    from t2i.data.synthbirds.render import render_bird
    from t2i.data.synthbirds.species import vary_attributes

    meta = json.loads((Path(data.root) / "synthbirds.json").read_text())
    if meta.get("independent"):
        raise ValueError("FID at 256 px needs a species SynthBirds set (not --independent)")
    seed = meta["seed"] if seed is None else seed
    out = []
    for i in indices:
        key = data.samples[i].key
        img_id = int(key.rsplit("_", 1)[1])
        attrs = vary_attributes(meta["species"][key.split("/")[0]], np.random.default_rng([seed, 1, img_id]))
        img, _, box = render_bird(attrs, np.random.default_rng([seed, 2, img_id]), HR)
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=95, subsampling=0)
        buf.seek(0)
        with Image.open(buf) as j:
            crop = crop_to_box(j.convert("RGB"), box).resize((HR, HR), Image.BICUBIC)
        out.append(np.asarray(crop, dtype=np.uint8))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 127.5 - 1


def real_statistics_256(data, indices: list[int], net, cache_dir=None, log=print):
    """Inception statistics of render_test_256(data, indices), cached by the dataset, the images and the version."""
    from t2i.eval.fid import CACHE, features_of, statistics

    key = json.dumps([str(Path(data.root).resolve()), [data.samples[i].key for i in indices], HR, "render-v1"])
    f = Path(cache_dir or CACHE) / f"fid_test_render{HR}_{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if f.is_file():
        with np.load(f) as z:
            return z["mu"], z["sigma"]
    if log:
        log(f"rendering {len(indices)} test birds at {HR} px for the real statistics (cached in {f.parent})")
    batches = (render_test_256(data, indices[s:s + 50]) for s in range(0, len(indices), 50))
    mu, sigma = statistics(features_of(batches, net, total=(len(indices) + 49) // 50, desc=f"FID real {HR}"))
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez(f, mu=mu, sigma=sigma)
    return mu, sigma


def fid_256(model, data=None, limit: int | None = 1000, upsampler=None, device: str = "cpu", seed: int = 0,
            log=print) -> dict:
    """FID at 256 px of a generator's test-caption images through the upsampler and through bicubic (the same 64 px
    images), against the test birds rendered at 256 px. limit: the first N test images (None: all)."""
    from t2i import load_pipeline
    from t2i.data.captions import CaptionDataset
    from t2i.data.synthbirds import ensure_synthbirds
    from t2i.eval.fid import InceptionFeatures, features_of, frechet_distance, statistics
    from t2i.eval.generators import test_captions

    if limit is not None and limit < 2:
        raise ValueError(f"FID needs at least 2 images, got limit {limit}")
    root = ensure_synthbirds(data)
    up = load_output_upsampler(upsampler, device)
    pipe = load_pipeline(model, device=device)
    test = CaptionDataset(root, "test", 64, vocab=pipe.vocab, augment=False, limit=limit)
    pairs = test_captions(test, seed)
    small = images_64(pipe, [c for _, c in pairs], seed)
    net = InceptionFeatures(device)
    mu, sigma = real_statistics_256(test, [i for i, _ in pairs], net, log=log)
    chunks = range(0, len(small), 50)
    feats_up = features_of((upsample_tensor(up, small[s:s + 50]) for s in chunks), net, desc="FID upsampler")
    feats_bi = features_of((bicubic(small[s:s + 50]) for s in chunks), net, desc="FID bicubic")
    rec = ckpt.read_config(SHIPPED_UPSAMPLER if upsampler is None else upsampler)
    return {"fid_256_upsampler": frechet_distance(*statistics(feats_up), mu, sigma),
            "fid_256_bicubic": frechet_distance(*statistics(feats_bi), mu, sigma), "n_images": len(small),
            "seed": seed, "upsampler": str(upsampler or SHIPPED_UPSAMPLER), "upsampler_step": rec.get("step")}


def record_fid(name: str, metrics: dict, path=FID_RESULTS) -> Path:
    """Add one model's fid_256 numbers to the JSON file `path` (keyed by model name; other models kept)."""
    path = Path(path)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = metrics
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path
