"""CI-GAN numbers (DESIGN.md, "Evaluation protocol"): text-guided edits, inversion, text-to-image, t-SNE figures.

evaluate_edits      n SynthBirds test images, each asked to change one attribute (belly, wing or crown colour,
                    cycled; the target colour differs from the current one and is drawn from `seed`) with a
                    CUB-style text ("this bird has a red belly"). Reports
                      success       the attribute classifier reads the requested value on the edited image;
                      preservation  share of the OTHER attributes whose reading on the edited image equals the
                                    reading on the inversion G(E(x)) (what the edit itself changed), and against the
                                    ground-truth labels (with the inversion's agreement with them as its ceiling);
                                    has_primary_color is left out: it is derived from the part colours (a wing-
                                    colour edit may change it legitimately);
                      PSNR outside  edited vs input outside the edited part (SynthBirds part maps, cropped like the
                                    images, dilated by `dilate` px), and the same for the inversion vs the input;
                      seconds       per edit (batched) and the latency of one request through EditPipeline.edit.
evaluate_generator_fid  FID of the stage-1 StyleGAN2's own samples G(mapping(z)) (the unconditional generator).
evaluate_inversion  reconstruction PSNR of G(E(x)) vs x on test images; latent cycle error ||w - E(G(w))||^2 for
                    w = mapping(z) (mean over samples and dimensions, as the stage-2 loss; also relative to the
                    variance of w); Frechet distance between E(x) and mapping(z) in W.
evaluate_text_to_image  AttrAcc (+ FID and R-precision when a DAMSM is given) of pipe.generate on test captions.
tsne_figures        tsne_cycle.png, tsne_nocycle.png, tsne_compare.png from two encoder folders (CI-GAN Fig. 9).
evaluate_cigan      what `python -m t2i eval <cigan folder>` reports for each stage.
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from t2i.data.captions import CaptionDataset
from t2i.data.synthbirds.schema import PART_COLOUR_ATTRS
from t2i.eval.cigan_t2i import evaluate_text_to_image  # noqa: F401 - part of this module's API (evaluate_cigan)

EDIT_ATTRS = ("has_belly_color", "has_wing_color", "has_crown_color")
EDIT_TEXT = {"has_belly_color": "this bird has a {} belly", "has_wing_color": "this bird has {} wings",
             "has_crown_color": "this bird has a {} crown"}
DERIVED = ("has_primary_color",)
EDIT_PART_MASK = True  # `eval` scores the pipeline's default edit, the part-masked one (t2i.edit)  # attributes computed from others: not counted in preservation


def _psnr_masked(a: Tensor, b: Tensor, keep: Tensor | None = None) -> Tensor:
    """Per-image PSNR (dB) of images [N, 3, H, W] in [-1, 1] over the pixels where keep [N, 1, H, W] is True
    (all pixels when None). NaN where no pixel is kept."""
    d = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2)
    if keep is None:
        mse = d.flatten(1).mean(1)
    else:
        k = keep.to(d.dtype).expand_as(d)
        denom = k.flatten(1).sum(1)
        mse = (d * k).flatten(1).sum(1) / denom.clamp(min=1)
        mse = torch.where(denom > 0, mse, torch.full_like(mse, float("nan")))
    return 10 * torch.log10(4.0 / mse.clamp(min=1e-10))


def _nanmean(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")


def pick_indices(n_total: int, n: int | None) -> list[int]:
    """n indices spread evenly over the split (all when n is None or >= n_total)."""
    if n is None or n >= n_total:
        return list(range(n_total))
    return [i * n_total // n for i in range(n)]


def _images(data: CaptionDataset, idx: list[int]) -> Tensor:
    return torch.stack([data[i]["image"] for i in idx])


def part_masks(root, data: CaptionDataset, idx: list[int], attrs: list[str], dilate: int = 2) -> Tensor:
    """Bool masks [N, 1, S, S] of the parts each attribute paints (t2i.data.synthbirds.ATTR_REGIONS) from the
    SynthBirds part maps CUB_200_2011/segmentations/<key>.png, cropped and resized exactly like the images
    (AttnGAN box crop, nearest-neighbour), dilated by `dilate` px."""
    from t2i.data.synthbirds import ATTR_REGIONS, PART_LABELS
    from t2i.partseg import load_part_map

    name_to_id = {v: k for k, v in PART_LABELS.items()}
    out = []
    for i, attr in zip(idx, attrs):
        seg = load_part_map(root, data.samples[i], data.size)
        ids = [name_to_id[p] for p in ATTR_REGIONS[attr]]
        out.append(torch.from_numpy(np.isin(seg, ids)))
    m = torch.stack(out).unsqueeze(1).float()
    if dilate > 0:
        m = F.max_pool2d(m, 2 * dilate + 1, stride=1, padding=dilate)
    return m > 0.5


def edit_plan(data: CaptionDataset, idx: list[int], labels: dict, seed: int = 0) -> list[dict]:
    """One edit per image: attribute cycled over EDIT_ATTRS, target colour != the current (ground-truth) one,
    drawn with random.Random(seed); text from EDIT_TEXT."""
    from t2i.data.synthbirds import ATTRIBUTES

    rng = random.Random(seed)
    plan = []
    for j, i in enumerate(idx):
        attr = EDIT_ATTRS[j % len(EDIT_ATTRS)]
        cur = labels.get(data.samples[i].key, {}).get(attr)
        target = rng.choice([c for c in ATTRIBUTES[attr] if c != cur])
        plan.append({"index": i, "key": data.samples[i].key, "attr": attr, "current": cur, "target": target,
                     "text": EDIT_TEXT[attr].format(target)})
    return plan


def ideal_edits(root, data: CaptionDataset, plan: list[dict]) -> tuple[Tensor, Tensor] | None:
    """The perfect edit of each planned image, for the ceiling of the edit metrics: SynthBirds re-renders the bird
    from its attributes and pose seed with the asked attribute changed (everything else, pose and background
    included, identical), stored and cropped like the dataset's images. Returns (re-rendered inputs, ideal
    edits) [N, 3, S, S], or None when `root` is not a SynthBirds folder (no synthbirds.json)."""
    import io
    import json

    from PIL import Image

    from t2i.data.attributes import read_image_attributes
    from t2i.data.captions import crop_to_box
    from t2i.data.synthbirds import render_bird
    from t2i.data.synthbirds.dataset import is_photo

    meta_file = Path(root) / "synthbirds.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text())
    _, labels = read_image_attributes(root)

    def stored(img: Image.Image, box) -> Tensor:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=95, subsampling=0)  # as write_synthbirds stores it
        with Image.open(buf) as im:
            im = crop_to_box(im.convert("RGB"), box).resize((data.size, data.size), Image.BICUBIC)  # augment=False
        return torch.from_numpy(np.asarray(im, dtype=np.float32).copy()).permute(2, 0, 1) / 127.5 - 1.0

    before, after = [], []
    for p in plan:
        s = data.samples[p["index"]]
        img_id = int(s.key.rsplit("_", 1)[1])
        attrs = {k: v for k, v in labels[s.key].items() if k not in DERIVED}
        for out, a in ((before, attrs), (after, {**attrs, p["attr"]: p["target"]})):
            img, _, _ = render_bird(a, np.random.default_rng([meta["seed"], 2, img_id]), meta["size"],
                                    photo=is_photo(meta["seed"], img_id, float(meta.get("photo", 0))))
            out.append(stored(img, s.box))
    return torch.stack(before), torch.stack(after)


# PartColourReader reads the part-colour attributes (t2i.data.synthbirds.PART_COLOUR_ATTRS; the rest are shapes)


class PartColourReader:
    """The judge of the edits: reads a part-colour attribute where the part is. The statistic is the mean RGB of
    the image inside the part's region of the SynthBirds part map (the input's map: an edit keeps the pose); the
    reading is the value whose prototype (the mean of that statistic over training images with the value) is
    nearest. Why not the attribute classifier: trained on species, it reads a bird's species, not its parts. A
    perfect edit (SynthBirds re-renders the bird with one part recoloured) reads as the asked colour on 25 % of 200
    test edits to it (0 % of crown edits), and it reads a changed value for 15 % of the other attributes."""

    def __init__(self, values: dict[str, list[str]], prototypes: dict[str, np.ndarray]):
        self.values, self.prototypes = values, prototypes

    @classmethod
    def fit(cls, root, size: int = 64, every: int = 4) -> "PartColourReader":
        """Prototypes from every `every`-th training image of a SynthBirds root."""
        from t2i.data.attributes import read_image_attributes
        from t2i.data.synthbirds import ATTRIBUTES
        from t2i.partseg import load_part_map

        _, labels = read_image_attributes(root)
        data = CaptionDataset(root, "train", size, augment=False)
        idx = list(range(0, len(data), every))
        images = torch.stack([data[i]["image"] for i in idx])
        seg = np.stack([load_part_map(root, data.samples[i], size) for i in idx])
        reader = cls({a: list(ATTRIBUTES[a]) for a in PART_COLOUR_ATTRS}, {})
        stats = reader.statistics(images, seg)
        for a in PART_COLOUR_ATTRS:
            protos = []
            for v in reader.values[a]:
                rows = [stats[a][j] for j, i in enumerate(idx)
                        if labels.get(data.samples[i].key, {}).get(a) == v and np.isfinite(stats[a][j]).all()]
                protos.append(np.mean(rows, 0) if rows else np.full(3, np.inf))
            reader.prototypes[a] = np.stack(protos)
        return reader

    @staticmethod
    def statistics(images: Tensor, seg: np.ndarray) -> dict[str, np.ndarray]:
        """Mean RGB in [-1, 1] inside each attribute's part region [N, 3] (NaN where the part is not visible)."""
        from t2i.data.synthbirds import ATTR_REGIONS, PART_LABELS

        ids = {v: k for k, v in PART_LABELS.items()}
        x = images.detach().cpu().permute(0, 2, 3, 1).numpy()
        out = {}
        for a in PART_COLOUR_ATTRS:
            m = np.isin(seg, [ids[p] for p in ATTR_REGIONS[a]])  # [N, S, S]
            area = m.sum((1, 2))
            mean = (x * m[..., None]).sum((1, 2)) / np.maximum(area, 1)[:, None]
            out[a] = np.where(area[:, None] > 0, mean, np.nan)
        return out

    def read(self, images: Tensor, seg: np.ndarray) -> dict[str, list[str | None]]:
        """images [N, 3, S, S] in [-1, 1], part maps seg [N, S, S] -> {attribute: [value or None (not visible)]}."""
        stats = self.statistics(images, seg)
        out = {}
        for a, st in stats.items():
            d = ((st[:, None, :] - self.prototypes[a][None]) ** 2).sum(-1)  # [N, values]
            out[a] = [None if not np.isfinite(row).any() else self.values[a][int(np.nanargmin(row))] for row in d]
        return out


def _reader_scores(reader: PartColourReader, plan: list[dict], seg: np.ndarray, edited: Tensor,
                   reference: Tensor) -> tuple[list[int], list[int]]:
    """Per edit: 1 if the asked part reads as the asked colour on `edited`; per (edit, other colour attribute
    visible on both): 1 if it reads the same on `edited` as on `reference`."""
    r_ed, r_ref = reader.read(edited, seg), reader.read(reference, seg)
    succ = [int(r_ed[p["attr"]][j] == p["target"]) for j, p in enumerate(plan)]
    kept = [int(r_ed[a][j] == r_ref[a][j]) for j, p in enumerate(plan) for a in PART_COLOUR_ATTRS
            if a != p["attr"] and r_ref[a][j] is not None]
    return succ, kept


def _classifier(classifier, device):
    from t2i.eval.attributes import AttrClassifier, load_attr_classifier

    if isinstance(classifier, AttrClassifier):
        return classifier.to(device).eval()
    return load_attr_classifier(classifier, device)


def evaluate_edits(edit_folder, data_root, classifier, n: int = 200, config=None, seed: int = 0, device="cpu",
                   batch: int = 25, dilate: int = 2, latency_n: int = 2, pipe=None, sheet: str | Path | None = None,
                   return_records: bool = False, reader: "PartColourReader | None" = None,
                   segmenter: str | None = None) -> dict:
    """Edit success, preservation, PSNR outside the edited part and speed (see the module docstring).

    edit_folder: an aligner-stage CI-GAN folder (or pass an EditPipeline as `pipe`); classifier: an attribute
    classifier folder name or an AttrClassifier; config: the edits' t2i.edit_config.EditConfig (None = the masked
    edit, EditConfig.masked()); sheet: also write a PNG of the first 16 edits (input | inversion | edited) there;
    return_records: add the per-edit records; segmenter: the part segmenter of the masked edits (None: the
    pipeline's own)."""
    from t2i.data.attributes import read_image_attributes
    from t2i.edit import EditPipeline
    from t2i.edit_config import EditConfig

    config = EditConfig.masked() if config is None else config
    masked, steps, lam, lr = config.part_mask, config.steps, config.lam, config.lr
    pipe = pipe or EditPipeline.from_pretrained(edit_folder, device=device, segmenter=segmenter)
    clf = _classifier(classifier, pipe.device)
    _, labels = read_image_attributes(data_root)
    data = CaptionDataset(data_root, "test", pipe.img_size, vocab=pipe.vocab, augment=False)
    idx = pick_indices(len(data), n)
    plan = edit_plan(data, idx, labels, seed)
    x_all = _images(data, idx)
    masks = part_masks(data_root, data, idx, [p["attr"] for p in plan], dilate)
    inv, edited = [], []
    t_opt = 0.0
    for s in range(0, len(plan), batch):
        chunk = plan[s:s + batch]
        t, _, _ = pipe.encode_text([p["text"] for p in chunk])
        t0 = time.perf_counter()
        out = pipe.edit_tensors(x_all[s:s + batch], t, config, texts=[p["text"] for p in chunk])
        t_opt += time.perf_counter() - t0
        inv.append(out["inversion"].cpu())
        edited.append(out["edited"].cpu())
    inv, edited = torch.cat(inv), torch.cat(edited)
    p_x, p_inv, p_ed = (clf.predict(im.to(pipe.device)) for im in (x_all, inv, edited))
    groups = [g for g in clf.cfg.groups if g not in DERIVED]
    succ_c, kept_c = [], []
    kept_gt, inv_gt, real_gt = [], [], []
    for j, p in enumerate(plan):
        succ_c.append(int(p_ed[p["attr"]][j] == p["target"]))
        gt = labels.get(p["key"], {})
        for g in groups:
            if g == p["attr"]:
                continue
            kept_c.append(int(p_ed[g][j] == p_inv[g][j]))
            if g in gt:
                kept_gt.append(int(p_ed[g][j] == gt[g]))
                inv_gt.append(int(p_inv[g][j] == gt[g]))
                real_gt.append(int(p_x[g][j] == gt[g]))
    from t2i.partseg import load_part_map

    reader = reader or PartColourReader.fit(data_root, pipe.img_size)
    seg = np.stack([load_part_map(data_root, data.samples[i], pipe.img_size) for i in idx])
    succ, kept_x = _reader_scores(reader, plan, seg, edited, x_all)
    kept_inv = _reader_scores(reader, plan, seg, edited, inv)[1]
    target_on_inv = _reader_scores(reader, plan, seg, inv, inv)[0]
    by_attr: dict[str, list[int]] = {a: [] for a in EDIT_ATTRS}
    for ok, p in zip(succ, plan):
        by_attr[p["attr"]].append(ok)
    records = [{**p, "success": bool(ok), "success_classifier": bool(oc)} for p, ok, oc in zip(plan, succ, succ_c)]
    ceiling = {}
    ideal = ideal_edits(data_root, data, plan)
    if ideal is not None:  # the same scores for the perfect edit (SynthBirds re-renders the bird, one part changed)
        s_id, k_id = _reader_scores(reader, plan, seg, ideal[1], ideal[0])
        p_b, p_a = (clf.predict(im.to(pipe.device)) for im in ideal)
        ceiling = {"edit/success_ceiling": float(np.mean(s_id)), "edit/preservation_ceiling": float(np.mean(k_id)),
                   "edit/classifier/success_ceiling": float(np.mean([p_a[p["attr"]][j] == p["target"]
                                                                     for j, p in enumerate(plan)])),
                   "edit/classifier/preservation_ceiling": float(np.mean(
                       [p_a[g][j] == p_b[g][j] for j, p in enumerate(plan) for g in groups if g != p["attr"]]))}
    keep = ~masks
    psnr_out = _psnr_masked(edited, x_all, keep)
    psnr_out_inv = _psnr_masked(edited, inv, keep)
    psnr_inv_out = _psnr_masked(inv, x_all, keep)
    psnr_inv = _psnr_masked(inv, x_all)
    psnr_in = _psnr_masked(edited, inv, masks)  # how much the part itself changed (lower = more change)
    m = {"edit/n": len(plan), "edit/steps": steps, "edit/lam": lam, "edit/lr": lr,
         "edit/guidance": config.guidance,
         "edit/success": float(np.mean(succ)),
         **{f"edit/success/{a}": float(np.mean(v)) for a, v in by_attr.items() if v},
         "edit/target_on_inversion": float(np.mean(target_on_inv)),
         "edit/preservation": float(np.mean(kept_x)) if kept_x else float("nan"),
         "edit/preservation_vs_inversion": float(np.mean(kept_inv)) if kept_inv else float("nan"), **ceiling,
         "edit/judge": "part colours (PartColourReader)", "edit/part_mask": masked,
         "edit/classifier/success": float(np.mean(succ_c)),
         "edit/classifier/preservation": float(np.mean(kept_c)) if kept_c else float("nan"),
         "edit/classifier/preservation_gt": float(np.mean(kept_gt)) if kept_gt else float("nan"),
         "edit/classifier/preservation_gt_inversion": float(np.mean(inv_gt)) if inv_gt else float("nan"),
         "edit/classifier/preservation_gt_real": float(np.mean(real_gt)) if real_gt else float("nan"),
         "edit/psnr_outside": _nanmean(psnr_out), "edit/psnr_outside_vs_inversion": _nanmean(psnr_out_inv),
         "edit/psnr_inside_vs_inversion": _nanmean(psnr_in),
         "edit/psnr_inversion": _nanmean(psnr_inv), "edit/psnr_inversion_outside": _nanmean(psnr_inv_out),
         "edit/seconds_per_edit": t_opt / max(len(plan), 1)}
    if latency_n > 0:
        from t2i.viz.grids import to_pil

        lat = []
        for j in range(min(latency_n, len(plan))):
            img = to_pil(x_all[j:j + 1])[0]
            lat.append(pipe.edit(img, plan[j]["text"], config=config).seconds)
        m["edit/latency_s"] = float(np.median(lat))
    if sheet is not None:
        from t2i.viz.grids import tile, to_pil

        k = min(16, len(plan))
        ims = [im for j in range(k) for im in (to_pil(x_all[j:j + 1])[0], to_pil(inv[j:j + 1])[0],
                                                to_pil(edited[j:j + 1])[0])]
        caps = [c for j in range(k) for c in ("input", "inversion", plan[j]["text"].replace("this bird has ", ""))]
        Path(sheet).parent.mkdir(parents=True, exist_ok=True)
        tile(ims, nrow=12, captions=caps, scale=2).save(sheet)
    if return_records:
        m["records"] = records
    return m


@torch.no_grad()
def evaluate_inversion(encoder_folder, data_root, n: int = 200, device="cpu", seed: int = 0, batch: int = 50) -> dict:
    """Reconstruction PSNR of G(E(x)) vs x on n test images, latent cycle error of n sampled w, and the Frechet
    distance between E(x) and mapping(z). encoder_folder: an encoder- or aligner-stage CI-GAN folder."""
    from t2i.edit import load_cigan
    from t2i.viz.tsne import latent_frechet

    _, cfg, nets = load_cigan(encoder_folder, device, need_stage=("encoder", "aligner"))
    G, E = nets["stylegan"], nets["encoder"]
    data = CaptionDataset(data_root, "test", cfg.img_size, augment=False)
    idx = pick_indices(len(data), n)
    psnr, w_inv = [], []
    for s in range(0, len(idx), batch):
        x = _images(data, idx[s:s + batch]).to(device)
        w = E(x)
        psnr.append(_psnr_masked(G.synthesis(w, noise_mode="const"), x).cpu())
        w_inv.append(w.cpu())
    psnr, w_inv = torch.cat(psnr), torch.cat(w_inv)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(idx), cfg.z_dim, generator=g)
    cyc, ws, psnr_fake = [], [], []
    for s in range(0, len(z), batch):
        w = G.mapping(z[s:s + batch].to(device))
        x_w = G.synthesis(w, noise_mode="const")
        w_c = E(x_w)
        cyc.append((w - w_c).pow(2).cpu())
        psnr_fake.append(_psnr_masked(G.synthesis(w_c, noise_mode="const"), x_w).cpu())
        ws.append(w.cpu())
    cyc, ws = torch.cat(cyc), torch.cat(ws)
    cycle_mse = float(cyc.mean())
    return {"inv/n": len(idx), "inv/psnr": float(psnr.mean()), "inv/psnr_std": float(psnr.std()) if len(psnr) > 1 else 0.0,
            "inv/cycle_mse": cycle_mse, "inv/cycle_l2": float(cyc.sum(1).sqrt().mean()),
            "inv/cycle_rel": cycle_mse / max(float(ws.var(0).mean()), 1e-12),
            "inv/psnr_sampled": float(torch.cat(psnr_fake).mean()),
            "inv/latent_fd": float(latent_frechet(ws.numpy(), w_inv.numpy()))}


@torch.no_grad()
def evaluate_generator_fid(folder, data_root, n: int = 1000, device="cpu", seed: int = 0, batch: int = 100,
                           psi: float = 1.0) -> dict:
    """FID of the frozen stage-1 StyleGAN2 on its own: n samples G(mapping(z)) (no truncation, constant noise)
    against the real test split, with the same TF-Inception statistics as the text-to-image models' FID."""
    from t2i.edit import load_cigan
    from t2i.eval.fid import InceptionFeatures, features_of, frechet_distance, real_statistics, statistics

    _, cfg, nets = load_cigan(folder, device)
    G = nets["stylegan"]
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, cfg.z_dim, generator=g)
    imgs = torch.cat([G(z[s:s + batch].to(device), psi=psi, noise_mode="const").clamp(-1, 1).cpu()
                      for s in range(0, n, batch)])
    net = InceptionFeatures(device)
    mu, sigma = real_statistics(CaptionDataset(data_root, "test", cfg.img_size, augment=False), net)
    feats = features_of((imgs[s:s + batch] for s in range(0, n, batch)), net, total=(n + batch - 1) // batch,
                        desc="FID StyleGAN2")
    return {"gen/fid": frechet_distance(*statistics(feats), mu, sigma), "gen/fid_n": n}


def tsne_figures(cycle_folder, nocycle_folder, data_root, out_dir, n: int = 500, seed: int = 0, device="cpu",
                 attribute: str = "has_belly_color", batch: int = 100) -> dict:
    """CI-GAN Fig. 9 on SynthBirds: n codes sampled through the mapping network, w = mapping(z), against the
    codes E(x) of n real test images inverted by the encoder trained with cycle consistency (cycle_folder) and by
    the one trained without (nocycle_folder); inverted codes coloured by `attribute` (ground truth).
    Writes out_dir/tsne_cycle.png, tsne_nocycle.png and tsne_compare.png; returns their paths and the Frechet
    distances. Both folders must invert the same stage-1 generator (encoder- or aligner-stage folders)."""
    from t2i.data.attributes import read_image_attributes
    from t2i.edit import load_cigan
    from t2i.viz.tsne import cycle_tsne_comparison, latent_frechet, latent_tsne

    _, cfg_c, nets_c = load_cigan(cycle_folder, device, need_stage=("encoder", "aligner"))
    _, cfg_n, nets_n = load_cigan(nocycle_folder, device, need_stage=("encoder", "aligner"))
    if cfg_c.img_size != cfg_n.img_size or cfg_c.w_dim != cfg_n.w_dim:
        raise ValueError(f"{cycle_folder} and {nocycle_folder} have different sizes (img_size/w_dim)")
    sd_c, sd_n = nets_c["stylegan"].state_dict(), nets_n["stylegan"].state_dict()
    if any(not torch.equal(sd_c[k], sd_n[k]) for k in sd_c if k != "pl_mean"):
        raise ValueError(f"{cycle_folder} and {nocycle_folder} invert different stage-1 generators: train both "
                         "encoders from the same model.generator_ckpt")
    _, labels = read_image_attributes(data_root)
    data = CaptionDataset(data_root, "test", cfg_c.img_size, augment=False)
    idx = pick_indices(len(data), n)
    G = nets_c["stylegan"]
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(len(idx), cfg_c.z_dim, generator=g)
    with torch.no_grad():
        w_s = torch.cat([G.mapping(z[s:s + batch].to(device)).cpu() for s in range(0, len(z), batch)]).numpy()
        codes = {}
        for name, nets in (("cycle", nets_c), ("nocycle", nets_n)):
            codes[name] = torch.cat([nets["encoder"](_images(data, idx[s:s + batch]).to(device)).cpu()
                                     for s in range(0, len(idx), batch)]).numpy()
    labs = [labels.get(data.samples[i].key, {}).get(attribute) for i in idx]
    labs = None if all(v is None for v in labs) else labs
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"W: sampled mapping(z) vs inverted E(x), coloured by {attribute}"
    latent_tsne(w_s, codes["cycle"], labs, title=f"with cycle consistency — {title}", out_png=out / "tsne_cycle.png",
                seed=seed)
    latent_tsne(w_s, codes["nocycle"], labs, title=f"without cycle consistency — {title}",
                out_png=out / "tsne_nocycle.png", seed=seed)
    cycle_tsne_comparison(w_s, codes["cycle"], codes["nocycle"], labs, out_png=out / "tsne_compare.png", seed=seed)
    return {"tsne_cycle": str(out / "tsne_cycle.png"), "tsne_nocycle": str(out / "tsne_nocycle.png"),
            "tsne_compare": str(out / "tsne_compare.png"), "n": len(idx),
            "latent_fd_cycle": float(latent_frechet(w_s, codes["cycle"])),
            "latent_fd_nocycle": float(latent_frechet(w_s, codes["nocycle"]))}


def evaluate_cigan(model, data_root, limit: int | None = None, device="cpu", classifier=None, damsm=None,
                   steps: int | None = None, seed: int = 0) -> dict:
    """`python -m t2i eval` for a CI-GAN folder: encoder stage -> inversion numbers; aligner stage -> inversion,
    edits and text-to-image AttrAcc (+ FID, R-precision when the DAMSM folder exists). Inversion and edits use
    n = min(limit, 200) images (the issue's 200 edits); text-to-image uses `limit` captions (200 when None), like
    the other models' evaluation."""
    from t2i import checkpoint as ckpt
    from t2i.eval.generators import CLASSIFIER_NAME, DAMSM_NAME

    record = ckpt.read_config(model)
    stage = record["config"].get("stage")
    n = min(limit, 200) if limit else 200
    if stage == "stylegan":
        raise ValueError(f"{model} is a CI-GAN stage-1 (StyleGAN2) folder: evaluate the encoder (stage 2) or the "
                         "aligner (stage 3) folder, which carry this generator")
    metrics: dict = {"stage": stage, "train_steps": record.get("step"), "train_wall_s": record.get("train_wall_s")}
    metrics.update(evaluate_inversion(model, data_root, n=n, device=device, seed=seed))
    if stage != "aligner":
        return metrics
    metrics.update(evaluate_generator_fid(model, data_root, n=limit or 1000, device=device, seed=seed))
    from t2i.edit import EditPipeline
    from t2i.edit_config import EditConfig

    classifier = classifier or CLASSIFIER_NAME
    try:
        ckpt.resolve(classifier)
    except ckpt.CheckpointError:
        raise ValueError(f"edit and text-to-image numbers need the attribute classifier {classifier!r}: train one with "
                         "`python -m t2i train attr-classifier --data ROOT --out checkpoints/"
                         f"{CLASSIFIER_NAME}`") from None
    pipe = EditPipeline.from_pretrained(model, device=device)
    sheet = Path(model) / "edits.png" if Path(model).is_dir() else None  # the model card shows the first 16 edits
    config = (EditConfig.masked if EDIT_PART_MASK else EditConfig.whole)(steps=steps)
    metrics.update(evaluate_edits(model, data_root, classifier, n=n, config=config, seed=seed, device=device, pipe=pipe,
                                  sheet=sheet))
    damsm = damsm or DAMSM_NAME
    try:
        ckpt.resolve(damsm)
    except ckpt.CheckpointError:
        damsm = None  # AttrAcc only
    t2i_m = evaluate_text_to_image(model, data_root, classifier, damsm=damsm, limit=limit or n, seed=seed, device=device,
                                   pipe=pipe)
    metrics.update({f"t2i/{k}": v for k, v in t2i_m.items()})
    return metrics
