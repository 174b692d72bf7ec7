"""Text-guided editing and text-to-image with CI-GAN (seed 004): the pipeline the app's Edit tab calls.

    pipe = EditPipeline.from_pretrained("runs/cigan-s3")          # an aligner-stage (stage 3) CI-GAN folder
    res = pipe.edit(Image.open("bird.png"), "this bird has a red belly", steps=50)   # the part-masked edit
    res.original, res.inversion, res.edited                       # PIL images at the model's size
    res = pipe.edit(photo, text, full_size=True)   # + res.full_edited: the edit pasted into the photo at its own size
    pipe.generate("a small bird with a red belly and black wings", seed=0, n=4)   # list of PIL images

Editing (CI-GAN section 3.4, eq. 9): the upload is brought to a square RGB image at the model size, the square
around the bird the part segmenter finds (ours: t2i.partseg.crop_to_bird, as the training images are cropped around
the bird; an upload without a bird gets a NoBirdError instead of an edit), inverted with the stage-2 encoder,
w0 = E(x), and then w is optimised with Adam, starting at w0, on

    L(w) = ||w - t||^2 + lam_per * perceptual(G(w), x) [+ lam_pix * mse(G(w), x)]

where t = E_text(text) is the stage-3 text feature and G the frozen StyleGAN2 (constant noise, so G(w) is a
deterministic function of w). ||w - t||^2 is summed over the w dimensions; perceptual is
t2i.losses.PerceptualLoss (EfficientNet-Lite0 feature MSE, loaded once per pipeline). Output: G(w).

DAMSM guidance (ours, default on; guidance = 0 is the paper's objective): the loss gets
+ guidance * DAMSM matching loss of G(w) against the text and its colour-swapped alternatives ("a red belly" vs
"a blue belly", ...): t2i.text.damsm.DAMSM.contrast_loss with the shipped DAMSM (GUIDANCE_DAMSM). See
t2i.edit_config.GUIDANCE for why and what it measured.

The user's `lam` ("preservation strength", the app's slider) scales the preservation terms:
lam_per = lam * per_weight and lam_pix = lam * pix_weight, so that lam = 1 is the calibrated default
(t2i.edit_config holds the numbers and how they were chosen). lam = 0 is the pure text pull ||w - t||^2.

Text-to-image has two modes (the pipeline's t2i_mode): "paper" starts from w0 = mapping(z) (truncation psi towards
w_avg) and optimises ||w - t||^2 only (CI-GAN's text-to-image: t2i.models.cigan.generate_from_text); "retrieve" (ours)
finds a training bird for the caption by DAMSM, "retrieve-auto" (ours, the default when the model folder has a code
bank) then recolours the parts the caption names with the masked edit where that bird fits the caption poorly, and
"retrieve-edit" always does (t2i.cigan_retrieval: the paper's mode ignores the caption here).

The settings of one edit are an EditConfig, built from a preset: EditConfig.masked() (the part-masked edit, the
app's and the CLI's default), EditConfig.whole() (the whole image, with DAMSM guidance) or EditConfig.paper()
(CI-GAN's eq. 9 alone); what the optimisation minimises besides ||w - t||^2 is one EditObjective.

The CI-GAN folder loader (load_cigan) lives in t2i.models.cigan (loading.py) and is importable from here as before.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from t2i import checkpoint as ckpt
from t2i.cigan_retrieval import AUTO_EDIT_BELOW, CODE_BANK, CodeBankIndex, retrieve_and_edit, retrieve_note
from t2i.data.vocab import MAX_WORDS, Vocabulary
from t2i.edit_config import MAX_STEPS, EditConfig, EditObjective, _check_float, _check_int
from t2i.imageio import colour_note, prepare_upload
from t2i.models.cigan import COLOUR_SYNONYMS, contrast_texts, generate_from_text, invert, load_cigan  # noqa: F401
from t2i.pipeline import GenerationResult
from t2i.text.damsm import SHIPPED_DAMSM
from t2i.text.prompt import CaptionError, check_caption, encode_caption
from t2i.upsampling import Upsampling, composite_edit, upsample_images
from t2i.viz.grids import tile, to_pil

# --- the pipeline's defaults (the edit settings' are in t2i.edit_config) ----------------------------------------
# The inversion of an upload before the edit (refinement steps, its learning rate, W or W+) is the model's own:
# the aligner config's invert_steps / invert_lr / wplus, the way its training targets w' were made (None in
# EditConfig = the model's setting). The refinement is pixel MSE only: In-Domain inversion's regulariser
# lam_enc*||w - E(G(w))||^2 held the code near our weak E's colourless solution (100 steps at lr 0.05 in W: PSNR
# 18.1 dB with lam_enc = 2, 22.4 dB without, 60 SynthBirds test images).
INVERT_LAM_ENC = 0.0
GUIDANCE_DAMSM = SHIPPED_DAMSM  # the DAMSM model folder (local, shipped or Hub) used for the guidance
PART_SEGMENTER = "partseg-synthbirds-64"  # the part segmenter of the masked edits (local, shipped or Hub)
MASK_DILATE = 1  # px the part mask is grown by
GEN_STEPS = 50  # text-to-image steps (generate)
GEN_LR = 0.01  # text-to-image Adam learning rate
GEN_PSI = 0.7  # truncation of the random start w0 = mapping(z) in generate


DEFAULT_T2I_MODE = "retrieve-auto"  # with a code bank (session 27: 1,000 captions per set, t2i.cigan_retrieval's doc)
T2I_MODES = ("retrieve", "retrieve-auto", "retrieve-edit", "paper")  # text-to-image: ours (t2i.cigan_retrieval; the
# retrieved bird as it is, edited where it fits the caption poorly, or always then CI-GAN's masked edit of the parts the
# caption names) or CI-GAN's own (generate_from_text)


def _check_mode(mode: str | None, bank) -> str:
    """The text-to-image mode of a pipeline (None: DEFAULT_T2I_MODE when it has a code bank); ValueError otherwise."""
    if mode is None:
        return DEFAULT_T2I_MODE if bank is not None else "paper"
    if mode not in T2I_MODES:
        raise ValueError(f"unknown text-to-image mode {mode!r}; choose one of {', '.join(T2I_MODES)}")
    if mode.startswith("retrieve") and bank is None:
        raise ckpt.CheckpointError(f"text-to-image by retrieval needs the model's code bank ({CODE_BANK}); "
                                   "use t2i_mode='paper'")
    return mode


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
    mask: np.ndarray | None = None  # [S, S] in [0, 1]: the part mask of a part-masked edit (None: whole image)
    # full_size edits (t2i.upsampling.composite_edit): the square upload at its own side, the edit pasted into it
    # inside the mask (the 4x upsampler's image resized to that side), and the inversion through the upsampler
    upload: Image.Image | None = None
    full_edited: Image.Image | None = None
    full_inversion: Image.Image | None = None


def pil_to_tensor(img: Image.Image) -> Tensor:
    """RGB PIL -> [1, 3, H, W] in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


class EditPipeline(Upsampling):
    """CI-GAN's inference nets (StyleGAN2 generator, inversion encoder, text encoder) + vocabulary.

    edit(image, text) -> EditResult; generate(text) -> [PIL]; pipe(captions, seed=0, n=1) -> GenerationResult, the
    call shape of every pipeline (t2i.pipeline.Pipeline). Tensor-level methods (encode_text, invert, synthesize,
    edit_tensors, generate_tensors) serve the evaluation; they take and return images in [-1, 1]. size: the output
    side of text-to-image calls (None or the model's: its own images; 4 x it: through the 4x upsampler, see
    t2i.upsampling) and, when upsampled, the default of edit(full_size=); upsampler: its folder or an Upsampler."""

    def __init__(self, cfg, nets: dict[str, torch.nn.Module], vocab: Vocabulary, record: dict | None = None,
                 device: str | torch.device = "cpu", max_words: int = MAX_WORDS, damsm: str | None = None,
                 segmenter: str | None = None, size: int | None = None, upsampler=None, bank=None,
                 t2i_mode: str | None = None):
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
        self._init_upsampling(size, upsampler)
        self.bank = bank  # t2i.cigan_retrieval.CodeBankIndex or None
        self.t2i_mode = _check_mode(t2i_mode, bank)

    @property
    def native_size(self) -> int:
        return self.img_size

    @classmethod
    def from_pretrained(cls, name, device: str | torch.device = "cpu", size: int | None = None,
                        upsampler=None, segmenter: str | None = None, t2i_mode: str | None = None) -> "EditPipeline":
        """t2i_mode: text-to-image by "retrieve" (ours, t2i.cigan_retrieval: a banked training bird; needs the
        folder's code bank), "retrieve-auto" (the same, then CI-GAN's masked edit where the bird fits the caption
        poorly), "retrieve-edit" (the same, then always the edit) or "paper" (CI-GAN's); None: "retrieve-auto" when the
        folder has a code bank, else "paper"."""
        record, cfg, nets = load_cigan(name, device, need_stage="aligner")
        folder = ckpt.resolve(name)
        bank = None
        if (folder / CODE_BANK).is_file() and t2i_mode != "paper":
            g = nets["stylegan"].synthesis
            bank = CodeBankIndex.load(folder / CODE_BANK, g.num_ws, cfg.w_dim)
        vf = folder / ckpt.VOCAB
        if not vf.is_file():
            raise ckpt.CheckpointError(f"{folder.name}: {ckpt.VOCAB} is missing (the text encoder needs its vocabulary)")
        vocab = Vocabulary.load(vf, open_map=True)  # + the open vocabulary (inference only)
        if len(vocab) != cfg.vocab_size:
            raise ckpt.CheckpointError(f"{folder.name}: vocabulary has {len(vocab)} words, the text encoder {cfg.vocab_size}")
        return cls(cfg, nets, vocab, record, device, size=size, upsampler=upsampler, segmenter=segmenter, bank=bank,
                   t2i_mode=t2i_mode)

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
        with torch.no_grad():
            words, sent, mask = model.encode_captions(vocab, flat, self.max_words)
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

    def square_upload(self, image, notes: list[str] | None = None, bird: bool = True,
                      max_side: int | None = None) -> Image.Image:
        """The square of an upload that the edit works on: around the bird the part segmenter finds
        (t2i.partseg.crop_to_bird; NoBirdError, a ValueError, when there is none or it is too small), or the centre
        square with bird=False or without a part segmenter. max_side: the upload is first brought down to it."""
        from t2i.partseg import crop_to_bird

        kw = {} if max_side is None else {"max_side": max_side}
        notes = [] if notes is None else notes
        square = None
        if bird:
            image = prepare_upload(image, notes=notes, square=False, **kw)
            try:
                square = crop_to_bird(self.segmenter, image, notes)
            except ckpt.CheckpointError:  # no part segmenter here: the centre square
                pass
        if square is None:
            square = prepare_upload(image, notes=notes, **kw)
        colour_note(square, notes)
        return square

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

    def edit_tensors(self, x: Tensor, t: Tensor, config: EditConfig | None = None, texts: list[str] | None = None,
                     masks: Tensor | None = None, progress=None) -> dict[str, Tensor]:
        """Batched edit of images x [N, 3, S, S] towards text features t [N, w_dim] with `config` (None =
        EditConfig.masked()): returns w0 = E(x) (refined for the inversion steps, see invert), inversion G(w0), w,
        edited (all detached, images clamped to [-1, 1]) and, for a masked edit, "mask". Each image's optimisation
        is independent of the others in the batch (per-coordinate Adam), so batching changes nothing but speed.
        texts: the edit texts (the DAMSM guidance and the part masks read them); masks: the part masks m
        [N, 1, S, S] in [0, 1] to use instead of the segmenter's (the edit is then a masked one).
        progress(i, total) counts the inversion's steps and the edit's."""
        config = EditConfig.masked() if config is None else config
        x = x.to(self.device)
        if config.part_mask and masks is None:
            if texts is None:
                raise ValueError("a part-masked edit needs the texts (they name the parts)")
            masks = self.part_masks(x, texts)
        invert_steps = self.cfg.invert_steps if config.invert_steps is None else config.invert_steps
        total = max(invert_steps, 0) + config.steps  # progress counts both phases: progress(i, total)
        w0 = self.invert(x, steps=invert_steps, lr=config.invert_lr, wplus=config.wplus,
                         progress=None if progress is None else (lambda i, _: progress(i, total)))
        inversion = self.synthesize(w0)
        extra = {} if masks is None else {"mask": masks}
        if config.steps <= 0:
            return {"w0": w0, "inversion": inversion, "w": w0.clone(), "edited": inversion.clone(), **extra}
        objective = self.objective(x, config, texts, masks)
        step = None if progress is None else (lambda i, _: progress(invert_steps + i, total))
        w, edited = objective.optimise(self.G, w0, t.to(self.device), config.steps, config.lr, step)
        return {"w0": w0, "inversion": inversion, "w": w, "edited": edited, **extra}

    def objective(self, x: Tensor, config: EditConfig, texts: list[str] | None = None,
                  masks: Tensor | None = None) -> EditObjective:
        """The EditObjective of `config` for images x: preservation weights lam * per_weight / pix_weight, the DAMSM
        guidance (needs the texts), the part masks (a masked edit)."""
        lam_per, lam_pix = config.lam * config.per_weight, config.lam * config.pix_weight
        guidance = None
        if config.guidance > 0:
            if texts is None:
                raise ValueError("DAMSM guidance needs the texts; pass texts=[...] or guidance=0")
            guidance = self.guidance_loss(texts, config.guidance)
        return EditObjective(x.to(self.device), lam_per, lam_pix, self.perceptual if lam_per > 0 else None, guidance,
                             None if masks is None else masks.to(self.device))

    def open_rewrite(self, text: str) -> str:
        """The text as the model reads it: open-vocabulary words replaced ('crimson belly' -> 'red belly')."""
        return self.vocab.open_map.rewrite(text) if self.vocab.open_map is not None else text

    @property
    def retrieves(self) -> bool:
        """Whether text-to-image is by retrieval ("retrieve", "retrieve-auto" or "retrieve-edit")."""
        return self.t2i_mode.startswith("retrieve")

    def _retrieve(self, texts: list[str], steps: int, progress=None, seed: int = 0,
                  seeds: list[int] | None = None) -> Tensor:
        """Images of the texts by retrieval (t2i.cigan_retrieval.retrieve_and_edit) in the pipeline's mode: no edit in
        "retrieve" (editing every bird cost 0.06 in-species PartAcc for 0.01 on novel combinations, train/README),
        `steps` edit steps where DAMSM's match is low in "retrieve-auto", on every bird in "retrieve-edit"."""
        steps = 0 if self.t2i_mode == "retrieve" else steps
        gate = AUTO_EDIT_BELOW if self.t2i_mode == "retrieve-auto" else None
        return retrieve_and_edit(self, texts, seed=seed, steps=steps, progress=progress, seeds=seeds,
                                 gate=gate)[1].clamp(-1, 1)

    def generate_tensors(self, texts: list[str], seed: int = 0, steps: int = GEN_STEPS, lr: float = GEN_LR,
                         psi: float = GEN_PSI, progress=None) -> Tensor:
        """One image per text [N, 3, S, S] in [-1, 1], by the pipeline's t2i_mode: "retrieve" / "-auto" / "-edit" (ours,
        t2i.cigan_retrieval.retrieve_and_edit: the seed picks the retrieved birds, `steps` edit steps in "-auto" and
        "-edit" (EditPipeline._retrieve); lr and psi unused) or "paper"
        (random starts drawn from `seed`, truncation psi, `steps` Adam steps at lr towards t)."""
        if self.retrieves:
            return self._retrieve(texts, steps, progress, seed=seed)
        t, _, _ = self.encode_text(texts)
        g = torch.Generator().manual_seed(int(seed))
        _, img = generate_from_text(self.G, None, t, steps=steps, lr=lr, psi=psi, generator=g, progress=progress)
        return img.clamp(-1, 1)

    # --- the app's calls --------------------------------------------------------------------------------------------
    def edit(self, image, text: str, steps: int | None = None, lam: float | None = None, seed: int = 0,
             progress=None, lr: float | None = None, invert_steps: int | None = None,
             guidance: float | None = None, part_mask: bool | None = None,
             config: EditConfig | None = None, full_size: bool | None = None,
             find_bird: bool = True) -> EditResult:
        """Edit an uploaded bird picture towards `text`.

        image: PIL image (any mode or size), a path, bytes or an array; made square RGB at the model size.
        config: the edit's settings (None = EditConfig.masked(), or EditConfig.whole() with part_mask=False);
        steps, lam, lr, invert_steps, guidance, part_mask change that one setting of it (None keeps it): steps,
        optimisation steps (0 returns the inversion); lam, preservation strength (0 = text only, 1 = the calibrated
        default, larger keeps more of the input); invert_steps, refinement steps of the inversion before the edit
        (0 = E(x) as is); guidance, weight of the DAMSM guidance (0 = the paper's objective only); part_mask,
        change only the parts the text names and keep the rest of the upload (ours; False = the whole image is the
        generator's, as in the paper). seed: accepted for symmetry with generate: editing is deterministic (constant
        noise, deterministic start E(x)), so the seed changes nothing; progress: called as progress(i, n) after
        every step (n = invert_steps + steps). full_size (None: when the pipeline's size is upsampled): also the edit
        at the upload's own resolution, res.full_edited (t2i.upsampling.composite_edit: the 4x upsampler's image
        pasted into the square upload, res.upload, inside the part mask; the whole image for a whole-image edit).
        find_bird: edit the square around the bird the part segmenter finds in the upload (square_upload; an upload
        without a bird raises NoBirdError); False: the centre square.
        Raises CaptionError (bad text) or ValueError (bad image or parameters) with a user-readable message."""
        t0 = time.perf_counter()
        text = check_caption(text)
        if config is None:
            config = EditConfig.whole() if part_mask is False else EditConfig.masked()
        config = config.replace(steps=steps, lam=lam, lr=lr, invert_steps=invert_steps, guidance=guidance,
                                part_mask=part_mask)
        _check_int("seed", seed, -2 ** 63, 2 ** 63 - 1)
        t, read, unknown, mapped = self.encode_text_full([text])
        notes: list[str] = []
        full = self.size is not None if full_size is None else bool(full_size)
        square = self.square_upload(image, notes, bird=find_bird)  # at its own side (prepare_upload's limits)
        upload = square if full else None
        img, x = self.prepare(square)
        # the part masks and the DAMSM guidance read the text as the model did ('crimson belly' -> red belly)
        seen = self.open_rewrite(text)
        out = self.edit_tensors(x, t, config, texts=[seen], progress=progress)
        inv, edited = to_pil(out["inversion"])[0], to_pil(out["edited"])[0]
        mask = out["mask"][0, 0].float().cpu().numpy() if "mask" in out else None
        res = EditResult(original=img, inversion=inv, edited=edited, seconds=0.0, w_inverted=out["w0"].cpu(),
                         w_edited=out["w"].cpu(), text=text, words=read[0], unknown=unknown[0], mapped=mapped[0],
                         notes=notes, mask=mask, upload=upload)
        if full:
            res.full_edited = composite_edit(upload, edited, mask, self.upsampler())
            res.full_inversion = upsample_images(self.upsampler(), [inv])[0]
        res.seconds = time.perf_counter() - t0
        return res

    def generate(self, text: str, seed: int = 0, n: int = 1, steps: int = GEN_STEPS, progress=None,
                 psi: float = GEN_PSI) -> list[Image.Image]:
        """n images for `text`: random starts w0 = mapping(z) from `seed` (truncation psi towards w_avg), optimised
        towards t for `steps` steps (progress(i, steps) after each). Same text + seed -> same images."""
        text = check_caption(text)
        n = _check_int("n", n, 1, 64)
        steps = _check_int("steps", steps, 0, MAX_STEPS)
        seed = _check_int("seed", seed, -2 ** 63, 2 ** 63 - 1)
        return to_pil(self.generate_tensors([text] * n, seed=seed % 2 ** 63, steps=steps, psi=psi, progress=progress))

    def __call__(self, captions: str | list[str], seed: int = 0, n: int = 1, truncation: float | None = None,
                 seeds: list[int] | None = None, steps: int = GEN_STEPS, progress=None,
                 size: int | None = None) -> GenerationResult:
        """Text-to-image in the call shape both pipelines share (t2i.pipeline.Pipeline): n images per caption
        (generate), with what the text encoder read, mapped and ignored; images only (no stages, masks or word
        attention). truncation: the psi of the random starts (None = GEN_PSI); seeds (one per image, n = len(seeds)):
        image j comes from seeds[j] alone, so a call with [s] redraws it; steps, progress: as generate; size: the
        output side (None: the pipeline's; 256: through the 4x upsampler, the model's own in result.originals)."""
        t0 = time.perf_counter()
        out_size = self.output_size(size)  # a bad size is refused before anything is drawn
        captions = [captions] if isinstance(captions, str) else list(captions)
        if not captions:
            raise CaptionError("no caption given")
        psi = GEN_PSI if truncation is None else _check_float("truncation", truncation, 0.0, 10.0)
        images, caps, read, unknown, mapped = [], [], [], [], []
        for c in captions:
            c = check_caption(c)
            if seeds is None:
                images += self.generate(c, seed=seed, n=n, steps=steps, progress=progress, psi=psi)
            elif self.retrieves:  # one batch: each image's bird is its seed's alone
                img = self._retrieve([c] * len(seeds), _check_int("steps", steps, 0, MAX_STEPS), progress,
                                     seeds=[_check_int("seed", v, -2 ** 63, 2 ** 63 - 1) for v in seeds])
                images += to_pil(img)
            else:
                images += [self.generate(c, seed=v, steps=steps, progress=progress, psi=psi)[0] for v in seeds]
            k = n if seeds is None else len(seeds)
            _, r, u, m = self.encode_text_full([c])
            caps, read, unknown, mapped = caps + [c] * k, read + r * k, unknown + u * k, mapped + m * k
        per_seed = [int(v) for v in seeds] * len(captions) if seeds is not None else []
        res = GenerationResult(captions=caps, images=images, stages=[images], words=read, unknown=unknown,
                               mapped=mapped, seeds=per_seed,
                               notes=[retrieve_note(self.t2i_mode)] if self.retrieves else [])
        res = self.resized(res, out_size)
        res.seconds = time.perf_counter() - t0
        return res


def edit_strip(res: EditResult, scale: int = 2) -> Image.Image:
    """A before | inversion | after strip with labels (the CLI's output)."""
    return tile([res.original, res.inversion, res.edited], nrow=3, scale=scale,
                captions=["input", "inversion G(E(x))", f"edited: {res.text}"])


def edit_file(model, image, text: str, out, steps: int | None = None, lam: float | None = None, seed: int = 0,
              device: str = "cpu", invert_steps: int | None = None, guidance: float | None = None,
              part_mask: bool = True) -> EditResult:
    """Load, edit and write the strip to `out` (PNG); returns the result. None keeps the mode's preset value."""
    pipe = EditPipeline.from_pretrained(model, device=device)
    res = pipe.edit(image, text, steps=steps, lam=lam, seed=seed, invert_steps=invert_steps, guidance=guidance,
                    part_mask=part_mask)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    edit_strip(res).save(out)
    return res
