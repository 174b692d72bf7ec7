"""StyleGAN2 (config-E-like: skip generator, residual discriminator) in pure PyTorch, written from the paper.

Generator:  z -> mapping MLP -> w in W (tracked average w_avg, truncation psi) -> broadcast to every layer
            (W space; a [N, num_ws, w_dim] tensor may be passed instead: W+) -> constant 4x4 input ->
            per resolution: [modulated 3x3 conv (bilinear x2 up) + noise + bias + lrelu] x 2 -> to-RGB (1x1
            modulated conv, no demodulation) added to the bilinearly upsampled RGB of the previous resolution.
Discriminator: from-RGB 1x1 -> residual blocks (two 3x3 convs, 2x2 average-pool down, 1x1 skip, sum/sqrt(2))
            down to 4x4 -> minibatch-stddev -> 3x3 conv -> FC -> FC -> one logit.
Resampling is bilinear / average pooling, not upfirdn2d (see t2i.nn.modconv).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from t2i.nn.modconv import (EqualConv2d, EqualLinear, MinibatchStd, ModulatedConv2d, NoiseInjection, downsample2x,
                            lrelu, upsample2x)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    """StyleGAN2 channel schedule: channel_base / resolution, capped at channel_max."""
    return max(1, min(channel_base // res, channel_max))


def _log2_size(img_size: int) -> int:
    k = int(round(math.log2(img_size)))
    if 2 ** k != img_size or img_size < 8:
        raise ValueError(f"img_size must be a power of two >= 8, got {img_size}")
    return k


# --- generator ---------------------------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    """z -> w: pixel-normalised z through `num_layers` equalised FC + lrelu layers with a small lr multiplier.
    Tracks w_avg (moving average of w during training) for the truncation trick."""

    def __init__(self, z_dim: int,  # latent z size
                 w_dim: int,  # intermediate latent w size
                 num_layers: int = 8,  # FC layers (8 in StyleGAN2; 4 is enough at CPU scale)
                 lr_mul: float = 0.01,  # learning-rate multiplier of the mapping layers
                 w_avg_beta: float = 0.995):  # decay of the tracked w average
        super().__init__()
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        self.net = nn.Sequential(*[EqualLinear(z_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul, activation=True)
                                   for i in range(num_layers)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, psi: float = 1.0, update_w_avg: bool = False) -> Tensor:
        """z [N, z_dim] -> w [N, w_dim]; psi < 1 pulls w towards w_avg (truncation trick)."""
        assert z.dim() == 2 and z.shape[1] == self.z_dim, z.shape
        x = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)
        w = self.net(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        if psi != 1.0:
            w = self.w_avg + psi * (w - self.w_avg)  # (arithmetic, not lerp: w may be bf16 under autocast)
        return w


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally upsampling) + noise + bias + scaled lrelu."""

    def __init__(self, in_channels: int,  # input channels
                 out_channels: int,  # output channels
                 w_dim: int,  # latent size
                 resolution: int,  # output resolution (for the constant noise map)
                 up: bool = False,  # x2 upsampling before the convolution
                 fused: bool | None = None):  # modulated-conv implementation (ModulatedConv2d; None = by device)
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up, fused=fused)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random") -> Tensor:
        x = self.noise(self.conv(x, w), noise_mode)
        return lrelu(x + self.bias[None, :, None, None])


class ToRGBLayer(nn.Module):
    """StyleGAN2's to-image layer: 1x1 modulated conv without demodulation + bias -> 3 channels (the other
    generators' plain one is t2i.nn.common.ToRGB)."""

    def __init__(self, in_channels: int,  # input channels
                 w_dim: int,  # latent size
                 fused: bool | None = None):  # modulated-conv implementation (ModulatedConv2d; None = by device)
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, w_dim, demodulate=False, fused=fused)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution doubling: up-conv, conv, to-RGB."""

    def __init__(self, in_channels: int,  # channels at the previous resolution
                 out_channels: int,  # channels at this resolution
                 w_dim: int,  # latent size
                 resolution: int,  # this block's output resolution
                 fused: bool | None = None):  # modulated-conv implementation (ModulatedConv2d; None = by device)
        super().__init__()
        self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, fused=fused)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, fused=fused)
        self.torgb = ToRGBLayer(out_channels, w_dim, fused=fused)


class SynthesisNetwork(nn.Module):
    """w (W: [N, w_dim], or W+: [N, num_ws, w_dim]) -> image [N, 3, img_size, img_size] (not clamped).

    Layer k uses ws[:, k]: 4x4 conv -> 0, 4x4 to-RGB -> 1, then per block b = 1, 2, ...: conv0 -> 2b-1,
    conv1 -> 2b, to-RGB -> 2b+1 (a to-RGB shares its index with the next block's first conv, as in StyleGAN2);
    num_ws = 2*log2(img_size) - 2."""

    def __init__(self, w_dim: int,  # latent size
                 img_size: int,  # output resolution, a power of two >= 8
                 channel_base: int = 4096,  # channels(res) = min(channel_base // res, channel_max)
                 channel_max: int = 128,  # channel cap
                 fused: bool | None = None):  # modulated-conv implementation (ModulatedConv2d; None = by device)
        super().__init__()
        k = _log2_size(img_size)
        self.w_dim, self.img_size, self.num_ws = w_dim, img_size, 2 * k - 2
        ch = lambda r: channels_at(r, channel_base, channel_max)  # noqa: E731
        self.const = nn.Parameter(torch.randn(ch(4), 4, 4))
        self.conv4 = SynthesisLayer(ch(4), ch(4), w_dim, 4, fused=fused)
        self.torgb4 = ToRGBLayer(ch(4), w_dim, fused=fused)
        self.blocks = nn.ModuleList(SynthesisBlock(ch(2 ** (i - 1)), ch(2 ** i), w_dim, 2 ** i, fused=fused)
                                    for i in range(3, k + 1))

    def broadcast(self, w: Tensor) -> Tensor:
        """[N, w_dim] -> [N, num_ws, w_dim] (W -> W+); a W+ tensor passes through."""
        if w.dim() == 2:
            w = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        assert w.dim() == 3 and w.shape[1:] == (self.num_ws, self.w_dim), w.shape
        return w

    def forward(self, w: Tensor, noise_mode: str = "random") -> Tensor:
        ws = self.broadcast(w)
        x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        x = self.conv4(x, ws[:, 0], noise_mode)
        img = self.torgb4(x, ws[:, 1])
        for b, blk in enumerate(self.blocks, start=1):
            x = blk.conv0(x, ws[:, 2 * b - 1], noise_mode)
            x = blk.conv1(x, ws[:, 2 * b], noise_mode)
            img = upsample2x(img) + blk.torgb(x, ws[:, 2 * b + 1])
        assert img.shape[1:] == (3, self.img_size, self.img_size), img.shape
        return img


class Generator(nn.Module):
    """Unconditional StyleGAN2 generator: forward(z) -> image [N, 3, H, W] in about [-1, 1] (not clamped).

    The pieces are reachable for inversion and text-guided optimisation: `mapping(z, psi)` -> w and
    `synthesis(w, noise_mode)` -> image. `pl_mean` is the path-length regulariser's running mean (training
    state; a scalar that travels with the weights)."""

    def __init__(self, z_dim: int = 128,  # latent z size
                 w_dim: int = 128,  # latent w size (= text feature size t in CI-GAN)
                 img_size: int = 64,  # output resolution
                 mapping_layers: int = 4,  # FC layers in the mapping network
                 mapping_lr_mul: float = 0.01,  # lr multiplier of the mapping network
                 w_avg_beta: float = 0.995,  # decay of the tracked w average
                 channel_base: int = 4096,  # synthesis channels(res) = min(channel_base // res, channel_max)
                 channel_max: int = 128,  # synthesis channel cap
                 fused_modconv: bool | None = None):  # grouped-conv (True), activation-scaling (False), None = by device
        super().__init__()
        self.z_dim, self.w_dim, self.img_size = z_dim, w_dim, img_size
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul, w_avg_beta)
        self.synthesis = SynthesisNetwork(w_dim, img_size, channel_base, channel_max, fused=fused_modconv)
        self.num_ws = self.synthesis.num_ws
        self.register_buffer("pl_mean", torch.zeros(()))

    def sample_z(self, n: int, generator: torch.Generator | None = None, device=None) -> Tensor:
        return torch.randn(n, self.z_dim, generator=generator, device=device)

    def forward(self, z: Tensor, psi: float = 1.0, noise_mode: str = "random", mix_prob: float = 0.0,
                update_w_avg: bool = False, return_ws: bool = False):
        """z [N, z_dim] -> image [N, 3, H, W] (and the W+ tensor actually used, when return_ws).

        mix_prob: style-mixing regularisation; with this probability a sample switches to the w of a second
        z from a random layer on (one cut-off per batch). update_w_avg: track w_avg (training only)."""
        w = self.mapping(z, psi=psi, update_w_avg=update_w_avg)
        ws = self.synthesis.broadcast(w)
        if mix_prob > 0:
            w2 = self.mapping(torch.randn_like(z), psi=psi)
            cut = int(torch.randint(1, self.num_ws, ()))
            use = (torch.rand(z.shape[0], 1, 1, device=z.device) < mix_prob)
            layer = torch.arange(self.num_ws, device=z.device).view(1, -1, 1)
            ws = torch.where(use & (layer >= cut), w2.unsqueeze(1), ws)
        img = self.synthesis(ws, noise_mode)
        return (img, ws) if return_ws else img


# --- discriminator -----------------------------------------------------------------------------------------
class DBlock(nn.Module):
    """Residual discriminator block: conv3x3 -> avg-pool 2 -> conv3x3, skip = avg-pool 2 -> 1x1; sum / sqrt(2)."""

    def __init__(self, in_channels: int,  # input channels
                 out_channels: int):  # output channels (at half the resolution)
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3, activation=True)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(downsample2x(x))
        x = self.conv1(downsample2x(self.conv0(x)))
        return (x + skip) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: image [N, 3, H, W] -> logit [N]."""

    def __init__(self, img_size: int = 64,  # input resolution, a power of two >= 8
                 channel_base: int = 4096,  # channels(res) = min(channel_base // res, channel_max)
                 channel_max: int = 128,  # channel cap
                 mbstd_group: int = 4,  # minibatch-stddev group size
                 mbstd_channels: int = 1):  # minibatch-stddev feature maps
        super().__init__()
        k = _log2_size(img_size)
        self.img_size = img_size
        ch = lambda r: channels_at(r, channel_base, channel_max)  # noqa: E731
        self.from_rgb = EqualConv2d(3, ch(img_size), 1, activation=True)
        self.blocks = nn.Sequential(*[DBlock(ch(2 ** i), ch(2 ** (i - 1))) for i in range(k, 2, -1)])
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels)
        self.conv = EqualConv2d(ch(4) + mbstd_channels, ch(4), 3, activation=True)
        self.fc = EqualLinear(ch(4) * 16, ch(4), activation=True)
        self.out = EqualLinear(ch(4), 1)

    def forward(self, img: Tensor) -> Tensor:
        assert img.dim() == 4 and img.shape[1:] == (3, self.img_size, self.img_size), img.shape
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)
