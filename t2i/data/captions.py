"""One loader for the AttnGAN layouts of CUB-200-2011, Oxford-102, COCO-2014 and SynthBirds.

    ROOT/train/filenames.pickle, ROOT/test/filenames.pickle   list[str] of keys (no extension)
    ROOT/text/<key>.txt                                      captions, one per line
    images: ROOT/CUB_200_2011/images/<key>.jpg (birds, with bounding_boxes.txt),
            ROOT/images/<key>.jpg (COCO), ROOT/jpg/<basename(key)>.jpg (Oxford-102)
"""
from __future__ import annotations

import io
import pickle
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from t2i.data.vocab import MAX_WORDS, Vocabulary

IMAGE_EXTS = (".jpg", ".jpeg", ".png")


class _ListOfStrUnpickler(pickle.Unpickler):
    """Unpickler that builds nothing but lists and strings: any class or function reference is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: filenames.pickle may only hold a list of str")


def read_filenames(path: str | Path) -> list[str]:
    """Read AttnGAN's filenames.pickle safely (a list of str; Python 2 pickles too)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"missing split file: {path}")
    try:
        data = _ListOfStrUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()
    except Exception as e:  # noqa: BLE001 - any decoding problem is a malformed file
        raise ValueError(f"malformed split file {path}: {e}") from None
    if not isinstance(data, list) or not all(isinstance(s, (str, bytes)) for s in data):
        raise ValueError(f"malformed split file {path}: expected a list of str, got {type(data).__name__}")
    return [s.decode() if isinstance(s, bytes) else s for s in data]


def read_bboxes(cub_dir: Path) -> dict[str, tuple[float, float, float, float]]:
    """key -> (x, y, w, h) from CUB's images.txt + bounding_boxes.txt."""
    images, boxes = cub_dir / "images.txt", cub_dir / "bounding_boxes.txt"
    for f in (images, boxes):
        if not f.is_file():
            raise FileNotFoundError(f"missing CUB file: {f}")
    id2key = {}
    for n, line in enumerate(images.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{images}:{n}: expected '<id> <path>', got {line!r}")
            id2key[parts[0]] = parts[1].rsplit(".", 1)[0]
    out = {}
    for n, line in enumerate(boxes.read_text().splitlines(), 1):
        if line.strip():
            parts = line.split()
            if len(parts) != 5 or parts[0] not in id2key:
                raise ValueError(f"{boxes}:{n}: expected '<id> <x> <y> <w> <h>' with a known id, got {line!r}")
            out[id2key[parts[0]]] = tuple(float(v) for v in parts[1:])
    return out


def crop_to_box(img: Image.Image, box) -> Image.Image:
    """AttnGAN crop: square of half-side 0.75*max(w, h) around the box centre, clipped to the image."""
    if box is None:
        return img
    x, y, w, h = box
    r = int(np.maximum(w, h) * 0.75)
    cx, cy = int(x + w / 2), int(y + h / 2)
    W, H = img.size
    return img.crop((max(0, cx - r), max(0, cy - r), min(W, cx + r), min(H, cy + r)))


def read_captions(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"missing caption file: {path}")
    caps = [c.strip() for c in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    caps = [c for c in caps if c]
    if not caps:
        raise ValueError(f"caption file has no captions: {path}")
    return caps


@dataclass
class Sample:
    key: str
    image_path: Path
    captions: list[str]
    box: tuple | None
    class_id: int


class CaptionDataset(Dataset):
    """Image–caption pairs of one split.

    Each item: dict(image [3, S, S] in [-1, 1], tokens [max_words] long (0 = pad), length, class_id, index,
    caption (str), key). Training: random caption, random 18-word subset of long captions, resize to S*76/64,
    random crop, horizontal flip. Evaluation: caption `caption_index` (or i % n), centre resize, truncation.
    """

    def __init__(self, root: str | Path,  # dataset root in an AttnGAN layout
                 split: str = "train",  # "train" or "test"
                 size: int = 64,  # output side S
                 vocab: Vocabulary | None = None,  # None: built from every caption of both splits
                 augment: bool | None = None,  # default: True for train
                 max_words: int = MAX_WORDS,  # caption length (AttnGAN: 18)
                 captions_per_image: int | None = None,  # default: the smallest count found (10 birds, 5 COCO)
                 cache: bool = True,  # keep cropped, resized images in memory (uint8)
                 limit: int | None = None):  # only the first `limit` images (tests, quick evals)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset root not found: {self.root}")
        self.split, self.size, self.max_words = split, size, max_words
        self.augment = (split == "train") if augment is None else augment
        keys = read_filenames(self.root / split / "filenames.pickle")
        if limit is not None:
            keys = keys[:limit]
        if not keys:
            raise ValueError(f"split {split!r} of {self.root} is empty")
        cub = self.root / "CUB_200_2011"
        boxes = read_bboxes(cub) if (cub / "bounding_boxes.txt").is_file() else {}
        class_names: dict[str, int] = {}
        self.samples = []
        for key in keys:
            cls = key.split("/")[0] if "/" in key else ""
            cid = int(cls.split(".")[0]) if cls[:3].isdigit() else class_names.setdefault(cls, len(class_names))
            self.samples.append(Sample(key, self._image_path(key), read_captions(self.root / "text" / f"{key}.txt"),
                                       boxes.get(key), cid))
        self.captions_per_image = captions_per_image or min(len(s.captions) for s in self.samples)
        self.vocab = vocab or Vocabulary.build(self.all_captions(self.root))
        self._cache: dict[int, np.ndarray] = {} if cache else None
        self.base = size * 76 // 64 if self.augment else size

    # --- layout -------------------------------------------------------------------------------------------
    def _image_path(self, key: str) -> Path:
        stems = [self.root / "CUB_200_2011" / "images" / key, self.root / "images" / key,
                 self.root / "jpg" / Path(key).name]
        for stem in stems:
            for ext in IMAGE_EXTS:
                p = stem.with_name(stem.name + ext)
                if p.is_file():
                    return p
        raise FileNotFoundError(f"no image for {key!r} (looked for {stems[0]}.jpg and the COCO/Oxford layouts)")

    @staticmethod
    def all_captions(root: str | Path) -> list[str]:
        """Every caption of the train and test splits (what AttnGAN builds its vocabulary from)."""
        root = Path(root)
        caps = []
        for split in ("train", "test"):
            f = root / split / "filenames.pickle"
            if f.is_file():
                for key in read_filenames(f):
                    caps += read_captions(root / "text" / f"{key}.txt")
        return caps

    # --- items -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.samples)

    def load_image(self, i: int) -> np.ndarray:
        """Cropped image resized to the base side (uint8 HxWx3), cached."""
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        s = self.samples[i]
        try:
            with Image.open(s.image_path) as im:
                img = crop_to_box(im.convert("RGB"), s.box)
        except OSError as e:
            raise ValueError(f"cannot read image {s.image_path}: {e}") from None
        arr = np.asarray(img.resize((self.base, self.base), Image.BICUBIC), dtype=np.uint8)
        if self._cache is not None:
            self._cache[i] = arr
        return arr

    def caption(self, i: int, j: int) -> str:
        caps = self.samples[i].captions
        return caps[j % len(caps)]

    def __getitem__(self, i: int, caption_index: int | None = None) -> dict:
        arr = self.load_image(i)
        # augmentation draws from torch's RNG (seeded by the trainer, per DataLoader worker): runs are reproducible
        rng = random.Random(int(torch.randint(0, 2 ** 62, ()).item())) if self.augment else None
        if self.augment:
            y, x = rng.randint(0, self.base - self.size), rng.randint(0, self.base - self.size)
            arr = arr[y:y + self.size, x:x + self.size]
            if rng.random() < 0.5:
                arr = arr[:, ::-1]
            j = rng.randrange(self.captions_per_image)
        else:
            j = caption_index if caption_index is not None else i % self.captions_per_image
        text = self.caption(i, j)
        enc = self.vocab.encode(text, self.max_words, rng)
        image = torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 127.5 - 1.0
        return {"image": image, "tokens": torch.tensor(enc.ids), "length": torch.tensor(max(enc.length, 1)),
                "class_id": torch.tensor(self.samples[i].class_id), "index": torch.tensor(i),
                "caption": text, "key": self.samples[i].key}

    def eval_pairs(self, captions_per_image: int = 1, seed: int = 0) -> list[tuple[int, int]]:
        """Fixed (image index, caption index) pairs for evaluation: `captions_per_image` captions per image."""
        rng = random.Random(seed)
        return [(i, j) for i in range(len(self)) for j in rng.sample(range(self.captions_per_image), captions_per_image)]
