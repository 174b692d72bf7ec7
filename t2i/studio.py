"""The studio's logic, independent of Gradio: model discovery and cache, generate-and-package, look inside,
compare, edit, latent-space figures and model cards. app.py only wires these to components.

    studio = Studio()                                   # models from $T2I_CHECKPOINTS (default checkpoints/)
    gen = studio.generate("a small bird with a red belly and black wings", "swfgan-synthbirds-64", seed=0, n=4)
    gen.gallery, gen.grid_path, gen.info               # display images, downloadable PNG grid, a Markdown line
    inside = studio.look_inside(caption, model, seed=0, n=4, index=0)   # stages, masks, word attention, CAM

Everything a user can get wrong raises `StudioError` (or CaptionError / ImageInputError, all ValueErrors) with a
message meant to be shown as is. Pipelines are loaded once, lazily, under a lock, and shared by all users.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from t2i import checkpoint as ckpt
from t2i.imageio import prepare_upload
from t2i.pipeline import MAX_RERANK, GenerationResult, check_caption, check_number, list_models, load_pipeline
from t2i.viz.grids import overlay

log = logging.getLogger("t2i.studio")

EXAMPLES_DIR = ckpt.REPO_ROOT / "examples"
CLASSIFIER_NAME = "attr-classifier-synthbirds-64"
DISPLAY_SIDE = 256  # images are shown at this side (the models make 32-256 px birds)
MAX_IMAGES = 8  # per Generate request
BEST_OF = 4  # the Generate tab's default best-of-k (DAMSM reranking of the GANs' draws; 1 = plain draws)
MAX_EDIT_STEPS = 300
EDIT_GUIDANCE = 10.0  # the Edit tab's default DAMSM guidance weight (= t2i.edit.MASKED_GUIDANCE, the default
# part-masked edit; a test keeps them equal)
UPLOAD_WORK_SIDE = 1024  # uploads are brought down to this side before the edit model resizes them
TSNE_FILES = {"tsne_cycle.png": "with cycle consistency", "tsne_nocycle.png": "without cycle consistency",
              "tsne.png": "t-SNE of W"}
EDIT_UNAVAILABLE = ("**Editing model not available.** Text-guided editing needs a trained CI-GAN checkpoint "
                    "(a folder in `{root}` whose config.json has `\"model_type\": \"cigan\"`) and the edit pipeline "
                    "(`t2i.edit`). Train one with the three configs `train/cigan_{{stylegan,encoder,aligner}}_synthbirds64.toml` "
                    "(train/README.md) or point `T2I_CHECKPOINTS` / `T2I_MODELS` to one.")
CAM_UNAVAILABLE = ("CAM saliency needs the attribute classifier `{name}` in `{root}` (train it with "
                   "`python -m t2i train attr-classifier`); it is not there, so the CAM view is hidden.")

# What each family is: (paper, what it adds). Shown in the Models tab and the model picker.
FAMILY_INFO: dict[str, tuple[str, str, str]] = {
    "dfgan": ("DF-GAN", "Tao et al., *DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis*, CVPR 2022",
              "The one-stage baseline: deep text-image fusion (affine blocks conditioned on [z; sentence]), a one-way "
              "discriminator and the matching-aware gradient penalty (MA-GP)."),
    "ssagan": ("SSA-GAN", "Liao et al., *Text to Image Generation with Semantic-Spatial Aware GAN*, CVPR 2022",
               "Baseline with a predicted mask per block that decides *where* the sentence modulates the features "
               "(semantic-spatial aware conditional batch norm), plus the DAMSM loss."),
    "swfgan": ("SWF-GAN", "Seed 000 (patent): sentence-word semantic-space fusion GAN",
               "Coordinate-attention masks; sentence-level affine fusion in the early blocks and word-level fusion "
               "(per-word attention over image regions) in the late blocks."),
    "csagan": ("CSA-GAN", "Seed 001: CSA-GAN, conditional semantic augmentation GAN",
               "Conditioning augmentation of the sentence, learned spatial masks for spatial-semantic fusion and a "
               "residual generator branch G0."),
    "ecagan": ("ECAGAN", "Seed 002a: ECAGAN (Zhang et al., Computer Engineering 2022)",
               "Three stages (DM-GAN lineage): CARAFE content-aware up-sampling and channel attention in the first "
               "stage, dynamic-memory refinement stages, and a perceptual loss."),
    "caegan": ("CAE-GAN", "Seed 002b: CAE-GAN (Tan et al., Computer Science 2022)",
               "A cross-attention (Transformer-style) encoder aligns words with visual features before a three-stage "
               "dynamic-memory generator."),
    "ffgan": ("FF-GAN", "Seed 003: FF-GAN, feature-fusion GAN (Xu et al.)",
              "Three stages with one discriminator: dense feature fusion of sentence and word-attention vectors and "
              "residual feature-pyramid attention (FPAM)."),
    "cigan": ("CI-GAN", "Seed 004: CI-GAN, cycle-consistent inverse GAN",
              "StyleGAN2 + an inversion encoder trained with latent cycle consistency + a text encoder aligned to W "
              "with InfoNCE; generates and edits by optimising the latent towards the text."),
    "attr-classifier": ("Attribute classifier", "SynthBirds evaluation model (DESIGN.md, AttrAcc)",
                        "Reads each CUB attribute (belly colour, wing pattern, ...) from an image: the AttrAcc metric "
                        "and the CAM saliency views."),
    "species-classifier": ("Species classifier", "SynthBirds evaluation model (the Inception Score's classifier)",
                           "Reads which of the 200 SynthBirds species an image shows: the Inception Score, as CUB's "
                           "IS uses an Inception-v3 fine-tuned on CUB's species."),
    "damsm": ("DAMSM", "Xu et al., *AttnGAN*, CVPR 2018 (DAMSM text and image encoders)",
              "The frozen text encoder every GAN but CI-GAN reads captions with, and the R-precision metric."),
    "part-segmenter": ("Part segmenter", "ours (a small U-Net on SynthBirds part maps)",
                       "Finds the belly, wings, crown ... of an upload, so that an edit changes only the part the "
                       "text names."),
}

# Metric keys (config.json "metrics") -> (label, format, lower is better)
METRIC_LABELS: dict[str, tuple[str, str, bool]] = {
    "part_acc/in_species": ("PartAcc", "{:.3f}", False),
    "part_acc/novel": ("PartAcc, new combinations", "{:.3f}", False),
    "part_acc/freestyle": ("PartAcc, free-style", "{:.3f}", False),
    "diversity": ("diversity", "{:.3f}", False),
    "attr_acc": ("AttrAcc", "{:.3f}", False),
    "attr_acc_ceiling": ("AttrAcc of real images", "{:.3f}", False),
    "fid": ("FID", "{:.2f}", True),
    "r_precision": ("R-precision (DAMSM it trained with)", "{:.3f}", False),
    "r_precision_eval": ("R-precision", "{:.3f}", False),
    "is": ("IS", "{:.2f}", False),
    "gen_images_per_s": ("images / s", "{:.1f}", False),
    "params_G": ("generator parameters", "{:,}", False),
    "train_steps": ("training steps", "{:,}", False),
    "train_wall_s": ("training time (s)", "{:,.0f}", False),
    "psnr": ("inversion PSNR (dB)", "{:.2f}", False),
    "n_images": ("images scored", "{:,}", False),
}
PICKER_METRICS = ("part_acc/in_species", "part_acc/novel", "diversity", "attr_acc", "fid", "r_precision_eval")
# Without metrics, the default model is the first of these that is trained (the project's own models first).
DEFAULT_ORDER = ("swfgan", "csagan", "ffgan", "ecagan", "caegan", "ssagan", "dfgan", "cigan")
KIND_ORDER = {"t2i": 0, "edit": 1, "classifier": 2, "text": 3, "other": 4}


class StudioError(ValueError):
    """Something the user can fix (no model, bad choice); the message is shown as is."""


# ---------------------------------------------------------------------------------------------------------------
# Where the models are
# ---------------------------------------------------------------------------------------------------------------
def checkpoints_root() -> Path:
    """$T2I_CHECKPOINTS, else the repository's checkpoints/."""
    env = os.environ.get("T2I_CHECKPOINTS", "").strip()
    return Path(env).expanduser() if env else ckpt.SHIPPED


def hub_model_ids() -> list[str]:
    """$T2I_MODELS="user/a,user/b": extra models by Hugging Face Hub id (or folder path)."""
    return [s.strip() for s in os.environ.get("T2I_MODELS", "").split(",") if s.strip()]


def model_kind(record: dict) -> str:
    """'t2i' (text-to-image GAN), 'edit' (CI-GAN), 'classifier', 'text' (DAMSM) or 'other'."""
    mt = record.get("model_type")
    if mt == "cigan":
        return "edit"
    if mt == "attr-classifier":
        return "classifier"
    if mt == "damsm":
        return "text"
    try:
        from t2i.models.registry import get_family

        fam = get_family(mt)
    except (KeyError, ImportError):
        return "other"
    return "t2i" if fam.text_conditional and "text_encoder" in record.get("components", []) else "other"


def _known_type(model_type) -> bool:
    """A model type this version can load (a registered family or one of the helper models)."""
    from t2i.models.registry import list_families

    return model_type in (*list_families(), "cigan", "attr-classifier", "damsm", "part-judge", "part-segmenter",
                          "species-classifier")


def parse_flag(name: str, value) -> bool:
    """A yes/no input: a bool, 0/1, or true/false, yes/no, on/off (any case); anything else is refused
    (bool("no") would be True)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise StudioError(f"{name} must be yes or no, got {value!r}")


@dataclass
class ModelEntry:
    """One model folder the studio knows: its name (folder name or Hub id), folder and config record."""

    name: str
    folder: Path
    record: dict
    kind: str

    @property
    def model_type(self) -> str:
        return self.record.get("model_type", "?")

    @property
    def trained(self) -> bool:
        return (self.folder / ckpt.WEIGHTS).is_file()

    @property
    def metrics(self) -> dict:
        m = self.record.get("metrics")
        return m if isinstance(m, dict) else {}

    @property
    def family_name(self) -> str:
        return FAMILY_INFO.get(self.model_type, (self.model_type,))[0]

    @property
    def stage(self) -> str | None:
        cfg = self.record.get("config")
        return cfg.get("stage") if isinstance(cfg, dict) else None

    def metrics_line(self, keys=PICKER_METRICS) -> str:
        parts = []
        for k in keys:
            v = self.metrics.get(k)
            if isinstance(v, (int, float)):
                label, fmt, _ = METRIC_LABELS.get(k, (k, "{:.3g}", False))
                parts.append(f"{label} {fmt.format(v)}")
        return " · ".join(parts)

    def label(self) -> str:
        """The model picker's text: name, family, AttrAcc when recorded, and whether it is trained (short: the
        full metrics line is shown under the picker)."""
        bits = [self.name, self.family_name]
        for key, name in (("part_acc/in_species", "PartAcc"), ("attr_acc", "AttrAcc")):
            if isinstance(self.metrics.get(key), (int, float)):
                bits.append(f"{name} {self.metrics[key]:.2f}")
                break
        if not self.trained:
            bits.append("not trained yet")
        return " · ".join(bits)


def discover_models(root: Path | None = None, extra: list[str] | None = None,
                    problems: list[str] | None = None) -> list[ModelEntry]:
    """Model folders under `root` (list_models) and extra names (Hub ids or folders), trained ones first."""
    root = checkpoints_root() if root is None else Path(root)
    problems = [] if problems is None else problems
    out: list[ModelEntry] = []
    for rec in list_models(root, problems):
        rec = dict(rec)
        name, path = rec.pop("name"), Path(rec.pop("path"))
        kind = model_kind(rec)
        if kind == "other" and not _known_type(rec.get("model_type")):
            problems.append(f"{name} skipped: unknown model type {str(rec.get('model_type'))[:40]!r}")
            continue
        out.append(ModelEntry(name, path, rec, kind))
    for ident in extra or []:
        try:
            folder = ckpt.resolve(ident)
            rec = ckpt.read_config(folder)
        except (ckpt.CheckpointError, OSError) as e:
            problems.append(f"model {ident!r} skipped: {e}")
            log.warning("model %r skipped: %s", ident, e)
            continue
        if any(e.folder.resolve() == folder.resolve() for e in out):
            continue
        out.append(ModelEntry(ident, folder, rec, model_kind(rec)))
    return sorted(out, key=lambda e: (not e.trained, e.name))


# ---------------------------------------------------------------------------------------------------------------
# Drawing helpers
# ---------------------------------------------------------------------------------------------------------------
_FONTS: dict[tuple[int, bool], ImageFont.ImageFont] = {}


def font(size: int = 14, bold: bool = False):
    """DejaVu Sans from matplotlib's data (always installed with it); PIL's default font otherwise."""
    key = (size, bold)
    if key not in _FONTS:
        try:
            import matplotlib

            name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
            _FONTS[key] = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
        except (OSError, ImportError):
            _FONTS[key] = ImageFont.load_default(size=size)
    return _FONTS[key]


def upscale(im: Image.Image, side: int = DISPLAY_SIDE) -> Image.Image:
    """Bring a small model image up to `side` for display (smooth), keep larger ones."""
    if im.size[0] >= side:
        return im
    return im.resize((side, round(side * im.size[1] / im.size[0])), Image.LANCZOS)


def _wrap(draw: ImageDraw.ImageDraw, text: str, fnt, width: int, max_lines: int = 3) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if draw.textlength(trial, font=fnt) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and draw.textlength(lines[-1] + "…", font=fnt) > width:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
    return lines


def labelled_grid(rows: list[list[Image.Image | None]], col_labels: list[str] | None = None,
                  row_labels: list[str] | None = None, side: int = 160, pad: int = 8,
                  bg=(255, 255, 255), fg=(31, 41, 55)) -> Image.Image:
    """A sheet of images (rows x columns, None = empty cell) with wrapped column headers and row labels."""
    ncol = max(len(r) for r in rows)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    f_col, f_row = font(13, True), font(13, True)
    col_lines = [_wrap(probe, c, f_col, side) for c in col_labels] if col_labels else []
    head = (max(len(c) for c in col_lines) * 16 + 8) if col_lines else 0
    row_w = (max(int(probe.textlength(w, font=f_row)) for r in row_labels for w in r.split("\n")) + 2 * pad) \
        if row_labels else 0
    row_w = min(row_w, 220)
    W = row_w + ncol * (side + pad) + pad
    H = head + len(rows) * (side + pad) + pad
    sheet = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(sheet)
    for j, lines in enumerate(col_lines):
        x = row_w + pad + j * (side + pad)
        for k, line in enumerate(lines):
            d.text((x + side / 2, pad + k * 16), line, fill=fg, font=f_col, anchor="ma")
    for i, r in enumerate(rows):
        y = head + pad + i * (side + pad)
        if row_labels:
            lines = []
            for part in row_labels[i].split("\n"):
                lines += _wrap(d, part, f_row, row_w - 2 * pad, 2)
            y0 = y + side / 2 - 8 * len(lines)
            for k, line in enumerate(lines):
                d.text((pad, y0 + 16 * k), line, fill=fg, font=f_row)
        for j, im in enumerate(r):
            if im is not None:
                sheet.paste(im.convert("RGB").resize((side, side), Image.LANCZOS), (row_w + pad + j * (side + pad), y))
    return sheet


def difference_map(a: Image.Image, b: Image.Image, cmap: str = "magma") -> tuple[Image.Image, float]:
    """|a - b| averaged over colour, scaled to its maximum and coloured; and the mean change in [0, 1]."""
    from matplotlib import colormaps

    x = np.asarray(a.convert("RGB"), dtype=np.float32) / 255.0
    y = np.asarray(b.convert("RGB").resize(a.size), dtype=np.float32) / 255.0
    d = np.abs(x - y).mean(-1)
    m = float(d.max())
    if m < 1.5 / 255:  # nothing changed (at 8 bits): say so instead of showing a black square
        tile = Image.new("RGB", a.size, (229, 231, 235))
        side = max(a.size[0], 96)
        tile = tile.resize((side, side))
        ImageDraw.Draw(tile).text((side / 2, side / 2), "no change", fill=(75, 85, 99), font=font(side // 8),
                                  anchor="mm")
        return tile, float(d.mean())
    rgb = colormaps[cmap](d / m)[..., :3]
    return Image.fromarray((rgb * 255).astype(np.uint8)), float(d.mean())


def word_attention_sheet(image: Image.Image, maps: np.ndarray, words: list[str], side: int = 112,
                         per_row: int = 6) -> Image.Image:
    """One layer's word attention [L, h, w] over the image: a tile per word, the word above it. Maps share one
    scale (the layer's maximum), so a word the layer hardly uses stays faint."""
    L = min(len(words), len(maps))
    if L == 0:
        raise StudioError("no words to show")
    m = maps[:L].astype(np.float32)
    top = float(m.max())
    m = m / top if top > 0 else m
    from t2i.viz.cam import heatmap

    base = image.convert("RGB").resize((side, side), Image.LANCZOS)
    tiles = [heatmap(base, m[i], alpha=0.75, cmap="inferno") for i in range(L)]
    rows = [tiles[i:i + per_row] for i in range(0, L, per_row)]
    labels = [words[i:i + per_row] for i in range(0, L, per_row)]
    pad, head = 6, 22
    W = pad + min(per_row, L) * (side + pad)
    H = len(rows) * (side + head + pad) + pad
    sheet = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    f = font(14, True)
    for r, (row, labs) in enumerate(zip(rows, labels)):
        y = pad + r * (side + head + pad)
        for c, (t, w) in enumerate(zip(row, labs)):
            x = pad + c * (side + pad)
            d.text((x + side / 2, y + 2), w, fill=(31, 41, 55), font=f, anchor="ma")
            sheet.paste(t, (x, y + head))
    return sheet


def stack_sheets(items: list[tuple[Image.Image, str]], pad: int = 8, top: int = 34) -> Image.Image:
    """Images stacked vertically, each under a bold title (e.g. one word-attention sheet per layer)."""
    f = font(14, True)
    W = max(im.size[0] for im, _ in items) + 2 * pad
    H = sum(im.size[1] + 24 for im, _ in items) + pad * len(items) + top
    out = Image.new("RGB", (W, H), (255, 255, 255))
    d = ImageDraw.Draw(out)
    y = top  # room for a UI label laid over the image's top-left corner
    for im, title in items:
        d.text((pad, y), title, fill=(13, 148, 136), font=f)
        out.paste(im, (pad, y + 24))
        y += im.size[1] + 24 + pad
    return out


# ---------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Generation:
    result: GenerationResult
    gallery: list[tuple[Image.Image, str]]  # display-size images with their captions
    grid_path: Path  # the downloadable PNG grid (native pixels, lightly upscaled)
    info: str  # Markdown: what was read, ignored, how long it took


@dataclass
class Inside:
    image: Image.Image  # the chosen image, display size
    stages: list[tuple[Image.Image, str]]
    masks: list[tuple[Image.Image, str]]
    word_attn: list[tuple[Image.Image, str]]  # one sheet per attention layer, with the layer's name
    word_attn_sheet: Image.Image | None  # all layers stacked, titled (None: the model has no word attention)
    cam: Image.Image | None
    cam_info: str
    attribute_choices: list[tuple[str, str]]  # (label, "group::value") for the CAM picker
    attribute: str | None  # the one shown
    info: str


@dataclass
class Comparison:
    sheet: Image.Image
    info: str
    rows: dict[str, list[Image.Image]] = field(default_factory=dict)  # model -> images (A then B)


@dataclass
class EditOutput:
    original: Image.Image
    inversion: Image.Image
    edited: Image.Image
    info: str
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# The studio
# ---------------------------------------------------------------------------------------------------------------
def vocab_notes(mapped, ignored) -> list[str]:
    """Info lines of the open vocabulary: 'Read as: crimson → red, …' and 'Ignored (nothing in the model's
    vocabulary fits): ~~plump~~ …'."""
    out = []
    if mapped:
        out.append("Read as: " + ", ".join(f"{a} → `{b}`" for a, b in mapped[:12]) + (" …" if len(mapped) > 12 else ""))
    unk = sorted(set(ignored or []))
    if unk:
        out.append("Ignored (nothing in the model's vocabulary fits): " + ", ".join(f"~~{w}~~" for w in unk[:12])
                   + (" …" if len(unk) > 12 else ""))
    return out


class _EditAsGenerator:
    """Lets CI-GAN's EditPipeline serve the Generate and Compare tabs (images only: no masks or attention)."""

    def __init__(self, pipe, steps: int = 50):
        self.pipe, self.steps = pipe, steps

    def __call__(self, captions, seed=0, n=1, truncation=None):
        captions = [captions] if isinstance(captions, str) else list(captions)
        t0 = time.perf_counter()
        images, caps, read, unknown, mapped = [], [], [], [], []
        for c in captions:
            c = check_caption(c)
            images += list(self.pipe.generate(c, seed=seed, n=n, steps=self.steps))
            caps += [c] * n
            if hasattr(self.pipe, "encode_text_full"):  # what was read, mapped and ignored (for the info line)
                _, r, u, m = self.pipe.encode_text_full([c])
                read, unknown, mapped = read + r * n, unknown + u * n, mapped + m * n
        return GenerationResult(captions=caps, images=images, stages=[images], words=read, unknown=unknown,
                                mapped=mapped, seconds=time.perf_counter() - t0)


class Studio:
    """Models (discovered once), their pipelines (loaded once, lazily, thread-safe) and every tab's logic."""

    def __init__(self, root: str | Path | None = None, extra_models: list[str] | None = None, device: str = "cpu",
                 out_dir: str | Path | None = None, result_cache: int = 16, edit_parallel: int = 2):
        self.root = checkpoints_root() if root is None else Path(root)
        self.problems: list[str] = []
        self.entries = discover_models(self.root, hub_model_ids() if extra_models is None else extra_models,
                                       self.problems)
        self.device = device
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / "t2i-studio"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._pipes: dict[str, object] = {}
        self._load_locks: dict[str, threading.Lock] = {}
        self._run_locks: dict[str, threading.Lock] = {}
        # edits of one model may run side by side (each optimises its own latent against frozen networks); the
        # pipeline's lazily loaded parts are loaded once, under the model's run lock, before the first edit
        self.edit_parallel = max(1, int(edit_parallel))
        self._edit_slots: dict[str, threading.BoundedSemaphore] = {}
        self._edit_warm: set[str] = set()
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple, GenerationResult] = OrderedDict()
        self._result_cache = result_cache
        self._classifier = None
        self._classifier_checked = False

    # --- models ---------------------------------------------------------------------------------------------
    def models(self, kind: str | None = None) -> list[ModelEntry]:
        return [e for e in self.entries if kind is None or e.kind == kind]

    def generators(self) -> list[ModelEntry]:
        """Every model that can generate from text: the GANs, then CI-GAN (trained ones first)."""
        return self.models("t2i") + self.edit_models()

    def edit_models(self) -> list[ModelEntry]:
        """CI-GAN folders that can edit: the final (aligner) stage when one is there, else every cigan folder."""
        cig = self.models("edit")
        final = [e for e in cig if e.stage in (None, "aligner")]
        return final or cig

    def edit_available(self) -> bool:
        if not any(e.trained for e in self.edit_models()):
            return False
        try:
            import importlib

            importlib.import_module("t2i.edit")
        except Exception as e:  # noqa: BLE001 - a missing or broken edit module disables the Edit tab only
            if not isinstance(e, ModuleNotFoundError):
                log.warning("t2i.edit cannot be imported: %s", e)
            return False
        return True

    def entry(self, name: str) -> ModelEntry:
        for e in self.entries:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.entries) or "none"
        raise StudioError(f"unknown model {name!r}; available: {known}")

    def default_generator(self) -> str | None:
        """The best trained generator by the judge's PartAcc (else AttrAcc) when recorded, else by DEFAULT_ORDER."""
        gens = [e for e in self.generators() if e.trained]
        if not gens:
            return None

        def key(e: ModelEntry):
            acc = e.metrics.get("part_acc/in_species", e.metrics.get("attr_acc"))
            rank = DEFAULT_ORDER.index(e.model_type) if e.model_type in DEFAULT_ORDER else len(DEFAULT_ORDER)
            return (-(acc if isinstance(acc, (int, float)) else -1.0), rank, e.name)

        return min(gens, key=key).name

    def catalogue(self) -> list[ModelEntry]:
        """Every model for the Models tab: generators, then the editing model, the classifier, DAMSM."""
        return sorted(self.entries, key=lambda e: (KIND_ORDER.get(e.kind, 9), not e.trained, e.name))

    def overview(self) -> str:
        """A Markdown table of the text-to-image models and their headline metrics (the Models tab's top)."""
        gens = self.generators()
        if not gens:
            return "_No text-to-image models found._"
        keys = [k for k in ("part_acc/in_species", "part_acc/novel", "diversity", "attr_acc", "fid", "gen_images_per_s")
                if any(k in e.metrics for e in gens)]
        head = ["model", "family", "px", "steps"] + [METRIC_LABELS[k][0] + (" ↓" if METRIC_LABELS[k][2] else "")
                                                    for k in keys]
        rows = []
        for e in gens:
            r = [f"`{e.name}`", e.family_name, str(e.record.get("resolution", "–")),
                 f"{e.record['step']:,}" if isinstance(e.record.get("step"), int) else "–"]
            for k in keys:
                v = e.metrics.get(k)
                r.append(METRIC_LABELS[k][1].format(v) if isinstance(v, (int, float)) else "–")
            if not e.trained:
                r[0] += " (not trained)"
            rows.append(r)
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)

    def status(self) -> str:
        """A Markdown line for the top of the app: how many models, or what to do when there are none."""
        gens = self.generators()
        trained = [e for e in gens if e.trained]
        if not gens:
            msg = (f"**No text-to-image models found** in `{self.root.name}/`. Train one, e.g. "
                   "`python -m t2i train gan --config train/swfgan_synthbirds64.toml`, copy its folder there, "
                   "or set `T2I_CHECKPOINTS` / `T2I_MODELS`.")
        elif not trained:
            msg = (f"**{len(gens)} model(s) in `{self.root.name}/`, none trained yet** (no model.safetensors). "
                   "Train them with the recipes in `train/` (`python -m t2i train gan --config ...`).")
        else:
            msg = (f"{len(trained)} trained model{'s' if len(trained) != 1 else ''} ready"
                   + (f", {len(gens) - len(trained)} not trained yet" if len(gens) > len(trained) else "")
                   + " · runs on CPU")
        if self.problems:
            msg += "\n\n" + "\n".join(f"- {p}" for p in self.problems)
        return msg

    def pipeline(self, name: str):
        """The model's pipeline, loaded on first use (one load per model even with concurrent requests)."""
        e = self.entry(name)
        if name in self._pipes:
            return self._pipes[name]
        with self._lock:
            lock = self._load_locks.setdefault(name, threading.Lock())
            self._run_locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._pipes:
                if not e.trained:
                    raise StudioError(f"model {name!r} is not trained yet: {e.folder / ckpt.WEIGHTS} is missing. "
                                      "Pick another model, or train it with the recipe in train/.")
                t0 = time.perf_counter()
                try:
                    pipe = load_pipeline(e.folder, device=self.device)
                except ckpt.CheckpointError as err:
                    raise StudioError(f"model {name!r} could not be loaded: {err}") from None
                except ImportError as err:
                    raise StudioError(f"model {name!r} needs code that is not installed: {err}") from None
                self._pipes[name] = pipe
                log.info("loaded %s in %.2fs", name, time.perf_counter() - t0)
        return self._pipes[name]

    def _generator(self, name: str):
        e = self.entry(name)
        if e.kind not in ("t2i", "edit"):
            raise StudioError(f"{name!r} is a {e.family_name} model, not a text-to-image model")
        pipe = self.pipeline(name)
        return _EditAsGenerator(pipe) if e.kind == "edit" else pipe

    def classifier(self):
        """The attribute classifier for CAM (None when it is not shipped); loaded once."""
        if not self._classifier_checked:
            with self._lock:
                if not self._classifier_checked:
                    folder = self.root / CLASSIFIER_NAME
                    cands = [folder] if (folder / ckpt.CONFIG).is_file() else \
                        [e.folder for e in self.models("classifier") if e.trained]
                    for f in cands:
                        try:
                            from t2i.eval.attributes import load_attr_classifier

                            self._classifier = load_attr_classifier(f, self.device)
                            break
                        except (ckpt.CheckpointError, TypeError, KeyError) as err:
                            self.problems.append(f"attribute classifier {f.name} not usable: {err}")
                    self._classifier_checked = True
        return self._classifier

    def cam_unavailable_message(self) -> str:
        return CAM_UNAVAILABLE.format(name=CLASSIFIER_NAME, root=f"{self.root.name}/")

    # --- generate ---------------------------------------------------------------------------------------------
    @staticmethod
    def _number(name: str, value, lo, hi, whole: bool = True, default=None):
        """pipeline.check_number (finite, in range, whole) with the studio's error type; blank -> default."""
        if value in (None, "") and default is not None:
            return default
        try:
            return check_number(name, value, lo, hi, whole)
        except ValueError as e:
            raise StudioError(str(e)) from None

    @classmethod
    def _check_n(cls, n) -> int:
        return cls._number("number of images", n, 1, MAX_IMAGES)

    @classmethod
    def _check_seed(cls, seed) -> int:
        return cls._number("the seed", seed, 0, 2 ** 63 - 1, default=0)

    @classmethod
    def _check_truncation(cls, t) -> float | None:
        if t in (None, "", 0, 0.0):
            return None
        return cls._number("truncation (0 = model default)", t, 0.0, 4.0, whole=False)

    @classmethod
    def _check_rerank(cls, k) -> int:
        return cls._number("best-of", k, 1, MAX_RERANK, default=1)

    def run(self, caption: str, model: str, seed=0, n=4, truncation=None, rerank=1) -> GenerationResult:
        """The raw GenerationResult, cached per (model, caption, seed, n, truncation, best-of) so Look inside and
        Download reuse what Generate made."""
        if not model:
            gens = self.generators()
            why = (f": none found in {self.root.name}/" if not gens else
                   ": none is trained yet (see the note at the top)" if not any(e.trained for e in gens) else "")
            raise StudioError("no model selected" + why)
        caption = check_caption(caption)
        seed, n, truncation = self._check_seed(seed), self._check_n(n), self._check_truncation(truncation)
        rerank = self._check_rerank(rerank)
        key = (model, caption, seed, n, truncation, rerank)
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        gen = self._generator(model)
        if isinstance(gen, _EditAsGenerator):
            rerank = 1  # CI-GAN already optimises each image toward the text: one draw each (the info says so)
        with self._run_locks[model]:  # one request per model at a time: the pipelines keep caches
            res = gen(caption, seed=seed, n=n, truncation=truncation, **({"rerank": rerank} if rerank > 1 else {}))
        with self._lock:
            self._results[key] = res
            while len(self._results) > self._result_cache:
                self._results.popitem(last=False)
        return res

    def generate(self, caption: str, model: str, seed=0, n=4, truncation=None, rerank=1) -> Generation:
        res = self.run(caption, model, seed, n, truncation, rerank)
        n = len(res.images)
        gallery = [(upscale(im), f"#{i + 1} · seed {seed}") for i, im in enumerate(res.images)]
        grid = self._grid_png(res, model, seed)
        info = self._info(res, model, seed)
        if self._check_rerank(rerank) > 1 and res.best_of == 1:
            info += "  \nBest of applies to the text-to-image GANs: CI-GAN optimises each image toward the text."
        return Generation(res, gallery, grid, info)

    def _grid_png(self, res: GenerationResult, model: str, seed) -> Path:
        side = res.images[0].size[0]
        scale = max(1, 128 // side)
        ims = [im.resize((side * scale, side * scale), Image.LANCZOS) if scale > 1 else im for im in res.images]
        ncol = min(len(ims), 4)
        pad = 4
        rows = (len(ims) + ncol - 1) // ncol
        s = side * scale
        grid = Image.new("RGB", (ncol * (s + pad) + pad, rows * (s + pad) + pad), (255, 255, 255))
        for i, im in enumerate(ims):
            r, c = divmod(i, ncol)
            grid.paste(im, (pad + c * (s + pad), pad + r * (s + pad)))
        meta = PngImagePlugin.PngInfo()
        meta.add_text("caption", res.captions[0])
        meta.add_text("model", model)
        meta.add_text("seed", str(seed))
        meta.add_text("software", "T2I Studio")
        digest = hashlib.sha1(f"{model}|{res.captions[0]}|{seed}|{len(ims)}|{res.scores}".encode()).hexdigest()[:10]
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)[:40]
        path = self.out_dir / f"t2i_{safe}_seed{seed}_{digest}.png"
        grid.save(path, pnginfo=meta)
        self._prune_outputs()
        return path

    def _prune_outputs(self, keep: int = 256) -> None:
        """Keep the download folder small on a long-running server: only the newest `keep` grids."""
        try:
            files = sorted(self.out_dir.glob("t2i_*.png"), key=lambda p: p.stat().st_mtime)
            for p in files[:-keep]:
                p.unlink(missing_ok=True)
        except OSError:
            pass

    @staticmethod
    def _info(res: GenerationResult, model: str, seed) -> str:
        n = len(res.images)
        side = res.images[0].size[0]
        parts = [f"**{n} image{'s' if n != 1 else ''}** from `{model}` · seed {seed} · {side}×{side} px · "
                 f"{res.seconds:.2f} s"]
        if res.scores:
            parts.append(f"Best {n} of {n * res.best_of} draws, by DAMSM match to the caption (best first): "
                         + " · ".join(f"{s:.2f}" for s in res.scores))
        if res.words:
            parts.append("Words read: " + " ".join(f"`{w}`" for w in res.words[0]))
        parts += vocab_notes(res.mapped[0] if res.mapped else [], res.unknown[0] if res.unknown else [])
        if res.words and res.cut and res.cut[0]:
            parts.append(f"Long caption: the model reads at most {len(res.words[0])} words; the rest was cut.")
        return "  \n".join(parts)

    # --- look inside ------------------------------------------------------------------------------------------
    def attribute_choices(self, caption: str = "") -> list[tuple[str, str]]:
        """CAM targets as (label, 'group::value'): the attributes the caption mentions first (with its words),
        then every value the classifier knows."""
        clf = self.classifier()
        if clf is None:
            return []
        from t2i.data.synthbirds import ATTR_PART, parse_caption

        groups = clf.cfg.groups
        mentioned = {}
        try:
            mentioned = {g: v for g, v in parse_caption(caption or "").items() if g in groups and v in groups[g]}
        except Exception:  # noqa: BLE001 - the parser is for SynthBirds captions; anything else: nothing mentioned
            mentioned = {}
        out = [(f"★ {ATTR_PART.get(g, g)}: {v.replace('_', ' ')} (in the caption)", f"{g}::{v}")
               for g, v in mentioned.items()]
        seen = {v for _, v in out}
        for g, vals in groups.items():
            for v in vals:
                if f"{g}::{v}" not in seen:
                    out.append((f"{ATTR_PART.get(g, g)}: {v.replace('_', ' ')}", f"{g}::{v}"))
        return out

    def cam(self, image: Image.Image, attribute: str | None, caption: str = "") -> tuple[Image.Image, str, str]:
        """(heat overlay at display size, Markdown, the attribute used) of Grad-CAM for 'group::value'
        (None/'': the first attribute the caption mentions, else the predicted overall colour)."""
        clf = self.classifier()
        if clf is None:
            raise StudioError(self.cam_unavailable_message())
        from t2i.data.synthbirds import ATTR_PART
        from t2i.viz.cam import grad_cam, heatmap, predict_probs

        if not attribute:
            choices = self.attribute_choices(caption)
            mentioned = [v for lab, v in choices if lab.startswith("★")]
            attribute = mentioned[0] if mentioned else None
        probs = predict_probs(clf, image)
        if attribute is None:
            g = "has_primary_color" if "has_primary_color" in clf.cfg.groups else next(iter(clf.cfg.groups))
            attribute = f"{g}::{probs[g][0][0]}"
        group, _, value = attribute.partition("::")
        if group not in clf.cfg.groups or value not in clf.cfg.groups[group]:
            raise StudioError(f"unknown attribute {attribute!r}: pick one from the list")
        cam = grad_cam(clf, image, group, value)
        p = dict(probs[group])[value]
        top, top_p = probs[group][0]
        part = ATTR_PART.get(group, group)
        info = (f"Grad-CAM of the attribute classifier for **{part} = {value.replace('_', ' ')}** "
                f"(p = {p:.2f}). It reads {part} as **{top.replace('_', ' ')}** (p = {top_p:.2f}). "
                "Red/yellow = the pixels that raise this reading the most.")
        return heatmap(upscale(image), cam), info, attribute

    def look_inside(self, caption: str, model: str, seed=0, n=4, truncation=None, index=1,
                    attribute: str | None = None, rerank=1) -> Inside:
        """Everything the model shows about image #index (1-based) of a Generate request."""
        res = self.run(caption, model, seed, n, truncation, rerank)
        try:
            i = int(index) - 1
        except (TypeError, ValueError):
            raise StudioError(f"image number must be a whole number, got {index!r}") from None
        if not 0 <= i < len(res.images):
            raise StudioError(f"image number must be between 1 and {len(res.images)} (this request made "
                              f"{len(res.images)} image{'s' if len(res.images) != 1 else ''}), got {index}")
        final = res.images[i]
        big = upscale(final)
        n_st = len(res.stages)
        stages = [(upscale(st[i]), f"stage {k + 1} · {st[i].size[0]} px")
                  for k, st in enumerate(res.stages)] or [(big, "final")]
        palette = [(255, 40, 40), (30, 110, 255), (20, 170, 90), (240, 140, 0), (150, 60, 220), (0, 170, 190)]
        masks = [(overlay(big, m[i], colour=palette[k % len(palette)], alpha=0.65),
                  f"{name} · {m.shape[-1]}×{m.shape[-2]}")
                 for k, (name, m) in enumerate(res.masks.items())]
        attn = []
        words = res.words[i] if res.words else []
        for name, a in res.word_attn.items():
            if a.ndim == 4 and words:
                attn.append((word_attention_sheet(final, a[i], words), f"{name} · {a.shape[-1]}×{a.shape[-2]}"))
            elif a.ndim == 2 and words:
                w = a[i][:len(words)]
                attn.append((self._bar_sheet(words, w), f"{name} · weight of each word"))
        cam_img, cam_info, choices = None, self.cam_unavailable_message(), []
        if self.classifier() is not None:
            choices = self.attribute_choices(res.captions[i])
            cam_img, cam_info, attribute = self.cam(final, attribute, res.captions[i])
        else:
            attribute = None
        fam = self.entry(model).family_name
        notes = [f"Image #{i + 1} of {len(res.images)} from `{model}` ({fam}) · seed {seed}"]
        notes.append(f"{n_st} stage{'s' if n_st != 1 else ''} · {len(masks)} mask{'s' if len(masks) != 1 else ''} · "
                     + (f"word attention in {len(attn)} layer{'s' if len(attn) != 1 else ''}" if attn
                        else "no word attention (this model fuses the sentence only)"))
        sheet = stack_sheets(attn) if attn else None
        return Inside(big, stages, masks, attn, sheet, cam_img, cam_info, choices, attribute, "  \n".join(notes))

    @staticmethod
    def _bar_sheet(words: list[str], weights: np.ndarray) -> Image.Image:
        W, rowh = 360, 20
        im = Image.new("RGB", (W, rowh * len(words) + 8), (255, 255, 255))
        d = ImageDraw.Draw(im)
        top = float(max(weights.max(), 1e-8))
        for k, (w, v) in enumerate(zip(words, weights)):
            y = 4 + k * rowh
            d.text((4, y + 2), w, fill=(31, 41, 55), font=font(12))
            d.rectangle((110, y + 4, 110 + int(230 * float(v) / top), y + rowh - 4), fill=(234, 88, 12))
        return im

    # --- compare --------------------------------------------------------------------------------------------
    @staticmethod
    def word_changes(a: str, b: str) -> list[str]:
        """Human description of the word edits from caption a to caption b ('red → blue')."""
        wa, wb = a.split(), b.split()
        out = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb).get_opcodes():
            if op == "replace":
                out.append(f"{' '.join(wa[i1:i2])} → {' '.join(wb[j1:j2])}")
            elif op == "delete":
                out.append(f"removed “{' '.join(wa[i1:i2])}”")
            elif op == "insert":
                out.append(f"added “{' '.join(wb[j1:j2])}”")
        return out

    def compare(self, caption: str, caption_b: str | None, models: list[str] | None, seed=0, n=1,
                truncation=None) -> Comparison:
        """Rows: each model (x n images); columns: caption, changed caption, difference map."""
        caption = check_caption(caption)
        caption_b = (caption_b or "").strip() or None
        if caption_b is not None:
            caption_b = check_caption(caption_b)
        models = [m for m in (models or []) if m] or [e.name for e in self.generators() if e.trained]
        if not models:
            raise StudioError(f"no trained model to compare (none in {self.root.name}/)")
        n = self._check_n(n)
        if n > 4:
            raise StudioError("compare shows at most 4 images per model")
        rows, labels, info_rows, keep = [], [], [], {}
        changes = self.word_changes(caption, caption_b) if caption_b else []
        for m in models:
            ra = self.run(caption, m, seed, n, truncation)
            rb = self.run(caption_b, m, seed, n, truncation) if caption_b else None
            keep[m] = list(ra.images) + (list(rb.images) if rb else [])
            diffs = []
            for k in range(n):
                row = [ra.images[k]]
                if rb is not None:
                    dm, mean = difference_map(ra.images[k], rb.images[k])
                    row += [rb.images[k], dm]
                    diffs.append(mean)
                rows.append(row)
                labels.append(f"{m}" + (f"\n#{k + 1}" if n > 1 else ""))
            fam = self.entry(m).family_name
            t = ra.seconds + (rb.seconds if rb else 0)
            line = f"| `{m}` | {fam} | {t:.2f} s |"
            if rb is not None:
                line += f" {100 * float(np.mean(diffs)):.1f} % |"
            info_rows.append(line)
        cols = [f"A: {caption}"] + ([f"B: {caption_b}", "difference |A − B|"] if caption_b else [])
        sheet = labelled_grid(rows, cols, labels, side=160)
        head = "| model | family | time |" + (" mean pixel change |" if caption_b else "")
        sep = "|---|---|---|" + ("---|" if caption_b else "")
        info = [f"Same caption and seed ({seed}) through {len(models)} model{'s' if len(models) != 1 else ''}."]
        if caption_b:
            info.append("Changed: " + (", ".join(f"**{c}**" for c in changes) if changes else "nothing (same words)")
                        + ". The difference map is scaled to each pair's largest change (bright = changed).")
        info += ["", head, sep] + info_rows
        return Comparison(sheet, "\n".join(info), keep)

    # --- edit ------------------------------------------------------------------------------------------------
    def edit_unavailable_message(self) -> str:
        return EDIT_UNAVAILABLE.format(root=f"{self.root.name}/")

    def prepare(self, upload, notes: list[str] | None = None) -> Image.Image:
        """An upload as the studio passes it on (square RGB, at most UPLOAD_WORK_SIDE); ImageInputError if bad."""
        return prepare_upload(upload, max_side=UPLOAD_WORK_SIDE, notes=notes)

    def edit(self, upload, text: str, steps=50, lam=1.0, seed=0, model: str | None = None,
             progress=None, guidance=None, part_mask: bool = True) -> EditOutput:
        """guidance: weight of the DAMSM guidance term (None = the edit mode's default; 0 = the paper's objective);
        part_mask: change only the parts the text names (t2i.edit's part-masked edit) or the whole picture."""
        if not self.edit_available():
            raise StudioError(self.edit_unavailable_message())
        notes: list[str] = []
        image = self.prepare(upload, notes)
        text = check_caption(text)
        steps = self._number("steps", steps, 1, MAX_EDIT_STEPS)
        lam = self._number("preservation strength", lam, 0.0, 100.0, whole=False)
        guidance = None if guidance in (None, "") else self._number("text guidance", guidance, 0.0, 100.0,
                                                                      whole=False)
        part_mask = parse_flag("named part only", part_mask)
        seed = self._check_seed(seed)
        names = [e.name for e in self.edit_models() if e.trained]
        model = model or names[0]
        if model not in names:
            raise StudioError(f"{model!r} is not an editing model; available: {', '.join(names)}")
        pipe = self.pipeline(model)
        with self._run_locks[model]:
            if model not in self._edit_warm:
                for part in ("perceptual", "damsm", "segmenter"):
                    try:
                        getattr(pipe, part)
                    except (ckpt.CheckpointError, OSError, ValueError, AttributeError):
                        pass  # the edit that needs it says so itself
                self._edit_warm.add(model)
            slots = self._edit_slots.setdefault(model, threading.BoundedSemaphore(self.edit_parallel))
        with slots:
            kw = {} if guidance is None else {"guidance": guidance}
            res = pipe.edit(image, text, steps=steps, lam=lam, seed=seed, progress=progress,
                            part_mask=part_mask, **kw)
        secs = float(getattr(res, "seconds", 0.0))
        g = "" if guidance is None else f" · text guidance {guidance:g}"
        where = " · named part only" if part_mask else " · whole picture"
        info = [f"Edited with `{model}` · {steps} steps · preservation {lam:g}{g}{where} · {secs:.1f} s"]
        if notes:
            info.append("Upload: " + "; ".join(notes) + ".")
        info += vocab_notes(getattr(res, "mapped", []), getattr(res, "unknown", []))
        return EditOutput(res.original, res.inversion, res.edited, "  \n".join(info), secs)

    # --- latent space, model cards -----------------------------------------------------------------------------
    def latent_space(self, model: str | None = None) -> tuple[list[tuple[Path, str]], str]:
        """The t-SNE figures shipped in CI-GAN folders: ([(png, caption)], Markdown)."""
        cands = [e for e in self.models("edit") if model in (None, "", e.name)]
        if not cands:
            return [], ("**No CI-GAN checkpoint found**, so there is no latent space to show. The t-SNE figures "
                        "(`tsne_cycle.png`, `tsne_nocycle.png`) are written into the CI-GAN model folder by "
                        "`python -m t2i tsne --cycle ENC --nocycle ENC_NOCYCLE --out FOLDER` after training.")
        figs = []
        for e in cands:
            for fname, cap in TSNE_FILES.items():
                p = e.folder / fname
                if p.is_file():
                    figs.append((p, f"{e.name}: {cap}"))
        if not figs:
            return [], (f"**No t-SNE figures in** `{', '.join(str(e.folder) for e in cands)}`. Expected "
                        "`tsne_cycle.png` and `tsne_nocycle.png` (CI-GAN latents coloured by attribute, with and "
                        "without cycle-consistency training).")
        return figs, ("t-SNE of CI-GAN latents: ● sampled w = mapping(z), ▲ inverted w′ = E(x), coloured by "
                      "attribute. With cycle consistency the inverted codes should fall inside the sampled cloud.")

    def model_card(self, name: str) -> tuple[str, str, Path | None]:
        """(card Markdown, metrics Markdown table, sample grid path or None) of one model."""
        e = self.entry(name)
        fam, paper, adds = FAMILY_INFO.get(e.model_type, (e.model_type, "—", "—"))
        readme = e.folder / "README.md"
        if readme.is_file():
            text = readme.read_text(encoding="utf-8", errors="replace")
            card = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # drop Hub YAML front matter
        else:
            card = f"## {e.name}\n\n**{fam}** — {paper}\n\n**What it adds:** {adds}\n"
        facts = [("family", f"{fam} (`{e.model_type}`)")]
        for key, label in (("resolution", "resolution"), ("dataset", "dataset"), ("step", "training steps"),
                           ("train_wall_s", "training time (s)"), ("t2i_version", "t2i version")):
            if e.record.get(key) is not None:
                facts.append((label, str(e.record[key])))
        facts.append(("trained", "yes" if e.trained else "no (model.safetensors missing)"))
        facts.append(("folder", f"`{e.folder.name}`"))
        card += "\n\n| detail | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in facts)
        metrics = self.metrics_table(e)
        return card, metrics, self.samples(e)

    @staticmethod
    def metrics_table(e: ModelEntry) -> str:
        if not e.metrics:
            return "_No metrics recorded yet (run `python -m t2i eval --model …` after training)._"
        rows = []
        for k, v in e.metrics.items():
            label, fmt, lower = METRIC_LABELS.get(k, (k, "{:.4g}", False))
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                val = str(v)
            else:
                try:
                    val = fmt.format(v)
                except (ValueError, TypeError):
                    val = f"{v:.4g}"
            rows.append(f"| {label} | {val} |" + (" ↓ better |" if lower else " |"))
        return "| metric | value | |\n|---|---:|---|\n" + "\n".join(rows)

    @staticmethod
    def samples(e: ModelEntry) -> Path | None:
        p = e.folder / "samples.png"
        if p.is_file():
            return p
        grids = sorted((e.folder / "samples").glob("*.png")) if (e.folder / "samples").is_dir() else []
        return grids[-1] if grids else None


def read_prompts(path: Path | None = None) -> list[str]:
    """Example captions (examples/prompts.txt: one per line, # comments)."""
    path = EXAMPLES_DIR / "prompts.txt" if path is None else Path(path)
    if not path.is_file():
        return ["a small bird with a red belly and black wings"]
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]


def example_images() -> list[Path]:
    """Example photos for the Edit tab (examples/*.png|jpg, screenshots excluded)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return sorted(p for p in EXAMPLES_DIR.iterdir()
                  if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp") and not p.name.startswith("screenshot"))


def _tidy(msg: str, max_word: int = 100, max_len: int = 700) -> str:
    """Shorten what a user typed when it comes back inside a message (a 5,000-character 'word' ...)."""
    msg = re.sub(r"\S{%d,}" % (max_word + 1), lambda m: m.group(0)[:max_word] + "…", msg)
    return msg if len(msg) <= max_len else msg[:max_len] + "…"


def user_message(err: BaseException) -> str:
    """The text to show for an exception raised by the studio (user errors as is; anything else, briefly)."""
    if isinstance(err, ValueError):  # CaptionError, ImageInputError, StudioError, CheckpointError, pipelines' errors
        return _tidy(str(err))
    return _tidy(f"Something went wrong ({type(err).__name__}: {err}). Try again, or try another model.")


