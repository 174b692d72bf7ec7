"""The numbers every text-to-image model reports on SynthBirds test captions: AttrAcc (with the real-image
ceiling), FID against the real test split, R-precision with the DAMSM encoders."""
from __future__ import annotations

import random
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.text.damsm import SHIPPED_DAMSM as DAMSM_NAME

CLASSIFIER_NAME = "attr-classifier-synthbirds-64"
JUDGE_NAME = "judge-synthbirds-64"
DIVERSITY_CAPTIONS, DIVERSITY_SEEDS = 16, 8  # captions x seeds of the diversity measure


def test_captions(data: CaptionDataset, seed: int = 0) -> list[tuple[int, str]]:
    """One fixed caption per test image: the same captions for every model."""
    rng = random.Random(seed)
    return [(i, data.caption(i, rng.randrange(data.captions_per_image))) for i in range(len(data))]


@torch.no_grad()
def score_images(images: torch.Tensor, captions: list[str], real: torch.Tensor | None, class_ids: torch.Tensor,
                 data_root, device="cpu", damsm: str = DAMSM_NAME, classifier: str = CLASSIFIER_NAME,
                 image_attrs: list[dict] | None = None, fid: bool = True, secondary: bool = True) -> dict:
    """AttrAcc, FID and R-precision of generated `images` [N, 3, H, W] in [-1, 1] for `captions`; with the real
    images (and their attribute labels) also the real-image R-precision (and its attribute-oracle ceiling).
    fid=False skips FID (the Inception pass), e.g. for the trainer's quick evals."""
    from t2i.data.synthbirds import parse_caption
    from t2i.eval.attributes import attr_acc, load_attr_classifier
    from t2i.eval.fid import InceptionFeatures, features_of, frechet_distance, real_statistics, statistics
    from t2i.eval.rprecision import r_precision
    from t2i.text.damsm import load_damsm

    out: dict = {}
    mentioned = [parse_caption(c) for c in captions]
    clf = load_attr_classifier(classifier, device)
    acc = attr_acc(clf, images.to(device), mentioned)
    out["attr_acc"] = acc.pop("attr_acc")
    out.update({f"attr_acc/{k}": v for k, v in acc.items()})
    if real is not None:
        out["attr_acc_ceiling"] = attr_acc(clf, real.to(device), mentioned)["attr_acc"]
    enc, vocab = load_damsm(damsm, device)
    tok, ln, _ = vocab.batch(captions)
    sents = torch.cat([enc.encode_text(tok[s:s + 200].to(device), ln[s:s + 200].to(device))[1].cpu()
                       for s in range(0, len(images), 200)])

    def codes(x):
        return torch.cat([enc.image_encoder(x[s:s + 200].to(device))[1].cpu() for s in range(0, len(x), 200)])

    out["r_precision"] = r_precision(codes(images), sents, sents, class_ids, class_ids)
    if real is not None:
        out["r_precision_real"] = r_precision(codes(real), sents, sents, class_ids, class_ids)
    if image_attrs is not None:
        from t2i.eval.rprecision import r_precision_ceiling

        out["r_precision_ceiling"] = r_precision_ceiling(image_attrs, mentioned, class_ids)
    out["n_images"] = len(images)
    if secondary:
        out.update(independent_scores(images, captions, real, class_ids, device))
    if not fid:
        return out
    net = InceptionFeatures(device)
    test = CaptionDataset(data_root, "test", images.shape[-1], augment=False)
    mu, sigma = real_statistics(test, net)
    feats = features_of((images[s:s + 100] for s in range(0, len(images), 100)), net,
                        total=(len(images) + 99) // 100, desc="FID fake")
    out["fid"] = frechet_distance(*statistics(feats), mu, sigma)
    return out


def independent_scores(images, captions, real, class_ids, device="cpu") -> dict:
    """Scores by networks no model trains against: R-precision with the evaluation-only encoder pair and the
    Inception Score with the SynthBirds species classifier (each skipped when its folder is not there)."""
    from t2i.eval.rprecision import EVAL_DAMSM_NAME, eval_r_precision, load_eval_encoder
    from t2i.eval.species import SPECIES_CLASSIFIER_NAME, inception_score, load_species_classifier

    out: dict = {}
    try:
        enc = load_eval_encoder(EVAL_DAMSM_NAME, device)
    except ckpt.CheckpointError:
        enc = None
    if enc is not None:
        out["r_precision_eval"] = eval_r_precision(images, captions, class_ids, device, enc)
        if real is not None:
            out["r_precision_eval_real"] = eval_r_precision(real, captions, class_ids, device, enc)
    try:
        clf = load_species_classifier(SPECIES_CLASSIFIER_NAME, device)
    except ckpt.CheckpointError:
        clf = None
    if clf is not None and len(images) >= 10:
        out["inception_score"], out["inception_score_std"] = inception_score(images, clf)
        if real is not None:  # IS depends on N and on how many species the captions cover: the real images' beside
            out["inception_score_real"] = inception_score(real, clf)[0]
    return out


@torch.no_grad()
def generate_captions(pipe, captions: list[str], seed: int = 0, batch: int = 50, best_of: int = 1) -> torch.Tensor:
    """One image per caption [N, 3, S, S] in [-1, 1]; the batch from caption i draws z with seed + i."""
    images = []
    for s in tqdm(range(0, len(captions), batch), desc="generate", leave=False):
        res = pipe(captions[s:s + batch], seed=seed + s, n=1, rerank=best_of, return_tensors=True)
        images.append(res.tensors.images[-1].float().cpu())
    return torch.cat(images)


def judge_sets(pipe, data_root, judge, sets: dict[str, int | None], seed: int = 0, best_of: int = 1,
               in_species_images: tuple[torch.Tensor, list[dict]] | None = None) -> dict:
    """PartAcc (and its shuffled-caption chance) of a pipeline on the named caption sets (t2i.eval.captionsets),
    each limited to the given number of captions (None: the whole set). `in_species_images` reuses images already
    drawn for the test captions."""
    from t2i.eval.captionsets import caption_set
    from t2i.eval.judge import part_acc

    out = {}
    for name, limit in sets.items():
        if name == "in_species" and in_species_images is not None:
            images, mentioned = in_species_images
        else:
            data = CaptionDataset(data_root, "test", pipe.record.get("resolution", 64), vocab=pipe.vocab,
                                  augment=False, limit=limit) if name == "in_species" else None
            items = caption_set(name, data=data, root=data_root, limit=limit, seed=seed)
            images = generate_captions(pipe, [it.caption for it in items], seed, best_of=best_of)
            mentioned = [it.mentioned for it in items]
        acc = part_acc(judge, images, mentioned)
        out[f"part_acc/{name}"] = acc.pop("part_acc")
        out[f"part_acc/{name}/chance"] = acc.pop("chance")
        out.update({f"part_acc/{name}/{k.split('/', 1)[1]}": v for k, v in acc.items() if k.startswith("part_acc/")})
    return out


@torch.no_grad()
def generate_for_test(pipe, data: CaptionDataset, seed: int = 0, batch: int = 50, best_of: int = 1, skip: int = 0):
    """One image per test caption from image `skip` on; the batch from image i draws z with seed + i, so a skip that
    is a multiple of `batch` gives those images exactly as a full run does."""
    pairs = test_captions(data, seed)[skip:]
    caps = [c for _, c in pairs]
    t0 = time.perf_counter()
    images = generate_captions(pipe, caps, seed + skip, batch, best_of)
    return images, caps, [i for i, _ in pairs], time.perf_counter() - t0


def evaluate_generator(model, data_root, limit: int | None = None, device="cpu", seed: int = 0,
                       damsm: str = DAMSM_NAME, classifier: str = CLASSIFIER_NAME, fid: bool = True,
                       best_of: int = 1, skip: int = 0, judge: str | None = JUDGE_NAME, novel: int | None = 1000,
                       freestyle: bool = True, diversity: bool = True, secondary: bool = True) -> dict:
    """The test-caption metrics of a generator; best_of k > 1: each image is the best DAMSM match of k draws (then
    R-precision, measured with the same DAMSM, is no longer an independent score). skip N: test images N.. (N+limit)
    only, with the captions and z seeds a full evaluation gives them (a held-out check of a checkpoint chosen on
    the first images)."""
    from t2i.pipeline import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained(model, device=device)
    size = pipe.record.get("resolution", 64)
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    data = CaptionDataset(data_root, "test", size, vocab=pipe.vocab, augment=False,
                          limit=None if limit is None else skip + limit)
    if skip >= len(data):
        raise ValueError(f"skip {skip}: the test split has only {len(data)} images")
    images, caps, idx, secs = generate_for_test(pipe, data, seed, best_of=best_of, skip=skip)
    real = torch.stack([data[i]["image"] for i in idx])
    class_ids = torch.tensor([data.samples[i].class_id for i in idx])
    image_attrs = None
    if (Path(data_root) / "synthbirds.json").is_file():
        from t2i.data.attributes import read_image_attributes

        labels = read_image_attributes(data_root)[1]
        image_attrs = [labels.get(data.samples[i].key, {}) for i in idx]
    metrics = score_images(images, caps, real, class_ids, data_root, device, damsm, classifier, image_attrs, fid=fid,
                           secondary=secondary)
    if judge and image_attrs is not None:  # the judge reads SynthBirds parts: SynthBirds roots only
        n_novel = novel if not novel or limit is None else min(novel, limit)
        metrics.update(judge_metrics(pipe, data_root, judge, images, real, caps, device, seed, best_of, n_novel,
                                     freestyle, skip))
    if diversity:
        from t2i.eval.diversity import FeatureNet, generator_diversity, real_diversity

        net = FeatureNet().to(device)
        k = min(DIVERSITY_CAPTIONS, len(caps))
        metrics["diversity"] = generator_diversity(pipe, caps[:k], DIVERSITY_SEEDS, net, seed)
        every = CaptionDataset(data_root, "test", size, vocab=pipe.vocab, augment=False)  # all images of a species
        metrics["diversity_real"] = real_diversity(every, class_ids[:k].tolist(), DIVERSITY_SEEDS, net, seed)
    metrics["gen_images_per_s"] = len(images) / secs
    metrics["params_G"] = sum(p.numel() for p in pipe.generator.parameters())
    metrics["train_steps"] = pipe.record.get("step")
    metrics["train_wall_s"] = pipe.record.get("train_wall_s")
    if best_of > 1:
        metrics["best_of"] = best_of
    if skip:
        metrics["skip"] = skip
    return metrics


def quick_eval(model_dir, tc, device="cpu") -> dict:
    """The GAN trainer's quick eval (`python -m t2i train gan` passes it as Trainer(evaluator=...)): AttrAcc and
    R-precision of the model folder just written on the first tc.eval_images test captions, without FID, and the
    judge's PartAcc on in-species and tc.eval_novel novel captions when tc.judge is set (SynthBirds only). tc: the
    run's TrainConfig (data, damsm, classifier, judge, eval_images, eval_novel). Keys "eval/...", 4 decimals.
    An unconditional generator (CI-GAN's stage-1 StyleGAN2) has no captions to follow: its quick eval is the FID
    of tc.eval_images samples against the real test split (the same statistics as the table's FID)."""
    from t2i.models.registry import get_family

    record = ckpt.read_config(model_dir)
    family = get_family(record["model_type"])
    if family.quick_eval_kind(family.config_from_dict(record["config"])) == "fid":
        from t2i.eval.edits import evaluate_generator_fid

        m = evaluate_generator_fid(model_dir, tc.data, n=tc.eval_images, device=device)
        return {"eval/fid": round(m["gen/fid"], 2), "eval/fid_n": m["gen/fid_n"]}
    m = evaluate_generator(model_dir, tc.data, limit=tc.eval_images, device=device, damsm=tc.damsm,
                           classifier=tc.classifier, fid=False, judge=tc.judge or None, novel=tc.eval_novel,
                           freestyle=False, diversity=False, secondary=False)
    out = {"eval/attr_acc": round(m["attr_acc"], 4), "eval/r_precision": round(m["r_precision"], 4),
           "eval/n_images": m["n_images"]}
    sets = [k for k in ("in_species", "novel") if f"part_acc/{k}" in m]  # the judge reads SynthBirds only
    if sets:
        out.update({f"eval/part_acc_{k}": round(m[f"part_acc/{k}"], 4) for k in sets})
        out["eval/part_acc"] = round(sum(m[f"part_acc/{k}"] for k in sets) / len(sets), 4)
    return out


def judge_metrics(pipe, data_root, judge, images, real, caps, device="cpu", seed: int = 0, best_of: int = 1,
                  novel: int | None = 1000, freestyle: bool = True, skip: int = 0) -> dict:
    """PartAcc on the in-species captions (the images drawn for the test captions), the novel combinations and
    the free-style set, each beside its chance; the in-species set on the real images too (the judge's ceiling)."""
    from t2i.data.synthbirds import parse_caption
    from t2i.eval.judge import load_judge, part_acc

    try:
        j = load_judge(judge, device)
    except ckpt.CheckpointError as e:  # no judge folder here (e.g. a checkpoints folder without one): no PartAcc
        print(f"note: no PartAcc ({e})")
        return {}
    mentioned = [parse_caption(c) for c in caps]
    sets: dict = {"in_species": None}
    if novel and not skip:
        sets["novel"] = novel
    if freestyle and not skip:
        sets["freestyle"] = None
    out = judge_sets(pipe, data_root, j, sets, seed, best_of, in_species_images=(images, mentioned))
    out["part_acc/in_species/real"] = part_acc(j, real, mentioned)["part_acc"]
    return out
