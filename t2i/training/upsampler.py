"""Training of the shared 4x upsampler (t2i.models.upsampler, issue 30) on SynthBirds pairs.

A pair is one bird rendered at 256 px (render_bird(size=256): a 4x supersampled canvas, 2x box reduction, then
LANCZOS, as every SynthBirds image) and that render downscaled to 64 px with LANCZOS (what render_bird(size=64)
does to its own canvas, so the input looks like a 64 px SynthBirds image). Attributes are drawn as the dataset
draws them: one of the 200 species of seed 0, varied per image (vary_attributes). The 256 px renders are cached
as .npz chunks in the data folder (default OUT/pairs), so a resumed run does not render again.

Half of the inputs are degraded like a generator's output (gaussian blur sigma 0-1, gaussian noise 0-0.03,
JPEG quality 40-95) so the network learns not to sharpen artefacts. Loss: L1 + 0.1 x L1 between frozen
EfficientNet-Lite0 features (t2i.losses.PerceptualLoss's trunk) of output and target, on random 32 -> 128 px
crops; Adam, constant lr. The held-out score (PSNR of the upsampler and of bicubic on 200 pairs of another
seed stream, whole 64 -> 256 images, clean inputs; and their Lite0 feature distance) goes into the model
folder's config.json "metrics" at every evaluation.

python -m t2i train upsampler --out runs/upsampler --steps 20000      # rerun the same command to resume
"""
from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from torch.utils.data import DataLoader, Dataset

from t2i.models.upsampler import Upsampler, UpsamplerConfig, bicubic, save_upsampler

HR, LR = 256, 64
CHUNK = 100  # renders per cache file
TRAIN, TEST = 0, 1  # seed streams of the training and the held-out pairs


@lru_cache(maxsize=None)
def _species() -> tuple:
    from t2i.data.synthbirds.species import make_species

    return tuple(a for _, a in make_species(0))


def render_pair_hr(seed: int, split: int, i: int) -> np.ndarray:
    """The 256 px render of pair i of a split (uint8 [256, 256, 3]); deterministic."""
    from t2i.data.synthbirds.render import render_bird
    from t2i.data.synthbirds.species import vary_attributes

    rng = np.random.default_rng([seed, 0x5A, split, i])
    species = _species()
    attrs = vary_attributes(species[int(rng.integers(len(species)))], rng)
    img, _, _ = render_bird(attrs, np.random.default_rng([seed, 0x5B, split, i]), size=HR)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def downscale(hr: np.ndarray, size: int = LR) -> np.ndarray:
    """256 -> 64 px with PIL LANCZOS (uint8 HWC)."""
    return np.asarray(Image.fromarray(hr).resize((size, size), Image.LANCZOS), dtype=np.uint8)


def ensure_pairs(folder, split: int, n: int, seed: int = 0, log=print) -> np.ndarray:
    """The first n 256 px renders of a split, from .npz chunks of CHUNK in `folder` (rendered and written
    atomically when missing): uint8 [n, 256, 256, 3]."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = np.empty((n, HR, HR, 3), np.uint8)
    for k in range((n + CHUNK - 1) // CHUNK):
        f = folder / f"{'train' if split == TRAIN else 'test'}-s{seed}-{k:04d}.npz"
        lo, hi = k * CHUNK, min(n, (k + 1) * CHUNK)
        have = None
        if f.is_file():
            try:
                with np.load(f) as z:
                    have = z["hr"]
            except (OSError, ValueError, KeyError):
                have = None  # a torn file: render it again
        if have is None or len(have) < hi - lo:
            if log:
                log(f"rendering pairs {lo}-{hi} of split {split} -> {f.name}")
            have = np.stack([render_pair_hr(seed, split, i) for i in range(lo, hi)])
            tmp = f.with_name(f".{f.stem}.tmp.npz")
            np.savez(tmp, hr=have)
            os.replace(tmp, f)
        out[lo:hi] = have[:hi - lo]
    return out


def degrade(lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A generator-like degradation of a uint8 64 px image: gaussian blur (sigma U(0, 1)), gaussian noise
    (std U(0, 0.03) of the [0, 1] range), JPEG (quality U(40, 95))."""
    im = Image.fromarray(lr).filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0, 1))))
    x = np.asarray(im, dtype=np.float32) / 255 + rng.normal(0, rng.uniform(0, 0.03), lr.shape).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray((x.clip(0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG",
                                                                      quality=int(rng.integers(40, 96)))
    buf.seek(0)
    with Image.open(buf) as j:
        return np.asarray(j.convert("RGB"), dtype=np.uint8)


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> float [..., 3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(a)).movedim(-1, -3).float() / 127.5 - 1


class PairCrops(Dataset):
    """Random crop pairs (crop px of the 64 px input, 4 crop px of the 256 px target), random horizontal flip,
    the input degraded with probability p_degrade. Randomness from torch's RNG (resumable with the run)."""

    def __init__(self, hr: np.ndarray, crop: int = 32, p_degrade: float = 0.5):
        self.hr, self.crop, self.p = hr, crop, p_degrade
        self.lr = np.stack([downscale(h) for h in hr])

    def __len__(self):
        return len(self.hr)

    def __getitem__(self, i):
        rng = np.random.default_rng(int(torch.randint(0, 2 ** 62, ())))
        lr, hr = self.lr[i], self.hr[i]
        if rng.random() < self.p:
            lr = degrade(lr, rng)
        c = self.crop
        y, x = (int(v) for v in rng.integers(0, LR - c + 1, 2))
        lr, hr = lr[y:y + c, x:x + c], hr[4 * y:4 * (y + c), 4 * x:4 * (x + c)]
        if rng.random() < 0.5:
            lr, hr = lr[:, ::-1], hr[:, ::-1]
        return {"image": to_tensor(lr), "target": to_tensor(hr)}


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of [-1, 1] images, both quantised to 8 bits first (as saved PNGs would be)."""
    qa, qb = ((a + 1) * 127.5).round().clamp(0, 255), ((b + 1) * 127.5).round().clamp(0, 255)
    mse = ((qa - qb) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(255.0 ** 2 / mse)


def feature_l1(perc, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean L1 between the frozen EfficientNet-Lite0 features of a and b (PerceptualLoss's trunk and blocks), each
    feature vector scaled to unit length over its channels first (as LPIPS does: the raw activations are ~100x the
    pixel L1, which would drown it)."""
    fa, fb = perc.features(a), perc.features(b)
    return sum((F.normalize(x, dim=1, eps=1e-6) - F.normalize(y, dim=1, eps=1e-6)).abs().mean()
               for x, y in zip(fa, fb)) / len(fa)


@torch.no_grad()
def held_out_scores(model: Upsampler, hr: np.ndarray, perc=None, batch: int = 20, device="cpu") -> dict:
    """PSNR (dB) and Lite0 feature L1 of the upsampler and of bicubic against the true 256 px renders, on clean
    LANCZOS 64 px inputs."""
    model.eval()
    ps, pb, fs, fb = [], [], [], []
    for s in range(0, len(hr), batch):
        target = to_tensor(hr[s:s + batch]).to(device)
        x = to_tensor(np.stack([downscale(h) for h in hr[s:s + batch]])).to(device)
        out, base = model(x), bicubic(x)
        ps.append(psnr(out, target))
        pb.append(psnr(base, target))
        if perc is not None:
            fs.append(float(feature_l1(perc, out, target)) * len(x))
            fb.append(float(feature_l1(perc, base, target)) * len(x))
    m = {"psnr": float(torch.cat(ps).mean()), "psnr_bicubic": float(torch.cat(pb).mean())}
    m["psnr_gain"] = m["psnr"] - m["psnr_bicubic"]
    if perc is not None:
        m["lite0_l1"], m["lite0_l1_bicubic"] = sum(fs) / len(hr), sum(fb) / len(hr)
    m["held_out_pairs"] = len(hr)
    return m


def train_upsampler(out, steps: int = 20000, data=None, pairs: int = 2000, test_pairs: int = 200,
                    batch_size: int = 16, crop: int = 32, lr: float = 2e-4, perceptual: float = 0.1,
                    p_degrade: float = 0.5, seed: int = 0, device: str | None = None, eval_every: int = 1000,
                    save_every: int = 100, channels: int = 32, blocks: int = 6, up_channels: int = 8,
                    log=print) -> dict:
    """Train (or resume, from OUT/train_state.pt) the upsampler; returns the last held-out metrics. data: the
    folder of the cached pair renders (default OUT/pairs)."""
    import json

    from t2i import checkpoint as ckpt
    from t2i.losses import PerceptualLoss
    from t2i.nn.fit import fit
    from t2i.runtime import pick_device, seed_everything

    seed_everything(seed)
    dev = pick_device(device)
    out = Path(out)
    cache = Path(data) if data else out / "pairs"
    train_hr = ensure_pairs(cache, TRAIN, pairs, log=log)
    test_hr = ensure_pairs(cache, TEST, test_pairs, log=log)
    cfg = UpsamplerConfig(channels=channels, blocks=blocks, up_channels=up_channels)
    model = Upsampler(cfg).to(dev)
    perc = PerceptualLoss(size=4 * crop, blocks=(2, 4)).to(dev) if perceptual > 0 else None
    state = {"metrics": {}}
    if (out / ckpt.CONFIG).is_file() and (out / ckpt.TRAIN_STATE).is_file():  # resuming: keep the last scores
        try:
            state["metrics"] = json.loads((out / ckpt.CONFIG).read_text()).get("metrics", {})
        except (OSError, ValueError):
            pass

    def loss_fn(m, b):
        x, target = b["image"].to(dev), b["target"].to(dev)
        y = m(x)
        l1 = (y - target).abs().mean()
        loss, logs = l1, {"l1": l1.item()}
        if perc is not None:
            p = feature_l1(perc, y, target)
            loss = loss + perceptual * p
            logs["perceptual"] = p.item()
        logs["loss"] = loss.item()
        return loss, logs

    def eval_fn():
        scores = held_out_scores(model, test_hr, perc, device=dev)
        state["metrics"] = scores
        model.train()
        return scores

    def save(folder: Path, step: int):
        save_upsampler(folder, model, step=step, resolution=HR, dataset="synthbirds", metrics=state["metrics"],
                       training={"pairs": pairs, "test_pairs": test_pairs, "batch_size": batch_size, "crop": crop,
                                 "lr": lr, "perceptual": perceptual, "p_degrade": p_degrade, "seed": seed,
                                 "steps": steps})

    loader = DataLoader(PairCrops(train_hr, crop, p_degrade), batch_size=batch_size, shuffle=True, drop_last=True)
    return fit(model, loss_fn, loader, out, steps, lr, save, eval_fn=eval_fn, eval_every=eval_every,
               save_every=save_every, device=dev, desc="upsampler")
