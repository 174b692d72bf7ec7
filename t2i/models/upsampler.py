"""The shared 4x upsampler (ours, issue 30): any generator's or edit's 64 px bird -> 256 px.

A small residual super-resolution network: output = bicubic(x) + residual(x), the residual from
conv 3 -> C, N residual blocks at the input resolution, two pixel-shuffle x2 stages (C -> 4C -> shuffle -> C at
2x, then C -> 4 C2 -> shuffle -> C2 at 4x, C2 <= C keeps the 4x stage cheap) and a conv to 3 channels. The last
conv starts at zero, so an untrained network is exactly bicubic. Images in [-1, 1] in and out, like the
generators; fully convolutional (any input side; 64 -> 256 is what it is trained for).

    up = load_upsampler("checkpoints/upsampler-synthbirds-256")
    big = up(images64)                                  # [N, 3, 256, 256] in [-1, 1]

Trained on SynthBirds pairs (t2i.training.upsampler; python -m t2i train upsampler --out DIR). The folder is a
model folder like the others: config.json (model_type "upsampler", UpsamplerConfig, the held-out PSNR vs bicubic
in "metrics") + model.safetensors.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i import checkpoint as ckpt

MODEL_TYPE = "upsampler"
COMPONENT = "upsampler"


@dataclass
class UpsamplerConfig:
    channels: int = 32  # C: width of the residual blocks at the input resolution and of the 2x stage
    blocks: int = 6  # N residual blocks at the input resolution
    up_channels: int = 8  # C2: width after the second pixel shuffle (the 4x resolution; 8 for the 30 ms budget)
    in_size: int = 64  # the side it is trained for (the network itself takes any side)
    scale: int = 4  # fixed: two x2 pixel-shuffle stages

    def __post_init__(self):
        if self.scale != 4:
            raise ValueError(f"the upsampler is 4x (two pixel-shuffle x2 stages), not {self.scale}x")
        for k in ("channels", "blocks", "up_channels", "in_size"):
            v = getattr(self, k)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if k == "blocks" else 1):
                raise ValueError(f"upsampler config {k} must be a positive integer, not {v!r}")


class ResBlock(nn.Module):
    """conv - ReLU - conv + identity (EDSR's block, no normalisation)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class Upsampler(nn.Module):
    """4x super-resolution: bicubic + a learnt residual. forward(x [N, 3, S, S] in [-1, 1]) -> [N, 3, 4S, 4S],
    clamped to [-1, 1]."""

    def __init__(self, cfg: UpsamplerConfig | None = None):
        super().__init__()
        cfg = cfg or UpsamplerConfig()
        self.cfg = cfg
        c, c2 = cfg.channels, cfg.up_channels
        self.head = nn.Conv2d(3, c, 3, 1, 1)
        self.body = nn.Sequential(*[ResBlock(c) for _ in range(cfg.blocks)])
        self.body_out = nn.Conv2d(c, c, 3, 1, 1)
        self.up1 = nn.Conv2d(c, 4 * c, 3, 1, 1)
        self.up2 = nn.Conv2d(c, 4 * c2, 3, 1, 1)
        self.tail = nn.Conv2d(c2, 3, 3, 1, 1)
        nn.init.zeros_(self.tail.weight)  # starts as bicubic
        nn.init.zeros_(self.tail.bias)

    def residual(self, x: Tensor) -> Tensor:
        h = self.head(x)
        h = h + self.body_out(self.body(h))
        h = F.leaky_relu(F.pixel_shuffle(self.up1(h), 2), 0.2, inplace=True)
        h = F.leaky_relu(F.pixel_shuffle(self.up2(h), 2), 0.2, inplace=True)
        return self.tail(h)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"the upsampler takes images [N, 3, H, W], not {tuple(x.shape)}")
        base = bicubic(x, self.cfg.scale)
        return (base + self.residual(x)).clamp(-1, 1)


def bicubic(x: Tensor, scale: int = 4) -> Tensor:
    """The baseline: bicubic upscaling (no antialias needed going up), clamped to [-1, 1]."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def load_upsampler(name, device="cpu") -> Upsampler:
    """An upsampler folder (local, shipped or Hub) -> Upsampler in eval mode, frozen; a CheckpointError for a
    folder that is missing, corrupt, of another model type or whose weights do not match its config."""
    return ckpt.load_component(name, MODEL_TYPE, UpsamplerConfig, Upsampler, COMPONENT, device,
                               what="an upsampler")[0]


def save_upsampler(folder, model: Upsampler, **meta):
    """Write `model` as an upsampler model folder (meta: step, metrics, dataset, resolution, ...)."""
    import dataclasses

    return ckpt.save_model_folder(folder, MODEL_TYPE, dataclasses.asdict(model.cfg), {COMPONENT: model}, **meta)


@torch.inference_mode()
def time_per_image(model: Upsampler, batch: int = 4, side: int = 64, repeats: int = 20, threads: int | None = None
                   ) -> float:
    """Milliseconds per image of model(x) at `batch` images of `side` px (median of `repeats` after a warm-up),
    with `threads` torch threads (None: as set)."""
    import time

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        x = torch.rand(batch, 3, side, side) * 2 - 1
        model.eval()
        for _ in range(3):
            model(x)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
        times.sort()
        return 1000 * times[len(times) // 2] / batch
    finally:
        torch.set_num_threads(old)
