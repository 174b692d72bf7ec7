"""Side-by-side samples of text-to-image models on the same test captions and z seeds: the sheet of an A/B (issue 23)
or of a comparison of methods. Row 1 holds the real test birds, each further row one model; column k is one
SynthBirds test caption picked evenly over the split (t2i.eval.generators.test_captions: the README table's captions).

    python -m t2i compare RUN_A/evals/step-011000 RUN_B/evals/step-010000 --labels "paper D" "projected D" \
        --n 8 --out results/ab_caegan_projected_samples.png
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import torch
from PIL import Image

from t2i.data.captions import CaptionDataset
from t2i.data.synthbirds import ensure_synthbirds
from t2i.viz.grids import sheet_image, to_pil


@torch.no_grad()
def compare_sheet(models: list[str], labels: list[str] | None = None, data_root=None, n: int = 8, seed: int = 0,
                  device: str = "cpu", side: int = 128) -> Image.Image:
    """A labelled sheet: `n` test captions spread over the split (columns), real images then one row per model, all
    models drawing with the same seed (so the rows differ only by the model). data_root: default the dataset the
    first model records (as `python -m t2i eval`)."""
    from t2i import load_pipeline
    from t2i.eval.generators import generate_captions, test_captions

    if not models:
        raise ValueError("compare needs at least one model folder")
    labels = list(labels) if labels else [Path(m).name for m in models]
    if len(labels) != len(models):
        raise ValueError(f"{len(labels)} labels for {len(models)} models")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    pipes = [load_pipeline(m, device=device) for m in models]
    size = pipes[0].record.get("resolution", 64)
    root = ensure_synthbirds(data_root or pipes[0].record.get("data_root"), size)
    data = CaptionDataset(root, "test", size, vocab=pipes[0].vocab, augment=False)
    every = test_captions(data, seed)
    pairs = [every[k * len(every) // n] for k in range(min(n, len(every)))]  # spread over the species
    caps = [c for _, c in pairs]
    rows = [("real", to_pil(torch.stack([data[i]["image"] for i, _ in pairs])))]
    for label, pipe in zip(labels, pipes):
        step = pipe.record.get("step")
        name = "\n".join(textwrap.wrap(label, 22)[:2]) + (f"\nstep {step:,}" if isinstance(step, int) else "")
        rows.append((name, to_pil(generate_captions(pipe, caps, seed, batch=n))))
    legend = [f"{k + 1}. {textwrap.shorten(c, 140)}" for k, c in enumerate(caps)]
    title = f"{len(caps)} SynthBirds test captions spread over the species, seed {seed}"
    return sheet_image(rows, [str(k + 1) for k in range(len(caps))], title, side=side, footer=legend)
