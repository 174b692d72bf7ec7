"""The SynthBirds attribute classifier and AttrAcc: does the image show what the caption asked for?"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from t2i import checkpoint as ckpt
from t2i.data.attributes import read_image_attributes
from t2i.data.captions import CaptionDataset


@dataclass
class AttrClassifierConfig:
    groups: dict = field(default_factory=dict)  # attribute group -> its values, e.g. has_belly_color -> [...]
    img_size: int = 64  # training resolution (inputs of any size are resized to 64 px)
    nf: int = 32  # base width


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True), nn.MaxPool2d(2))


class AttrClassifier(nn.Module):
    """A small CNN (4 conv blocks, spatial 4x4 features -> FC) with one softmax head per attribute group.
    The 4x4 layout is kept (no global pooling): which part has which colour is a question of where."""

    def __init__(self, cfg: AttrClassifierConfig):
        super().__init__()
        self.cfg = cfg
        nf = cfg.nf
        self.features = nn.Sequential(_block(3, nf), _block(nf, nf * 2), _block(nf * 2, nf * 3), _block(nf * 3, nf * 4))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(nf * 4 * 16, 256), nn.ReLU(True), nn.Dropout(0.2))
        self.heads = nn.ModuleDict({g: nn.Linear(256, len(v)) for g, v in cfg.groups.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        assert images.dim() == 4 and images.size(1) == 3, images.shape
        if images.shape[-2:] != (64, 64):
            images = F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        h = self.fc(self.features(images))
        return {g: head(h) for g, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: Tensor, batch: int = 256) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {g: [] for g in self.cfg.groups}
        for s in range(0, len(images), batch):
            logits = self(images[s:s + batch])
            for g, lg in logits.items():
                out[g] += [self.cfg.groups[g][i] for i in lg.argmax(1).tolist()]
        return out


class LabelledImages(Dataset):
    """CaptionDataset images with their attribute labels as class indices (-1 = unlabelled)."""

    def __init__(self, base: CaptionDataset, groups: dict[str, list[str]], labels: dict[str, dict[str, str]]):
        self.base, self.groups = base, groups
        self.targets = []
        for s in base.samples:
            lab = labels.get(s.key, {})
            self.targets.append(torch.tensor([groups[g].index(lab[g]) if g in lab else -1 for g in groups]))

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return {"image": self.base[i]["image"], "target": self.targets[i]}


@torch.no_grad()
def per_attribute_accuracy(model: AttrClassifier, data: LabelledImages, device="cpu", batch: int = 256) -> dict[str, float]:
    model.eval()
    correct = {g: 0 for g in data.groups}
    total = {g: 0 for g in data.groups}
    for b in DataLoader(data, batch_size=batch):
        logits = model(b["image"].to(device))
        for j, g in enumerate(data.groups):  # targets follow the dataset's group order (config JSON is sorted)
            if data.groups[g] != model.cfg.groups.get(g):
                raise ValueError(f"classifier and dataset disagree on the values of {g}")
            t = b["target"][:, j].to(device)
            ok = t >= 0
            correct[g] += int((logits[g].argmax(1)[ok] == t[ok]).sum())
            total[g] += int(ok.sum())
    acc = {g: correct[g] / total[g] for g in correct if total[g]}
    acc["mean"] = sum(acc.values()) / max(len(acc), 1)
    return acc


def attr_acc(model: AttrClassifier, images: Tensor, mentioned: list[dict[str, str]]) -> dict[str, float]:
    """AttrAcc: share of the attributes each caption mentions that the classifier reads back from its image.
    `mentioned[i]` maps group -> value (from t2i.data.synthbirds.parse_caption). Returns overall and per group."""
    model.eval()
    out, hits, total = mention_accuracy(model.predict(images), mentioned, set(model.cfg.groups))
    out["attr_acc"] = hits / max(total, 1)
    return out


def mention_accuracy(read: dict[str, list[str]], mentioned: list[dict[str, str]], groups) -> tuple[dict, int, int]:
    """How often image i's reading read[group][i] is the value caption i states, over the stated attributes whose
    group is in `groups`: ({group: share}, hits, mentions). Shared by AttrAcc and the judge's PartAcc."""
    hit: dict[str, int] = {}
    tot: dict[str, int] = {}
    for i, attrs in enumerate(mentioned):
        for g, v in attrs.items():
            if g in groups:
                tot[g] = tot.get(g, 0) + 1
                hit[g] = hit.get(g, 0) + int(read[g][i] == v)
    return {g: hit[g] / tot[g] for g in tot}, sum(hit.values()), sum(tot.values())


def load_attr_classifier(name, device="cpu") -> AttrClassifier:
    return ckpt.load_component(name, "attr-classifier", AttrClassifierConfig, AttrClassifier, "classifier", device,
                               what="an attribute classifier")[0]


def train_attr_classifier(data_root: str, out: str, img_size: int = 64, steps: int = 1500, batch_size: int = 64,
                          lr: float = 1e-3, seed: int = 0, device: str | None = None, limit: int | None = None, init: str | None = None,
                          eval_every: int = 500, nf: int = 32) -> dict:
    from t2i.nn.fit import fit
    from t2i.runtime import pick_device, seed_everything

    seed_everything(seed)
    dev = pick_device(device)
    groups, labels = read_image_attributes(data_root)
    train = LabelledImages(CaptionDataset(data_root, "train", img_size, limit=limit), groups, labels)
    test = LabelledImages(CaptionDataset(data_root, "test", img_size, vocab=train.base.vocab, limit=limit),
                          groups, labels)
    cfg = AttrClassifierConfig(groups=groups, img_size=img_size, nf=nf)
    model = AttrClassifier(cfg).to(dev)

    def loss_fn(m, b):
        logits = m(b["image"].to(dev))
        t = b["target"].to(dev)
        loss = sum(F.cross_entropy(logits[g], t[:, j], ignore_index=-1) for j, g in enumerate(groups)) / len(groups)
        return loss, {"loss": loss.item()}

    def save(folder: Path, step: int):
        ckpt.save_model_folder(folder, "attr-classifier", dataclasses.asdict(cfg), {"classifier": model},
                               step=step, resolution=img_size)

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    return fit(model, loss_fn, loader, out, steps, lr, save, eval_fn=lambda: per_attribute_accuracy(model, test, dev),
               eval_every=eval_every, device=dev, desc="attr-classifier", cosine=True, init=init)
