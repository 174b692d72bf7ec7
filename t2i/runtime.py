"""Device, seeding and RNG state: neutral helpers every layer may use (training, evaluation, inference)."""
from __future__ import annotations

import random

import numpy as np
import torch


def pick_device(name: str | None = None) -> torch.device:
    """'cuda' when available unless told otherwise."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_autocast_ok(device) -> bool:
    """Whether bf16 autocast pays on `device`: always on CUDA; on CPU only with native bf16 (AVX512-BF16/AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return True
    return device.type == "cpu" and bool(torch.backends.mkldnn.is_available()) and \
        bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    """RNG states as tensors and plain lists (loadable with weights_only=True)."""
    py = random.getstate()
    state = {"torch": torch.get_rng_state(), "python": [py[0], list(py[1]), py[2]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
