"""Probe (issue 26): why CI-GAN's text-to-image ignores the caption. Scores, with the part judge (PartAcc on the
first N in-species test captions and N novel-combination captions), images made from different codes:

  paper       the shipped pipeline's text-to-image (w0 = mapping(z), 50 Adam steps towards t = E_text(caption))
  w=t         G(t): the aligner's code itself
  stepsK      the paper's mode with K steps instead of 50
  guidG       the paper's mode + DAMSM guidance of weight G on G(w) (ours, as the edits use)
  inv         G(E(x)) of the test image the in-species caption was written for (the encoder alone)
  invref      G(w') with w' = E(x) refined for 100 Adam steps on the pixel MSE in W+ (what the code bank holds)
  bankoracle  codes w' (W+) of 300 training images, refined as above: for each caption, G of the mean of the k
              training codes whose attributes match it best (k = 1, 4, 16) -- an oracle aligner that regresses to
              the conditional mean -- and a mix: coarse layers from mapping(z), fine layers from the mean of 4
  bankoracleW the same with codes refined in W (one code for all layers)

    PYTHONPATH=. python train/probes/cigan_t2i_codes.py 100 2 paper,w=t,inv,invref,bankoracle,bankoracleW

Needs the SynthBirds 64 px root (ROOT below) and the shipped cigan-synthbirds-64, judge and segmenter.
"""
import os
import sys
import time

import torch

from t2i.data.attributes import read_image_attributes
from t2i.data.captions import CaptionDataset
from t2i.data.synthbirds import parse_caption
from t2i.edit import EditPipeline
from t2i.eval.captionsets import in_species, novel
from t2i.eval.judge import load_judge, part_acc
from t2i.models.cigan import text_guided_optimise

ROOT = os.environ.get("SYNTHBIRDS", os.path.expanduser("~/t2i-data/synthbirds-64"))
CACHE = os.environ.get("PROBE_CACHE", "/tmp/cigan-probe")


def main(n: int, threads: int, variants: list[str]) -> None:
    torch.set_num_threads(threads)
    pipe = EditPipeline.from_pretrained("cigan-synthbirds-64")
    G, judge = pipe.G, load_judge()
    data = CaptionDataset(ROOT, "test", pipe.img_size, vocab=pipe.vocab, augment=False, limit=n)
    sets = {"in": in_species(data, limit=n), "novel": novel(ROOT, n)}

    def run(name, fn):
        t0, res = time.time(), {}
        for k, items in sets.items():
            caps = [it.caption for it in items]
            imgs = torch.cat([fn(caps[s:s + 50], s).clamp(-1, 1) for s in range(0, len(caps), 50)])
            res[k] = round(part_acc(judge, imgs, [it.mentioned for it in items])["part_acc"], 3)
        print(name, res, f"{time.time() - t0:.0f}s", flush=True)

    def start(t, seed, psi=0.7):  # the paper's random start, repeated over the layers for a W+ text code
        z = torch.randn(t.shape[0], G.mapping.z_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            w0 = G.mapping(z, psi=psi)
        return w0.unsqueeze(1).repeat(1, t.shape[1], 1) if t.dim() == 3 else w0

    def judged(name, items, img):
        print(name, round(part_acc(judge, img, [it.mentioned for it in items])["part_acc"], 3), flush=True)

    for v in variants:
        if v == "paper":
            run(v, lambda caps, s: pipe.generate_tensors(caps, seed=s))
        elif v == "w=t":
            run(v, lambda caps, s: pipe.synthesize(pipe.encode_text(caps)[0]))
        elif v.startswith("steps"):
            run(v, lambda caps, s, k=int(v[5:]): pipe.generate_tensors(caps, seed=s, steps=k))
        elif v.startswith("guid"):
            def guided(caps, s, g=float(v[4:])):
                t = pipe.encode_text(caps)[0]
                return text_guided_optimise(G, start(t, s), t, steps=50, lr=0.01,
                                            image_loss=pipe.guidance_loss(caps, g))[1]
            run(v, guided)
        elif v in ("inv", "invref"):
            items = sets["in"] if v == "inv" else sets["in"][:50]
            xs = torch.stack([data[it.image]["image"] for it in items])
            w = pipe.E(xs) if v == "inv" else pipe.invert(xs, steps=100, lr=0.05, wplus=True)
            judged(v, items, pipe.synthesize(w))
        elif v in ("bankoracle", "bankoracleW"):
            oracle(pipe, run, start, wplus=v == "bankoracle")


def oracle(pipe, run, start, wplus: bool, n_train: int = 300) -> None:
    os.makedirs(CACHE, exist_ok=True)
    cache = os.path.join(CACHE, f"refined{'' if wplus else 'W'}{n_train}.pt")
    tr = CaptionDataset(ROOT, "train", pipe.img_size, vocab=pipe.vocab, augment=False, limit=n_train)
    _, labels = read_image_attributes(ROOT)
    labs = [labels[s.key] for s in tr.samples]
    if os.path.exists(cache):
        codes = torch.load(cache, weights_only=True)
    else:
        xs = torch.stack([tr[i]["image"] for i in range(len(tr))])
        codes = torch.cat([pipe.invert(xs[s:s + 50], steps=100, lr=0.05, wplus=wplus) for s in range(0, len(xs), 50)])
        torch.save(codes, cache)

    ties = torch.rand(len(labs), generator=torch.Generator().manual_seed(0)) * 1e-3  # equal matches in a fixed order

    def pick(caption, k):
        m = parse_caption(caption)
        score = torch.tensor([sum(lab.get(g) == val for g, val in m.items()) for lab in labs], dtype=torch.float)
        return codes[(score + ties).topk(k).indices]

    tag = "" if wplus else "W"
    for k in (1, 4, 16):
        run(f"bank{tag}-mean{k}", lambda caps, s, k=k: pipe.synthesize(torch.stack([pick(c, k).mean(0) for c in caps])))
    for cut in (2, 4, 6):  # pipe.invert returns W+ codes for this W+ model (a W code repeated over the layers)
        def mix(caps, s, cut=cut):
            t = torch.stack([pick(c, 4).mean(0) for c in caps])
            w0 = start(t, s)
            w0[:, cut:] = t[:, cut:]
            return pipe.synthesize(w0)
        run(f"mix{tag}-fine-from{cut}", mix)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(","))
