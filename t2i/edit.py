"""Text-guided editing and text-to-image with CI-GAN (seed 004): the pipeline the app's Edit tab calls.

    pipe = EditPipeline.from_pretrained("runs/cigan-s3")          # an aligner-stage (stage 3) CI-GAN folder
    res = pipe.edit(Image.open("bird.png"), "this bird has a red belly", steps=50, lam=1.0)
    res.original, res.inversion, res.edited                       # PIL images at the model's size
    pipe.generate("a small bird with a red belly and black wings", seed=0, n=4)   # list of PIL images

Editing (CI-GAN section 3.4, eq. 9): the upload is brought to a square RGB image at the model size
(t2i.imageio.prepare_upload; the whole image, no bounding box), inverted with the stage-2 encoder,
w0 = E(x), and then w is optimised with Adam, starting at w0, on

    L(w) = ||w - t||^2 + lam_per * perceptual(G(w), x) [+ lam_pix * mse(G(w), x)]

where t = E_text(text) is the stage-3 text feature and G the frozen StyleGAN2 (constant noise, so G(w) is a
deterministic function of w). ||w - t||^2 is summed over the w dimensions; perceptual is
t2i.losses.PerceptualLoss (EfficientNet-Lite0 feature MSE, loaded once per pipeline). Output: G(w).

DAMSM guidance (ours, default on; guidance = 0 is the paper's objective): the loss gets
+ guidance * DAMSM matching loss of G(w) against the text and its colour-swapped alternatives ("a red belly" vs
"a blue belly", ...): t2i.text.damsm.DAMSM.contrast_loss with the shipped DAMSM (GUIDANCE_DAMSM). See GUIDANCE for
why and what it measured.

The user's `lam` ("preservation strength", the app's slider) scales the preservation terms:
lam_per = lam * PER_WEIGHT and lam_pix = lam * PIX_WEIGHT, so that lam = 1 is the calibrated default
(see DEFAULTS below for the numbers and how they were chosen). lam = 0 is the pure text pull ||w - t||^2.

Generation starts from w0 = mapping(z) (truncation psi towards w_avg) and optimises ||w - t||^2 only (the
paper's text-to-image mode): t2i.models.cigan.generate_from_text.

The CI-GAN folder loader (load_cigan) and the optional contrastive text term (contrast_texts, optimise_contrastive)
live in t2i.models.cigan (loading.py, inference.py) and are importable from here as before.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from t2i import checkpoint as ckpt
from t2i.data.vocab import MAX_WORDS, Vocabulary
from t2i.imageio import prepare_upload
from t2i.models.cigan import (COLOUR_SYNONYMS, contrast_texts, generate_from_text, invert,  # noqa: F401
                              load_cigan, optimise_contrastive, text_guided_optimise)
from t2i.text.damsm import SHIPPED_DAMSM
from t2i.text.prompt import check_caption, encode_caption
from t2i.viz.grids import tile, to_pil

# --- defaults (chosen on SynthBirds with t2i.eval.edits.evaluate_edits; see EDIT_DEFAULTS_NOTE) -----------------
DEFAULT_STEPS = 50  # Adam steps of the text-guided optimisation (the app's default)
DEFAULT_LR = 0.01  # Adam learning rate on w (a coordinate moves at most about lr per step)
# The inversion of an upload before the edit (refinement steps, its learning rate, W or W+) is the model's own:
# the aligner config's invert_steps / invert_lr / wplus, the way its training targets w' were made (None below =
# the model's setting). The refinement is pixel MSE only: In-Domain inversion's regulariser lam_enc*||w - E(G(w))||^2
# held the code near our weak E's colourless solution (100 steps at lr 0.05 in W: PSNR 18.1 dB with lam_enc = 2,
# 22.4 dB without, 60 SynthBirds test images).
INVERT_LAM_ENC = 0.0
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
GUIDANCE_DAMSM = SHIPPED_DAMSM  # the DAMSM model folder (local, shipped or Hub) used for the guidance
# Part-masked edits (ours, default on; part_mask=False is the whole-image edit): the edited image is
# m * G(w) + (1 - m) * x, m the soft mask of the parts the text recolours (t2i.partseg: the part segmenter on the
# upload, the parts from the text), and the guidance sees that composite, so the colour has to land in the part
# and the rest of the upload is kept as it is. MASKED_* are the settings of this mode (see the module docstring).
PART_SEGMENTER = "partseg-synthbirds-64"  # the part segmenter folder (local, shipped or Hub)
MASK_DILATE = 1  # px the part mask is grown by
MASKED_GUIDANCE = 10.0  # DAMSM guidance weight of a masked edit (guidance=None)
MASKED_LR = 0.05  # Adam learning rate of a masked edit (lr=None)
# preservation strength of a masked edit (lam=None): 0, no perceptual term (the mask keeps the rest of the upload;
# 4.0-4.3 s per request instead of 5.2-5.8). The 200-edit numbers are lam 0's (session 11: two runs, same results)
MASKED_LAM = 0.0
GEN_STEPS = 50  # text-to-image steps (generate)
GEN_LR = 0.01  # text-to-image Adam learning rate
GEN_PSI = 0.7  # truncation of the random start w0 = mapping(z) in generate
MAX_STEPS = 10000  # refuse more (a request would run for hours on a CPU)
EDIT_DEFAULTS_NOTE = "see the module docstring of t2i.edit"


@dataclass
class EditResult:
    original: Image.Image  # the input as the model saw it (square RGB at the model size)
    inversion: Image.Image  # G(E(x)): what the model can reproduce of the input
    edited: Image.Image  # G(w) after the text-guided optimisation
    seconds: float  # wall time of the whole edit (preparation, inversion, optimisation)
    w_inverted: Tensor  # E(x) [1, w_dim]
    w_edited: Tensor  # optimised w [1, w_dim]
    text: str = ""  # the text as used (stripped)
    words: list[str] = field(default_factory=list)  # the words the text encoder read
    unknown: list[str] = field(default_factory=list)  # content words ignored (nothing in the vocabulary fits)
    mapped: list[tuple[str, str]] = field(default_factory=list)  # (word, replacement) of the open vocabulary
    notes: list[str] = field(default_factory=list)  # what was done to the upload (converted, cropped, ...)


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


def pil_to_tensor(img: Image.Image) -> Tensor:
    """RGB PIL -> [1, 3, H, W] in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


class EditPipeline:
    """CI-GAN's inference nets (StyleGAN2 generator, inversion encoder, text encoder) + vocabulary.

    edit(image, text) -> EditResult; generate(text) -> [PIL]. Tensor-level methods (encode_text, invert,
    synthesize, edit_tensors, generate_tensors) serve the evaluation; they take and return images in [-1, 1]."""

    def __init__(self, cfg, nets: dict[str, torch.nn.Module], vocab: Vocabulary, record: dict | None = None,
                 device: str | torch.device = "cpu", max_words: int = MAX_WORDS, damsm: str | None = None,
                 segmenter: str | None = None):
        self.cfg, self.record = cfg, record or {}
        self.device = torch.device(device)
        self.G = nets["stylegan"].to(self.device).eval().requires_grad_(False)
        self.E = nets["encoder"].to(self.device).eval().requires_grad_(False)
        self.T = nets["text"].to(self.device).eval().requires_grad_(False)
        self.vocab, self.max_words = vocab, max_words
        self.img_size = int(cfg.img_size)
        self._perceptual = None
        self.damsm_name, self._damsm = damsm, None  # None: GUIDANCE_DAMSM when first needed; "": no DAMSM
        self.segmenter_name, self._segmenter = segmenter, None  # None: PART_SEGMENTER when first needed; "": none

    @classmethod
    def from_pretrained(cls, name, device: str | torch.device = "cpu") -> "EditPipeline":
        record, cfg, nets = load_cigan(name, device, need_stage="aligner")
        folder = ckpt.resolve(name)
        vf = folder / ckpt.VOCAB
        if not vf.is_file():
            raise ckpt.CheckpointError(f"{folder.name}: {ckpt.VOCAB} is missing (the text encoder needs its vocabulary)")
        vocab = Vocabulary.load(vf, open_map=True)  # + the open vocabulary (inference only)
        if len(vocab) != cfg.vocab_size:
            raise ckpt.CheckpointError(f"{folder.name}: vocabulary has {len(vocab)} words, the text encoder {cfg.vocab_size}")
        return cls(cfg, nets, vocab, record, device)

    # --- pieces ---------------------------------------------------------------------------------------------------
    @property
    def perceptual(self):
        """t2i.losses.PerceptualLoss, loaded on first use and kept (once per pipeline)."""
        if self._perceptual is None:
            from t2i.losses import PerceptualLoss

            self._perceptual = PerceptualLoss().to(self.device).eval()
        return self._perceptual

    @property
    def damsm(self):
        """(DAMSM, its vocabulary) for the guidance, loaded on first use and kept. CheckpointError when the
        pipeline has none or it cannot be loaded (editing with guidance = 0 still works)."""
        if self._damsm is None:
            from t2i.text.damsm import load_damsm

            name = GUIDANCE_DAMSM if self.damsm_name is None else self.damsm_name
            if not name:
                raise ckpt.CheckpointError("this edit pipeline has no DAMSM model for the guidance; use guidance = 0")
            try:
                model, vocab = load_damsm(name, self.device)
            except (ckpt.CheckpointError, OSError, ValueError) as e:
                raise ckpt.CheckpointError(f"DAMSM guidance needs the DAMSM model {name!r} ({e}); "
                                           "use guidance = 0 to edit without it") from None
            self._damsm = (model.requires_grad_(False), vocab)
        return self._damsm

    @property
    def segmenter(self):
        """The part segmenter of the part-masked edits (t2i.partseg), loaded on first use and kept. CheckpointError
        when it cannot be loaded (editing with part_mask=False still works)."""
        if self._segmenter is None:
            from t2i.partseg import load_part_segmenter

            name = PART_SEGMENTER if self.segmenter_name is None else self.segmenter_name
            if not name:
                raise ckpt.CheckpointError("this edit pipeline has no part segmenter; edit the whole image "
                                           "(part_mask=False)")
            try:
                self._segmenter = load_part_segmenter(name, self.device)
            except (ckpt.CheckpointError, OSError, ValueError) as e:
                raise ckpt.CheckpointError(f"part-masked editing needs the part segmenter {name!r} ({e}); "
                                           "edit the whole image instead (part_mask=False)") from None
        return self._segmenter

    def part_masks(self, x: Tensor, texts: list[str]) -> Tensor:
        """Soft masks [N, 1, S, S] of the parts each text recolours (t2i.partseg.text_parts) in images x; all ones
        for a text that names no part (the whole image is edited)."""
        from t2i.partseg import part_mask, text_parts

        return part_mask(self.segmenter, x.to(self.device), [text_parts(c) for c in texts], dilate=MASK_DILATE)

    def guidance_loss(self, texts: list[str], weight: float):
        """image -> weight * DAMSM matching loss of each image [N, 3, S, S] against its text versus the text's
        colour-swapped alternatives (contrast_texts). A text that names no colour has nothing to contrast and
        contributes 0."""
        model, vocab = self.damsm
        groups = [[c] + contrast_texts(c) for c in texts]
        k = max(len(g) for g in groups)
        flat = [g[j] if j < len(g) else g[0] for g in groups for j in range(k)]
        valid = torch.tensor([[j < len(g) for j in range(k)] for g in groups], device=self.device)
        enc = [vocab.encode(c, self.max_words) for c in flat]
        ids = torch.tensor([e.ids for e in enc], device=self.device)
        lengths = torch.tensor([e.length for e in enc], device=self.device)
        with torch.no_grad():
            words, sent, mask = model.encode_text(ids, lengths)
        return lambda img: weight * model.contrast_loss(img, words, sent, mask, valid)

    @torch.no_grad()
    def encode_text(self, texts: list[str]) -> tuple[Tensor, list[list[str]], list[list[str]]]:
        """t [N, w_dim], the words read and the unknown words per text. CaptionError for an empty text or one
        with no known word (the messages of t2i.text.prompt)."""
        return self.encode_text_full(texts)[:3]

    @torch.no_grad()
    def encode_text_full(self, texts: list[str]):
        """encode_text() + the open vocabulary's (word, replacement) pairs per text."""
        ids, lengths, read, unknown, mapped = [], [], [], [], []
        for c in texts:
            c = check_caption(c)
            enc = encode_caption(self.vocab, c, self.max_words)
            ids.append(enc.ids)
            lengths.append(enc.length)
            read.append([self.vocab.itos[i] for i in enc.ids[:enc.length]])
            unknown.append(list(enc.unknown))
            mapped.append(list(enc.mapped))
        t = self.T(torch.tensor(ids, device=self.device), torch.tensor(lengths, device=self.device))
        return t, read, unknown, mapped

    def prepare(self, image, notes: list[str] | None = None) -> tuple[Image.Image, Tensor]:
        """An upload (PIL, path, bytes, array) -> (square RGB PIL at the model size, [1, 3, S, S] tensor).
        t2i.imageio.ImageInputError (a ValueError) with a user-readable message when it cannot be used."""
        img = prepare_upload(image, size=self.img_size, notes=notes)
        return img, pil_to_tensor(img).to(self.device)

    def invert(self, x: Tensor, steps: int | None = None, lr: float | None = None, progress=None,
               wplus: bool | None = None) -> Tensor:
        """w = E(x) for images [N, 3, S, S] in [-1, 1], refined for `steps` Adam steps on the pixel MSE
        (t2i.models.cigan.invert), in W+ with wplus ([N, num_ws, w_dim]). None = the model's setting (cfg.invert_*);
        a W+ model always returns W+ codes (E(x) repeated over the layers when steps = 0)."""
        steps = self.cfg.invert_steps if steps is None else steps
        lr = self.cfg.invert_lr if lr is None else lr
        wplus = self.cfg.wplus if wplus is None else wplus
        w = invert(self.E, self.G, x.to(self.device), steps=steps, lr=lr, progress=progress, wplus=wplus,
                   lam_enc=INVERT_LAM_ENC)
        if (wplus or self.cfg.wplus) and w.dim() == 2:
            w = w.unsqueeze(1).repeat(1, self.G.synthesis.num_ws, 1)
        return w

    @torch.no_grad()
    def synthesize(self, w: Tensor) -> Tensor:
        """G(w) (constant noise) in [-1, 1], clamped."""
        return self.G.synthesis(w.to(self.device), noise_mode="const").clamp(-1, 1)

    @torch.no_grad()
    def encode_alternatives(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Text features of each text's colour-swapped alternatives (contrast_texts): t_alt [N, K, (L,) D] padded,
        mask [N, K] (True = real). Alternatives whose words the vocabulary lacks entirely are skipped."""
        alts = [[a for a in contrast_texts(c) if self.vocab.encode(a, self.max_words).length > 0] for c in texts]
        k = max([len(a) for a in alts] + [1])
        t_shape = (self.T.num_ws, self.cfg.w_dim) if self.T.num_ws else (self.cfg.w_dim,)
        t_alt = torch.zeros(len(texts), k, *t_shape, device=self.device)
        mask = torch.zeros(len(texts), k, dtype=torch.bool, device=self.device)
        for i, a in enumerate(alts):
            if a:
                t_alt[i, :len(a)] = self.encode_text(a)[0]
                mask[i, :len(a)] = True
        return t_alt, mask

    def edit_tensors(self, x: Tensor, t: Tensor, steps: int = DEFAULT_STEPS, lam: float = 1.0,
                     lr: float | None = None, per_weight: float = PER_WEIGHT, pix_weight: float = PIX_WEIGHT,
                     progress=None, texts: list[str] | None = None, contrastive: bool = False,
                     lam_l2: float = 0.0, tau: float = 1.0, invert_steps: int | None = None,
                     invert_lr: float | None = None, wplus: bool | None = None,
                     guidance: float | None = None, part_mask: bool = False,
                     masks: Tensor | None = None) -> dict[str, Tensor]:
        """Batched edit of images x [N, 3, S, S] towards text features t [N, w_dim]: returns w0 = E(x) (refined
        for invert_steps steps, see invert), inversion G(w0), w, edited G(w) (all detached, images clamped to
        [-1, 1]). Each image's optimisation is independent of the others in the batch (per-coordinate Adam), so
        batching changes nothing but speed. guidance: weight of the DAMSM guidance term (needs the texts; None =
        GUIDANCE, or MASKED_GUIDANCE for a masked edit, when the texts are given, else 0; 0 = the paper's objective
        only). part_mask: the part-masked edit (needs the texts): edited = m * G(w) + (1 - m) * x with m the mask
        of the parts each text names (part_masks), also what the guidance and the perceptual term see; masks:
        give m [N, 1, S, S] in [0, 1] yourself instead (returned as "mask"). lr: None = DEFAULT_LR, or MASKED_LR
        for a masked edit."""
        x = x.to(self.device)
        if part_mask and masks is None:
            if texts is None:
                raise ValueError("a part-masked edit needs the texts (they name the parts)")
            masks = self.part_masks(x, texts)
        masked = masks is not None
        lr = (MASKED_LR if masked else DEFAULT_LR) if lr is None else lr
        invert_steps = self.cfg.invert_steps if invert_steps is None else invert_steps
        total = max(invert_steps, 0) + max(steps, 0)  # progress counts both phases: progress(i, total)
        w0 = self.invert(x, steps=invert_steps, lr=invert_lr, wplus=wplus,
                         progress=None if progress is None else (lambda i, _: progress(i, total)))
        if progress is not None and invert_steps > 0:
            progress = (lambda p: lambda i, _: p(invert_steps + i, total))(progress)
        inversion = self.synthesize(w0)
        lam_per, lam_pix = lam * per_weight, lam * pix_weight
        image_loss = None
        if guidance is None:
            guidance = (MASKED_GUIDANCE if masked else GUIDANCE) if texts is not None else 0.0
        if guidance > 0 and steps > 0:
            if texts is None:
                raise ValueError("DAMSM guidance needs the texts; pass texts=[...] or guidance=0")
            image_loss = self.guidance_loss(texts, guidance)
        extra = {} if masks is None else {"mask": masks}
        if masked:  # the composite is the edit: the guidance and the preservation terms judge it, not G(w)
            m = masks.to(self.device)
            composite = (lambda m_, x_: lambda img: m_ * img + (1 - m_) * x_)(m, x.detach())
            terms = [image_loss] if image_loss is not None else []
            if lam_per > 0:
                terms.append((lambda w_: lambda img: w_ * self.perceptual(img, x))(lam_per))
            if lam_pix > 0:
                terms.append((lambda w_: lambda img: w_ * F.mse_loss(img, x))(lam_pix))
            image_loss = (lambda img: sum(f(composite(img)) for f in terms)) if terms else None
            lam_per = lam_pix = 0.0
        else:
            composite = None
        if steps <= 0:
            return {"w0": w0, "inversion": inversion, "w": w0.clone(), "edited": inversion.clone(), **extra}
        if contrastive:
            if texts is None:
                raise ValueError("contrastive editing needs the texts (their colour-swapped alternatives)")
            t_alt, mask = self.encode_alternatives(texts)
            w, img = optimise_contrastive(self.G, w0, t.to(self.device), t_alt, mask, steps, lr, lam_l2=lam_l2,
                                          lam_per=lam_per, lam_pix=lam_pix, x_ref=x,
                                          perceptual=self.perceptual if lam_per > 0 else None, tau=tau,
                                          progress=progress, image_loss=image_loss)
        else:
            w, img = text_guided_optimise(self.G, w0, t.to(self.device), steps=steps, lr=lr, lam_per=lam_per,
                                          x_ref=x if lam_per > 0 or lam_pix > 0 else None,
                                          perceptual=self.perceptual if lam_per > 0 else None, progress=progress,
                                          lam_pix=lam_pix, image_loss=image_loss)
        img = img.clamp(-1, 1)
        return {"w0": w0, "inversion": inversion, "w": w, "edited": img if composite is None else composite(img),
                **extra}

    def generate_tensors(self, texts: list[str], seed: int = 0, steps: int = GEN_STEPS, lr: float = GEN_LR,
                         psi: float = GEN_PSI, progress=None) -> Tensor:
        """One image per text [N, 3, S, S] in [-1, 1]; the random starts are drawn from `seed`."""
        t, _, _ = self.encode_text(texts)
        g = torch.Generator().manual_seed(int(seed))
        _, img = generate_from_text(self.G, None, t, steps=steps, lr=lr, psi=psi, generator=g, progress=progress)
        return img.clamp(-1, 1)

    # --- the app's calls --------------------------------------------------------------------------------------------
    def edit(self, image, text: str, steps: int = DEFAULT_STEPS, lam: float | None = None, seed: int = 0,
             progress=None, lr: float | None = None, invert_steps: int | None = None,
             guidance: float | None = None, part_mask: bool = True) -> EditResult:
        """Edit an uploaded bird picture towards `text`.

        image: PIL image (any mode or size), a path, bytes or an array; made square RGB at the model size.
        steps: optimisation steps (0 returns the inversion); lam: preservation strength (0 = text only,
        1 = the calibrated default, larger keeps more of the input; None = 1, or MASKED_LAM for a part-masked
        edit, where the mask already keeps everything outside the part); seed: accepted for symmetry with generate:
        editing is deterministic (constant noise, deterministic start E(x)), so the seed changes nothing;
        progress: called as progress(i, n) after every step (n = invert_steps + steps);
        invert_steps: refinement steps of the inversion before the edit (0 = E(x) as is; None = the model's);
        guidance: weight of the DAMSM guidance (None = GUIDANCE, or MASKED_GUIDANCE with part_mask; 0 = the
        paper's objective only); part_mask: change only the parts the text names and keep the rest of the upload
        (ours; False = the whole image is the generator's, as in the paper); lr: None = the mode's default.
        Raises CaptionError (bad text) or ValueError (bad image or parameters) with a user-readable message."""
        t0 = time.perf_counter()
        text = check_caption(text)
        steps = _check_int("steps", steps, 0, MAX_STEPS)
        lam = (MASKED_LAM if part_mask else 1.0) if lam is None else lam
        lam = _check_float("the preservation strength (lam)", lam, 0.0, 1e4)
        lr = None if lr is None else _check_float("the learning rate", lr, 1e-6, 10.0)
        guidance = None if guidance is None else _check_float("the DAMSM guidance", guidance, 0.0, 1e3)
        _check_int("seed", seed, -2 ** 63, 2 ** 63 - 1)
        invert_steps = _check_int("invert_steps", self.cfg.invert_steps if invert_steps is None else invert_steps,
                                  0, MAX_STEPS)
        t, read, unknown, mapped = self.encode_text_full([text])
        notes: list[str] = []
        img, x = self.prepare(image, notes)
        # the part masks and the DAMSM guidance read the text as the model did ('crimson belly' -> red belly)
        seen = self.vocab.open_map.rewrite(text) if self.vocab.open_map is not None else text
        out = self.edit_tensors(x, t, steps=steps, lam=lam, lr=lr, progress=progress, invert_steps=invert_steps,
                                texts=[seen], guidance=guidance, part_mask=bool(part_mask))
        inv, edited = to_pil(out["inversion"])[0], to_pil(out["edited"])[0]
        return EditResult(original=img, inversion=inv, edited=edited, seconds=time.perf_counter() - t0,
                          w_inverted=out["w0"].cpu(), w_edited=out["w"].cpu(), text=text, words=read[0],
                          unknown=unknown[0], mapped=mapped[0], notes=notes)

    def generate(self, text: str, seed: int = 0, n: int = 1, steps: int = GEN_STEPS, progress=None) -> list[Image.Image]:
        """n images for `text`: random starts w0 = mapping(z) from `seed`, optimised towards t for `steps` steps
        (progress(i, steps) after each). Same text + seed -> same images."""
        text = check_caption(text)
        n = _check_int("n", n, 1, 64)
        steps = _check_int("steps", steps, 0, MAX_STEPS)
        seed = _check_int("seed", seed, -2 ** 63, 2 ** 63 - 1)
        return to_pil(self.generate_tensors([text] * n, seed=seed % 2 ** 63, steps=steps, progress=progress))

    def __call__(self, text: str, seed: int = 0, n: int = 1, steps: int = GEN_STEPS) -> list[Image.Image]:
        return self.generate(text, seed=seed, n=n, steps=steps)


def edit_strip(res: EditResult, scale: int = 2) -> Image.Image:
    """A before | inversion | after strip with labels (the CLI's output)."""
    return tile([res.original, res.inversion, res.edited], nrow=3, scale=scale,
                captions=["input", "inversion G(E(x))", f"edited: {res.text}"])


def edit_file(model, image, text: str, out, steps: int = DEFAULT_STEPS, lam: float | None = None, seed: int = 0,
              device: str = "cpu", invert_steps: int | None = None, guidance: float | None = None,
              part_mask: bool = True) -> EditResult:
    """Load, edit and write the strip to `out` (PNG); returns the result."""
    pipe = EditPipeline.from_pretrained(model, device=device)
    res = pipe.edit(image, text, steps=steps, lam=lam, seed=seed, invert_steps=invert_steps, guidance=guidance,
                    part_mask=part_mask)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    edit_strip(res).save(out)
    return res
