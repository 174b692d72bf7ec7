"""What every generator family shares: the output record and the family interface.

Data flow (reads top to bottom): caption -> tokens (t2i.data.vocab) -> DAMSM text encoder
(t2i.text.damsm) -> sentence s [N, D], words w [N, D, L], word_mask [N, L] (True = padding)
-> generator(z, s, w, word_mask) -> GenOutput.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


@dataclass
class GenOutput:
    """What a generator returns.

    images:    per stage, coarse to fine, each [N, 3, H, W] in [-1, 1]; images[-1] is the final image.
    masks:     name -> [N, 1, H, W] in [0, 1] (coordinate masks, CNN masks ...), for visualisation.
    word_attn: name -> [N, L, H, W] (or [N, L]) weights that sum to 1 over the L words.
    kl:        conditioning-augmentation KL term (scalar) when the model samples its condition, else None.
    extras:    anything a family's loss step needs (e.g. the augmented condition).
    """

    images: list[Tensor]
    masks: dict[str, Tensor] = field(default_factory=dict)
    word_attn: dict[str, Tensor] = field(default_factory=dict)
    kl: Tensor | None = None
    extras: dict = field(default_factory=dict)

    @property
    def image(self) -> Tensor:
        return self.images[-1]


class TextConditionalGenerator(nn.Module):
    """Base class of all text-conditional generators: forward(z, sent, words, word_mask) -> GenOutput."""

    z_dim: int

    @property
    def latent_dim(self) -> int:
        """Width of what sample_z draws and forward takes: z, plus the CA noise where it is part of the latent
        (multi-stage generators with ca_inference = "sample")."""
        return self.z_dim + (self.c_dim if getattr(self, "ca_inference", None) == "sample" else 0)

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor) -> GenOutput:  # pragma: no cover
        raise NotImplementedError

    def check_inputs(self, z: Tensor, sent: Tensor, words: Tensor | None = None,
                     word_mask: Tensor | None = None) -> None:
        """The shapes forward takes: z [N, z_dim], sent [N, text_dim], words [N, text_dim, L], word_mask [N, L]."""
        n = z.size(0)
        assert z.shape == (n, self.z_dim) and sent.shape == (n, self.text_dim), (z.shape, sent.shape)
        if words is not None:
            assert words.dim() == 3 and words.shape[:2] == (n, self.text_dim), words.shape
            assert word_mask is None or word_mask.shape == (n, words.size(2)), word_mask.shape

    def sample_z(self, n: int, generator: torch.Generator | None = None, truncation: float | None = None,
                 device=None) -> Tensor:
        """z ~ N(0, I) of width latent_dim; with truncation t the draw is clamped to [-t, t]... re-sampled (DF-GAN
        truncation trick)."""
        from t2i.nn.common import truncated_normal

        return truncated_normal((n, self.latent_dim), truncation, generator=generator, device=device)
