"""Pieces every training loop shares: EMA of weights, stop on SIGTERM / SIGINT.

Device, the bf16 autocast check, seeding and RNG state live in t2i.runtime, the JSONL log and the resumable
supervised loop `fit` in t2i.nn.fit (lower layers, so evaluation and inference use them without importing
training); they are re-exported here under their old names."""
from __future__ import annotations

import copy
import signal
import threading

import torch
import torch.distributed as dist
from torch import nn

from t2i.nn.fit import JsonlLog, fit, infinite  # noqa: F401
from t2i.runtime import bf16_autocast_ok, pick_device, rng_state, seed_everything, set_rng_state  # noqa: F401


class EMA:
    """Exponential moving average of a module's parameters (buffers are copied)."""

    def __init__(self, module: nn.Module, decay: float):
        self.module = copy.deepcopy(module).eval().requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, module: nn.Module, decay: float | None = None) -> None:
        d = self.decay if decay is None else decay
        for e, p in zip(self.module.parameters(), module.parameters()):
            e.lerp_(p.detach(), 1 - d)
        for e, b in zip(self.module.buffers(), module.buffers()):
            e.copy_(b)


class StopRequest:
    """SIGTERM / SIGINT during training: finish the current step, write a checkpoint, return (a later run resumes
    from it). Under DDP the ranks agree on stopping through an all-reduce, so all stop at the same step."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signame: str | None = None
        self._old = {}
        if threading.current_thread() is threading.main_thread():  # signal handlers only install there
            for sig in self.SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.signame is not None:  # a second signal: give up at once
            self.restore()
            raise KeyboardInterrupt
        self.signame = signal.Signals(signum).name

    def requested(self, world: int, device: torch.device) -> bool:
        flag = self.signame is not None
        if world > 1:
            t = torch.tensor([float(flag)], device=device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            flag = bool(t.item())
            if flag and self.signame is None:
                self.signame = "stop on another rank"
        return flag

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
