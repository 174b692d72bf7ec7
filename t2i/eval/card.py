"""Ship a trained run as a model folder with a model card: `python -m t2i ship RUN --name NAME`.

Copies config.json, model.safetensors and vocab.json (no training state) into checkpoints/NAME, records the
metrics in config.json["metrics"], writes README.md (the card) and, for generators, samples.png."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from t2i import checkpoint as ckpt
from t2i.data.synthbirds import DEFAULT_DATA, is_default_render
from t2i.models.info import FAMILY_INFO

SAMPLE_CAPTIONS = [
    "a small bird with a red belly and black wings",
    "this bird has a yellow breast, a grey crown and a short black bill",
    "a medium sized bird with blue wings and a white belly",
    "a tiny green bird with striped wings and an orange bill",
    "this bird is mostly brown with a buff throat and spotted wings",
    "a large black bird with a long yellow bill",
    "a bird with a purple crown, a pink belly and white wing bars",
    "this small bird has an olive back, a rufous breast and grey legs",
]


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _wall(seconds) -> str:
    """Training wall (or CPU) time as people read it: 12,860 s (3.6 h)."""
    if not isinstance(seconds, (int, float)):
        return "?"
    return f"{seconds:,.0f} s ({seconds / 3600:.1f} h)" if seconds >= 3600 else f"{seconds:,.0f} s"


# Figures a model folder may hold (written by ship / evaluation / `python -m t2i tsne`), shown in this order.
FIGURES = {"samples.png": "Samples", "edits.png": "Edits (input | inversion G(E(x)) | edited, with the edit text)",
           "tsne_compare.png": "t-SNE of W: sampled vs inverted codes, with and without cycle consistency"}


def _metric_id(key: str) -> str | None:
    """A metric key -> the score it belongs to (part_acc/in_species/has_x -> part_acc; CI-GAN's inv/psnr stays),
    None for counts, sizes, timings and reference values."""
    head, _, rest = key.partition("/")
    if head == "t2i":  # CI-GAN's text-to-image, judged like the GANs
        return "t2i/" + rest.split("/")[0] if rest.split("/")[0] in ("part_acc", "attr_acc") else None
    if head in ("gen", "inv", "edit"):  # CI-GAN's stage tables
        return key if rest in ("fid", "psnr", "cycle_mse", "success", "preservation") else None
    if head.startswith(("n_", "params", "train_", "gen_")) or head.endswith(("_std", "_real", "_ceiling", "_per_s")):
        return None
    return head


def hub_header(record: dict) -> list[str]:
    """The YAML front matter the Hugging Face Hub reads from a model card: library, license, pipeline, tags,
    dataset and the names of the recorded metrics."""
    from t2i.models.registry import list_families

    mt = record["model_type"]
    generator = mt in list_families()
    tags = ["birds", "synthbirds", mt] + (["gan", "text-to-image"] if generator else [])
    if mt == "cigan":
        tags.append("image-editing")
    metrics = sorted({_metric_id(k) for k, v in (record.get("metrics") or {}).items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)} - {None})
    lines = ["---", "library_name: t2i", "license: mit"]
    if generator:
        lines.append("pipeline_tag: text-to-image")
    lines += ["tags:"] + [f"- {t}" for t in tags]
    lines += ["datasets:", f"- {record.get('dataset') or 'synthbirds'}"]
    if metrics:
        lines += ["metrics:"] + [f"- {m}" for m in metrics]
    return lines + ["---", ""]


def write_card(folder: str | Path, metrics: dict | None = None, samples: bool = True,
               note: str | None = None) -> Path:
    """README.md from config.json, `metrics` and `note` (a status line, e.g. "interim"; both stored in config.json
    so that a later card keeps them), with the folder's figures (FIGURES)."""
    folder = Path(folder)
    record = ckpt.read_config(folder)
    if metrics is not None or note is not None:
        if metrics is not None:
            record["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str)) or v is None}
        if note is not None:
            record["status_note"] = note.strip() or None
        ckpt.write_config(folder, record)
    name, paper, adds = FAMILY_INFO.get(record["model_type"], (record["model_type"], "", ""))
    lines = hub_header(record) + [f"# {folder.name}", "", f"**{name}** — {paper}", "", adds, "",
             "| | |", "|---|---|",
             f"| model type | `{record['model_type']}` |",
             f"| resolution | {record.get('resolution', '?')} px |",
             f"| dataset | {record.get('dataset', '?')} |",
             f"| training steps | {record.get('step', '?')} |",
             f"| training wall time | {_wall(record.get('train_wall_s'))} |",
             *([f"| training CPU time | {_wall(record['train_cpu_s'])} (the training process; kept since session 18, "
                "so a run resumed from an older state counts from then) |"] if record.get("train_cpu_s") else []),
             f"| t2i version | {record.get('t2i_version', '?')} |", ""]
    if record.get("status_note"):
        lines += ["> " + record["status_note"].replace("\n", "\n> "), ""]
    if record.get("metrics"):
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_fmt(v)} |" for k, v in record["metrics"].items()]
        lines.append("")
    lines += ["## Config", "", "```json", json.dumps(record["config"], indent=2, sort_keys=True), "```", ""]
    for fname, title in FIGURES.items():
        if (folder / fname).is_file() and (samples or fname != "samples.png"):
            lines += [f"## {title}", "", f"![{fname[:-4]}]({fname})", ""]
    (folder / "README.md").write_text("\n".join(lines))
    return folder / "README.md"


def write_samples(folder: str | Path, captions: list[str] = SAMPLE_CAPTIONS, n: int = 4, seed: int = 0) -> Path | None:
    """A grid: one row per caption, n seeds each (every stage side by side for multi-stage models)."""
    from t2i.pipeline import TextToImagePipeline
    from t2i.viz.grids import tile

    from t2i.models import get_family, list_families

    record = ckpt.read_config(folder)
    kind = record["model_type"]
    if kind == "cigan":
        return _cigan_samples(folder, record, captions, n, seed)
    if kind not in list_families() or not get_family(kind).text_conditional:
        return None  # encoders and classifiers have no caption -> image grid
    pipe = TextToImagePipeline.from_pretrained(folder)
    res = pipe(captions, seed=seed, n=n)
    images = []
    for i in range(len(res.images)):
        images += [st[i] for st in res.stages] if len(res.stages) > 1 else [res.images[i]]
    per_row = n * max(len(res.stages), 1) if len(res.stages) > 1 else n
    sheet = tile(images, per_row, captions=None, scale=2)
    out = Path(folder) / "samples.png"
    sheet.save(out)
    return out


def _cigan_samples(folder: Path, record: dict, captions: list[str], n: int, seed: int) -> Path | None:
    """CI-GAN: the aligner stage draws each caption by text-guided optimisation (EditPipeline.generate); the
    encoder and StyleGAN2 stages show the frozen generator's samples G(mapping(z)), truncation 0.7."""
    import torch

    from t2i.edit import EditPipeline, load_cigan
    from t2i.viz.grids import tile, to_pil

    out = Path(folder) / "samples.png"
    if record["config"].get("stage") == "aligner":
        pipe = EditPipeline.from_pretrained(folder)
        images = [im for c in captions for im in pipe.generate(c, seed=seed, n=n)]
        tile(images, n, captions=None, scale=2).save(out)
        return out
    _, _, nets = load_cigan(folder)
    G = nets.get("stylegan")
    if G is None:
        return None
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        z = torch.randn(len(captions) * n, G.z_dim, generator=g)
        img = G(z, psi=0.7, noise_mode="const")
    tile(to_pil(img), n * 2, captions=None, scale=2).save(out)
    return out


def _copy_word_map(run: Path, dest: Path) -> None:
    """A run has no open-vocabulary table (built once, at build time): take the one of the DAMSM it trained with
    when both read the same vocabulary (`python -m t2i vocab-map FOLDER` builds one otherwise)."""
    if (run / ckpt.WORD_MAP).is_file() or not (dest / ckpt.VOCAB).is_file():
        return
    damsm = (ckpt.read_config(run).get("train") or {}).get("damsm")
    try:
        src = ckpt.resolve(damsm) if damsm else None
    except ckpt.CheckpointError:
        src = None
    if src and (src / ckpt.WORD_MAP).is_file() and (src / ckpt.VOCAB).read_bytes() == (dest / ckpt.VOCAB).read_bytes():
        shutil.copy2(src / ckpt.WORD_MAP, dest / ckpt.WORD_MAP)


def _portable_data_root(dest: Path) -> None:
    """A run trained on a machine's copy of the default SynthBirds set (train/cpu_runs.sh: ~/t2i-data/synthbirds-64)
    ships with the repository's path of that set, which eval finds or renders anywhere; other sets keep theirs."""
    record = ckpt.read_config(dest)
    root, portable = record.get("data_root"), DEFAULT_DATA.relative_to(ckpt.REPO_ROOT).as_posix()
    if root and root != portable and is_default_render(root):
        ckpt.write_config(dest, {**record, "data_root": portable})


def ship(run: str | Path, name: str, dest_root: str | Path | None = None, metrics: dict | None = None,
         note: str | None = None) -> Path:
    """Copy a run's model files into checkpoints/NAME and write its card (`note`: a status line for the card)."""
    run = Path(run)
    ckpt.read_config(run)  # refuse folders that are not model folders
    dest = Path(dest_root or ckpt.SHIPPED) / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.VOCAB, ckpt.WORD_MAP):
        if (run / f).is_file():
            shutil.copy2(run / f, dest / f)
    _copy_word_map(run, dest)
    _portable_data_root(dest)
    write_samples(dest)
    write_card(dest, metrics, note=note)
    return dest
