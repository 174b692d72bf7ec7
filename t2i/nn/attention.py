"""AttnGAN word attention, shared by DAMSM (word-region matching) and the generators that attend to words."""
from __future__ import annotations

import torch
from torch import Tensor


def word_attention(query: Tensor, words: Tensor, word_mask: Tensor | None = None,
                   gamma: float = 1.0) -> tuple[Tensor, Tensor]:
    """Attend from each query position to the words.

    query: [N, D, Q] (Q positions, e.g. image regions H*W); words: [N, D, L]; word_mask: [N, L] (True = pad).
    Returns (context [N, D, Q], attn [N, L, Q]) where attn sums to 1 over the L words for every query.
    """
    assert query.dim() == 3 and words.dim() == 3 and query.size(1) == words.size(1), (query.shape, words.shape)
    scores = torch.bmm(words.transpose(1, 2), query) * gamma  # [N, L, Q]
    if word_mask is not None:
        scores = scores.masked_fill(word_mask.unsqueeze(2), float("-inf"))
    attn = torch.softmax(scores, dim=1)
    context = torch.bmm(words, attn)  # [N, D, Q]
    return context, attn
