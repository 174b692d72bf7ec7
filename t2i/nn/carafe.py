"""CARAFE: content-aware reassembly of features (Wang et al., ICCV 2019), the upsampler of ECAGAN.

Two parts:
  psi (kernel predictor): 1x1 conv compresses C -> c_mid channels; a k_enc x k_enc "content encoder" conv predicts
      sigma^2 * k_up^2 channels; pixel shuffle by sigma gives one k_up^2 kernel per output pixel; softmax over
      the k_up^2 taps normalises every kernel to sum to 1.
  xi (reassembly): output pixel l' = (i', j') is the kernel-weighted sum of the k_up x k_up neighbourhood of its
      source pixel l = (i' // sigma, j' // sigma) in the input (zero padding at the border).

Pure PyTorch (F.unfold + einsum); `carafe_reassemble_reference` is an explicit-loop version for the tests only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def carafe_reassemble(x: Tensor, kernels: Tensor, scale: int, k_up: int) -> Tensor:
    """Reassembly xi.

    x: [N, C, H, W]; kernels: [N, k_up^2, scale*H, scale*W] (normalised over dim 1; tap t = ky * k_up + kx).
    Returns [N, C, scale*H, scale*W].
    """
    n, c, h, w = x.shape
    assert kernels.shape == (n, k_up * k_up, scale * h, scale * w), (x.shape, kernels.shape, scale, k_up)
    # every source pixel's k_up x k_up neighbourhood: [N, C, k^2, H, W] (unfold orders channels c * k^2 + tap)
    patches = F.unfold(x, kernel_size=k_up, padding=k_up // 2).view(n, c, k_up * k_up, h, w)
    # output pixel (h*s + a, w*s + b) has source (h, w): split the output grid into (H, s) x (W, s)
    k = kernels.view(n, k_up * k_up, h, scale, w, scale)
    out = torch.einsum("nckhw,nkhawb->nchawb", patches, k)
    return out.reshape(n, c, h * scale, w * scale)


def carafe_reassemble_reference(x: Tensor, kernels: Tensor, scale: int, k_up: int) -> Tensor:
    """Slow explicit-loop reassembly (the definition), used to test `carafe_reassemble`."""
    n, c, h, w = x.shape
    r = k_up // 2
    xp = F.pad(x, (r, r, r, r))
    out = x.new_zeros(n, c, h * scale, w * scale)
    for b in range(n):
        for i in range(h * scale):
            for j in range(w * scale):
                si, sj = i // scale, j // scale  # source pixel
                acc = x.new_zeros(c)
                for dy in range(k_up):
                    for dx in range(k_up):
                        acc = acc + kernels[b, dy * k_up + dx, i, j] * xp[b, :, si + dy, sj + dx]
                out[b, :, i, j] = acc
    return out


class CARAFE(nn.Module):
    """Content-aware upsampling by an integer factor; keeps the channel count."""

    def __init__(self, channels: int,  # C, input (= output) channels
                 scale: int = 2,  # sigma, upsampling factor
                 k_up: int = 5,  # reassembly kernel size (k_up^2 = 25 taps)
                 k_enc: int = 3,  # content-encoder kernel size (CARAFE paper: k_enc = k_up - 2)
                 c_mid: int = 64):  # channels after the 1x1 compressor
        super().__init__()
        assert k_up % 2 == 1 and k_enc % 2 == 1, (k_up, k_enc)
        self.channels, self.scale, self.k_up = channels, scale, k_up
        self.compress = nn.Conv2d(channels, c_mid, 1)
        self.encoder = nn.Conv2d(c_mid, scale * scale * k_up * k_up, k_enc, padding=k_enc // 2)

    def kernels(self, x: Tensor) -> Tensor:
        """psi: [N, C, H, W] -> [N, k_up^2, sH, sW], each kernel sums to 1."""
        k = self.encoder(self.compress(x))  # [N, s^2 * k^2, H, W]
        k = F.pixel_shuffle(k, self.scale)  # [N, k^2, sH, sW]
        return torch.softmax(k, dim=1)

    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 4 and x.size(1) == self.channels, (x.shape, self.channels)
        return carafe_reassemble(x, self.kernels(x), self.scale, self.k_up)
