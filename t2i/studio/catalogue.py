"""Which models the studio knows: model folders under $T2I_CHECKPOINTS and extra Hub ids ($T2I_MODELS), what kind
each is, what each family is (FAMILY_INFO, from t2i.models.info) and how its metrics are labelled (METRIC_LABELS); the example captions
and photos."""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from t2i import checkpoint as ckpt
from t2i.models.info import FAMILY_INFO  # noqa: F401  (re-exported: the studio's picker and Models tab)
from t2i.pipeline import list_models

log = logging.getLogger("t2i.studio")

EXAMPLES_DIR = ckpt.REPO_ROOT / "examples"

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
# "Works" in the picker: the part judge reads the asked-for colour on at least half the named parts of in-species
# captions, and the pictures are bird-like (FID at most 100); every other trained model is marked experimental.
WORKS_PART_ACC, WORKS_FID = 0.5, 100.0
PICKER_METRICS = ("part_acc/in_species", "part_acc/novel", "diversity", "attr_acc", "fid", "r_precision_eval")
# Without metrics, the default model is the first of these that is trained (the project's own models first).
DEFAULT_ORDER = ("swfgan", "csagan", "ffgan", "ecagan", "caegan", "ssagan", "dfgan", "cigan")
KIND_ORDER = {"t2i": 0, "edit": 1, "classifier": 2, "text": 3, "other": 4}


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
                          "species-classifier", "upsampler")


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
    def drawing_metrics(self) -> dict:
        """The text-to-image metrics: CI-GAN records them under "t2i/" (beside its edit and inversion numbers)."""
        if self.kind != "edit":
            return self.metrics
        return {k[4:]: v for k, v in self.metrics.items() if k.startswith("t2i/")}

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
            v = self.drawing_metrics.get(k)
            if isinstance(v, (int, float)):
                label, fmt, _ = METRIC_LABELS.get(k, (k, "{:.3g}", False))
                parts.append(f"{label} {fmt.format(v)}")
        return " · ".join(parts)

    @property
    def works(self) -> bool:
        """Trained, and measured to draw the birds it is asked for (WORKS_PART_ACC, WORKS_FID)."""
        acc, fid = self.drawing_metrics.get("part_acc/in_species"), self.drawing_metrics.get("fid")
        return (self.trained and isinstance(acc, (int, float)) and acc >= WORKS_PART_ACC
                and isinstance(fid, (int, float)) and fid <= WORKS_FID)

    def label(self) -> str:
        """The model picker's text: a ✓ for models that work, 'experimental' or 'not trained yet' otherwise."""
        if not self.trained:
            return f"{self.name} · {self.family_name} · not trained yet"
        if self.works:
            return f"✓ {self.name} · {self.family_name}"
        return f"experimental · {self.name} · {self.family_name}"

    def plain_summary(self) -> str:
        """One sentence for people: how often the model gets the named colours right, in per cent."""
        acc, novel = self.drawing_metrics.get("part_acc/in_species"), self.drawing_metrics.get("part_acc/novel")
        if not isinstance(acc, (int, float)):
            return ""
        out = f"Paints the colour you name on {100 * acc:.0f} % of the bird's parts"
        if isinstance(novel, (int, float)):
            out += f" ({100 * novel:.0f} % for unusual combinations)"
        return out + "."

    def verdict(self) -> str:
        """Whether it works, in one Markdown sentence (the picker's line and the model card say the same)."""
        if not self.trained:
            return "**Not trained yet.**"
        if self.works and self.kind == "edit":
            return "✓ **Works**: draws the birds it is asked for, and edits photos by text (the **Edit** tab)."
        if self.works:
            return "✓ **Works**: draws the birds it is asked for."
        if self.kind == "edit":
            return "Edits photos by text (the **Edit** tab); its text-to-image drawing is experimental."
        if self.kind == "t2i":
            return ("**Experimental**: it paints rough shapes or rough birds, often not in the colours asked (it needs "
                    "more training).")
        return ""

    def source(self) -> str:
        """Where the method comes from, in words."""
        return plain_words(FAMILY_INFO.get(self.model_type, ("", ""))[1])


def plain_words(text: str) -> str:
    """'Seed 001: ...' (the project's name for its method documents, easily read as a random seed) -> 'method
    document 001: ...'."""
    return re.sub(r"\bSeed (\d{3}\w?)", r"method document \1", text)


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
    return sorted(out, key=lambda e: (not e.trained, not e.works, e.name))


def read_prompts(path: Path | None = None) -> list[str]:
    """Example captions (examples/prompts.txt: one per line, # comments)."""
    path = EXAMPLES_DIR / "prompts.txt" if path is None else Path(path)
    if not path.is_file():
        return ["a small bird with a red belly and black wings"]
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]


def example_images() -> list[Path]:
    """Example photos for the Edit tab: examples/bird_*.png|jpg|webp, one bird each (screenshots and the dataset's
    contact sheet live beside them for the README and are not offered)."""
    if not EXAMPLES_DIR.is_dir():
        return []
    return sorted(p for p in EXAMPLES_DIR.glob("bird_*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
