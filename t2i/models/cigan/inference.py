"""CI-GAN inference (section 3.4 of the paper): inversion of images to w, text-guided optimisation of w, and
text-to-image generation from a random start."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from t2i.data.vocab import tokenize
from t2i.models.cigan.networks import _unwrap
from t2i.models.stylegan2 import Generator, SynthesisNetwork


# --- inference: inversion and text-guided optimisation ---------------------------------------------------------
def _synth(G, noise_mode: str = "const") -> Callable[[Tensor], Tensor]:
    """w -> image from a Generator, a SynthesisNetwork, or any callable."""
    g = _unwrap(G)
    if isinstance(g, Generator):
        return lambda w: g.synthesis(w, noise_mode=noise_mode)
    if isinstance(g, SynthesisNetwork):
        return lambda w: g(w, noise_mode=noise_mode)
    return G


def text_guided_optimise(G, w_init: Tensor, t: Tensor, steps: int = 100, lr: float = 0.01, lam_per: float = 0.0,
                         x_ref: Tensor | None = None, perceptual: Callable | None = None, progress=None,
                         lam_pix: float = 0.0, noise_mode: str = "const",
                         image_loss: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """CI-GAN eq. 9: minimise ||w - t||^2 + lam_per * perceptual(G(w), x_ref) [+ lam_pix * MSE(G(w), x_ref)]
    over w with Adam, starting at w_init; returns (w, G(w)) detached.

    G:        a Generator / SynthesisNetwork (synthesised with `noise_mode`) or any callable w -> image.
    w_init:   [N, w_dim] (W) or [N, num_ws, w_dim] (W+); t: [N, w_dim] text features (broadcast over layers).
    steps, lr: Adam moves each coordinate by at most about lr per step, so a coordinate travels at most about
              steps * lr towards t; ||w - t||^2 alone has its optimum at w = t (all of w_init forgotten), so the
              number of steps is what keeps the random start's diversity (generation) or the source image
              (editing). ||w - t||^2 is summed over w dims (about 2 * w_dim between unrelated codes), the
              perceptual term of t2i.losses.PerceptualLoss is ~30-100 between unrelated images.
    lam_per / x_ref / perceptual: the paper's preservation term for editing (x_ref = the source image).
    lam_pix:  an extra pixel-MSE preservation term (ours, default off; useful when the perceptual net is weak
              at low resolution).
    image_loss: an optional further term on G(w) (ours: t2i.edit_config.EditObjective).
    progress: called as progress(i, steps) after step i = 1..steps (e.g. a Gradio progress bar).
    Safe under torch.no_grad()/inference_mode(); G's parameters receive no .grad.
    """
    t = t.detach().clone()
    if w_init.dim() == 3 and t.dim() == 2:
        t = t.unsqueeze(1)
    return optimise_latent(G, w_init, lambda w: (w - t).pow(2).sum(dim=-1).mean(), steps=steps, lr=lr,
                           lam_per=lam_per, x_ref=x_ref, perceptual=perceptual, progress=progress, lam_pix=lam_pix,
                           noise_mode=noise_mode, image_loss=image_loss)


def optimise_latent(G, w_init: Tensor, text_loss: Callable[[Tensor], Tensor], steps: int, lr: float,
                    lam_per: float = 0.0, x_ref: Tensor | None = None, perceptual: Callable | None = None,
                    progress=None, lam_pix: float = 0.0, noise_mode: str = "const",
                    image_loss: Callable[[Tensor], Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """The optimisation loop of the text-guided edits: Adam on w for `steps` steps of
    text_loss(w) + lam_per * perceptual(G(w), x_ref) + lam_pix * MSE(G(w), x_ref) [+ image_loss(G(w))];
    returns (w, G(w)) detached. text_loss is ||w - t||^2 (text_guided_optimise); image_loss is any further term on
    the image (t2i.edit_config.EditObjective: the DAMSM guidance, a masked edit's terms on its composite)."""
    needs_image = lam_per > 0 or lam_pix > 0 or image_loss is not None
    if (lam_per > 0 or lam_pix > 0) and x_ref is None:
        raise ValueError("lam_per/lam_pix > 0 need x_ref (the image to preserve)")
    if lam_per > 0 and perceptual is None:
        raise ValueError("lam_per > 0 needs a perceptual loss (t2i.losses.PerceptualLoss)")
    synth = _synth(G, noise_mode)
    with torch.inference_mode(False), torch.enable_grad():
        w = w_init.detach().clone().requires_grad_(True)
        x_ref = None if x_ref is None else x_ref.detach().clone()
        opt = torch.optim.Adam([w], lr=lr)
        for i in range(steps):
            loss = text_loss(w)
            if needs_image:
                img = synth(w)
                if lam_per > 0:
                    loss = loss + lam_per * perceptual(img, x_ref)
                if lam_pix > 0:
                    loss = loss + lam_pix * F.mse_loss(img, x_ref)
                if image_loss is not None:
                    loss = loss + image_loss(img)
            (w.grad,) = torch.autograd.grad(loss, [w])
            opt.step()
            w.grad = None
            if progress is not None:
                progress(i + 1, steps)
        with torch.no_grad():
            img = synth(w)
    return w.detach(), img.detach()


@torch.no_grad()
def _encode(E, x: Tensor) -> Tensor:
    return E(x)


def invert(E, G, x: Tensor, steps: int = 0, lr: float = 0.01, lam_per: float = 0.0, perceptual: Callable | None = None,
           lam_enc: float = 2.0, progress=None, noise_mode: str = "const", wplus: bool = False) -> Tensor:
    """w = E(x) for images x [N, 3, S, S] in [-1, 1]. With steps > 0 the code is refined by In-Domain inversion's
    domain-regularised optimisation: min_w ||x - G(w)||^2 + lam_per * perceptual(G(w), x) + lam_enc * ||w - E(G(w))||^2
    (E and G frozen; G may be None when steps == 0). wplus=True refines one code per synthesis layer (W+, as
    In-Domain inversion does for StyleGAN; E(G(w)) regularises every layer's code). Returns w [N, w_dim] (W) or
    [N, num_ws, w_dim] (W+, steps > 0 only) detached."""
    w0 = _encode(E, x)
    if steps <= 0:
        return w0
    if lam_per > 0 and perceptual is None:
        raise ValueError("lam_per > 0 needs a perceptual loss")
    synth = _synth(G, noise_mode)
    with torch.inference_mode(False), torch.enable_grad():
        w = (w0.unsqueeze(1).repeat(1, _unwrap(G).synthesis.num_ws, 1) if wplus else w0).clone().requires_grad_(True)
        x = x.detach().clone()
        opt = torch.optim.Adam([w], lr=lr)
        for i in range(steps):
            img = synth(w)
            loss = F.mse_loss(img, x)
            if lam_enc > 0:
                e = E(img)
                loss = loss + lam_enc * F.mse_loss(e.unsqueeze(1).expand_as(w) if wplus else e, w)
            if lam_per > 0:
                loss = loss + lam_per * perceptual(img, x)
            (w.grad,) = torch.autograd.grad(loss, [w])
            opt.step()
            w.grad = None
            if progress is not None:
                progress(i + 1, steps)
    return w.detach()


def generate_from_text(G, mapping: nn.Module | None, t: Tensor, steps: int = 100, lr: float = 0.01, psi: float = 0.7,
                       generator: torch.Generator | None = None, progress=None,
                       noise_mode: str = "const") -> tuple[Tensor, Tensor]:
    """Text-to-image: w0 = mapping(z) (z ~ N(0, I), truncation psi towards w_avg), then optimise towards t
    (perceptual term off, as in the paper). t [N, w_dim] -> (w [N, w_dim], image [N, 3, S, S]).
    mapping=None takes G.mapping; `generator` seeds z (a CPU generator works for any device)."""
    mapping = mapping if mapping is not None else _unwrap(G).mapping
    mapping = _unwrap(mapping)
    z = torch.randn(t.shape[0], mapping.z_dim, generator=generator,
                    device=generator.device if generator is not None else t.device).to(t.device)
    with torch.no_grad():
        w0 = mapping(z, psi=psi)
    if t.dim() == 3:  # W+ text features: the random start repeated over the layers
        w0 = w0.unsqueeze(1).repeat(1, t.shape[1], 1)
    return text_guided_optimise(G, w0, t, steps=steps, lr=lr, progress=progress, noise_mode=noise_mode)


# --- the colour-swapped alternatives of an edit text (t2i.edit's DAMSM guidance contrasts the text with them) ---
# CUB colour names (t2i.data.synthbirds.COLORS) and the synonyms captions use for them: the words swapped to build
# the alternatives of an edit text ("a red belly" vs "a blue belly", ...).
COLOUR_SYNONYMS = {"gray": "grey", "rusty": "rufous", "tan": "buff"}


def contrast_texts(text: str) -> list[str]:
    """Alternatives of `text` that differ in one colour word: for each colour word, every other CUB colour in its
    place ("this bird has a red belly" -> "this bird has a blue belly", ...). [] when the text names no colour."""
    from t2i.data.synthbirds import COLORS

    toks = tokenize(text)
    out = []
    for i, tok in enumerate(toks):
        c = COLOUR_SYNONYMS.get(tok, tok)
        if c in COLORS:
            out += [" ".join(toks[:i] + [alt] + toks[i + 1:]) for alt in COLORS if alt != c]
    return out
