"""R-precision (AttnGAN): the generated image's DAMSM global code against 1 true + 99 random captions."""
from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F


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


# --- R-precision with the evaluation-only encoder pair -------------------------------------------------------------
# A DAMSM pair trained on its own SynthBirds rendering (seed 7, its own vocabulary) with another seed; no model
# trains against it or reranks with it, so it scores generators without the bias of the trained-against DAMSM.
EVAL_DAMSM_NAME = "damsm-eval-synthbirds-64"


def load_eval_encoder(name=EVAL_DAMSM_NAME, device="cpu"):
    """A DAMSM folder -> (DAMSM, Vocabulary); any other folder is refused with a CheckpointError naming it."""
    from t2i import checkpoint as ckpt
    from t2i.text.damsm import load_damsm

    record = ckpt.read_config(name)  # CheckpointError for a folder without config.json
    if record["model_type"] != "damsm":
        raise ckpt.CheckpointError(f"{name} holds a {record['model_type']!r} model; R-precision needs a DAMSM "
                                   f"text + image encoder pair (model_type 'damsm'), e.g. {EVAL_DAMSM_NAME}")
    return load_damsm(name, device)


@torch.no_grad()
def eval_r_precision(images: torch.Tensor, captions: list[str], class_ids: torch.Tensor, device="cpu",
                     encoder=EVAL_DAMSM_NAME, batch: int = 200, n_wrong: int = 99, seed: int = 0) -> float:
    """R-precision of `images` [N, 3, H, W] in [-1, 1] for their `captions` (N strings) with the evaluation-only
    encoder pair: each image's global code against its own caption + `n_wrong` captions of other classes
    (`class_ids` [N]) drawn from the same N captions, the same draws as `r_precision`. The captions are read with
    the encoder's own vocabulary. encoder: a DAMSM folder / shipped name, or an already loaded (DAMSM, Vocabulary)."""
    if len(images) != len(captions) or len(images) != len(class_ids):
        raise ValueError(f"{len(images)} images, {len(captions)} captions, {len(class_ids)} class ids: need one each")
    assert images.dim() == 4 and images.size(1) == 3, images.shape
    enc, vocab = encoder if isinstance(encoder, tuple) else load_eval_encoder(encoder, device)
    tok, ln, _ = vocab.batch(captions, enc.cfg.max_words)
    empty = [captions[i] for i in (ln == 0).nonzero().flatten().tolist()]
    if empty:
        raise ValueError(f"{len(empty)} caption(s) have no word in the encoder's vocabulary, e.g. {empty[0]!r}")
    sents, codes = [], []
    for s in range(0, len(images), batch):
        sents.append(enc.encode_text(tok[s:s + batch].to(device), ln[s:s + batch].to(device))[1].float().cpu())
        codes.append(enc.image_encoder(images[s:s + batch].to(device).float())[1].float().cpu())
    sents, codes = torch.cat(sents), torch.cat(codes)
    class_ids = torch.as_tensor(class_ids).cpu()
    return r_precision(codes, sents, sents, class_ids, class_ids, n_wrong=n_wrong, seed=seed)


@torch.no_grad()
def real_r_precision(data_root, encoder=EVAL_DAMSM_NAME, limit: int | None = 1000, device="cpu", seed: int = 0) -> dict:
    """The reference of eval_r_precision: the real test images (the first `limit`) with the fixed test captions
    every generator is scored on (t2i.eval.generators.test_captions), and the attribute-oracle ceiling of the same
    draws on SynthBirds. Returns {"r_precision_real", "r_precision_ceiling" (SynthBirds only), "n_images"}."""
    from pathlib import Path

    from t2i.data.captions import CaptionDataset
    from t2i.eval.generators import test_captions

    data = CaptionDataset(data_root, "test", 64, augment=False, limit=limit)
    pairs = test_captions(data, seed)
    images = torch.stack([data[i]["image"] for i, _ in pairs])
    captions = [c for _, c in pairs]
    class_ids = torch.tensor([data.samples[i].class_id for i, _ in pairs])
    out = {"r_precision_real": eval_r_precision(images, captions, class_ids, device, encoder), "n_images": len(pairs)}
    if (Path(data_root) / "synthbirds.json").is_file():
        from t2i.data.attributes import read_image_attributes
        from t2i.data.synthbirds import parse_caption

        labels = read_image_attributes(data_root)[1]
        out["r_precision_ceiling"] = r_precision_ceiling([labels.get(data.samples[i].key, {}) for i, _ in pairs],
                                                         [parse_caption(c) for c in captions], class_ids)
    return out
