"""`python -m t2i eval`: one entry point that evaluates whatever a model folder holds."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.data.synthbirds import DEFAULT_DATA, ensure_synthbirds  # noqa: F401 - rendering data is t2i.data's; re-exported


def _degrade(images: torch.Tensor, how: str, seed: int = 0) -> torch.Tensor:
    if how == "blur":
        k = torch.tensor([1, 4, 6, 4, 1], dtype=images.dtype)
        k = (k[:, None] * k[None, :]) / 256
        k = k.expand(3, 1, 5, 5)
        x = images
        for _ in range(2):
            x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=3)
        return x
    if how == "colour-shuffle":
        g = torch.Generator().manual_seed(seed)
        perm = torch.stack([torch.randperm(3, generator=g) for _ in range(len(images))])
        return torch.stack([img[p] for img, p in zip(images, perm)])
    raise ValueError(how)


def fid_sanity_check(data_root, size: int = 64, limit: int | None = None, device="cpu") -> dict:
    """FID real-train vs real-test (small) and real-test vs blurred / colour-shuffled copies (large)."""
    from t2i.eval.fid import InceptionFeatures, dataset_batches, features_of, fid_from_features, real_statistics, \
        statistics, frechet_distance

    net = InceptionFeatures(device)
    train = CaptionDataset(data_root, "train", size, augment=False, limit=limit)
    test = CaptionDataset(data_root, "test", size, vocab=train.vocab, augment=False, limit=limit)
    mu_tr, s_tr = real_statistics(train, net)
    test_feats = features_of(dataset_batches(test), net, desc="FID test")
    out = {"fid_train_vs_test": frechet_distance(mu_tr, s_tr, *statistics(test_feats))}
    for how in ("blur", "colour-shuffle"):
        deg = features_of((_degrade(b, how) for b in dataset_batches(test)), net, desc=f"FID {how}")
        out[f"fid_test_vs_{how}"] = fid_from_features(test_feats, deg)
    return out


def evaluate(model: str | None, data: str | None = None, fid_check: bool = False, limit: int | None = None,
             device: str | None = None, damsm: str | None = None, classifier: str | None = None,
             best_of: int = 1, skip: int = 0) -> dict:
    """Metrics of whatever `model` holds; damsm / classifier: the evaluation models for generators
    (default: the shipped damsm-synthbirds-64 and attr-classifier-synthbirds-64)."""
    from t2i.runtime import pick_device

    dev = pick_device(device)
    metrics: dict = {}
    if model is None:
        if not fid_check:
            raise ValueError("give a model folder, or --fid-check with --data")
        return fid_sanity_check(ensure_synthbirds(data), limit=limit, device=dev)
    record = ckpt.read_config(model)
    size = record.get("resolution", 64)
    root = ensure_synthbirds(data or record.get("data_root"), size)
    kind = record["model_type"]
    if skip and kind in ("damsm", "attr-classifier", "species-classifier", "part-segmenter", "part-judge", "cigan"):
        raise ValueError(f"--skip is for text-to-image generators; {model} is a {kind} model")
    if kind == "damsm":
        from t2i.text.damsm import load_damsm
        from t2i.text.rprecision import evaluate_damsm

        enc, vocab = load_damsm(model, dev)
        test = CaptionDataset(root, "test", size, vocab=vocab, limit=limit)
        metrics.update(evaluate_damsm(enc, test, dev, n=len(test)))
    elif kind == "attr-classifier":
        from t2i.data.attributes import read_image_attributes
        from t2i.eval.attributes import LabelledImages, load_attr_classifier, per_attribute_accuracy

        clf = load_attr_classifier(model, dev)
        groups, labels = read_image_attributes(root)
        test = LabelledImages(CaptionDataset(root, "test", size, limit=limit), groups, labels)
        metrics.update({f"acc/{k}": v for k, v in per_attribute_accuracy(clf, test, dev).items()})
    elif kind == "species-classifier":  # test accuracy, Inception Score of the real test images and controls
        from t2i.eval.species import SpeciesImages, is_sanity_check, load_species_classifier, species_accuracy

        clf = load_species_classifier(model, dev)
        test = SpeciesImages(CaptionDataset(root, "test", size, augment=False, limit=limit), clf.cfg.classes)
        metrics.update(species_accuracy(clf, test, dev))
        real = torch.stack([test.base[i]["image"] for i in range(len(test))])
        metrics.update(is_sanity_check(clf, real))
        metrics["n_images"] = len(real)
    elif kind == "part-judge":  # agreement with the true attributes of the root's (perfect) test renders
        from t2i.eval.judge import degrade, labelled_split, load_judge, validate_judge

        judge = load_judge(model, dev)
        images, labels = labelled_split(root, "test", size, limit=limit)
        metrics.update({f"agreement/{k}": v for k, v in validate_judge(judge, images, labels).items()})
        # the same renders blurred / resampled / noised as generators' images are (a fixed draw)
        rough = degrade(images, torch.Generator().manual_seed(12345))
        metrics.update({f"agreement_degraded/{k}": v for k, v in validate_judge(judge, rough, labels).items()})
        metrics["n_images"] = len(images)
    elif kind == "part-segmenter":  # per-part IoU on the root's test split (e.g. photo-like renders it never saw)
        from t2i.partseg import PartMaps, load_part_segmenter, part_iou

        test = PartMaps(CaptionDataset(root, "test", size, augment=False, limit=limit), root)
        metrics.update(part_iou(load_part_segmenter(model, dev), test, dev))
        metrics["n_images"] = len(test)
    elif kind == "cigan":
        from t2i.eval.edits import evaluate_cigan

        metrics.update(evaluate_cigan(model, root, limit=limit, device=dev))
    else:
        from t2i.eval.generators import evaluate_generator

        from t2i.eval.generators import CLASSIFIER_NAME, DAMSM_NAME

        metrics.update(evaluate_generator(model, root, limit=limit, device=dev, damsm=damsm or DAMSM_NAME,
                                          classifier=classifier or CLASSIFIER_NAME, best_of=best_of, skip=skip))
    if fid_check:
        metrics.update(fid_sanity_check(root, size, limit=limit, device=dev))
    return metrics
