"""The SynthBirds species classifier and the Inception Score it gives.

CUB's Inception Score (StackGAN, AttnGAN, DF-GAN ...) uses an Inception-v3 fine-tuned on CUB's 200 species; here
a small CNN trained on SynthBirds' 200 species (the dataset's class_id) plays that part. IS = exp(E_x KL(p(y|x) ||
p(y))), the mean and standard deviation over 10 splits: high when each image is confidently one species (sharp
p(y|x)) and the images spread over many species (flat p(y)). It measures species confidence and spread, not
whether an image fits its caption."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.eval.attributes import _block

SPECIES_CLASSIFIER_NAME = "species-classifier-synthbirds-64"


@dataclass
class SpeciesClassifierConfig:
    classes: list = field(default_factory=list)  # class folder names ("001.Name"), one per output, in output order
    img_size: int = 64  # training resolution (inputs of any size are resized to 64 px)
    nf: int = 32  # base width
    dropout: float = 0.2  # before the last two layers


class SpeciesClassifier(nn.Module):
    """The attribute classifier's CNN (4 conv blocks, spatial 4x4 features -> FC 256) with one softmax head over
    the species. Inputs [N, 3, H, W] in [-1, 1]; any H, W is resized to 64 px."""

    def __init__(self, cfg: SpeciesClassifierConfig):
        super().__init__()
        if not cfg.classes:
            raise ValueError("SpeciesClassifierConfig.classes is empty")
        self.cfg = cfg
        nf = cfg.nf
        self.features = nn.Sequential(_block(3, nf), _block(nf, nf * 2), _block(nf * 2, nf * 3), _block(nf * 3, nf * 4))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(nf * 4 * 16, 256), nn.ReLU(True), nn.Dropout(cfg.dropout))
        self.head = nn.Linear(256, len(cfg.classes))

    def forward(self, images: Tensor) -> Tensor:
        """images [N, 3, H, W] -> logits [N, n_classes]."""
        assert images.dim() == 4 and images.size(1) == 3, images.shape
        if images.shape[-2:] != (64, 64):
            images = F.interpolate(images, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
        logits = self.head(self.fc(self.features(images)))
        assert logits.shape == (len(images), len(self.cfg.classes)), logits.shape
        return logits

    @torch.no_grad()
    def probs(self, images: Tensor, batch: int = 256) -> Tensor:
        """p(y|x) [N, n_classes] (float32, on the CPU), in batches."""
        self.eval()
        dev = next(self.parameters()).device
        return torch.cat([F.softmax(self(images[s:s + batch].to(dev).float()).float(), 1).cpu()
                          for s in range(0, len(images), batch)])


# --- Inception Score -----------------------------------------------------------------------------------------------
def inception_score_from_probs(probs: Tensor | np.ndarray, splits: int = 10, shuffle_seed: int | None = 0,
                               eps: float = 1e-12) -> tuple[float, float]:
    """IS of class posteriors `probs` [N, C] (rows sum to 1): the images are cut into `splits` parts (improved-GAN's
    code), each scores exp(mean_x KL(p(y|x) || p_part(y))); returns (mean, std) over the parts. Uniform posteriors
    give 1; confident posteriors spread evenly over C classes give C. The rows are first put in a random order fixed
    by `shuffle_seed` (None: keep the given order, as improved-GAN), since the test split (and so one image per test
    caption) is sorted by species and consecutive parts would each see ~1/splits of the species."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.dim() != 2 or len(p) < splits or splits < 1:
        raise ValueError(f"need probabilities [N, C] with N >= splits >= 1, got {tuple(p.shape)} and splits={splits}")
    if (p < 0).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-3):
        raise ValueError("rows of probs must be probability distributions (softmax outputs)")
    if shuffle_seed is not None:
        p = p[torch.randperm(len(p), generator=torch.Generator().manual_seed(shuffle_seed))]
    scores = []
    for part in torch.tensor_split(p, splits):
        py = part.mean(0, keepdim=True)
        kl = (part * (torch.log(part + eps) - torch.log(py + eps))).sum(1)
        scores.append(float(torch.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def inception_score(images: Tensor, classifier=SPECIES_CLASSIFIER_NAME, splits: int = 10, device="cpu",
                    batch: int = 256, shuffle_seed: int | None = 0) -> tuple[float, float]:
    """Inception Score (mean, std over `splits`) of images [N, 3, H, W] in [-1, 1] under the species classifier
    (a SpeciesClassifier or a model folder / shipped name). The papers use 30,000 images; with fewer, each split's
    p(y) is estimated from fewer images and IS reads lower (a 200-species ceiling needs splits of >> 200 images):
    compare models on the same N and say how many."""
    assert images.dim() == 4 and images.size(1) == 3, images.shape
    clf = classifier if isinstance(classifier, SpeciesClassifier) else load_species_classifier(classifier, device)
    return inception_score_from_probs(clf.probs(images, batch), splits, shuffle_seed)


def degrade(images: Tensor, how: str, seed: int = 0) -> Tensor:
    """Controls for the IS sanity check: 'blur' and 'colour-shuffle' (as the FID check), 'pixel-shuffle' (each
    image's pixels in a random order: its colours, no bird) and 'noise' (uniform noise)."""
    g = torch.Generator().manual_seed(seed)
    if how == "pixel-shuffle":
        n, c, h, w = images.shape
        flat = images.reshape(n, c, h * w)
        return torch.stack([x[:, torch.randperm(h * w, generator=g)] for x in flat]).reshape(n, c, h, w)
    if how == "noise":
        return torch.rand(images.shape, generator=g) * 2 - 1
    from t2i.eval.run import _degrade

    return _degrade(images, how, seed)


def is_sanity_check(classifier: SpeciesClassifier, real: Tensor, splits: int = 10) -> dict:
    """IS of real images beside blurred / colour-shuffled / pixel-shuffled copies and noise (all far lower)."""
    out = {}
    out["is"], out["is_std"] = inception_score(real, classifier, splits)
    for how in ("blur", "colour-shuffle", "pixel-shuffle", "noise"):
        out[f"is_{how}"], out[f"is_{how}_std"] = inception_score(degrade(real, how), classifier, splits)
    return out


# --- data, accuracy, training ----------------------------------------------------------------------------------------
class SpeciesImages(Dataset):
    """CaptionDataset images with their species as an index into `classes` (the class folder of each key)."""

    def __init__(self, base: CaptionDataset, classes: list[str]):
        self.base, self.classes = base, classes
        index = {c: i for i, c in enumerate(classes)}
        missing = sorted({s.key.split("/")[0] for s in base.samples} - set(index))
        if missing:
            raise ValueError(f"{len(missing)} class folder(s) unknown to the classifier, e.g. {missing[0]!r}")
        self.targets = [index[s.key.split("/")[0]] for s in base.samples]

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return {"image": self.base[i]["image"], "target": self.targets[i]}


def class_folders(data: CaptionDataset) -> list[str]:
    """The sorted class folder names of a split ("001.Name", ...)."""
    return sorted({s.key.split("/")[0] for s in data.samples})


@torch.no_grad()
def species_accuracy(model: SpeciesClassifier, data: SpeciesImages, device="cpu", batch: int = 256) -> dict:
    """Top-1 and top-5 accuracy on a labelled split."""
    model.eval()
    top1 = top5 = 0
    for b in DataLoader(data, batch_size=batch):
        logits = model(b["image"].to(device))
        t = b["target"].to(device)
        top1 += int((logits.argmax(1) == t).sum())
        k = min(5, logits.size(1))
        top5 += int((logits.topk(k, 1).indices == t[:, None]).any(1).sum())
    return {"accuracy": top1 / len(data), "top5": top5 / len(data)}


def load_species_classifier(name=SPECIES_CLASSIFIER_NAME, device="cpu") -> SpeciesClassifier:
    return ckpt.load_component(name, "species-classifier", SpeciesClassifierConfig, SpeciesClassifier, "classifier",
                               device, what="a species classifier")[0]


def train_species_classifier(data_root: str, out: str, img_size: int = 64, steps: int = 3000, batch_size: int = 64,
                             lr: float = 1e-3, seed: int = 0, device: str | None = None, limit: int | None = None,
                             init: str | None = None, eval_every: int = 500, nf: int = 32) -> dict:
    """Train on the train split (random crops and flips), report test accuracy every `eval_every` steps; writes
    (and resumes) the model folder OUT. Adam with a cosine learning rate, as the attribute classifier."""
    from t2i.nn.fit import fit
    from t2i.runtime import pick_device, seed_everything

    seed_everything(seed)
    dev = pick_device(device)
    base = CaptionDataset(data_root, "train", img_size, limit=limit)
    classes = class_folders(base)
    train = SpeciesImages(base, classes)
    test_base = CaptionDataset(data_root, "test", img_size, vocab=base.vocab, limit=limit)
    test_base.samples = [s for s in test_base.samples if s.key.split("/")[0] in set(classes)]  # --limit may cut classes
    test = SpeciesImages(test_base, classes)
    cfg = SpeciesClassifierConfig(classes=classes, img_size=img_size, nf=nf)
    model = SpeciesClassifier(cfg).to(dev)

    def loss_fn(m, b):
        logits = m(b["image"].to(dev))
        t = b["target"].to(dev)
        loss = F.cross_entropy(logits, t)
        return loss, {"loss": loss.item(), "acc": (logits.argmax(1) == t).float().mean().item()}

    def save(folder: Path, step: int):
        ckpt.save_model_folder(folder, "species-classifier", dataclasses.asdict(cfg), {"classifier": model},
                               step=step, resolution=img_size, dataset=Path(data_root).resolve().name)

    loader = DataLoader(train, batch_size=batch_size, shuffle=True, drop_last=True)
    return fit(model, loss_fn, loader, out, steps, lr, save, eval_fn=lambda: species_accuracy(model, test, dev),
               eval_every=eval_every, device=dev, desc="species-classifier", cosine=True, init=init)
