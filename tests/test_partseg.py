"""The part segmenter of the part-masked edits (t2i.partseg) and the independent-attribute SynthBirds set."""
from __future__ import annotations

import json

import pytest
import torch

from t2i import checkpoint as ckpt
from t2i.cli import main
from t2i.partseg import PartSegConfig, PartSegmenter, load_part_segmenter, part_mask, text_parts


def test_text_parts_reads_the_parts_a_text_recolours():
    assert text_parts("this bird has a red belly") == ("belly",)
    assert text_parts("a small bird with a red belly and black wings") == ("belly", "wing", "tail")
    assert text_parts("a bird with a grey crown") == ("crown",)
    assert text_parts("a small red bird") == ()  # no part named: the whole image is edited
    assert text_parts("this bird has a long bill") == ()  # a shape, not a part colour
    # every part colour names its part (the eye, leg and bill colours asked for a whole-image edit before)
    assert text_parts("a bird with a yellow bill") == ("bill",) and text_parts("it has pink legs") == ("legs",)


def test_part_mask_follows_the_segmenter_and_the_text():
    torch.manual_seed(0)
    seg = PartSegmenter(PartSegConfig(img_size=32, nf=4)).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    probs = seg.probabilities(x)
    assert probs.shape == (3, 1 + len(seg.cfg.parts), 32, 32)
    assert torch.allclose(probs.sum(1), torch.ones(3, 32, 32), atol=1e-5)
    m = part_mask(seg, x, [("belly",), (), ("wing", "tail")], dilate=0)
    assert m.shape == (3, 1, 32, 32) and 0 <= m.min() and m.max() <= 1
    belly = 1 + seg.cfg.parts.index("belly")
    assert torch.allclose(m[0, 0], probs[0, belly], atol=1e-6)
    assert torch.equal(m[1], torch.ones_like(m[1]))  # nothing named: all ones
    assert (part_mask(seg, x, [("belly",)] * 3, dilate=1) >= part_mask(seg, x, [("belly",)] * 3, dilate=0)).all()
    assert seg(torch.zeros(1, 3, 48, 48)).shape[-2:] == (48, 48)  # any input size, logits at that size
    with pytest.raises(ValueError, match="knows"):
        part_mask(seg, x[:1], [("beak",)])


def test_train_command_learns_part_maps_and_folder_loads(synth_root, tmp_path, capsys):
    out = tmp_path / "seg"
    assert main(["train", "part-segmenter", "--data", str(synth_root), "--out", str(out), "--steps", "30",
                 "--batch-size", "8", "--eval-every", "30", "--limit", "40", "--lr", "0.01"]) == 0
    assert "iou/mean" in capsys.readouterr().out
    rec = json.loads((out / "config.json").read_text())
    assert rec["model_type"] == "part-segmenter" and rec["step"] == 30
    seg = load_part_segmenter(out)
    from t2i.data.captions import CaptionDataset
    from t2i.partseg import PartMaps, part_iou

    data = PartMaps(CaptionDataset(synth_root, "train", 64, augment=False, limit=40), synth_root)
    iou = part_iou(seg, data)
    untrained = part_iou(PartSegmenter(seg.cfg), data)
    assert iou["iou/bird"] > untrained["iou/bird"] + 0.05  # 30 steps: it starts to find the birds
    assert main(["eval", str(out), "--data", str(synth_root), "--limit", "20", "--json", str(tmp_path / "e.json")]) == 0
    measured = json.loads((tmp_path / "e.json").read_text())  # `eval` on a segmenter: per-part IoU on the test split
    assert {"iou/mean", "iou/bird", "iou/belly"} <= set(measured) and measured["n_images"] == 20
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig

    other = tmp_path / "clf"
    ckpt.save_model_folder(other, "attr-classifier", {"groups": {}},
                           {"classifier": AttrClassifier(AttrClassifierConfig(groups={"a": ["x", "y"]}, nf=4))})
    with pytest.raises(ckpt.CheckpointError, match="not a part-segmenter"):
        load_part_segmenter(other)


def test_independent_synthbirds_breaks_the_species_combinations(tmp_path):
    from t2i.data.attributes import read_image_attributes
    from t2i.data.synthbirds import make_species, write_synthbirds

    root = write_synthbirds(tmp_path / "ind", size=64, n=60, seed=0, workers=1, progress=False, independent=True)
    meta = json.loads((root / "synthbirds.json").read_text())
    assert meta["independent"] is True and meta["n_train"] + meta["n_test"] == 60
    _, labels = read_image_attributes(root)
    species = dict(make_species(0))
    cls_of = {k: k.split("/")[0] for k in labels}
    # a species image keeps its species' part colours; an independent one matches them only by chance
    same = [labels[k]["has_belly_color"] == species[cls_of[k]]["has_belly_color"] for k in labels]
    assert sum(same) < 0.5 * len(same)
    belly = {v["has_belly_color"] for v in labels.values()}
    assert len(belly) >= 8  # all colours appear


def test_the_bird_is_found_and_framed_and_a_picture_without_one_says_so():
    """Issue 26: edits crop around the bird the shipped segmenter finds (not the centre) and refuse pictures with
    no bird in them."""
    import numpy as np
    from PIL import Image

    from t2i.partseg import NoBirdError, crop_to_bird, find_bird

    seg = load_part_segmenter("partseg-synthbirds-64")
    bird = np.asarray(Image.open(ckpt.REPO_ROOT / "examples" / "bird_red.png").convert("RGB"))
    wide = Image.fromarray(np.pad(bird, ((0, 0), (250, 22), (0, 0)), mode="edge"))  # more of the scene on the left
    box, share = find_bird(seg, wide)
    x, y, w, h = box
    assert 0.01 <= share < 0.2 and 250 + 15 <= x + w / 2 <= 250 + 110 and 30 <= y + h / 2 <= 100
    notes: list[str] = []
    sq = crop_to_bird(seg, wide, notes)
    assert sq.size[0] == sq.size[1] <= 128 and "around the bird" in notes[0]
    centre = wide.crop(((wide.size[0] - 128) // 2, 0, (wide.size[0] + 128) // 2, 128))
    assert find_bird(seg, sq)[1] > 2 * (find_bird(seg, centre) or (None, 0.0))[1]  # the centre misses the bird
    for empty in (Image.new("RGB", (300, 200), (255, 255, 255)), Image.new("RGB", (200, 200), (120, 170, 230))):
        with pytest.raises(NoBirdError, match="no bird found"):
            crop_to_bird(seg, empty)


def test_the_shipped_editor_says_when_a_picture_has_no_bird():
    from PIL import Image

    from t2i import load_pipeline
    from t2i.partseg import NoBirdError

    pipe = load_pipeline("cigan-synthbirds-64")
    with pytest.raises(NoBirdError, match="no bird found"):
        pipe.edit(Image.new("RGB", (120, 90), (250, 250, 250)), "this bird has a blue belly", steps=1)
    res = pipe.edit(ckpt.REPO_ROOT / "examples" / "bird_red.png", "this bird has a blue belly", steps=1)
    assert res.edited.size == (64, 64) and any("around the bird" in n for n in res.notes)


def test_a_black_and_white_picture_or_drawing_gets_a_warning_and_a_colour_photo_none():
    """Issue 26 point 5: an upload without colour (a black-and-white photo, a pencil drawing) is edited with an
    honest note that the editor knows colour photos; a colour bird gets no such note."""
    from PIL import Image

    from t2i import load_pipeline

    pipe = load_pipeline("cigan-synthbirds-64")
    colour = Image.open(ckpt.REPO_ROOT / "examples" / "bird_red.png").convert("RGB")
    notes: list[str] = []
    pipe.square_upload(colour, notes)
    assert not any("no colour" in n for n in notes)
    grey = colour.convert("L").convert("RGB")
    notes = []
    pipe.square_upload(grey, notes)
    assert any("almost no colour" in n and "drawing" in n for n in notes)
    res = pipe.edit(grey, "this bird has a blue belly", steps=1)
    assert any("almost no colour" in n for n in res.notes)
