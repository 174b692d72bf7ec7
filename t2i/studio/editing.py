"""The Edit, Latent space and Models tabs of the Studio (a mixin: `Studio` in service.py supplies the model list,
pipeline(), the locks and the number checks)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from t2i import checkpoint as ckpt
from t2i.imageio import prepare_upload
from t2i.pipeline import check_caption
from t2i.studio.catalogue import FAMILY_INFO, METRIC_LABELS, ModelEntry, plain_words
from t2i.studio.errors import StudioError, parse_flag
from t2i.studio.results import EditOutput, vocab_notes

MAX_EDIT_STEPS = 300
EDIT_GUIDANCE = 10.0  # the Edit tab's default DAMSM guidance weight (= t2i.edit_config.MASKED_GUIDANCE, the default
# part-masked edit; a test keeps them equal)
UPLOAD_WORK_SIDE = 1024  # uploads are brought down to this side before the edit model resizes them
TSNE_FILES = {"tsne_cycle.png": "with cycle consistency", "tsne_nocycle.png": "without cycle consistency",
              "tsne.png": "t-SNE of W"}
EDIT_UNAVAILABLE = ("**Editing model not available.** Text-guided editing needs a trained CI-GAN checkpoint "
                    "(a folder in `{root}` whose config.json has `\"model_type\": \"cigan\"`) and the edit pipeline "
                    "(`t2i.edit`). Train one with the three configs `train/cigan_{{stylegan,encoder,aligner}}_synthbirds64.toml` "
                    "(train/README.md) or point `T2I_CHECKPOINTS` / `T2I_MODELS` to one.")


class EditTabs:
    """Edit (text-guided CI-GAN edits of an upload), Latent space (t-SNE figures) and model cards."""

    # --- edit ------------------------------------------------------------------------------------------------
    def edit_unavailable_message(self) -> str:
        return EDIT_UNAVAILABLE.format(root=f"{self.root.name}/")

    def prepare(self, upload, notes: list[str] | None = None, model: str | None = None) -> Image.Image:
        """An upload as the studio passes it on: the square around the bird that the editing model's part
        segmenter finds (the centre square without an editing model), RGB, at most UPLOAD_WORK_SIDE.
        ImageInputError for a bad file, NoBirdError when there is no bird to edit (both ValueErrors)."""
        names = [e.name for e in self.edit_models() if e.trained] if self.edit_available() else []
        if not names:
            return prepare_upload(upload, max_side=UPLOAD_WORK_SIDE, notes=notes)
        pipe = self.pipeline(model if model in names else names[0])
        return pipe.square_upload(upload, notes, max_side=UPLOAD_WORK_SIDE)

    def edit(self, upload, text: str, steps=50, lam=1.0, seed=0, model: str | None = None,
             progress=None, guidance=None, part_mask: bool = True, full_size=None) -> EditOutput:
        """guidance: weight of the DAMSM guidance term (None = the edit mode's default; 0 = the paper's objective);
        part_mask: change only the parts the text names (t2i.edit's part-masked edit) or the whole picture;
        full_size (None: when the upsampler is shipped): also the edit at the upload's own side (at most
        UPLOAD_WORK_SIDE), the 4x upsampler's image pasted into the upload inside the part mask
        (t2i.upsampling.composite_edit)."""
        if not self.edit_available():
            raise StudioError(self.edit_unavailable_message())
        notes: list[str] = []
        text = check_caption(text)
        steps = self._number("steps", steps, 1, MAX_EDIT_STEPS)
        lam = self._number("preservation strength", lam, 0.0, 100.0, whole=False)
        guidance = None if guidance in (None, "") else self._number("text guidance", guidance, 0.0, 100.0,
                                                                      whole=False)
        part_mask = parse_flag("named part only", part_mask)
        full = self._upsampled(full_size)
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
        image = self.prepare(upload, notes, model)  # after the warm-up, which loads the part segmenter once
        with self._slots[model]:
            kw = ({} if guidance is None else {"guidance": guidance}) | ({"full_size": True} if full else {})
            res = pipe.edit(image, text, steps=steps, lam=lam, seed=seed, progress=progress,
                            part_mask=part_mask, find_bird=False, **kw)  # prepare() has found the bird
        secs = float(getattr(res, "seconds", 0.0))
        g = "" if guidance is None else f" · text guidance {guidance:g}"
        where = " · named part only" if part_mask else " · whole picture"
        info = [f"Edited with `{model}` · {steps} steps · preservation {lam:g}{g}{where} · {secs:.1f} s"]
        if notes:
            info.append("Upload: " + "; ".join(notes) + ".")
        full_edited = getattr(res, "full_edited", None)
        if full_edited is not None:
            side = full_edited.size[0]
            info.append(f"Shown at your photo's {side}×{side} px: the edit through the learned 4x upsampler, "
                        + ("pasted into your photo inside the named part (the rest is your photo's own pixels)."
                           if getattr(res, "mask", None) is not None else "the whole picture (a whole-picture edit)."))
        info += vocab_notes(getattr(res, "mapped", []), getattr(res, "unknown", []))
        return EditOutput(res.original, res.inversion, res.edited, "  \n".join(info), secs,
                          upload=getattr(res, "upload", None), full_edited=full_edited,
                          full_inversion=getattr(res, "full_inversion", None))

    # --- latent space, model cards -----------------------------------------------------------------------------
    def latent_models(self) -> list[str]:
        """The CI-GAN folders for the Latent space tab: those with t-SNE figures (all of them when none has)."""
        cig = self.models("edit")
        shown = [e.name for e in cig if any((e.folder / f).is_file() for f in TSNE_FILES)]
        return shown or [e.name for e in cig]

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
            return [], (f"**No t-SNE figures for** `{', '.join(e.name for e in cands)}` yet. They are made after "
                        "training with `python -m t2i tsne` (latents coloured by attribute, with and without "
                        "cycle-consistency training).")
        return figs, ("● codes drawn from noise (w = mapping(z)), ▲ codes recovered from pictures (w′ = E(x)). "
                      "With cycle-consistency training the ▲ should sit inside the ● cloud; without it they form "
                      "islands of their own, and photos edit less well.")

    def model_card(self, name: str) -> tuple[str, str, list[tuple[Path, str]]]:
        """(card Markdown, the research details as Markdown: every metric and the config, [(figure png, caption)])
        of one model. The card is the folder's README without what is shown elsewhere (front matter, metrics,
        config, image links: the figures come as files), so nothing is listed twice and no image link breaks."""
        e = self.entry(name)
        fam, paper, adds = FAMILY_INFO.get(e.model_type, (e.model_type, "—", "—"))
        head = "  \n".join(x for x in (e.verdict(), e.plain_summary()) if x)
        readme = e.folder / "README.md"
        if readme.is_file():
            text = re.sub(r"\A---\n.*?\n---\n", "", readme.read_text(encoding="utf-8", errors="replace"), flags=re.S)
            keep = [sec for sec in re.split(r"\n(?=## )", text)
                    if not re.match(r"## (Metrics|Config|Samples|Edits|t-SNE)", sec)]
            card = re.sub(r"!\[[^\]]*\]\([^)]*\)\n?", "", "\n".join(keep)).strip()  # figures come as files
            card = card.replace("\n\n", "\n\n" + head + "\n\n", 1) if head else card
            card = plain_words(card)
        else:
            facts = [("family", f"{fam} (`{e.model_type}`)")]
            for key, label in (("resolution", "resolution"), ("dataset", "dataset"), ("step", "training steps"),
                               ("train_wall_s", "training time (s)"), ("t2i_version", "t2i version")):
                if e.record.get(key) is not None:
                    facts.append((label, str(e.record[key])))
            facts.append(("trained", "yes" if e.trained else "no (model.safetensors missing)"))
            card = (f"## {e.name}\n\n{head}\n\n**{fam}** — {e.source() or paper}\n\n**What it adds:** {adds}\n\n"
                    "| detail | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in facts))
        details = "#### Every metric\n" + self.metrics_table(e)
        cfg = e.record.get("config")
        if isinstance(cfg, dict) and cfg:
            details += "\n\n#### Config\n```json\n" + json.dumps(cfg, indent=1, sort_keys=True)[:6000] + "\n```"
        return card, details, self.figures(e)

    @staticmethod
    def figures(e: ModelEntry) -> list[tuple[Path, str]]:
        """The pictures of a model folder, for its card: sample grid, edits, t-SNE."""
        out = []
        grid = EditTabs.samples(e)
        if grid is not None:
            out.append((grid, "samples"))
        for fname, cap in (("edits.png", "edits: input | inversion | edited"),
                           ("tsne_compare.png", "t-SNE of the latents")):
            if (e.folder / fname).is_file():
                out.append((e.folder / fname, cap))
        return out

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
