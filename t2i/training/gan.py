"""The one GAN trainer: every registered family, one CPU, one GPU or many (torchrun + DDP).

EMA generator, resume after a crash or kill (atomic writes; step, optimisers and RNG restored), sample grids,
JSONL log, tqdm progress, AMP (bf16 autocast) on CUDA. Run configs are TOML files in train/ with a [train]
table (TrainConfig) and a [model] table (the family's Config); defaults < file < command-line flags. The quick
evals (train.eval_every) are injected, Trainer(..., evaluator=t2i.eval.generators.quick_eval) as the CLI does:
training does not import evaluation (tests/test_layers.py).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.profiler import record_function as region
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.auto import tqdm

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.models.registry import RETIRED_FIELDS, StepContext, get_family
from t2i.nn.fit import JsonlLog, infinite
from t2i.runtime import pick_device, rng_state, seed_everything, set_rng_state
from t2i.training.common import EMA, StopRequest, bf16_autocast_ok
from t2i.training.keep import copy_model, keep_best


QuickEval = Callable[[Path, "TrainConfig", torch.device], dict]  # (model folder, run config, device) -> metrics


@dataclass
class TrainConfig:
    model: str = "dfgan"  # registered family name
    data: str = "data/synthbirds-64"  # dataset root (AttnGAN layout); the default SynthBirds set is rendered if absent
    out: str = "runs/dfgan"  # run folder: model folder + train_state.pt + log.jsonl + samples/
    damsm: str = "checkpoints/damsm-synthbirds-64"  # DAMSM folder (frozen text encoder, DAMSM loss)
    steps: int = 10000  # optimiser steps of G
    batch_size: int = 32  # per process
    seed: int = 0  # base seed (each DDP rank adds its rank)
    device: str = ""  # "" = cuda if available else cpu
    ema_decay: float = 0.999  # EMA of the generator's weights
    ema_start: int = 0  # step from which EMA averages (before: copies)
    ema_rampup: bool = True  # decay = min(ema_decay, (1 + step) / (10 + step)): short runs forget the random init
    save_every: int = 500  # steps between checkpoints (0 = only at the end and on a stop)
    sample_every: int = 500  # steps between sample grids (0 = only at the end)
    eval_every: int = 0  # steps between quick evals (AttrAcc, R-precision) of the EMA generator; 0 = off
    eval_images: int = 500  # test captions per quick eval (the first N of `python -m t2i eval`'s, seed 0)
    classifier: str = "attr-classifier-synthbirds-64"  # attribute classifier of the quick evals (AttrAcc)
    judge: str = "judge-synthbirds-64"  # part-level judge of the quick evals (PartAcc); "" = AttrAcc only
    eval_novel: int = 250  # novel-combination captions per quick eval (PartAcc), besides the eval_images test ones
    keep_best: bool = True  # with quick evals: copy the checkpoint of the best score (PartAcc, else AttrAcc) to <out>/best
    keep_evals: bool = False  # with quick evals: also keep every evaluated checkpoint as <out>/evals/step-NNNNNN
    tensorboard: bool = False  # also write every logged number as TensorBoard scalars to <out>/tb
    log_every: int = 20  # steps between log lines
    amp: bool = True  # bf16 autocast on CUDA, and on CPUs with native bf16 (AVX512-BF16/AMX: ~1.5x faster here)
    channels_last: bool = True  # channels-last memory format for the conv nets (faster oneDNN/cuDNN kernels)
    reuse_fake: bool = True  # one G forward per step: the D step's fakes (with their graph) serve the G step, as DF-GAN's code
    freeze_d_in_g: bool = True  # G step: no graph to D's weights (their grads were discarded): same step, less work
    compile: bool = False  # torch.compile the generator for the loss steps (SWF-GAN: 1.14x after a ~5 min compile on CPU)
    workers: int = 0  # DataLoader workers
    ship_dtype: str = "float16"  # dtype of the shipped model.safetensors
    dataset_name: str = "synthbirds"  # recorded in the model card
    init: str = ""  # warm-start snapshot folder (python -m t2i train snapshot) used when `out` has no training state
    lr_decay_start: int = 0  # step where both learning rates start a linear decay (0 = constant rates, as the papers)
    lr_decay_end: int = 0  # step where the decay reaches lr_decay_floor; the rates stay there afterwards
    lr_decay_floor: float = 0.1  # final fraction of the configured learning rates


def load_run_config(path: str | None, overrides: dict | None = None) -> tuple[TrainConfig, dict]:
    """TOML [train] + [model] tables, then `overrides` ({"train.steps": 10, "model.nf": 8}); unknown keys fail."""
    raw = tomllib.loads(Path(path).read_text()) if path else {}
    unknown = set(raw) - {"train", "model"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)} (allowed: [train], [model])")
    train, model = dict(raw.get("train", {})), dict(raw.get("model", {}))
    for k, v in (overrides or {}).items():
        table, _, key = k.partition(".")
        if table not in ("train", "model") or not key:
            raise ValueError(f"override {k!r} must look like train.KEY or model.KEY")
        (train if table == "train" else model)[key] = v
    retired = sorted(set(model) & set(RETIRED_FIELDS))
    if retired:
        raise ValueError(f"model.{retired[0]} is not a model setting: {RETIRED_FIELDS[retired[0]]}")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    bad = set(train) - names
    if bad:
        raise ValueError(f"unknown [train] keys {sorted(bad)}; allowed: {sorted(names)}")
    return TrainConfig(**train), model


def _dist_info() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def _due(step: int, every: int) -> bool:
    """Whether an every-N-steps action falls on this step; every <= 0 turns it off."""
    return every > 0 and step % every == 0


@contextlib.contextmanager
def _frozen(params: list) -> Iterator[None]:
    """requires_grad off for `params` inside (the graph built there has no path to them), back on after."""
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _load_warm(net: nn.Module, state: dict, fresh: tuple[str, ...], name: str) -> None:
    """A snapshot's weights into `net`; only parameters under the `fresh` prefixes may be missing (new heads)."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    if unexpected or any(not m.startswith(fresh) for m in missing):
        raise RuntimeError(f"{name}: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}")


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, DDP) else m


def save_grid(images: torch.Tensor, path: Path, nrow: int = 8, captions: list[str] | None = None) -> None:
    from t2i.viz.grids import image_grid

    image_grid(images, nrow=nrow, captions=captions).save(path)


class Trainer:
    """Builds the family's networks and optimisers, then alternates family.d_loss / family.g_loss steps."""

    def __init__(self, tc: TrainConfig, model_overrides: dict | None = None, evaluator: QuickEval | None = None):
        """evaluator(model_dir, tc, device) -> {"eval/...": number}: the quick eval run every tc.eval_every steps on
        the model folder just written (`python -m t2i train gan` passes t2i.eval.generators.quick_eval; the trainer
        does not import evaluation). None: no quick evals, whatever tc.eval_every says (a note is printed)."""
        self.tc = tc
        self.evaluator = evaluator
        self._cpu_start, self._cpu_base = time.process_time(), 0.0  # CPU time, set again by resume()
        self.family = get_family(tc.model)
        self.cfg = self.family.config_from_dict(model_overrides or {})
        self.rank, self.world, local = _dist_info()
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() and tc.device != "cpu" else "gloo")
        dev = pick_device(tc.device or None)
        if dev.type == "cuda" and self.world > 1:
            dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        self.device = dev
        seed_everything(tc.seed + self.rank)
        self.out = Path(tc.out)
        self.img_size = getattr(self.cfg, "img_size", 64)
        self.uses_damsm = self.family.uses_damsm(self.cfg)
        self.step_hooks: list = []  # callables(step) run after every optimiser step (e.g. a profiler's .step)
        self.stopped: tuple[str, int] | None = None  # (signal name, step) when a signal ended train() early
        self._build_data()
        self._build_nets()

    # --- set-up -----------------------------------------------------------------------------------------------
    def _build_data(self) -> None:
        from t2i.data.synthbirds import ensure_synthbirds

        root = ensure_synthbirds(self.tc.data if self.tc.data != TrainConfig.data else None, self.img_size)
        self.damsm, vocab = None, None
        if self.uses_damsm:
            from t2i.text.damsm import load_damsm

            self.damsm, vocab = load_damsm(self.tc.damsm, self.device)
        self.data = CaptionDataset(root, "train", self.img_size, vocab=vocab)
        self.vocab = self.data.vocab
        if getattr(self.cfg, "vocab_size", len(self.vocab)) != len(self.vocab):  # families with their own text encoder
            self.cfg = dataclasses.replace(self.cfg, vocab_size=len(self.vocab))
        self.sampler = DistributedSampler(self.data, self.world, self.rank, shuffle=True, seed=self.tc.seed) \
            if self.world > 1 else None
        self.loader = DataLoader(self.data, batch_size=self.tc.batch_size, shuffle=self.sampler is None,
                                 sampler=self.sampler, drop_last=True, num_workers=self.tc.workers,
                                 pin_memory=self.device.type == "cuda", persistent_workers=self.tc.workers > 0)
        test = CaptionDataset(root, "test", self.img_size, vocab=self.vocab, augment=False)
        n = min(16, len(test))
        self.sample_batch = torch.utils.data.default_collate([test[i * len(test) // n] for i in range(n)])

    def _build_nets(self) -> None:
        nets = self.family.build(self.cfg)
        attach = getattr(self.family, "attach_pretrained", None)
        if attach is not None:
            attach(nets, self.cfg, lambda p: (ckpt.read_config(p), ckpt.read_weights(p)))
        fmt = torch.channels_last if self.tc.channels_last else torch.contiguous_format
        self.nets = {k: v.to(self.device, memory_format=fmt) for k, v in nets.items()}
        self.ema = EMA(self.nets["G"], self.tc.ema_decay)
        g_params = [p for k in self.family.g_keys for p in self.nets[k].parameters() if p.requires_grad]
        d_params = [p for k, v in self.nets.items() if k.startswith("D") for p in v.parameters() if p.requires_grad]
        betas = tuple(getattr(self.cfg, "betas", (0.0, 0.9)))
        self.opt_g = torch.optim.Adam(g_params, lr=self.cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(d_params, lr=self.cfg.lr_d, betas=betas) if d_params else None
        if self.world > 1:
            for k, v in self.nets.items():
                if any(p.requires_grad for p in v.parameters()):
                    self.nets[k] = DDP(v, device_ids=[self.device] if self.device.type == "cuda" else None,
                                       broadcast_buffers=False)
        # the loss steps see step_nets: the same modules, G compiled when asked (saving and EMA use self.nets, so the
        # state dicts keep their names); D stays eager since MA-GP / R1 need a double backward compile cannot do
        self.step_nets = dict(self.nets)
        if self.tc.compile:
            self.step_nets["G"] = torch.compile(self.nets["G"], dynamic=False)
        # the G step sees the Ds without DDP's wrapper when they are frozen for it (no gradients to all-reduce)
        self.d_params = d_params if self.tc.freeze_d_in_g else []
        self.g_step_nets = {k: _unwrap(v) if self.d_params and k.startswith("D") else v
                            for k, v in self.step_nets.items()}
        self.perceptual = None
        if self.family.uses_perceptual(self.cfg):
            from t2i.losses import PerceptualLoss

            size = {"size": self.cfg.per_size} if hasattr(self.cfg, "per_size") else {}  # else PerceptualLoss's
            self.perceptual = PerceptualLoss(**size).to(self.device)

    # --- state --------------------------------------------------------------------------------------------------
    def state_dict(self, step: int, wall: float) -> dict:
        return {"nets": {k: _unwrap(v).state_dict() for k, v in self.nets.items()},
                "ema": self.ema.module.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict() if self.opt_d else {}, "rng": rng_state(), "step": step,
                "wall": wall, "cpu": self.cpu_seconds()}

    def cpu_seconds(self) -> float:
        """CPU seconds this run has used, over every resume: the training process's own (its threads, the quick
        evals included; data-loader workers not), what the campaign's per-model CPU budgets count."""
        return self._cpu_base + time.process_time() - self._cpu_start

    def resume(self) -> tuple[int, float]:
        state = ckpt.load_train_state(self.out)
        self._cpu_start, self._cpu_base = time.process_time(), 0.0
        if state is None and self.tc.init:
            return self.warm_start(self.tc.init)
        if state is None:
            return 0, 0.0
        self._cpu_base = float(state.get("cpu", 0.0))  # 0 for a run saved before CPU time was kept
        for k, v in self.nets.items():
            _unwrap(v).load_state_dict(state["nets"][k])
        self.ema.module.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.opt_d:
            self.opt_d.load_state_dict(state["opt_d"])
        set_rng_state(state["rng"])
        return int(state["step"]), float(state.get("wall", 0.0))

    def warm_start(self, folder: str) -> tuple[int, float]:
        """Networks, EMA, step and wall time from a snapshot (optimisers start afresh: with Adam's beta1 = 0 only
        the second moment is lost, and it re-adapts within tens of steps); its log.jsonl continues here.
        Frozen nets (no trainable parameter, e.g. CI-GAN's pretrained StyleGAN2 in stage 2) keep what this run's
        config loaded (Family.source_fields), so a trained net can be warm-started onto a newer frozen input."""
        import shutil

        groups, meta = ckpt.load_snapshot(folder)
        mine = dataclasses.asdict(self.cfg)
        # a field added to the config after the snapshot was made counts as its default (what the snapshot ran)
        defaults = {f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
                    for f in dataclasses.fields(self.cfg)}
        theirs = {**{k: v for k, v in defaults.items() if v is not dataclasses.MISSING}, **meta["config"]}
        # loss weights and readings, learning rates and the discriminator (lambda_*, per_*, lr_*, d, d_*) may differ:
        # a recipe variant branches from a snapshot; with another discriminator the Ds start afresh and only G (and
        # EMA) carry over
        def differs(k: str) -> bool:
            return json.dumps(mine.get(k)) != json.dumps(theirs.get(k))

        diff = sorted(k for k in set(mine) | set(theirs)
                      if differs(k) and not k.startswith(("lambda_", "per_", "lr_", "magp_", "d_")) and k != "d"
                      and k not in ("vocab_size", *self.family.runtime_fields, *self.family.source_fields,
                                    *RETIRED_FIELDS))
        if diff:
            raise ckpt.CheckpointError(f"snapshot {folder} was trained with another model config ({', '.join(diff)})")
        new_d = any(differs(k) for k in set(mine) | set(theirs) if k == "d" or k.startswith("d_"))
        fresh = self.family.d_choice_g_keys if new_d else ()  # G heads that discriminator choice adds
        try:
            for k, v in self.nets.items():
                if not any(p.requires_grad for p in _unwrap(v).parameters()):
                    continue  # frozen input: from the config's source, not the snapshot
                if new_d and k.startswith("D"):
                    continue  # another discriminator: trained from scratch against the warm generator
                _load_warm(_unwrap(v), groups[f"nets.{k}"], fresh, k)
            _load_warm(self.ema.module, groups["ema"], fresh, "ema")
            if fresh:  # the new heads' EMA starts as the (fresh) heads themselves
                g = _unwrap(self.nets["G"]).state_dict()
                self.ema.module.load_state_dict({k: v for k, v in g.items() if k.startswith(fresh)}, strict=False)
        except (KeyError, RuntimeError) as e:
            raise ckpt.CheckpointError(f"snapshot {folder} does not fit {self.tc.model}: {e}") from None
        log = Path(folder) / "log.jsonl"
        if self.rank == 0 and log.is_file() and not (self.out / "log.jsonl").is_file():
            self.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, self.out / "log.jsonl")
        self._cpu_base = meta.get("cpu", 0.0)
        return meta["step"], meta["wall"]

    def save(self, step: int, wall: float) -> None:
        if self.rank != 0:
            return
        modules = self.family.ship_modules(self.cfg, self.nets, self.ema.module)
        state = self.state_dict(step, wall)  # written with the model files as one set (config.json last)
        extra = {}
        if self.damsm is not None:
            modules["text_encoder"] = self.damsm.text_encoder
            extra["text_encoder_config"] = dataclasses.asdict(self.damsm.cfg)
        ckpt.save_model_folder(self.out, self.tc.model, dataclasses.asdict(self.cfg), modules,
                               vocab=self.vocab,
                               dtype=getattr(torch, self.tc.ship_dtype), step=step, resolution=self.img_size,
                               dataset=self.tc.dataset_name, data_root=str(self.tc.data),
                               train_wall_s=round(wall, 1), train_cpu_s=round(state["cpu"], 1),
                               train=dataclasses.asdict(self.tc),
                               extra_files={ckpt.TRAIN_STATE: lambda p: torch.save(state, p)}, **extra)

    @torch.no_grad()
    def sample(self, step: int) -> None:
        """A grid of real test images above EMA samples for the same captions (fixed noise)."""
        if self.rank != 0:
            return
        ctx = self._context(self.sample_batch, step)
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(1234)
            images = self.family.preview(self.ema.module, ctx, self.nets).float()
        (self.out / "samples").mkdir(parents=True, exist_ok=True)
        save_grid(torch.cat([ctx.real, images.to(ctx.real.device)]), self.out / "samples" / f"{step:07d}.png",
                  nrow=len(images))

    def quick_eval(self) -> dict:
        """The injected evaluator's metrics of the checkpoint just written (the shipped EMA generator); the
        training RNG streams are left untouched."""
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            out = self.evaluator(self.out, self.tc, self.device)
        for v in self.nets.values():
            v.train()
        return out

    def _can_eval(self, step: int) -> bool:
        """Whether a quick eval can run: an evaluator was given. Without one, say so once and train on."""
        if self.evaluator is None and not getattr(self, "_no_eval_noted", False):
            self._no_eval_noted = True
            tqdm.write(f"step {step}: train.eval_every={self.tc.eval_every} but this Trainer was given no evaluator: no "
                       "quick evals (python -m t2i train gan passes t2i.eval.generators.quick_eval)")
        return self.evaluator is not None

    # --- loop ----------------------------------------------------------------------------------------------------
    def _context(self, batch, step: int) -> StepContext:
        real = batch["image"].to(self.device, non_blocking=True)
        if self.tc.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        tokens, lengths = batch["tokens"].to(self.device), batch["length"].to(self.device)
        sent = words = mask = None
        if self.damsm is not None:
            with torch.no_grad():
                words, sent, mask = self.damsm.encode_text(tokens, lengths)
        return StepContext(real=real, sent=sent, words=words, word_mask=mask, cfg=self.cfg, damsm=self.damsm,
                           perceptual=self.perceptual, step=step, class_ids=batch["class_id"].to(self.device),
                           tokens=tokens, lengths=lengths, indices=batch["index"], reuse_fake=self.tc.reuse_fake)

    def ema_decay_at(self, step: int) -> float:
        """EMA decay after `step` generator steps (0 = copy)."""
        if step <= self.tc.ema_start:
            return 0.0
        if self.tc.ema_rampup:
            return min(self.tc.ema_decay, (1 + step) / (10 + step))
        return self.tc.ema_decay

    def lr_factor(self, step: int) -> float:
        """Fraction of the configured learning rates at `step`: 1, then linear to lr_decay_floor (ours, not in the
        papers: a late decay for a run whose quick evals went flat). A function of the step only, so resumes agree."""
        start, end, floor = self.tc.lr_decay_start, self.tc.lr_decay_end, self.tc.lr_decay_floor
        if end <= start or step <= start:
            return 1.0
        return floor + (1.0 - floor) * max(0.0, 1.0 - (step - start) / (end - start))

    def _set_lr(self, step: int) -> None:
        f = self.lr_factor(step)
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d)):
            if opt is not None:
                for g in opt.param_groups:
                    g["lr"] = lr * f

    def _autocast(self):
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=self.amp_on)

    @property
    def amp_on(self) -> bool:
        return self.tc.amp and bf16_autocast_ok(self.device)

    def close(self) -> None:
        """Leave the process group (torchrun): a gloo group still open at interpreter exit can abort the process."""
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()

    def train(self, stop_after: int | None = None) -> dict:
        """Run to tc.steps (or `stop_after` more steps); returns the last logged losses."""
        if self.rank == 0:
            orphans = ckpt.clean_orphans(self.out)
            if orphans:
                tqdm.write(f"removed {len(orphans)} temporary file(s) an interrupted save left in {self.out}")
        step, wall = self.resume()
        log = JsonlLog(self.out / "log.jsonl", resume_step=step if step else None,
                       tensorboard=self.out / "tb" if self.tc.tensorboard else None) if self.rank == 0 else None
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
        target = self.tc.steps if stop_after is None else min(self.tc.steps, step + stop_after)
        bar = tqdm(total=self.tc.steps, initial=step, desc=f"{self.tc.model}", dynamic_ncols=True,
                   disable=self.rank != 0)
        if self.sampler is not None:
            self.sampler.set_epoch(step)
        data = infinite(self.loader)
        logs: dict = {}
        t_last, t_run, imgs = time.time(), 0.0, 0
        for v in self.nets.values():
            v.train()
        stop = StopRequest()
        while step < target:
            with region("data"):
                batch = next(data)
            with region("text encoder"):
                ctx = self._context(batch, step)
            self._set_lr(step)
            if self.opt_d is not None:
                with self._autocast(), region("D step: losses"):
                    d_loss, d_logs = self.family.d_loss(self.step_nets, ctx)
                self.opt_d.zero_grad(set_to_none=True)
                with region("D step: backward"):
                    d_loss.backward()
                with region("optimisers + EMA"):
                    self.opt_d.step()
            else:
                d_logs = {}
            with self._autocast(), region("G step: losses"), _frozen(self.d_params):
                g_loss, g_logs = self.family.g_loss(self.g_step_nets, ctx)
            self.opt_g.zero_grad(set_to_none=True)
            with region("G step: backward"):
                g_loss.backward()
            with region("optimisers + EMA"):
                self.opt_g.step()
                self.ema.update(_unwrap(self.nets["G"]), decay=self.ema_decay_at(step + 1))
            step += 1
            for hook in self.step_hooks:
                hook(step)
            imgs += len(ctx.real) * self.world
            now = time.time()
            wall, t_run, t_last = wall + now - t_last, t_run + now - t_last, now
            logs = {**d_logs, **g_logs}
            bar.update(1)
            if self.rank == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in list(logs.items())[:4]})
                if _due(step, self.tc.log_every) or step == target:
                    log.write(step=step, wall_s=round(wall, 2), cpu_s=round(self.cpu_seconds(), 2),
                              imgs_per_s=round(imgs / max(t_run, 1e-9), 2), **logs)
                if _due(step, self.tc.sample_every) or step == self.tc.steps:
                    self.sample(step)
                if _due(step, self.tc.save_every) or step == target:
                    self.save(step, wall)
                if _due(step, self.tc.eval_every) and self.family.quick_eval_kind(self.cfg) \
                        and self._can_eval(step):
                    if not _due(step, self.tc.save_every) and step != target:
                        self.save(step, wall)
                    metrics = self.quick_eval()
                    log.write(step=step, wall_s=round(wall, 2), **metrics)
                    best = self.tc.keep_best and keep_best(self.out, step, metrics)
                    if self.tc.keep_evals:
                        copy_model(self.out, self.out / "evals" / f"step-{step:06d}", step, metrics)
                    tqdm.write(f"step {step}: " + ", ".join(f"{k} {v}" for k, v in metrics.items())
                               + (f" (best so far -> {self.out / 'best'})" if best else ""))
                    t_last = time.time()  # the eval is not training time
            if stop.requested(self.world, self.device):
                if self.rank == 0:
                    if not _due(step, self.tc.save_every) and step != target:
                        self.save(step, wall)
                    tqdm.write(f"{stop.signame}: checkpoint written at step {step} in {self.out}; rerun to resume")
                self.stopped = (stop.signame, step)
                break
        stop.restore()
        bar.close()
        if log is not None:
            log.close()
        return logs
