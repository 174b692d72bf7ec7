"""SynthBirds renderer: determinism, CUB/AttnGAN layout, captions <-> parser, part maps and boxes."""
import json

from t2i.data.captions import read_filenames
import re

import numpy as np
import pytest
from PIL import Image

from t2i.data import synthbirds as sb

N = 40


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A tiny SynthBirds set (n=40, 64 px), written with 2 workers."""
    return sb.write_synthbirds(tmp_path_factory.mktemp("sb") / "synth", size=64, n=N, seed=0,
                               workers=2, progress=False)


def _lines(path):
    """Lines of a text file."""
    return path.read_text().splitlines()


def test_render_is_deterministic():
    """Same seed -> identical image bytes, part map and box; species depend on the seed."""
    species = sb.make_species(0)
    for k in (0, 7, 123):
        a = species[k][1]
        img1, parts1, box1 = sb.render_bird(a, np.random.default_rng([0, k]), 64)
        img2, parts2, box2 = sb.render_bird(a, np.random.default_rng([0, k]), 64)
        assert img1.tobytes() == img2.tobytes()
        assert np.array_equal(parts1, parts2) and box1 == box2
    assert sb.make_species(0) == species
    assert sb.make_species(1) != species


# sha256 of six renders (images, part maps, boxes) as the renderer drew them before render.py was split in two
RENDER_SHA256 = "ceed918079beb703a81bcd987c0f6b54914590f9fbe806b935726f302845c660"


def test_renders_are_bit_identical_to_the_recorded_ones():
    """A refactor of the renderer must not change a pixel: six birds, 64 and 128 px, every background."""
    import hashlib

    species = sb.make_species(0)
    h = hashlib.sha256()
    for k, size, bg in ((0, 64, None), (7, 64, "sky"), (123, 128, "water"), (50, 64, "foliage"), (99, 64, "ground"),
                        (150, 128, "branch")):
        img, parts, box = sb.render_bird(species[k][1], np.random.default_rng([5, k]), size,
                                         **({"background": bg} if bg else {}))
        h.update(img.tobytes())
        h.update(parts.tobytes())
        h.update(repr(box).encode())
    assert h.hexdigest() == RENDER_SHA256


def test_dataset_does_not_depend_on_workers(dataset, tmp_path):
    """1 and 2 workers write identical files."""
    other = sb.write_synthbirds(tmp_path / "one", size=64, n=N, seed=0, workers=1, progress=False)
    rels = [line.split()[1] for line in _lines(dataset / "CUB_200_2011" / "images.txt")]
    for rel in rels[:: len(rels) // 4]:
        for sub in ("CUB_200_2011/images/" + rel, "CUB_200_2011/segmentations/" + rel[:-4] + ".png",
                    "text/" + rel[:-4] + ".txt"):
            assert (dataset / sub).read_bytes() == (other / sub).read_bytes()
    for f in ("images.txt", "bounding_boxes.txt", "train_test_split.txt",
              "attributes/image_attribute_labels.txt"):
        assert (dataset / "CUB_200_2011" / f).read_bytes() == (other / "CUB_200_2011" / f).read_bytes()


def test_layout_files_agree(dataset):
    """CUB/AttnGAN index files exist and agree (ids, classes, split, boxes, attributes, pickles)."""
    cub = dataset / "CUB_200_2011"
    images = [line.split() for line in _lines(cub / "images.txt")]
    assert [int(i) for i, _ in images] == list(range(1, N + 1))
    classes = dict(line.split() for line in _lines(cub / "classes.txt"))
    assert len(classes) == 200 and all(re.fullmatch(r"\d{3}\.[A-Za-z_]+", c) for c in classes.values())
    labels = dict(line.split() for line in _lines(cub / "image_class_labels.txt"))
    split = dict(line.split() for line in _lines(cub / "train_test_split.txt"))
    boxes = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in _lines(cub / "bounding_boxes.txt")}
    assert len(labels) == len(split) == len(boxes) == N
    for i, rel in images:
        cls, name = rel.split("/")
        assert classes[labels[i]] == cls and name.endswith(f"_{i}.jpg")
        assert name.startswith(cls.split(".", 1)[1] + "_")
        img = Image.open(cub / "images" / rel)
        seg = Image.open(cub / "segmentations" / (rel[:-4] + ".png"))
        assert img.mode == "RGB" and img.size == (64, 64) and seg.mode == "L" and seg.size == (64, 64)
        x, y, w, h = boxes[i]
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 64 and y + h <= 64
        caps = _lines(dataset / "text" / (rel[:-4] + ".txt"))
        assert len(caps) == 10 and all(c and c == c.lower() for c in caps)
    # Split: the CUB test share (2933 / 11788), applied per class.
    n_test = sum(v == "0" for v in split.values())
    assert n_test == round(N * 2933 / 11788)
    assert sum(sb.per_class_test_counts(sb.per_class_counts(11788, 200))) == 2933
    # AttnGAN pickles: lists of "class_dir/img_name" strings, matching the split file.
    names = {}
    for part in ("train", "test"):
        names[part] = read_filenames(dataset / part / "filenames.pickle")  # the loader's safe unpickler
        assert isinstance(names[part], list) and all(isinstance(s, str) for s in names[part])
    by_rel = {rel[:-4]: split[i] for i, rel in images}
    assert sorted(names["train"] + names["test"]) == sorted(by_rel)
    assert all(by_rel[s] == "1" for s in names["train"]) and all(by_rel[s] == "0" for s in names["test"])
    # Attributes: CUB format, one present value per attribute and image.
    pairs = sb.attribute_pairs()
    attr_lines = _lines(dataset / "attributes.txt")
    assert attr_lines == _lines(cub / "attributes" / "attributes.txt")
    assert attr_lines[0] == f"1 {pairs[0][0]}::{pairs[0][1]}" and len(attr_lines) == len(pairs)
    assert "has_belly_color::red" in {line.split()[1] for line in attr_lines}
    rows = np.loadtxt(cub / "attributes" / "image_attribute_labels.txt", dtype=np.float64)
    assert rows.shape == (N * len(pairs), 5)
    present = rows[:, 2].reshape(N, len(pairs))
    for a in sb.ATTRIBUTES:
        cols = [k for k, (b, _) in enumerate(pairs) if b == a]
        assert (present[:, cols].sum(1) == 1).all()
    assert set(rows[:, 3]) == {4.0}
    parts = dict(line.split() for line in _lines(cub / "parts" / "part_labels.txt"))
    assert set(parts.values()) == set(sb.PART_LABELS.values()) == {
        "body", "belly", "back", "wing", "crown", "throat", "eye", "bill", "tail", "legs"}
    meta = json.loads((dataset / "synthbirds.json").read_text())
    assert {"seed", "size", "n", "version", "attributes"} <= set(meta) and meta["n"] == N
    assert meta["attributes"] == sb.ATTRIBUTES


def test_captions_mention_true_attributes_and_parse_back():
    """Captions mention 2-5 true attributes; the parser reads exactly those back."""
    species = sb.make_species(0)
    rng = np.random.default_rng(0)
    for t in range(1500):
        attrs = sb.vary_attributes(species[t % 200][1], rng, p=0.5)
        text, mentioned = sb.make_caption(attrs, rng)
        assert 2 <= len(mentioned) <= 5
        assert all(attrs[a] == v for a, v in mentioned.items())
        assert text == text.lower()
        assert sb.parse_caption(text) == mentioned, text
    caps = sb.make_captions(species[0][1], np.random.default_rng(1))
    assert len(caps) == 10 and len(set(caps)) > 5


def test_written_captions_parse_to_true_attributes(dataset):
    """Captions on disk parse to attributes of their image."""
    cub = dataset / "CUB_200_2011"
    pairs = sb.attribute_pairs()
    rows = np.loadtxt(cub / "attributes" / "image_attribute_labels.txt", usecols=(0, 1, 2), dtype=np.int64)
    truth = {}
    for i, k, p in rows[:, :3]:
        if p:
            truth.setdefault(int(i), {})[pairs[k - 1][0]] = pairs[k - 1][1]
    for line in _lines(cub / "images.txt")[:10]:
        i, rel = line.split()
        for cap in _lines(dataset / "text" / (rel[:-4] + ".txt")):
            got = sb.parse_caption(cap)
            assert 2 <= len(got) <= 5 and all(truth[int(i)][a] == v for a, v in got.items()), cap


def test_parse_user_text():
    """Free user text: synonyms, conjunctions, and words that must not be read as attributes."""
    p = sb.parse_caption
    assert p("a small bird with a red belly and black wings") == {
        "has_wing_color": "black", "has_belly_color": "red", "has_size": "small_(5_-_9_in)"}
    assert p("this is a yellow bird with a black crown") == {
        "has_primary_color": "yellow", "has_crown_color": "black"}
    got = p("A gray bird with a long orange beak and spotted wings.")
    assert got == {"has_bill_length": "longer_than_head", "has_primary_color": "grey",
                   "has_bill_color": "orange", "has_wing_pattern": "spotted"}
    assert p("its crown and throat are white, legs and feet pink") == {
        "has_throat_color": "white", "has_crown_color": "white", "has_leg_color": "pink"}
    assert p("a bird with a long tail") == {}  # "long" here is not the bill
    assert p("blue legs") == {}  # not a SynthBirds leg colour


@pytest.mark.parametrize("size", [64, 128])
def test_part_map_and_bbox(size):
    """The part map has the main parts and the box encloses every labelled pixel."""
    species = sb.make_species(0)
    for k in range(0, 200, 25):
        img, parts, (x, y, w, h) = sb.render_bird(species[k][1], np.random.default_rng([1, k]), size)
        assert img.size == (size, size) and parts.shape == (size, size) and parts.dtype == np.uint8
        labels = set(np.unique(parts).tolist())
        assert {0, 1, 2, 4, 5, 7, 8, 10} <= labels <= set(range(11))
        ys, xs = np.nonzero(parts)
        assert x <= xs.min() and xs.max() + 1 <= x + w and y <= ys.min() and ys.max() + 1 <= y + h


def test_render_256_and_backgrounds():
    """Every background renders with a visible bird; 256 px works and shows the eye."""
    a = sb.make_species(0)[3][1]
    for bg in sb.BACKGROUNDS:
        img, parts, _ = sb.render_bird(a, np.random.default_rng(2), 64, background=bg)
        assert np.asarray(img).std() > 10 and (parts > 0).mean() > 0.03
    img, parts, _ = sb.render_bird(a, np.random.default_rng(3), 256)
    assert img.size == (256, 256) and (parts == 7).sum() > 20  # the eye is readable


def test_photo_like_renders_keep_the_bird_and_add_the_camera():
    """photo=True: the same bird and part map as the plain render of the same draw, but another picture (texture,
    light, shadow, camera); the photo-only scenes and the RGBA cut-out; deterministic."""
    a = sb.make_species(0)[11][1]
    plain, pparts, pbox = sb.render_bird(a, np.random.default_rng(4), 64, background="sky")
    photo, parts, box = sb.render_bird(a, np.random.default_rng(4), 64, background="sky", photo=True)
    again, _, _ = sb.render_bird(a, np.random.default_rng(4), 64, background="sky", photo=True)
    assert np.array_equal(parts, pparts) and box == pbox and photo.tobytes() == again.tobytes()
    diff = np.abs(np.asarray(photo, np.float32) - np.asarray(plain, np.float32)).mean()
    assert diff > 3  # the camera, texture and shadow change the picture, not the bird's layout
    white, wparts, _ = sb.render_bird(a, np.random.default_rng(5), 64, background="white", photo=True)
    corners = np.asarray(white, np.float32)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.mean() > 170 and (wparts > 0).mean() > 0.03
    cut, cparts, _ = sb.render_bird(a, np.random.default_rng(6), 64, background="cutout", photo=True)
    alpha = np.asarray(cut)[..., 3]
    assert cut.mode == "RGBA" and alpha[0, 0] == 0 and alpha[cparts > 0].mean() > 200
    clutter, _, _ = sb.render_bird(a, np.random.default_rng(7), 64, background="cluttered", photo=True)
    assert np.asarray(clutter).std() > 20
    with pytest.raises(ValueError, match="photo=True has more"):
        sb.render_bird(a, np.random.default_rng(8), 64, background="white")


def test_photo_share_of_a_dataset_is_recorded_and_checked(tmp_path):
    root = sb.write_synthbirds(tmp_path / "mix", n=12, workers=1, progress=False, photo=0.5)
    assert json.loads((root / "synthbirds.json").read_text())["photo"] == 0.5
    plain = sb.write_synthbirds(tmp_path / "plain", n=12, workers=1, progress=False)
    rels = [line.split()[1] for line in _lines(root / "CUB_200_2011" / "images.txt")]
    same = [(Image.open(root / "CUB_200_2011" / "images" / r).tobytes()
             == Image.open(plain / "CUB_200_2011" / "images" / r).tobytes()) for r in rels]
    assert 0 < sum(same) < len(same)  # some images photo-like, the others as in the plain set
    with pytest.raises(ValueError, match="share of photo-like"):
        sb.write_synthbirds(tmp_path / "bad", n=4, workers=1, progress=False, photo=2.0)


def test_species_are_distinct_and_named():
    """200 distinct combinations with unique names; the schema tables agree."""
    species = sb.make_species(0)
    assert len(species) == 200
    combos = {tuple(a[k] for k in sb.ATTRIBUTES) for _, a in species}
    assert len(combos) == 200
    assert len({c.split(".", 1)[1] for c, _ in species}) == 200
    for cls, a in species:
        assert set(a) == set(sb.ATTRIBUTES) and a["has_primary_color"] == sb.primary_color(a)
    assert set(sb.ATTR_PART) == set(sb.ATTRIBUTES) == set(sb.ATTR_REGIONS)
    with pytest.raises(KeyError):
        sb.render_bird({"has_size": sb.SIZES[0]}, np.random.default_rng(0))


def test_contact_sheet(dataset, tmp_path):
    """The contact sheet tiles images (with captions)."""
    out = sb.contact_sheet(dataset, tmp_path / "sheet.png", rows=2, cols=3)
    im = Image.open(out)
    assert im.size[0] > 3 * 64 and im.size[1] > 2 * 64
