"""Probe (issue 26): two choices of CI-GAN's text-to-image by retrieval (ours, t2i.cigan_retrieval), on the part
judge (PartAcc on the first N in-species test captions, N novel-combination captions and the first N of the 152
free-style ones):

  sampled  what the bank holds: the shipped In-Domain inversions of training birds against a bank of codes sampled
           through the mapping network (w = mapping(z), truncation psi, repeated over the W+ layers); retrieval
           only, the best bird (@1) and the seeded pick among the 4 best (@4)
  edit     what follows the retrieval (seeded pick among the k best): nothing, CI-GAN's masked edit (the default),
           or the better of the two by the DAMSM match score ("best-of-2"); with the share where the edit won; and
           "gate G": the edit only where the retrieved bird's match is below G, kept where it raised the match
           (t2i_mode "retrieve-auto"), with the share of captions edited

    PYTHONPATH=. python train/probes/cigan_t2i_bank.py sampled --n 200 --bank 5000 --psi 1.0
    PYTHONPATH=. python train/probes/cigan_t2i_bank.py sampled --n 200 --psi --ks 1 2 3 4   # the inversions only
    PYTHONPATH=. python train/probes/cigan_t2i_bank.py edit --n 100 --k 4
    PYTHONPATH=. python train/probes/cigan_t2i_bank.py edit --n 152 --k 2 --sets free   # the free-style captions only
    PYTHONPATH=. python train/probes/cigan_t2i_bank.py edit --n 152 --k 2 --gates 1.3 1.35 1.4 1.45 1.5

Needs the SynthBirds 64 px root (--data) and the shipped cigan-synthbirds-64 with its code bank, judge and segmenter.
"""
import argparse
import os
import time

import torch

from t2i.cigan_retrieval import CodeBankIndex, retrieve_and_edit
from t2i.data.captions import CaptionDataset
from t2i.edit import EditPipeline
from t2i.eval.captionsets import freestyle, in_species, novel
from t2i.eval.judge import load_judge, part_acc


def judged(judge, images, items) -> float:
    return round(part_acc(judge, images.clamp(-1, 1), [it.mentioned for it in items])["part_acc"], 3)


def sampled(pipe, judge, sets, a):
    damsm, vocab = pipe.damsm

    def score(bank, name):
        t0 = time.time()
        glob = bank.sentence_features(pipe.synthesize, damsm, pipe.G)
        res = {}
        for key, items in sets.items():
            caps = [pipe.open_rewrite(it.caption) for it in items]
            ranked = torch.cat([bank.rank(caps[s:s + 50], glob, pipe.synthesize, damsm, vocab, pipe.max_words)
                                for s in range(0, len(caps), 50)])
            for k in a.ks:
                rows = bank.choose(ranked, 0, k)
                with torch.no_grad():
                    imgs = torch.cat([pipe.synthesize(bank.codes[rows[s:s + 100]]) for s in range(0, len(rows), 100)])
                res[f"{key}@{k}"] = judged(judge, imgs, items)
        print(name, len(bank), res, f"{time.time() - t0:.0f}s", flush=True)

    score(pipe.bank, "inversions")
    for psi in a.psi:
        z = torch.randn(a.bank, pipe.G.mapping.z_dim, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            w = torch.cat([pipe.G.mapping(z[s:s + 500], psi=psi) for s in range(0, a.bank, 500)])
        score(CodeBankIndex(w.unsqueeze(1).repeat(1, pipe.bank.codes.shape[1], 1)), f"sampled psi={psi}")


def edit(pipe, judge, sets, a):
    damsm, vocab = pipe.damsm
    rank, memo = pipe.bank.rank, {}

    def memo_rank(captions, *args, **kw):  # the ranking is the same with and without the edit: done once
        if tuple(captions) not in memo:
            memo[tuple(captions)] = rank(captions, *args, **kw)
        return memo[tuple(captions)]
    pipe.bank.rank = memo_rank

    @torch.no_grad()
    def match(images, caps):
        words, sent, mask = damsm.encode_captions(vocab, [pipe.open_rewrite(c) for c in caps], pipe.max_words)
        return damsm.match(images, words, sent, mask)

    t0, res = time.time(), {}
    for key, items in sets.items():
        caps = [it.caption for it in items]
        raw = torch.cat([retrieve_and_edit(pipe, caps[s:s + 50], seed=s, steps=0, k=a.k)[1]
                         for s in range(0, len(caps), 50)]).clamp(-1, 1)
        ed = torch.cat([retrieve_and_edit(pipe, caps[s:s + 50], seed=s, k=a.k)[1]
                        for s in range(0, len(caps), 50)]).clamp(-1, 1)
        m_raw, m_ed = match(raw, caps), match(ed, caps)
        won = m_ed > m_raw
        for name, im in (("none", raw), ("edit", ed), ("best-of-2", torch.where(won[:, None, None, None], ed, raw))):
            res[f"{key}/{name}"] = judged(judge, im, items)
        res[f"{key}/edit won"] = round(won.float().mean().item(), 2)
        for g in a.gates:  # "retrieve-auto"'s rule: edit below the gate, keep the edit where it raised the match
            use = (m_raw < g) & won
            res[f"{key}/gate {g}"] = judged(judge, torch.where(use[:, None, None, None], ed, raw), items)
            res[f"{key}/gate {g} ran"] = round((m_raw < g).float().mean().item(), 2)
    print("k", a.k, res, f"{time.time() - t0:.0f}s", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["sampled", "edit"])
    ap.add_argument("--data", default=os.path.expanduser("~/t2i-data/synthbirds-64"))
    ap.add_argument("--n", type=int, default=100, help="captions per set")
    ap.add_argument("--bank", type=int, default=5000, help="sampled codes (sampled)")
    ap.add_argument("--psi", type=float, nargs="*", default=[1.0],
                    help="truncation of the sampled codes (sampled; none: score the inversions only)")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4], help="seeded picks among the k best (sampled)")
    ap.add_argument("--k", type=int, default=4, help="the seed picks among this many best birds (edit)")
    ap.add_argument("--gates", type=float, nargs="*", default=[1.4],
                    help="DAMSM-match gates of the edit (edit: t2i_mode retrieve-auto's rule, t2i.cigan_retrieval)")
    ap.add_argument("--sets", nargs="+", default=["in", "novel", "free"], choices=["in", "novel", "free"],
                    help="caption sets to score")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pipe = EditPipeline.from_pretrained("cigan-synthbirds-64", t2i_mode="retrieve")
    data = CaptionDataset(a.data, "test", pipe.img_size, vocab=pipe.vocab, augment=False, limit=a.n)
    make = {"in": lambda: in_species(data, limit=a.n), "novel": lambda: novel(a.data, a.n),
            "free": lambda: freestyle()[:a.n]}
    sets = {key: make[key]() for key in a.sets}
    (sampled if a.what == "sampled" else edit)(pipe, load_judge(), sets, a)


if __name__ == "__main__":
    main()
