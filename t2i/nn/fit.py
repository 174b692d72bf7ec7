"""The small resumable supervised loop (`fit`) of the classifiers, the part segmenter and DAMSM, with its JSONL log.

Low in the layers (beside the networks) so that evaluation (t2i.eval), inference (t2i.partseg) and training
(t2i.training) can all train their helper models with it; the GAN trainer (t2i.training.gan) reuses JsonlLog.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from tqdm.auto import tqdm

from t2i import checkpoint as ckpt
from t2i.runtime import rng_state, set_rng_state


class JsonlLog:
    """Append-only JSONL log; on resume, lines past the resumed step are dropped so the log continues cleanly."""

    def __init__(self, path: str | Path, resume_step: int | None = None, tensorboard: str | Path | None = None):
        """tensorboard: a folder to mirror every numeric value into as TensorBoard scalars (needs tensorboard)."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.is_file():
            keep = [ln for ln in self.path.read_text().splitlines() if ln.strip() and self._step(ln) <= resume_step]
            self.path.write_text("".join(ln + "\n" for ln in keep))
        elif resume_step is None and self.path.is_file():
            self.path.unlink()
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # the package is in requirements.txt; a trimmed install may lack it
                raise RuntimeError("tensorboard logging needs the tensorboard package: pip install tensorboard") from e
            self.tb = SummaryWriter(str(tensorboard), purge_step=resume_step)

    @staticmethod
    def _step(line: str) -> int:
        try:
            return int(json.loads(line).get("step", 0))
        except (json.JSONDecodeError, AttributeError):
            return 1 << 62  # a torn last line is dropped

    def write(self, **record) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None and "step" in record:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        return [json.loads(ln) for ln in self.path.read_text().splitlines() if ln.strip()]


def infinite(loader):
    """Cycle a DataLoader forever (new shuffle each pass)."""
    while True:
        yield from loader


def fit(model: nn.Module, loss_fn: Callable, loader, out: str | Path, steps: int, lr: float,
        save: Callable[[Path, int], None], betas=(0.9, 0.999), clip: float | None = None,
        eval_fn: Callable[[], dict] | None = None, eval_every: int = 500, save_every: int = 200,
        device: torch.device | None = None, desc: str = "train", cosine: bool = False,
        init: str | Path | None = None) -> dict:
    """Resumable supervised training of one model with Adam.

    loss_fn(model, batch) -> (loss, logs); save(folder, step) writes the model folder; eval_fn() -> metrics.
    The run resumes from out/train_state.pt when it exists (step, optimiser, RNG). cosine: the learning rate
    follows lr * (1 + cos(pi * step / steps)) / 2, a function of the step only, so resuming (or extending
    `steps`) stays consistent. init: a model folder to warm-start from when there is no train_state.pt (a shipped
    checkpoint whose run folder is gone): its weights are loaded strictly, the optimiser starts fresh."""
    out = Path(out)
    device = device or next(model.parameters()).device
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    state = ckpt.load_train_state(out)
    step = 0
    if state is not None:
        from t2i.checkpoint import load_modules

        load_modules({"model": model}, {f"model.{k}": v for k, v in state["model"].items()}, str(out))
        opt.load_state_dict(state["opt"])
        set_rng_state(state["rng"])
        step = int(state["step"])
    elif init is not None:
        from t2i.checkpoint import load_modules, read_weights

        tensors = read_weights(init)
        prefix = next(iter(tensors)).split(".", 1)[0]
        load_modules({prefix: model}, tensors, str(init))
    log = JsonlLog(out / "log.jsonl", resume_step=step if state is not None else None)
    metrics: dict = {}
    bar = tqdm(total=steps, initial=step, desc=desc, dynamic_ncols=True)
    t0, seen = time.time(), 0
    data = infinite(loader)
    while step < steps:
        model.train()
        batch = next(data)
        if cosine:
            for g in opt.param_groups:
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss, logs = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        step += 1
        seen += len(batch["image"])
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
        if step % 50 == 0 or step == steps:
            log.write(step=step, imgs_per_s=seen / max(time.time() - t0, 1e-9), **logs)
        if eval_fn is not None and (step % eval_every == 0 or step == steps):
            model.eval()
            metrics = eval_fn()
            log.write(step=step, **{f"eval/{k}": v for k, v in metrics.items()})
            bar.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
        if step % save_every == 0 or step == steps:
            save(out, step)
            ckpt.save_train_state(out, {"model": model.state_dict(), "opt": opt.state_dict(), "rng": rng_state(),
                                        "step": step})
    bar.close()
    return metrics
