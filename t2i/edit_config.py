"""The settings of a CI-GAN text-guided edit (t2i.edit): the calibrated defaults, EditConfig with its presets
(masked, whole, paper) and EditObjective, what the optimisation minimises besides CI-GAN's text term.

The defaults were chosen on SynthBirds with t2i.eval.edits.evaluate_edits; the presets read them when called.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from t2i.models.cigan import text_guided_optimise

DEFAULT_STEPS = 50  # Adam steps of the text-guided optimisation (the app's default)
DEFAULT_LR = 0.01  # Adam learning rate on w (a coordinate moves at most about lr per step)
PER_WEIGHT = 1.0  # lam_per at lam = 1: weight of the perceptual term (the paper's preservation term)
PIX_WEIGHT = 0.0  # lam_pix at lam = 1: weight of the extra pixel-MSE preservation term (ours; 0 = paper only)
# DAMSM guidance (ours, not in the paper): + guidance * the DAMSM matching loss of G(w) against the edit text and
# its colour-swapped alternatives (t2i.text.damsm.DAMSM.contrast_loss). Why: the StyleGAN2 latent space trained here
# has no linear part-colour directions. Even oracle directions (class-mean W+ codes of 3,680 refined inversions,
# target colour minus current colour) recolour the asked part in 8-18 % of 60 test edits, so ||w - t||^2 alone
# cannot make an edit; DAMSM's word-region attention tells the optimiser where the named part is and which colour
# it should be. 60 test edits: success 0.10 -> 0.33, preservation 0.72 -> 0.61 (guidance 1); guidance = 0 is the
# paper's method.
GUIDANCE = 1.0
# Part-masked edits (ours, the default; EditConfig.whole / paper are the whole-image edit): the edited image is
# m * G(w) + (1 - m) * x, m the soft mask of the parts the text recolours (t2i.partseg: the part segmenter on the
# upload, the parts from the text), and the guidance sees that composite, so the colour has to land in the part
# and the rest of the upload is kept as it is. MASKED_* are the settings of this mode.
MASKED_GUIDANCE = 10.0  # DAMSM guidance weight of a masked edit
MASKED_LR = 0.05  # Adam learning rate of a masked edit
# preservation strength of a masked edit: 0, no perceptual term (the mask keeps the rest of the upload;
# 4.0-4.3 s per request instead of 5.2-5.8). The 200-edit numbers are lam 0's (session 11: two runs, same results)
MASKED_LAM = 0.0
MAX_STEPS = 10000  # refuse more (a request would run for hours on a CPU)


def _check_int(name: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) and not (isinstance(v, float) and v.is_integer()):
        raise ValueError(f"{name} must be a whole number, got {v!r}")
    v = int(v)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {v}")
    return v


def _check_float(name: str, v, lo: float, hi: float) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {v!r}")
    return f


@dataclass(frozen=True)
class EditConfig:
    """The settings of one text-guided edit, checked when made (ValueError naming the setting). Make one from a
    preset, with any setting changed: EditConfig.masked(steps=20); None keeps the preset's value."""
    steps: int  # Adam steps on w (0 returns the inversion)
    lr: float  # Adam learning rate on w
    lam: float  # preservation strength: scales the preservation terms (0 = text only)
    per_weight: float  # weight of the perceptual term at lam = 1 (the paper's preservation term)
    pix_weight: float  # weight of the pixel-MSE term at lam = 1 (ours)
    guidance: float  # weight of the DAMSM guidance (ours; 0 = the paper's objective)
    part_mask: bool  # change only the parts the text names, keep the rest of the upload (ours)
    invert_steps: int | None = None  # refinement steps of the inversion before the edit (None = the model's)
    invert_lr: float | None = None  # their learning rate (None = the model's)
    wplus: bool | None = None  # invert and edit in W+ (None = the model's)

    def __post_init__(self):
        checked = {"steps": _check_int("steps", self.steps, 0, MAX_STEPS),
                   "lr": _check_float("the learning rate", self.lr, 1e-6, 10.0),
                   "lam": _check_float("the preservation strength (lam)", self.lam, 0.0, 1e4),
                   "per_weight": _check_float("per_weight", self.per_weight, 0.0, 1e4),
                   "pix_weight": _check_float("pix_weight", self.pix_weight, 0.0, 1e4),
                   "guidance": _check_float("the DAMSM guidance", self.guidance, 0.0, 1e3),
                   "part_mask": bool(self.part_mask)}
        if self.invert_steps is not None:
            checked["invert_steps"] = _check_int("invert_steps", self.invert_steps, 0, MAX_STEPS)
        if self.invert_lr is not None:
            checked["invert_lr"] = _check_float("invert_lr", self.invert_lr, 1e-6, 10.0)
        for k, v in checked.items():
            object.__setattr__(self, k, v)

    def replace(self, **changes) -> "EditConfig":
        """A copy with the settings in `changes` that are not None."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def masked(cls, **changes) -> "EditConfig":
        """The part-masked edit (ours; the app's and the CLI's default): MASKED_GUIDANCE, MASKED_LR, MASKED_LAM."""
        return cls(steps=DEFAULT_STEPS, lr=MASKED_LR, lam=MASKED_LAM, per_weight=PER_WEIGHT, pix_weight=PIX_WEIGHT,
                   guidance=MASKED_GUIDANCE, part_mask=True).replace(**changes)

    @classmethod
    def whole(cls, **changes) -> "EditConfig":
        """The whole-image edit with DAMSM guidance (GUIDANCE, DEFAULT_LR, lam 1)."""
        return cls(steps=DEFAULT_STEPS, lr=DEFAULT_LR, lam=1.0, per_weight=PER_WEIGHT, pix_weight=PIX_WEIGHT,
                   guidance=GUIDANCE, part_mask=False).replace(**changes)

    @classmethod
    def paper(cls, **changes) -> "EditConfig":
        """CI-GAN's edit as the paper writes it (eq. 9): ||w - t||^2 + lam * perceptual(G(w), x), the whole image."""
        return cls.whole(guidance=0.0, pix_weight=0.0).replace(**changes)


class EditObjective:
    """What an edit minimises over w besides CI-GAN's text term ||w - t||^2 (text_guided_optimise): on the image I,

        lam_per * perceptual(I, x) + lam_pix * mse(I, x) + guidance(I)

    where I = G(w) for a whole-image edit and the composite m * G(w) + (1 - m) * x for a part-masked one, so that the
    guidance and the preservation terms judge what the user gets. The optimisation's output is that I too."""

    def __init__(self, x: Tensor, lam_per: float = 0.0, lam_pix: float = 0.0, perceptual=None, guidance=None,
                 mask: Tensor | None = None):
        if lam_per > 0 and perceptual is None:
            raise ValueError("lam_per > 0 needs a perceptual loss (t2i.losses.PerceptualLoss)")
        self.x, self.mask = x.detach(), mask
        self.lam_per, self.lam_pix, self.perceptual, self.guidance = lam_per, lam_pix, perceptual, guidance

    def edited(self, img: Tensor) -> Tensor:
        """The edit the user gets from G(w) = img."""
        return img if self.mask is None else self.mask * img + (1 - self.mask) * self.x

    def image_terms(self, img: Tensor):
        """The terms on the image (the composite of a masked edit): guidance, perceptual, pixel MSE (0 when none)."""
        img = self.edited(img)
        loss = 0
        if self.guidance is not None:
            loss = loss + self.guidance(img)
        if self.lam_per > 0:
            loss = loss + self.lam_per * self.perceptual(img, self.x)
        if self.lam_pix > 0:
            loss = loss + self.lam_pix * F.mse_loss(img, self.x)
        return loss

    def optimise(self, G, w0: Tensor, t: Tensor, steps: int, lr: float, progress=None) -> tuple[Tensor, Tensor]:
        """(w, the edit in [-1, 1]) after `steps` Adam steps from w0 (detached)."""
        if self.mask is None:  # eq. 9's preservation terms on G(w), + the guidance
            keep = self.lam_per > 0 or self.lam_pix > 0
            w, img = text_guided_optimise(G, w0, t, steps=steps, lr=lr, lam_per=self.lam_per,
                                          x_ref=self.x if keep else None, perceptual=self.perceptual,
                                          progress=progress, lam_pix=self.lam_pix, image_loss=self.guidance)
        else:
            terms = self.guidance is not None or self.lam_per > 0 or self.lam_pix > 0
            w, img = text_guided_optimise(G, w0, t, steps=steps, lr=lr, progress=progress,
                                          image_loss=self.image_terms if terms else None)
        return w, self.edited(img.clamp(-1, 1))
