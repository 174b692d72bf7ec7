"""Probe (issue 26): CI-GAN text-to-image by retrieval, then the masked edit (ours, t2i.cigan_retrieval), against the
paper's mode, on the evaluation's own numbers (t2i.eval.cigan_t2i.evaluate_text_to_image: PartAcc on the in-species,
novel and free-style sets, diversity, AttrAcc, FID and R-precision on `limit` captions) and a sheet of samples.

    PYTHONPATH=. python train/probes/cigan_t2i_retrieval.py --limit 200 --modes retrieve,paper \
        --json results/cigan_t2i_retrieval.json --sheet results/cigan_t2i_retrieval.png

Needs the SynthBirds 64 px root (--data) and the shipped cigan-synthbirds-64 with its code bank.
"""
import argparse
import json
import os
import time

import torch

from t2i.edit import EditPipeline
from t2i.eval.cigan_t2i import evaluate_text_to_image
from t2i.eval.generators import CLASSIFIER_NAME, DAMSM_NAME
from t2i.viz.grids import tile, to_pil

SHEET_CAPTIONS = ["a small bird with a red belly and black wings", "this bird is yellow with a blue crown",
                  "a bird with a white breast, grey wings and a black crown", "a crimson bird with dark wings"]


def sheet(pipe_r, pipe_p, path, seeds=(0, 1, 2)):
    ims, caps = [], []
    for c in SHEET_CAPTIONS:
        ims += pipe_p.generate(c, seed=0)
        caps.append("paper's mode")
        for s in seeds:
            ims += to_pil(pipe_r.generate_tensors([c], seed=s, steps=0))
            caps.append(f"retrieved, seed {s}")
        ims += pipe_r.generate(c, seed=0, n=len(seeds))
        caps += [f"+ edit, seed {s}" for s in seeds]
    k = 1 + 2 * len(seeds)
    rows = [c for c in SHEET_CAPTIONS for _ in range(k)]
    tile(ims, nrow=k, scale=2, captions=[f"{a}: {b[:34]}" if i % k == 0 else a
                                         for i, (a, b) in enumerate(zip(caps, rows))]).save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="cigan-synthbirds-64")
    ap.add_argument("--data", default=os.path.expanduser("~/t2i-data/synthbirds-64"))
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--modes", default="retrieve,paper")
    ap.add_argument("--json", default="results/cigan_t2i_retrieval.json")
    ap.add_argument("--sheet", default="results/cigan_t2i_retrieval.png")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pipes = {m: EditPipeline.from_pretrained(a.model, t2i_mode=m) for m in a.modes.split(",")}
    if a.sheet and {"retrieve", "paper"} <= set(pipes):
        sheet(pipes["retrieve"], pipes["paper"], a.sheet)
        print("wrote", a.sheet, flush=True)
    out = {"model": a.model, "limit": a.limit, "bank": len(pipes["retrieve"].bank) if "retrieve" in pipes else 0}
    for m, pipe in pipes.items():
        t0 = time.time()
        out[m] = evaluate_text_to_image(a.model, a.data, CLASSIFIER_NAME, damsm=DAMSM_NAME, limit=a.limit, pipe=pipe)
        out[m]["wall_s"] = round(time.time() - t0)
        print(m, {k: v for k, v in out[m].items() if not isinstance(v, (dict, list))}, flush=True)
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, default=float)


if __name__ == "__main__":
    main()
