"""R-precision (AttnGAN): the generated image's DAMSM global code against 1 true + 99 random captions."""
from __future__ import annotations

import torch

from t2i.text.rprecision import r_precision, r_precision_ceiling  # noqa: F401 - the metric, re-exported


# --- R-precision with the evaluation-only encoder pair -------------------------------------------------------------
# A DAMSM pair trained on its own SynthBirds rendering (seed 7, its own vocabulary) with another seed; no model
# trains against it or reranks with it, so it scores generators without the bias of the trained-against DAMSM.
EVAL_DAMSM_NAME = "damsm-eval-synthbirds-64"


def load_eval_encoder(name=EVAL_DAMSM_NAME, device="cpu"):
    """A DAMSM folder (by default the evaluation-only pair) -> (DAMSM, Vocabulary) through t2i.text.damsm.load_damsm;
    any other folder is refused with its CheckpointError."""
    from t2i.text.damsm import load_damsm

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
