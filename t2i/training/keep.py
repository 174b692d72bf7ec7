"""Which checkpoints a run keeps beside its latest: <out>/best (the best quick eval so far) and, with
train.keep_evals, <out>/evals/step-NNNNNN (every evaluated one). Copies are atomic: a kill mid-copy leaves the
previous folder in place."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from t2i import checkpoint as ckpt


def score_of(metrics: dict) -> float:
    """What keep_best ranks by: the judge's PartAcc (mean of in-species and novel) when measured, else AttrAcc;
    an unconditional generator's quick eval has FID only (lower is better: ranked by -FID)."""
    if "eval/fid" in metrics and "eval/attr_acc" not in metrics:
        return -metrics["eval/fid"]
    return metrics.get("eval/part_acc", metrics.get("eval/attr_acc", -1.0))


def copy_model(src: Path, dest: Path, step: int, metrics: dict) -> None:
    """Atomically replace `dest` with a copy of the model folder `src` (weights, vocab, config with the quick eval
    recorded under "quick_eval")."""
    tmp, old = dest.with_name(dest.name + ".tmp"), dest.with_name(dest.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (ckpt.WEIGHTS, ckpt.VOCAB):
        if (src / name).is_file():
            shutil.copyfile(src / name, tmp / name)
    record = json.loads((src / ckpt.CONFIG).read_text())
    record["quick_eval"] = {"step": step, **metrics}
    ckpt.write_config(tmp, record)
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def keep_best(src: Path, step: int, metrics: dict) -> bool:
    """Copy the model folder `src` to src/best when its quick-eval score (score_of) beats the one kept there (GAN
    scores swing between evals; ship the best with `python -m t2i ship <out>/best`). True when copied."""
    best = src / "best"
    prev = -math.inf
    if (best / ckpt.CONFIG).is_file():
        kept = json.loads((best / ckpt.CONFIG).read_text()).get("quick_eval", {})
        # a best kept under the other score (AttrAcc before the judge existed) is replaced by the next eval
        same = all((k in kept) == (k in metrics) for k in ("eval/part_acc", "eval/fid"))
        prev = score_of(kept) if same else -math.inf
    if score_of(metrics) <= prev:
        return False
    copy_model(src, best, step, metrics)
    return True
