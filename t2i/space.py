"""A ready-to-push Hugging Face Space folder: `python -m t2i space --out DIR [--push USER/NAME]`.

The folder holds what `python app.py` needs and nothing else: the app, the `t2i` package (no tests, no training
snapshots), the shipped model folders the studio serves (generators, CI-GAN, and the helpers it reads: the
attribute classifier for CAM, the part segmenter and the DAMSM of the edits), the example photos, a README whose
YAML front matter makes it a Gradio Space, a `.gitattributes` that stores binaries with Git LFS (the Hub refuses
binary files otherwise), and runtime-only requirements that take the CPU build of torch.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from t2i import checkpoint as ckpt

# evaluation-only folders: the studio never reads them
EVAL_ONLY = ("damsm-eval-synthbirds-64", "judge-synthbirds-64", "species-classifier-synthbirds-64")
# helper folders the studio reads besides the generators (CAM, the part-masked edit, the edit's DAMSM guidance, the
# 256 px output)
HELPERS = ("attr-classifier-synthbirds-64", "partseg-synthbirds-64", "damsm-synthbirds-64", "upsampler-synthbirds-256")
MODEL_FILES = (ckpt.CONFIG, ckpt.WEIGHTS, ckpt.VOCAB, ckpt.WORD_MAP, ckpt.CODE_BANK, ckpt.CODE_BANK_FEATURES,
               "README.md", "samples.png", "tsne_cycle.png", "tsne_nocycle.png")
LFS_PATTERNS = ("*.safetensors", "*.png", "*.jpg", "*.jpeg", "*.webp", "*.pt", "*.pth", "*.bin", "*.npz")
DEV_ONLY = ("pytest", "tensorboard", "playwright")  # requirements the Space does not install
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def space_models(root: Path) -> list[Path]:
    """The model folders of `root` a Space serves: text-to-image generators, CI-GAN's aligner stage, the helpers."""
    from t2i.models.registry import list_families

    keep = []
    for folder in sorted(p for p in root.iterdir() if (p / ckpt.CONFIG).is_file()):
        if folder.name in EVAL_ONLY or not (folder / ckpt.WEIGHTS).is_file():
            continue
        try:
            rec = ckpt.read_config(folder)
        except ckpt.CheckpointError:
            continue
        stage = rec["config"].get("stage")
        if folder.name in HELPERS or (rec["model_type"] in list_families()
                                      and (rec["model_type"] != "cigan" or stage == "aligner")):
            keep.append(folder)
    return keep


def runtime_requirements(requirements: str) -> str:
    """requirements.txt without the development tools, with the CPU wheel index first (a CPU Space then skips
    several GB of CUDA libraries; torch==X resolves to X+cpu there)."""
    lines = [f"--extra-index-url {CPU_INDEX}"]
    for line in requirements.splitlines():
        name = re.split(r"[=<>~!\[ ;]", line.strip(), maxsplit=1)[0].lower()
        if line.strip().startswith("-r") or name in DEV_ONLY:
            continue
        lines.append(line)
    return "\n".join(lines).rstrip() + "\n"


def _front_matter(readme: str) -> str:
    """The README's YAML front matter (the Space's settings), or a minimal one."""
    m = re.match(r"^---\n.*?\n---\n", readme, flags=re.S)
    return m.group(0) if m else ("---\ntitle: T2I Studio\nsdk: gradio\napp_file: app.py\npython_version: \"3.11\"\n"
                                 "---\n")


def build_space(out: str | Path, repo: str | Path = ckpt.REPO_ROOT, checkpoints: str | Path | None = None) -> dict:
    """Write the Space folder `out` (emptied first if it is a previous Space folder); returns a summary dict with
    the models, the file count, the total size and the largest file."""
    repo, out = Path(repo), Path(out)
    root = Path(checkpoints) if checkpoints else repo / "checkpoints"
    if out.exists():
        if not (out / ".t2i-space").is_file() and any(out.iterdir()):
            raise ValueError(f"{out} exists and is not a Space folder written by this command: pick a new folder")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / ".t2i-space").write_text("written by python -m t2i space\n")
    shutil.copy2(repo / "app.py", out / "app.py")
    if (repo / "LICENSE").is_file():
        shutil.copy2(repo / "LICENSE", out / "LICENSE")
    shutil.copytree(repo / "t2i", out / "t2i", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if (repo / "examples").is_dir():
        shutil.copytree(repo / "examples", out / "examples", ignore=shutil.ignore_patterns("screenshot*"))
    models = space_models(root)
    for folder in models:
        dest = out / "checkpoints" / folder.name
        dest.mkdir(parents=True)
        for name in MODEL_FILES:
            if (folder / name).is_file():
                shutil.copy2(folder / name, dest / name)
    (out / "requirements.txt").write_text(runtime_requirements((repo / "requirements.txt").read_text()))
    (out / ".gitattributes").write_text("".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS))
    readme = (repo / "README.md").read_text()
    names = ", ".join(f"`{f.name}`" for f in models)
    (out / "README.md").write_text(
        _front_matter(readme) + "\n# T2I Studio\n\nGAN text-to-image synthesis and text-guided editing of birds, "
        "trained on SynthBirds (procedural birds), running on CPU. Models: " + names + ".\n\nThe code, the "
        "training recipes and the evaluation live in the project repository; this Space holds the app, the "
        "`t2i` package and the shipped checkpoints only.\n")
    files = [p for p in out.rglob("*") if p.is_file()]
    largest = max(files, key=lambda p: p.stat().st_size)
    return {"out": str(out), "models": [f.name for f in models], "files": len(files),
            "size_mb": round(sum(p.stat().st_size for p in files) / 2 ** 20, 1),
            "largest": f"{largest.relative_to(out)} ({largest.stat().st_size / 2 ** 20:.1f} MB)"}


def push_space(folder: str | Path, repo_id: str, token: str | None = None, private: bool = False) -> str:
    """Create (if needed) the Space `repo_id` and upload the folder with huggingface_hub; returns its URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="space",
                      commit_message="T2I Studio Space (python -m t2i space)", ignore_patterns=[".t2i-space"])
    return f"https://huggingface.co/spaces/{repo_id}"
