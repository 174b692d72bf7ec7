"""CI-GAN text-to-image numbers: AttrAcc / FID / R-precision through the shared scorers, and the part-level judge's
PartAcc on the three caption sets with diversity (reported under t2i/ by t2i.eval.edits.evaluate_cigan)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from t2i.data.captions import CaptionDataset


def evaluate_text_to_image(folder, data_root, classifier, damsm=None, limit: int | None = 200, steps: int | None = None,
                           seed: int = 0, device="cpu", batch: int = 50, pipe=None) -> dict:
    """AttrAcc of CI-GAN text-to-image (pipe.generate_tensors) on one fixed caption per test image
    (t2i.eval.generators.test_captions), with the real-image ceiling. With `damsm` (a DAMSM folder name) the full
    t2i.eval.generators.score_images set: AttrAcc, FID and R-precision (classifier must then be a folder name)."""
    from t2i.edit import GEN_STEPS, EditPipeline
    from t2i.eval.attributes import attr_acc
    from t2i.eval.edits import _classifier
    from t2i.eval.generators import score_images, test_captions
    from t2i.data.synthbirds import parse_caption

    steps = GEN_STEPS if steps is None else steps
    pipe = pipe or EditPipeline.from_pretrained(folder, device=device)
    data = CaptionDataset(data_root, "test", pipe.img_size, vocab=pipe.vocab, augment=False, limit=limit)
    pairs = test_captions(data, seed)
    images, caps = [], []
    t0 = time.perf_counter()
    for s in range(0, len(pairs), batch):
        chunk = [c for _, c in pairs[s:s + batch]]
        images.append(pipe.generate_tensors(chunk, seed=seed + s, steps=steps).cpu())
        caps += chunk
    secs = time.perf_counter() - t0
    images = torch.cat(images)
    idx = [i for i, _ in pairs]
    real = torch.stack([data[i]["image"] for i in idx])
    if damsm is not None:
        class_ids = torch.tensor([data.samples[i].class_id for i in idx])
        out = score_images(images, caps, real, class_ids, data_root, device, damsm=str(damsm),
                           classifier=str(classifier))
    else:
        clf = _classifier(classifier, device)
        mentioned = [parse_caption(c) for c in caps]
        acc = attr_acc(clf, images.to(device), mentioned)
        out = {"attr_acc": acc.pop("attr_acc"), **{f"attr_acc/{k}": v for k, v in acc.items()},
               "attr_acc_ceiling": attr_acc(clf, real.to(device), mentioned)["attr_acc"], "n_images": len(images)}
    out["gen_images_per_s"] = len(images) / secs
    out["gen_steps"] = steps
    if (Path(data_root) / "synthbirds.json").is_file():
        out.update(_judge_text_to_image(pipe, data_root, images, real, caps, len(pairs), seed, steps, device))
    return out


class _T2IAdapter:
    """CI-GAN's text-to-image behind the call the shared evaluators make: pipe(captions, seed, n) -> tensors."""

    def __init__(self, pipe, steps: int):
        self.pipe, self.steps, self.vocab = pipe, steps, pipe.vocab
        self.record = {"resolution": pipe.img_size}

    def __call__(self, captions, seed: int = 0, n: int = 1, return_tensors: bool = True, **_):
        img = self.pipe.generate_tensors([c for c in captions for _ in range(n)], seed=seed, steps=self.steps).cpu()
        return type("Result", (), {"tensors": type("Out", (), {"images": [img]})()})()


def _judge_text_to_image(pipe, data_root, images, real, caps, n: int, seed: int, steps: int, device) -> dict:
    """The judge's numbers for CI-GAN text-to-image (t2i.eval.generators.judge_metrics: PartAcc on the in-species,
    novel (as many captions as in-species) and free-style sets, with chance; diversity), under t2i/ in the report."""
    from t2i.eval.diversity import FeatureNet, generator_diversity, real_diversity
    from t2i.eval.generators import DIVERSITY_CAPTIONS, DIVERSITY_SEEDS, JUDGE_NAME, judge_metrics

    adapter = _T2IAdapter(pipe, steps)
    out = judge_metrics(adapter, data_root, JUDGE_NAME, images, real, caps, device, seed, novel=n)
    net = FeatureNet().to(device)
    k = min(DIVERSITY_CAPTIONS, len(caps))
    data = CaptionDataset(data_root, "test", pipe.img_size, vocab=pipe.vocab, augment=False)  # all of a species
    class_ids = [data.samples[i].class_id for i in range(k)]
    out["diversity"] = generator_diversity(adapter, caps[:k], DIVERSITY_SEEDS, net, seed)
    out["diversity_real"] = real_diversity(data, class_ids, DIVERSITY_SEEDS, net, seed)
    return out
