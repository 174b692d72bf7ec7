"""CI-GAN stage-3 training targets: a bank of In-Domain inversions w'_i of the training images.

The aligner (stage 3) learns t_i ~ w'_i. With a weak encoder, E(x) keeps a bird's pose and background but not its
colours (SynthBirds, 64 px: the classifier reads the right belly colour on 17 % of the inversions G(E(x)), about
chance), so t cannot learn colours either. The bank holds instead w'_i = the encoder's code refined by optimisation
(In-Domain inversion: encoder start + optimisation of the reconstruction; ours: in W+, pixel MSE only), computed
once per image and stored:

    python -m t2i cigan-codes --encoder runs/cigan-encoder-g10k --out runs/cigan-codes-g10k/codes.safetensors

File: safetensors with "codes" [N, num_ws, w_dim] float16 (or [N, w_dim] in W) and "indices" [N] int64 (rows of
the split's CaptionDataset) + metadata (encoder, split, steps, lr, wplus, img_size). Images are taken in a seeded
random order, so any prefix is a random subset; the file is rewritten atomically every `save_every` batches and a
rerun continues where a killed run stopped. The aligner config's `code_bank` points at it.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm.auto import tqdm

from t2i.checkpoint import _atomic_write
from t2i.models.cigan import read_code_bank  # noqa: F401 - beside the model that reads it; re-exported


def build_code_bank(encoder, data_root, out, split: str = "train", limit: int | None = None, steps: int = 100,
                    lr: float = 0.05, wplus: bool = True, batch: int = 32, seed: int = 0, save_every: int = 1,
                    device="cpu", amp: bool = True, progress: bool = True) -> Path:
    """Invert `limit` images (all when None) of `split` with the encoder folder's E and G, refine each code for
    `steps` Adam steps (t2i.models.cigan.invert, lam_enc = 0) and write/extend the bank at `out`. amp: bf16 autocast
    where it pays (t2i.training.common.bf16_autocast_ok; 1.5-1.9x faster on this CPU, same codes to ~1e-5 in MSE).
    SIGTERM / SIGINT: the batch under way is finished and saved, then it returns (rerun to go on)."""
    from t2i.data.captions import CaptionDataset
    from t2i.data.vocab import Vocabulary
    from t2i.models.cigan import invert, load_cigan
    from t2i import checkpoint as ckpt
    from t2i.training.common import StopRequest, bf16_autocast_ok

    _, cfg, nets = load_cigan(encoder, device, need_stage=("encoder", "aligner"))
    E, G = nets["encoder"], nets["stylegan"]
    vocab = Vocabulary.load(ckpt.resolve(encoder) / ckpt.VOCAB)
    data = CaptionDataset(data_root, split, cfg.img_size, vocab=vocab, augment=False)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
    order = order[:limit] if limit else order
    meta = {"encoder": str(encoder), "split": split, "steps": steps, "lr": lr, "wplus": wplus, "seed": seed,
            "img_size": cfg.img_size, "w_dim": cfg.w_dim, "lam_enc": 0.0}
    out = Path(out)
    codes, done = [], []
    if out.is_file():
        old_codes, old_idx, old_meta = read_code_bank(out)
        diff = [k for k in ("split", "steps", "lr", "wplus", "seed", "img_size", "w_dim") if old_meta.get(k) != meta[k]]
        if diff:
            raise ValueError(f"{out} was built with other settings ({', '.join(diff)}); choose another --out")
        codes, done = [old_codes], old_idx.tolist()
    seen = set(done)
    todo = [i for i in order if i not in seen]

    def save():
        c = torch.cat(codes) if codes else torch.zeros(0)
        tensors = {"codes": c.half().contiguous(), "indices": torch.tensor(done, dtype=torch.int64)}
        _atomic_write(out, lambda p: save_file(tensors, p, metadata={k: json.dumps(v) for k, v in meta.items()}))

    bar = tqdm(total=len(order), initial=len(order) - len(todo), desc="cigan codes", unit="img", disable=not progress)
    stop = StopRequest()
    try:
        for b, s in enumerate(range(0, len(todo), batch)):
            idx = todo[s:s + batch]
            x = torch.stack([data[i]["image"] for i in idx]).to(device)
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                                enabled=amp and bf16_autocast_ok(device)):
                w = invert(E, G, x, steps=steps, lr=lr, lam_enc=0.0, wplus=wplus)
            codes.append(w.float().cpu())
            done += idx
            bar.update(len(idx))
            if (b + 1) % save_every == 0:
                save()
            if stop.requested(1, torch.device(device)):
                bar.write(f"{stop.signame}: {len(done)} codes saved in {out}; rerun the same command to go on")
                break
    finally:
        stop.restore()
    bar.close()
    save()
    return out
