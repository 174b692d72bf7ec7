"""The Generate, Look inside and Compare tabs of the Studio (a mixin: `Studio` in service.py supplies run(),
entry(), classifier() and the number checks)."""
from __future__ import annotations

import difflib
import hashlib
import os
import re
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, PngImagePlugin

from t2i.pipeline import GenerationResult, check_caption
from t2i.studio.errors import StudioError
from t2i.studio.results import Comparison, Generation, Inside, vocab_notes
from t2i.studio.sheets import difference_map, font, labelled_grid, stack_sheets, upscale, word_attention_sheet
from t2i.viz.grids import spotlight


class GenerateTabs:
    """Generate (images, PNG grid, info line), Look inside (stages, masks, word attention, CAM) and Compare."""

    # --- generate ---------------------------------------------------------------------------------------------
    def generate(self, caption: str, model: str, seed=0, n=4, truncation=None, rerank=1,
                 upsample=None) -> Generation:
        """upsample: the images through the shared 4x upsampler (256 px; None: when it is shipped), else the model's
        own (64 px, shown enlarged); the PNG grid holds the images as shown."""
        res = self.run(caption, model, seed, n, truncation, rerank, upsample=upsample)
        seeds = self.seeds(res, seed)
        gallery = [(upscale(im), f"#{i + 1} · seed {v}") for i, (im, v) in enumerate(zip(res.images, seeds))]
        grid = self._grid_png(res, model, seed)
        info = self._info(res, model, seed)
        if self._check_rerank(rerank) > 1 and res.best_of == 1:
            info += "  \nBest of applies to the text-to-image GANs: CI-GAN makes each image for the caption already."
        return Generation(res, gallery, grid, info, seeds)

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
        meta.add_text("seeds", " ".join(map(str, res.seeds)))
        meta.add_text("software", "T2I Studio")
        digest = hashlib.sha1(f"{model}|{res.captions[0]}|{seed}|{len(ims)}|{res.scores}|{side}".encode()
                              ).hexdigest()[:10]
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model)[:40]
        path = self.out_dir / f"t2i_{safe}_seed{seed}_{digest}.png"
        grid.save(path, pnginfo=meta, compress_level=1)  # fast (~5x): the request waits on it; lossless all the same
        self._prune_outputs()
        return path

    def as_files(self, gallery: list[tuple[Image.Image, str]]) -> list[tuple[Path, str]]:
        """A gallery's images written as fast-compressed PNG files (lossless; ~5x faster to write than the PNG a web
        UI would make of each PIL image, which under load is a tenth of a request's CPU), with their captions."""
        out = []
        for im, caption in gallery:
            digest = hashlib.sha1(im.tobytes()).hexdigest()[:16]
            path = self.out_dir / f"t2i_img_{digest}.png"
            if not path.is_file():
                tmp = path.with_name(f"{path.stem}.{threading.get_ident()}.tmp")
                im.save(tmp, format="PNG", compress_level=1)
                os.replace(tmp, path)  # whole files only, even when two requests write the same image
            out.append((path, caption))
        self._prune_outputs()
        return out

    def _prune_outputs(self, keep: int = 256) -> None:
        """Keep the download folder small on a long-running server: only the newest `keep` grids."""
        try:
            files = sorted(self.out_dir.glob("t2i_*.png"), key=lambda p: p.stat().st_mtime)
            for p in files[:-keep]:
                p.unlink(missing_ok=True)
        except OSError:
            pass

    @staticmethod
    def seeds(res: GenerationResult, seed) -> list[int]:
        """The seed of each image (seed + i when the pipeline did not record them)."""
        return list(res.seeds) if res.seeds else [int(seed) + i for i in range(len(res.images))]

    @classmethod
    def _info(cls, res: GenerationResult, model: str, seed) -> str:
        n = len(res.images)
        side = res.images[0].size[0]
        seeds = cls.seeds(res, seed)
        span = f"seed {seeds[0]}" if n == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
        parts = [f"**{n} image{'s' if n != 1 else ''}** from `{model}` · {span} · {side}×{side} px · "
                 f"{res.seconds:.2f} s"]
        if res.originals:
            own = res.originals[0].size[0]
            parts.append(f"Upsampled from the model's own {own}×{own} px by the learned 4x upsampler "
                         "(untick *Upsampled* for the originals).")
        if res.scores:
            parts.append(f"Each image is the best of {res.best_of} tries at matching your words "
                         f"(match scores: {' · '.join(f'{s:.2f}' for s in res.scores)}).")
        if res.words:
            parts.append("Words read: " + " ".join(f"`{w}`" for w in res.words[0]))
        parts += vocab_notes(res.mapped[0] if res.mapped else [], res.unknown[0] if res.unknown else [])
        parts += res.notes
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
        part = ATTR_PART.get(group, group)
        # the classifier's readings down to a third of the top one: colours next to each other (red, rufous) are
        # both named rather than the top one alone
        reads = [(v, q) for v, q in probs[group][:3] if q >= probs[group][0][1] / 3]
        reading = " or ".join(f"**{v.replace('_', ' ')}** ({100 * q:.0f} %)" for v, q in reads)
        info = (f"Where the attribute checker looks to decide **{part}: {value.replace('_', ' ')}** "
                f"(red/yellow = the pixels that count most; it gives this {100 * p:.0f} %). "
                f"It sees the {part} as {reading}.")
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
        # a spotlight, not a coloured tint (a blue tint read as a blue bird): full colour where the text acts
        masks = [(spotlight(big, m[i]), f"layer {k + 1} · {m.shape[-1]}×{m.shape[-2]} grid")
                 for k, (name, m) in enumerate(res.masks.items())]
        attn = []
        words = res.words[i] if res.words else []
        for k, (name, a) in enumerate(res.word_attn.items()):
            if a.ndim == 4 and words:
                attn.append((word_attention_sheet(final, a[i], words),
                             f"Layer {k + 1} · {a.shape[-1]}×{a.shape[-2]} grid"))
            elif a.ndim == 2 and words:
                w = a[i][:len(words)]
                attn.append((self._bar_sheet(words, w), f"Layer {k + 1} · weight of each word"))
        cam_img, cam_info, choices = None, self.cam_unavailable_message(), []
        if self.classifier() is not None:
            choices = self.attribute_choices(res.captions[i])
            cam_img, cam_info, attribute = self.cam(final, attribute, res.captions[i])
        else:
            attribute = None
        entry = self.entry(model)
        fam = entry.family_name
        where = f"Image #{i + 1} of {len(res.images)} from" if len(res.images) > 1 else "From"
        notes = [f"{where} `{model}` ({fam}) · seed {self.seeds(res, seed)[i]}"]
        n_feat = entry.record.get("config", {}).get("n_stages", n_st)
        stage_note = (f"one picture: its {n_feat} feature stages fuse before the image (no picture per stage)"
                      if n_st == 1 and isinstance(n_feat, int) and n_feat > 1 else
                      f"{n_st} stage{'s' if n_st != 1 else ''}")
        notes.append(f"{stage_note} · {len(masks)} mask{'s' if len(masks) != 1 else ''} · "
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
                truncation=None, rerank=1) -> Comparison:
        """Rows: each model (x n images); columns: caption, changed caption, difference map. models None = every
        trained one; rerank = best-of, as in Generate (so the same seed gives the same bird in both tabs)."""
        caption = check_caption(caption)
        caption_b = (caption_b or "").strip() or None
        if caption_b is not None:
            caption_b = check_caption(caption_b)
        ticked = [m for m in models or [] if m]
        if models is not None and not ticked:
            raise StudioError("no model ticked: tick at least one model to compare")
        models = ticked or [e.name for e in self.generators() if e.trained]
        if not models:
            raise StudioError(f"no trained model to compare (none in {self.root.name}/)")
        n = self._check_n(n)
        if n > 4:
            raise StudioError("compare shows at most 4 images per model")
        rows, labels, info_rows, keep = [], [], [], {}
        changes = self.word_changes(caption, caption_b) if caption_b else []
        for m in models:
            ra = self.run(caption, m, seed, n, truncation, rerank)
            # B keeps A's draws (not its own best): the changed word is all that differs
            rb = self.run(caption_b, m, seed, n, truncation, rerank, picks=ra.picks or None) if caption_b else None
            keep[m] = list(ra.images) + (list(rb.images) if rb else [])
            diffs = []
            for k in range(n):
                row = [ra.images[k]]
                if rb is not None:
                    dm, mean = difference_map(ra.images[k], rb.images[k])
                    row += [rb.images[k], dm]
                    diffs.append(mean)
                rows.append(row)
                labels.append(f"{m}" + (f"\nseed {int(seed) + k}" if n > 1 else ""))
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
