"""SynthBirds dataset writer (CUB-200-2011 / AttnGAN layout) and contact sheets."""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import pickle
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from t2i.data.fonts import sheet_font

from .captions import make_captions
from .render import render_bird
from .schema import ATTR_REGIONS, ATTRIBUTES, PALETTE, PART_LABELS, VERSION, attribute_pairs
from .species import make_species, random_attributes, vary_attributes

CUB_TEST_SHARE = 2933 / 11788  # CUB-200-2011: 8,855 train / 2,933 test


def per_class_counts(n: int, n_classes: int) -> list[int]:
    """Images per class when n images are dealt to the classes round-robin."""
    return [n // n_classes + (1 if c < n % n_classes else 0) for c in range(n_classes)]


def per_class_test_counts(counts: list[int], share: float = CUB_TEST_SHARE) -> list[int]:
    """Test images per class: share of each class, largest remainders so the total is round(n*share)."""
    want = [c * share for c in counts]
    out = [int(math.floor(w)) for w in want]
    extra = int(round(sum(counts) * share)) - sum(out)
    order = sorted(range(len(counts)), key=lambda c: (-(want[c] - out[c]), c))
    for c in order[:max(0, extra)]:
        out[c] += 1
    return out


def is_photo(seed: int, img_id: int, share: float) -> bool:
    """Whether image img_id of a set with this share of photo-like renders is one (the writer's and re-renders' rule)."""
    return share >= 1 or (share > 0 and np.random.default_rng([seed, 5, img_id]).random() < share)


def _render_chunk(job: tuple) -> list[tuple]:
    """Worker: render, caption and write a chunk of images; returns [(id, bbox, attrs)]."""
    root, size, seed, items, independent, photo = job
    cub = Path(root) / "CUB_200_2011"
    out = []
    for img_id, rel, species_attrs in items:
        rng = np.random.default_rng([seed, 1, img_id])
        attrs = random_attributes(rng) if independent else vary_attributes(species_attrs, rng)
        img, parts, bbox = render_bird(attrs, np.random.default_rng([seed, 2, img_id]), size,
                                       photo=is_photo(seed, img_id, photo))
        caps = make_captions(attrs, np.random.default_rng([seed, 3, img_id]))
        img.save(cub / "images" / f"{rel}.jpg", "JPEG", quality=95, subsampling=0)
        Image.fromarray(parts, "L").save(cub / "segmentations" / f"{rel}.png", optimize=False)
        (Path(root) / "text" / f"{rel}.txt").write_text("\n".join(caps) + "\n")
        out.append((img_id, bbox, attrs))
    return out


DEFAULT_DATA = Path(__file__).resolve().parents[3] / "data" / "synthbirds-64"  # the default dataset root


def ensure_synthbirds(root: str | Path | None = None, size: int = 64, seed: int = 0) -> Path:
    """The default dataset root; SynthBirds is deterministic, so a missing default set is rendered (~1 min)."""
    root = Path(root) if root else DEFAULT_DATA
    if not (root / "test" / "filenames.pickle").is_file():
        if root != DEFAULT_DATA:
            raise FileNotFoundError(f"dataset not found: {root} (render one with: python -m t2i data synthbirds --out {root})")
        print(f"rendering the default SynthBirds set into {root} ...")
        write_synthbirds(root, size=size, seed=seed)
    return root


def is_default_render(root: str | Path) -> bool:
    """Whether `root` holds SynthBirds as `ensure_synthbirds()` renders it into DEFAULT_DATA (same seed, size, count,
    classes and version; not independent, no photo-like images): a machine copy of the default set."""
    try:
        meta = json.loads((Path(root) / "synthbirds.json").read_text())
    except (OSError, ValueError):
        return False
    want = {"seed": 0, "size": 64, "n": 11788, "n_classes": 200, "version": VERSION, "independent": False, "photo": 0.0}
    return all(meta.get(k) == v for k, v in want.items())


def write_synthbirds(out, size: int = 64, n: int = 11788, seed: int = 0, workers: int = 2,
                     progress: bool = True, n_classes: int = 200, independent: bool = False, photo: float = 0.0) -> Path:
    """Render the SynthBirds dataset into `out` in the CUB-200-2011 / AttnGAN layout; returns out.

    size: image side (64, 128, 256); n: number of images (dealt round-robin over the classes);
    seed: species and images are deterministic from it; workers: processes (results do not depend
    on it); progress: tqdm bar; independent: every image draws each attribute on its own (random_attributes)
    instead of its species' combination, so that no attribute tells another: the training set of the part-reading
    attribute classifier that judges edits (a classifier trained on species combinations reads the species,
    not the part: a re-rendered bird with one part recoloured keeps its species' reading); photo: photo-like
    renders (ours; photo.py: feather texture, light, white and cluttered scenes, cast shadows, the camera's blur,
    noise and JPEG) for this share of the images (0: none, 1: all, 0.5: a mixed set), the same birds, captions and
    part maps as without it.
    """
    from tqdm import tqdm

    if not 0.0 <= photo <= 1.0:
        raise ValueError(f"photo is the share of photo-like images, 0..1; got {photo}")
    out = Path(out)
    cub = out / "CUB_200_2011"
    species = make_species(seed, n_classes)
    counts = per_class_counts(n, n_classes)
    tests = per_class_test_counts(counts)
    records = []  # (id, class index, "class_dir/img_name", is_train)
    img_id = 1
    for c, (cls, _) in enumerate(species):
        name = cls.split(".", 1)[1]
        test = set(np.random.default_rng([seed, 4, c]).permutation(counts[c])[:tests[c]].tolist())
        for k in range(counts[c]):
            records.append((img_id, c, f"{cls}/{name}_{k + 1:04d}_{img_id}", k not in test))
            img_id += 1
    for c, (cls, _) in enumerate(species):
        if counts[c]:
            for d in (cub / "images" / cls, cub / "segmentations" / cls, out / "text" / cls):
                d.mkdir(parents=True, exist_ok=True)
    for d in (cub / "parts", cub / "attributes", out / "train", out / "test"):
        d.mkdir(parents=True, exist_ok=True)

    chunk = 48
    jobs = [(str(out), size, seed, [(i, rel, species[c][1]) for i, c, rel, _ in records[s:s + chunk]], independent,
             photo)
            for s in range(0, len(records), chunk)]
    results: dict[int, tuple] = {}
    bar = tqdm(total=len(records), desc=f"SynthBirds {size}px", disable=not progress, unit="img")
    if workers <= 1:
        for job in jobs:
            for r in _render_chunk(job):
                results[r[0]] = r
            bar.update(len(job[3]))
    else:
        # forkserver, not fork: forking a process whose other threads (torch's pool, a server, tqdm) hold a lock can
        # leave a worker deadlocked for good (seen in the test suite); spawn where there is no forkserver
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("forkserver" if "forkserver" in methods else "spawn")
        with ctx.Pool(workers) as pool:
            for res in pool.imap(_render_chunk, jobs):
                for r in res:
                    results[r[0]] = r
                bar.update(len(res))
    bar.close()

    def write(path: Path, lines) -> None:
        """Write lines, each ending with a newline."""
        path.write_text("".join(f"{line}\n" for line in lines))

    write(cub / "images.txt", (f"{i} {rel}.jpg" for i, _, rel, _ in records))
    write(cub / "classes.txt", (f"{c + 1} {cls}" for c, (cls, _) in enumerate(species)))
    write(cub / "image_class_labels.txt", (f"{i} {c + 1}" for i, c, _, _ in records))
    write(cub / "train_test_split.txt", (f"{i} {int(tr)}" for i, _, _, tr in records))
    write(cub / "bounding_boxes.txt",
          (f"{i} {' '.join(f'{v:.1f}' for v in results[i][1])}" for i, _, _, _ in records))
    write(cub / "parts" / "part_labels.txt", (f"{k} {v}" for k, v in PART_LABELS.items()))
    pairs = attribute_pairs()
    attr_lines = [f"{k + 1} {a}::{v}" for k, (a, v) in enumerate(pairs)]
    write(out / "attributes.txt", attr_lines)
    write(cub / "attributes" / "attributes.txt", attr_lines)
    write(cub / "attributes" / "certainties.txt",
          ["1 not visible", "2 guessing", "3 probably", "4 definitely"])
    present = np.zeros((len(records), len(pairs)), dtype=np.uint8)
    index = {p: k for k, p in enumerate(pairs)}
    for row, (i, _, _, _) in enumerate(records):
        for a, v in results[i][2].items():
            present[row, index[(a, v)]] = 1
    with open(cub / "attributes" / "image_attribute_labels.txt", "w") as f:
        for row, (i, _, _, _) in enumerate(records):
            f.write("".join(f"{i} {k + 1} {p} 4 0.0\n" for k, p in enumerate(present[row].tolist())))
    cls_idx = np.array([c for _, c, _, _ in records], dtype=np.int64)
    with open(cub / "attributes" / "class_attribute_labels_continuous.txt", "w") as f:
        for c in range(n_classes):
            rows = present[cls_idx == c]
            pct = rows.mean(0) * 100 if len(rows) else np.zeros(len(pairs))
            f.write(" ".join(f"{p:.6f}" for p in pct) + "\n")
    for split, flag in (("train", True), ("test", False)):
        sel = [(rel, c) for _, c, rel, tr in records if tr == flag]
        with open(out / split / "filenames.pickle", "wb") as f:
            pickle.dump([rel for rel, _ in sel], f, protocol=2)
        with open(out / split / "class_info.pickle", "wb") as f:  # AttnGAN's class ids (1-based)
            pickle.dump([c + 1 for _, c in sel], f, protocol=2)
    meta = {"seed": seed, "size": size, "n": n, "version": VERSION, "attributes": ATTRIBUTES,
            "n_classes": n_classes, "n_train": sum(r[3] for r in records),
            "n_test": sum(not r[3] for r in records), "palette": PALETTE, "part_labels": PART_LABELS,
            "attr_regions": ATTR_REGIONS, "independent": independent, "photo": float(photo),
            "species": {} if independent else {cls: a for cls, a in species}}
    (out / "synthbirds.json").write_text(json.dumps(meta, indent=1))
    return out


def _wrap(text: str, font: ImageFont.ImageFont, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap to a pixel width; the last line ends with an ellipsis when text is cut."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        while lines[-1] and font.getlength(lines[-1] + "…") > width:
            lines[-1] = lines[-1].rsplit(" ", 1)[0] if " " in lines[-1] else lines[-1][:-1]
        lines[-1] += "…"
    return lines


def contact_sheet(root, out_png, rows: int = 8, cols: int = 8, tile: int = 128,
                  captions: bool = True, max_lines: int = 4) -> Path:
    """Tile the first image of the first rows*cols classes of a CUB-layout dataset, each with its
    first caption underneath (when captions); returns the PNG path."""
    root = Path(root)
    cub = root / "CUB_200_2011" if (root / "CUB_200_2011").is_dir() else root
    firsts: dict[str, str] = {}
    for line in (cub / "images.txt").read_text().splitlines():
        rel = line.split(" ", 1)[1].rsplit(".", 1)[0]
        firsts.setdefault(rel.split("/")[0], rel)
    picks = list(firsts.values())[:rows * cols]
    font = sheet_font(max(9, tile // 11), condensed=True)
    line_h = font.size + 2
    n_lines = max_lines if captions else 0
    cell_h = tile + n_lines * line_h + (6 if captions else 2)
    sheet = Image.new("RGB", (cols * (tile + 2) + 2, rows * cell_h + 2), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    for k, rel in enumerate(picks):
        x, y = 2 + (k % cols) * (tile + 2), 2 + (k // cols) * cell_h
        im = Image.open(cub / "images" / f"{rel}.jpg").convert("RGB")
        sheet.paste(im.resize((tile, tile), Image.BICUBIC), (x, y))
        txt = root / "text" / f"{rel}.txt"
        if captions and txt.exists():
            cap = txt.read_text().splitlines()[0]
            for j, line in enumerate(_wrap(cap, font, tile - 2, n_lines)):
                d.text((x + 1, y + tile + 2 + j * line_h), line, fill=(20, 20, 20), font=font)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out_png, optimize=True)
    return out_png
