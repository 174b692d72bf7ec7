"""R-precision (AttnGAN): the generated image's DAMSM global code against 1 true + 99 random captions."""
from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def r_precision(img_codes: torch.Tensor, true_sent: torch.Tensor, pool_sent: torch.Tensor,
                pool_class: torch.Tensor | None = None, true_class: torch.Tensor | None = None,
                n_wrong: int = 99, seed: int = 0) -> float:
    """Top-1 hit rate. img_codes [N, D] (DAMSM image global codes), true_sent [N, D] their captions' sentence
    codes, pool_sent [M, D] the caption pool the 99 mismatched ones are drawn from (other classes when class
    ids are given)."""
    g = torch.Generator().manual_seed(seed)
    hits = 0
    for i in range(len(img_codes)):
        cand = torch.randperm(len(pool_sent), generator=g)
        if pool_sent is true_sent:
            cand = cand[cand != i]  # the true caption is not its own distractor
        if pool_class is not None and true_class is not None:
            cand = cand[pool_class[cand] != true_class[i]]
        cand = cand[:n_wrong]
        sents = torch.cat([true_sent[i:i + 1], pool_sent[cand]])
        sims = F.cosine_similarity(img_codes[i:i + 1], sents, dim=1)
        hits += int(sims.argmax().item() == 0)
    return hits / max(len(img_codes), 1)
