"""Pre-training of the DAMSM encoders (AttnGAN: batch 48, lr 0.002, grad-clip 0.25)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.eval.rprecision import r_precision
from t2i.text.damsm import DAMSM, DAMSMConfig
from t2i.training.common import fit, pick_device, seed_everything


@torch.no_grad()
def evaluate_damsm(model: DAMSM, data: CaptionDataset, device, n: int = 1000, batch: int = 100) -> dict:
    """R-precision of real test pairs (1 true + 99 random captions of other classes)."""
    model.eval()
    idx = list(range(min(n, len(data))))
    codes, sents, classes = [], [], []
    for s in range(0, len(idx), batch):
        items = [data[i] for i in idx[s:s + batch]]
        img = torch.stack([it["image"] for it in items]).to(device)
        tok = torch.stack([it["tokens"] for it in items]).to(device)
        ln = torch.stack([it["length"] for it in items]).to(device)
        codes.append(model.image_encoder(img)[1].cpu())
        sents.append(model.encode_text(tok, ln)[1].cpu())
        classes.append(torch.stack([it["class_id"] for it in items]))
    codes, sents, classes = torch.cat(codes), torch.cat(sents), torch.cat(classes)
    return {"r_precision": r_precision(codes, sents, sents, classes, classes)}


def train_damsm(data_root: str, out: str, img_size: int = 64, steps: int = 3000, batch_size: int = 48,
                lr: float = 0.002, seed: int = 0, device: str | None = None, workers: int = 0,
                eval_every: int = 500, limit: int | None = None, init: str | None = None, **cfg_overrides) -> dict:
    """Train text + image encoders jointly with the DAMSM word and sentence losses; ships a model folder."""
    seed_everything(seed)
    dev = pick_device(device)
    train = CaptionDataset(data_root, "train", img_size, limit=limit)
    test = CaptionDataset(data_root, "test", img_size, vocab=train.vocab, limit=limit)
    cfg = DAMSMConfig(vocab_size=len(train.vocab), img_size=img_size, **cfg_overrides)
    model = DAMSM(cfg).to(dev)

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
