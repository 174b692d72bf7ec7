"""Pre-training of the DAMSM encoders (AttnGAN: batch 48, lr 0.002, grad-clip 0.25)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.nn.fit import fit
from t2i.runtime import pick_device, seed_everything
from t2i.text.damsm import DAMSM, DAMSMConfig
from t2i.text.rprecision import evaluate_damsm  # noqa: F401 - re-exported (t2i.training.damsm.evaluate_damsm)


class _TrunkClassifier(nn.Module):
    """The "cnn" image trunk + tail with one linear head per label group, for in-domain pre-training."""

    def __init__(self, encoder, groups: dict[str, int]):
        super().__init__()
        self.trunk, self.tail = encoder.trunk, encoder.tail
        self.heads = nn.ModuleDict({g: nn.Linear(encoder.glob.in_features, n) for g, n in groups.items()})

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = self.tail(self.trunk(images)).flatten(1)
        return {g: head(flat) for g, head in self.heads.items()}


class _Labelled(Dataset):
    """Images with one class index per label group: attribute groups when the dataset has them, else species."""

    def __init__(self, base: CaptionDataset, data_root: str):
        self.base = base
        try:
            from t2i.data.attributes import read_image_attributes

            groups, labels = read_image_attributes(data_root)
            self.groups = {g: len(v) for g, v in groups.items()}
            self.targets = [torch.tensor([groups[g].index(labels.get(s.key, {})[g]) if g in labels.get(s.key, {})
                                          else -1 for g in groups]) for s in base.samples]
        except FileNotFoundError:  # no attribute annotations (COCO, Oxford-102): the class id is the label
            self.groups = {"class": 1 + max(int(base[i]["class_id"]) for i in range(len(base)))}
            self.targets = None

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        item = self.base[i]
        target = self.targets[i] if self.targets is not None else item["class_id"].view(1)
        return {"image": item["image"], "target": target}


def pretrain_image_trunk(model: DAMSM, data: CaptionDataset, data_root: str, out: Path, steps: int,
                         batch_size: int, device, eval_every: int = 500) -> dict:
    """AttnGAN's image encoder is an ImageNet-pretrained CNN; here the trunk is pre-trained on the dataset's own
    image labels (resumable run under OUT/trunk), then frozen for the DAMSM stage."""
    enc = model.image_encoder
    labelled = _Labelled(data, data_root)
    net = _TrunkClassifier(enc, labelled.groups).to(device).requires_grad_(True)
    names = list(labelled.groups)

    def loss_fn(m, b):
        logits = m(b["image"].to(device))
        t = b["target"].to(device)
        loss = sum(F.cross_entropy(logits[g], t[:, j], ignore_index=-1) for j, g in enumerate(names)) / len(names)
        return loss, {"loss": loss.item()}

    def save(folder: Path, step: int):  # the trunk lives in train_state.pt until the DAMSM folder is written
        pass

    loader = DataLoader(labelled, batch_size=batch_size, shuffle=True, drop_last=True)
    metrics = fit(net, loss_fn, loader, out / "trunk", steps, 1e-3, save, eval_fn=None, device=device,
                  desc="damsm trunk", cosine=True)
    enc.freeze_trunk()
    return metrics


def train_damsm(data_root: str, out: str, img_size: int = 64, steps: int = 3000, batch_size: int = 48,
                lr: float = 0.002, seed: int = 0, device: str | None = None, workers: int = 0,
                eval_every: int = 500, limit: int | None = None, init: str | None = None,
                pretrain_steps: int = 1500, **cfg_overrides) -> dict:
    """Train text + image encoders with the DAMSM word and sentence losses; ships a model folder. With the
    "cnn-pretrained" backbone the image trunk is first pre-trained for `pretrain_steps` on image labels."""
    seed_everything(seed)
    dev = pick_device(device)
    train = CaptionDataset(data_root, "train", img_size, limit=limit)
    test = CaptionDataset(data_root, "test", img_size, vocab=train.vocab, limit=limit)
    cfg = DAMSMConfig(vocab_size=len(train.vocab), img_size=img_size, **cfg_overrides)
    model = DAMSM(cfg).to(dev)
    fresh = ckpt.load_train_state(Path(out)) is None and init is None
    if cfg.backbone == "cnn-pretrained" and fresh and pretrain_steps > 0:
        pretrain_image_trunk(model, train, data_root, Path(out), pretrain_steps, 64, dev)

    def loss_fn(m: DAMSM, b):
        words, sent, mask = m.encode_text(b["tokens"].to(dev), b["length"].to(dev))
        regions, glob = m.image_encoder(b["image"].to(dev))
        w, s = m.losses(regions, glob, words, sent, mask, b["class_id"].to(dev))
        return w + s, {"w_loss": w.item(), "s_loss": s.item()}

    def save(folder: Path, step: int):
        ckpt.save_model_folder(folder, "damsm", dataclasses.asdict(cfg), {"damsm": model}, vocab=train.vocab,
                               step=step, dataset=str(Path(data_root).name), resolution=img_size)

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=workers)
    return fit(model, loss_fn, loader, out, steps, lr, save, betas=(0.5, 0.999), clip=0.25,
               eval_fn=lambda: evaluate_damsm(model, test, dev), eval_every=eval_every, device=dev, desc="damsm", init=init)
