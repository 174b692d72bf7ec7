"""R-precision (AttnGAN) of DAMSM codes: an image's global code against 1 true + 99 random captions.

The metric itself and `evaluate_damsm` (R-precision of a DAMSM pair on real test pairs) sit here, beside the text
encoders, because both the DAMSM training (t2i.training.damsm) and evaluation (t2i.eval) use them; the scoring of
generators with the evaluation-only encoder pair stays in t2i.eval.rprecision, which re-exports these names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from t2i.data.captions import CaptionDataset
from t2i.text.damsm import DAMSM


def _distractors(n_img: int, n_pool: int, same_pool: bool, pool_class: torch.Tensor | None,
                 true_class: torch.Tensor | None, n_wrong: int, seed: int) -> Iterator[torch.Tensor]:
    """For each image i, the indices of its `n_wrong` mismatched captions (the same draw for every scorer)."""
    g = torch.Generator().manual_seed(seed)
    for i in range(n_img):
        cand = torch.randperm(n_pool, generator=g)
        if same_pool:
            cand = cand[cand != i]  # the true caption is not its own distractor
        if pool_class is not None and true_class is not None:
            cand = cand[pool_class[cand] != true_class[i]]
        yield cand[:n_wrong]


@torch.no_grad()
def r_precision(img_codes: torch.Tensor, true_sent: torch.Tensor, pool_sent: torch.Tensor,
                pool_class: torch.Tensor | None = None, true_class: torch.Tensor | None = None,
                n_wrong: int = 99, seed: int = 0) -> float:
    """Top-1 hit rate. img_codes [N, D] (DAMSM image global codes), true_sent [N, D] their captions' sentence
    codes, pool_sent [M, D] the caption pool the 99 mismatched ones are drawn from (other classes when class
    ids are given)."""
    hits = 0
    draws = _distractors(len(img_codes), len(pool_sent), pool_sent is true_sent, pool_class, true_class, n_wrong, seed)
    for i, cand in enumerate(draws):
        sents = torch.cat([true_sent[i:i + 1], pool_sent[cand]])
        sims = F.cosine_similarity(img_codes[i:i + 1], sents, dim=1)
        hits += int(sims.argmax().item() == 0)
    return hits / max(len(img_codes), 1)


def r_precision_ceiling(image_attrs: list[dict], caption_attrs: list[dict], class_ids: torch.Tensor,
                        n_wrong: int = 99, seed: int = 0) -> float:
    """Expected R-precision of an oracle that knows every attribute of each image and reads exactly what each
    caption mentions, on the same draws as r_precision(pool = the true captions): a distractor that mentions only
    attributes the image really has is as good a match as the true caption, so with k such distractors the oracle
    is right with probability 1 / (k + 1). Captions that mention 2-5 of 12 attributes make this < 100 %."""
    total = 0.0
    draws = _distractors(len(image_attrs), len(caption_attrs), True, class_ids, class_ids, n_wrong, seed)
    for i, cand in enumerate(draws):
        k = sum(all(image_attrs[i].get(g) == v for g, v in caption_attrs[j].items()) for j in cand.tolist())
        total += 1.0 / (k + 1)
    return total / max(len(image_attrs), 1)


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
    out = {"r_precision": r_precision(codes, sents, sents, classes, classes)}
    if (Path(data.root) / "synthbirds.json").is_file():  # attribute-oracle ceiling of the same draws
        from t2i.data.attributes import read_image_attributes
        from t2i.data.synthbirds import parse_caption

        labels = read_image_attributes(data.root)[1]
        image_attrs = [labels.get(data.samples[i].key, {}) for i in idx]
        caption_attrs = [parse_caption(data[i]["caption"]) for i in idx]
        out["r_precision_ceiling"] = r_precision_ceiling(image_attrs, caption_attrs, classes)
    return out
