"""Pipelines: captions -> PIL images (+ per-stage images, masks, word attention). The app and the CLI use these.

    pipe = TextToImagePipeline.from_pretrained("swfgan-synthbirds-64")   # or t2i.load_pipeline(name): any model
    out = pipe("a small bird with a red belly and black wings", seed=0, n=4)
    out.images  # list of PIL images; out.masks / out.word_attn / out.stages for 'look inside'
    pipe(caption, size=256).images  # 256 px through the shared 4x upsampler; .originals: the model's 64 px
"""
from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from t2i import checkpoint as ckpt
from t2i.data.vocab import Vocabulary
from t2i.models.registry import get_family, list_families
from t2i.text.damsm import SHIPPED_DAMSM as DAMSM_NAME, DAMSMConfig, TextEncoder
from t2i.text.prompt import MAX_CAPTION_CHARS, CaptionError, check_caption, encode_caption  # noqa: F401 - re-exported
from t2i.upsampling import Upsampling
from t2i.viz.grids import to_pil

MAX_RERANK = 16  # best-of-k: at most 16 candidates per image


@dataclass
class GenerationResult:
    captions: list[str]  # one per image
    images: list[Image.Image]  # final images
    stages: list[list[Image.Image]] = field(default_factory=list)  # per stage (coarse -> fine), one list each
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n, H, W] in [0, 1]
    word_attn: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [n, L, H, W] (or [n, L])
    words: list[list[str]] = field(default_factory=list)  # the words the model read, per image
    unknown: list[list[str]] = field(default_factory=list)  # content words ignored (nothing in the vocabulary fits)
    mapped: list[list[tuple[str, str]]] = field(default_factory=list)  # (word, replacement) of the open vocabulary
    cut: list[int] = field(default_factory=list)  # known words beyond the model's max_words, per image
    seconds: float = 0.0  # generation time
    scores: list[float] = field(default_factory=list)  # DAMSM match of each image to its caption (best-of-k only)
    best_of: int = 1  # candidates drawn per image (best-of-k reranking; 1 = plain draws)
    seeds: list[int] = field(default_factory=list)  # per image: the seed that redraws it alone (seeds= calls only)
    picks: list[int] = field(default_factory=list)  # per image: which of its seed's k draws was kept (seeds= calls)
    originals: list[Image.Image] = field(default_factory=list)  # the model's own images when `images` were upsampled
    # (size=256: t2i.upsampling); empty when `images` are the model's own
    notes: list[str] = field(default_factory=list)  # how the images were made, for the reader (Markdown lines)


class TextToImagePipeline(Upsampling):
    """A text-conditional generator + its frozen DAMSM text encoder + vocabulary, loaded from a model folder.
    size: the default output side (None or the model's side: its own images; 4 x it, e.g. 256: through the 4x
    upsampler, t2i.upsampling); upsampler: its folder (None: checkpoints/upsampler-synthbirds-256) or an Upsampler."""

    def __init__(self, family: str, cfg, generator: torch.nn.Module, text_encoder: TextEncoder, vocab: Vocabulary,
                 record: dict | None = None, device: str | torch.device = "cpu", max_words: int = 18,
                 size: int | None = None, upsampler=None):
        self.family, self.cfg, self.record = family, cfg, record or {}
        self.generator = generator.to(device).eval().requires_grad_(False)
        self.text_encoder = text_encoder.to(device).eval().requires_grad_(False)
        self.vocab, self.device, self.max_words = vocab, torch.device(device), max_words
        self._text_cache: OrderedDict[str, tuple] = OrderedDict()
        self._damsm = None  # (DAMSM, vocabulary) for best-of-k, loaded when first asked for
        self._init_upsampling(size, upsampler)
        self._lock = threading.Lock()  # the caches above: several requests may run the pipeline at once

    @property
    def native_size(self) -> int:
        """The side of the generator's own images."""
        return int(getattr(self.cfg, "img_size", None) or self.record.get("resolution", 64))

    @classmethod
    def from_pretrained(cls, name, device: str | torch.device = "cpu", size: int | None = None,
                        upsampler=None) -> "TextToImagePipeline":
        types = tuple(t for t in list_families() if get_family(t).text_conditional)
        got = ckpt.load_folder(name, types, lambda rec: get_family(rec["model_type"]).config_from_dict(rec["config"]),
                               _networks, device, what="a text-to-image GAN checkpoint")
        tcfg = DAMSMConfig(**got.record["text_encoder_config"])
        vocab = Vocabulary.load(got.folder / ckpt.VOCAB, open_map=True)  # + the open vocabulary (inference only)
        if len(vocab) != tcfg.vocab_size:
            raise ckpt.CheckpointError(f"{got.folder.name}: vocabulary has {len(vocab)} words, the text encoder "
                                       f"{tcfg.vocab_size}")
        return cls(got.record["model_type"], got.config, got.modules["generator"], got.modules["text_encoder"], vocab,
                   got.record, device, tcfg.max_words, size=size, upsampler=upsampler)

    # --- text ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, captions: list[str]):
        """(words [N, D, L], sent [N, D], mask [N, L], read words, unknown words); cached per caption."""
        return self.encode_full(captions)[:5]

    @torch.inference_mode()
    def encode_full(self, captions: list[str]):
        """encode() + the open vocabulary's (word, replacement) pairs per caption + the words cut per caption."""
        out = []
        for c in captions:
            with self._lock:
                hit = self._text_cache.get(c)
            if hit is None:
                enc = encode_caption(self.vocab, c, self.max_words)
                tok = torch.tensor([enc.ids], device=self.device)
                words, sent = self.text_encoder(tok, torch.tensor([enc.length], device=self.device))
                hit = (words, sent, tok == 0, [self.vocab.itos[i] for i in enc.ids[:enc.length]], enc.unknown,
                       enc.mapped, enc.cut)
                with self._lock:
                    self._text_cache[c] = hit
                    if len(self._text_cache) > 256:
                        self._text_cache.popitem(last=False)
            out.append(hit)
        words = torch.cat([o[0] for o in out])
        sent = torch.cat([o[1] for o in out])
        mask = torch.cat([o[2] for o in out])
        return words, sent, mask, [o[3] for o in out], [o[4] for o in out], [o[5] for o in out], [o[6] for o in out]

    # --- images -----------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, captions: str | list[str], seed: int = 0, n: int = 1, truncation: float | None = None,
                 rerank: int = 1, return_tensors: bool = False, seeds: list[int] | None = None,
                 picks: list[int] | None = None, size: int | None = None) -> GenerationResult:
        """n images per caption. Same captions + seed -> same images. truncation: None = the model's default.
        rerank k > 1: draw k candidates per image and keep the n that the DAMSM encoders match best to the caption,
        best first (like CLIP reranking; ours, the papers sample once); rerank 1 draws exactly the plain images.
        seeds (one per image, n = len(seeds)): image j is drawn from its own seed (with best-of, the best of k
        candidates from that seed), in order, so `seeds=[s]` redraws any image that showed seed s; `seed` is
        then unused. Without it, one seed draws the whole batch (the evaluation protocol). picks (with seeds and
        rerank k): keep draw picks[j] of image j's k instead of scoring them, e.g. another caption's picks, so that
        a changed word is drawn from the very same noise. size: the output side (None: the pipeline's; 64, the model's
        own; 256, the kept images through the 4x upsampler, the model's own in result.originals)."""
        import time

        if isinstance(captions, str):
            captions = [captions]
        if not captions:
            raise CaptionError("no caption given")
        if seeds is not None:
            seeds = [check_number("seed", v, 0, 2 ** 63 - 1, whole=True) for v in seeds]
            n = len(seeds)
        n = check_number("n (images per caption)", n, 1, 64, whole=True)
        k = check_number("best-of-k", rerank, 1, MAX_RERANK, whole=True)
        if picks is not None:
            if seeds is None or len(picks) != n:
                raise ValueError("picks needs seeds, one pick per seed")
            picks = [check_number("pick", v, 0, k - 1, whole=True) for v in picks]
        seed = check_number("seed", seed, 0, 2 ** 63 - 1, whole=True)
        out_size = self.output_size(size)  # a bad size is refused before anything is drawn
        if truncation is not None:
            truncation = check_number("truncation", truncation, 0.0, 10.0)
        captions = [check_caption(c) for c in captions]
        t0 = time.perf_counter()
        caps = [c for c in captions for _ in range(n * k)]
        words, sent, mask, read, unknown, mapped, cut = self.encode_full(caps)
        trunc = getattr(self.cfg, "truncation", None) if truncation is None else truncation
        if seeds is None:
            z = self.generator.sample_z(len(caps), generator=torch.Generator().manual_seed(int(seed)),
                                        truncation=trunc or None).to(self.device)
        else:  # caption-major, then image, then candidate: image j's k candidates all come from seeds[j]
            per_image = torch.cat([self.generator.sample_z(k, generator=torch.Generator().manual_seed(int(v)),
                                                           truncation=trunc or None) for v in seeds])
            z = per_image.repeat(len(captions), 1).to(self.device)
        scores, kept = [], [0] * len(caps) if seeds is not None else []  # kept: the draw of its seed per image
        if k == 1:
            out = self._draw(z, sent, words, mask)
        else:  # best-of-k: choose the draws (given, or the best scored a chunk at a time), then draw them in full
            drawn = []  # the scored candidates' outputs (none for given picks)
            if picks is not None:  # the given draws, unscored
                keep = torch.tensor([g * k + picks[g % n] for g in range(len(captions) * n)], device=z.device)
                kept = picks * len(captions)
            else:
                drawn = [self.generator(*c) for _, c in _chunks(z, sent, words, mask)]
                match = torch.cat([self.match_scores(o.images[-1], caps[i:i + GEN_CHUNK])
                                   for o, (i, _) in zip(drawn, _chunks(z))])
                groups, size, keep_n = (len(captions) * n, k, 1) if seeds is not None else (len(captions), n * k, n)
                top = match.view(groups, size).topk(keep_n, dim=1)  # best first (per seed: each image's best)
                keep = (top.indices + torch.arange(groups, device=match.device)[:, None] * size).flatten()
                scores = top.values.flatten().tolist()
                kept = top.indices.flatten().tolist() if seeds is not None else []
            if len(drawn) == 1:  # one chunk of scored candidates: keep its outputs, no second draw
                out = _select(drawn[0], keep)
            else:  # many chunks (or given picks): draw only the kept ones in full, not every candidate's maps
                out = self._draw(z[keep], sent[keep], words[keep], mask[keep])
            idx = keep.tolist()
            caps, read, unknown = [caps[i] for i in idx], [read[i] for i in idx], [unknown[i] for i in idx]
            mapped, cut = [mapped[i] for i in idx], [cut[i] for i in idx]
        result = GenerationResult(
            captions=caps, images=to_pil(out.images[-1]), stages=[to_pil(im) for im in out.images],
            masks={k: v[:, 0].float().cpu().numpy() for k, v in out.masks.items()},
            word_attn={k: v.float().cpu().numpy() for k, v in out.word_attn.items()},
            words=read, unknown=unknown, mapped=mapped, cut=cut, seconds=time.perf_counter() - t0, scores=scores,
            best_of=k, seeds=list(seeds) * len(captions) if seeds is not None else [], picks=kept)
        result = self.resized(result, out_size, out.images[-1])  # the kept images only, never the candidates
        result.seconds = time.perf_counter() - t0
        if return_tensors:
            result.tensors = out  # type: ignore[attr-defined]
        return result

    def _draw(self, z, sent, words, mask):
        """The generator's full output (images, masks, attention) for any number of images, GEN_CHUNK at a time."""
        outs = [self.generator(*c) for _, c in _chunks(z, sent, words, mask)]
        return outs[0] if len(outs) == 1 else cat_outputs(outs)

    def damsm(self):
        """(DAMSM, vocabulary) the model was trained with (its run config names it), else the shipped one."""
        with self._lock:
            if self._damsm is None:
                self._damsm = self._load_damsm()
            return self._damsm

    def _load_damsm(self):
        from t2i.text.damsm import load_damsm

        named = (self.record.get("train") or {}).get("damsm")
        for name in ([named, Path(named).name] if named else []) + [DAMSM_NAME]:
            try:
                return load_damsm(name, self.device)
            except ckpt.CheckpointError:
                continue
        raise ckpt.CheckpointError(f"best-of-k needs DAMSM encoders: neither {named!r} nor {DAMSM_NAME!r} could be "
                                   "loaded")

    @torch.inference_mode()
    def match_scores(self, images: torch.Tensor, captions: list[str]) -> torch.Tensor:
        """DAMSM match [N] of each image [N, 3, H, W] in [-1, 1] with its caption (higher = better)."""
        model, vocab = self.damsm()
        if self.vocab.open_map is not None:  # the DAMSM reads the caption as the generator did ('crimson' -> red)
            captions = [self.vocab.open_map.rewrite(c) for c in captions]
        tok, ln, _ = vocab.batch(captions)
        words, sent, mask = model.encode_text(tok.to(self.device), ln.to(self.device))
        return torch.cat([model.match(images[s:s + 256].float(), words[s:s + 256], sent[s:s + 256], mask[s:s + 256])
                          for s in range(0, len(images), 256)])


def _networks(cfg, record: dict) -> dict:
    """The builders of a text-to-image folder's networks: the family's generator and the DAMSM text encoder."""
    family = get_family(record["model_type"])
    tcfg = DAMSMConfig(**record["text_encoder_config"])
    return {"generator": lambda: family.build_generator(cfg),
            "text_encoder": lambda: TextEncoder(tcfg.vocab_size, tcfg.emb_dim, tcfg.text_dim, tcfg.dropout)}


GEN_CHUNK = 64  # images per generator call: best-of-16 of 64 images is 1,024 candidates, drawn 64 at a time


def _chunks(*tensors):
    """(start, chunk tuple) over the batch dimension, GEN_CHUNK rows at a time."""
    n = len(tensors[0])
    for i in range(0, n, GEN_CHUNK):
        yield i, tuple(t[i:i + GEN_CHUNK] for t in tensors)


def cat_outputs(outs: list):
    """GenOutputs of consecutive batches -> one GenOutput (images, masks and attention concatenated)."""
    first = outs[0]
    return dataclasses.replace(first, images=[torch.cat(ims) for ims in zip(*(o.images for o in outs))],
                               masks={k: torch.cat([o.masks[k] for o in outs]) for k in first.masks},
                               word_attn={k: torch.cat([o.word_attn[k] for o in outs]) for k in first.word_attn})


def _select(out, idx: torch.Tensor):
    """The rows idx of a GenOutput (images, masks and attention)."""
    return dataclasses.replace(out, images=[im[idx] for im in out.images],
                               masks={k: v[idx] for k, v in out.masks.items()},
                               word_attn={k: v[idx] for k, v in out.word_attn.items()})


def check_number(name: str, value, lo, hi, whole: bool = False):
    """A finite number in [lo, hi] (a whole one when `whole`), else a CaptionError that says which input and why."""
    import math

    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):  # exact, however large
        if not lo <= int(value) <= hi:
            raise CaptionError(f"{name} must be between {lo} and {hi:,}, got {value!r}")
        return int(value) if whole else float(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CaptionError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise CaptionError(f"{name} must be a finite number, got {value!r}")
    if whole and v != int(v):
        raise CaptionError(f"{name} must be a whole number, got {value!r}")
    if not lo <= v <= hi:
        raise CaptionError(f"{name} must be between {lo} and {hi:,}, got {value!r}")
    return int(v) if whole else v


class Pipeline(Protocol):
    """The call shape both pipelines share (TextToImagePipeline and t2i.edit.EditPipeline; t2i.load_pipeline gives the
    right one for a model folder): n images per caption as a GenerationResult, the same captions and seed give the
    same images, truncation None is the model's default (lower: more typical, less varied); seeds (one per image,
    n = len(seeds)) draws image j from seeds[j] alone, so that [s] redraws the image s showed (result.seeds); size
    None / 64 is the model's own images, 256 the kept images through the shared 4x upsampler (result.originals: the
    64 px ones; t2i.upsampling). Each pipeline takes further keywords of its own (best-of-k reranking; CI-GAN's
    optimisation steps)."""

    def __call__(self, captions: str | list[str], seed: int = 0, n: int = 1, truncation: float | None = None, *,
                 seeds: list[int] | None = None, size: int | None = None) -> GenerationResult: ...


def list_models(root=None, problems: list[str] | None = None) -> list[dict]:
    """Shipped model folders (checkpoints/) with their config records; a folder whose config.json is malformed
    is skipped, and why goes to `problems` when given."""
    root = Path(ckpt.SHIPPED if root is None else root)
    out = []
    for d in sorted(p for p in root.iterdir() if (p / ckpt.CONFIG).is_file()) if root.is_dir() else []:
        try:
            rec = ckpt.read_config(d)
        except ckpt.CheckpointError as e:
            if problems is not None:
                problems.append(f"{d.name} skipped: {e}")
            continue
        out.append({"name": d.name, "path": str(d), **rec})
    return out
