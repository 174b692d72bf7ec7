import pickle
import random

import pytest
import torch

from t2i.data.captions import CaptionDataset, crop_to_box, read_filenames
from t2i.data.vocab import Vocabulary, tokenize


def test_tokenize_attngan_convention():
    assert tokenize("This bird's belly is RED, très jolie!") == ["this", "bird", "s", "belly", "is", "red", "trs", "jolie"]
    assert tokenize("🐦🐦") == []


def test_vocab_encode_pads_truncates_and_reports_unknown():
    v = Vocabulary.build(["a red bird", "a blue bird with a red belly"])
    assert v.itos[0] == "<end>" and v.stoi["a"] == 1  # most frequent first
    enc = v.encode("a purple bird zzz")
    assert enc.unknown == ["purple", "zzz"] and enc.length == 2 and len(enc.ids) == 18
    long = " ".join(["red"] * 10 + ["blue"] * 15)
    assert v.encode(long).ids[:18] == [v.stoi["red"]] * 10 + [v.stoi["blue"]] * 8  # eval: truncate
    sub = v.encode(long, rng=random.Random(0))
    assert sub.length == 18 and sub.ids.index(v.stoi["blue"]) <= 10  # train: order-keeping subset


def test_vocab_save_load_roundtrip(tmp_path):
    v = Vocabulary.build(["a red bird"])
    v.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").itos == v.itos
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Vocabulary.load(tmp_path / "bad.json")


def test_filenames_pickle_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    f = tmp_path / "filenames.pickle"
    f.write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(ValueError, match="malformed split file"):
        read_filenames(f)
    f.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="list of str"):
        read_filenames(f)
    with pytest.raises(FileNotFoundError, match="missing split file"):
        read_filenames(tmp_path / "nope.pickle")


def test_hand_made_cub_fixture_reads(cub_tiny):
    train = CaptionDataset(cub_tiny, "train", 64)
    assert len(train) == 3 and train.captions_per_image == 2
    item = train[0]
    assert item["image"].shape == (3, 64, 64) and -1 <= item["image"].min() and item["image"].max() <= 1
    assert item["tokens"].shape == (18,) and item["class_id"].item() == 1
    assert train.samples[0].box is not None
    test = CaptionDataset(cub_tiny, "test", 32, vocab=train.vocab)
    assert test[0]["image"].shape == (3, 32, 32) and test[0]["class_id"].item() == 2
    assert "perched" in train.vocab  # vocabulary spans both splits, non-ASCII dropped


def test_missing_files_are_named(cub_tiny, tmp_path):
    import shutil

    root = tmp_path / "cub"
    shutil.copytree(cub_tiny, root)
    (root / "text" / "002.Laysan_Albatross" / "Laysan_Albatross_0001_545.txt").unlink()
    with pytest.raises(FileNotFoundError, match="Laysan_Albatross_0001_545.txt"):
        CaptionDataset(root, "train", 64)
    with pytest.raises(FileNotFoundError, match="dataset root not found"):
        CaptionDataset(tmp_path / "none", "train", 64)


def test_crop_to_box_is_square_around_centre():
    from PIL import Image

    img = Image.new("RGB", (200, 100))
    assert crop_to_box(img, (80, 40, 40, 20)).size == (60, 60)
    assert crop_to_box(img, (0, 0, 100, 100)).size == (125, 100)  # clipped to the image


def test_synthbirds_through_the_same_loader(synth_root):
    train = CaptionDataset(synth_root, "train", 64)
    test = CaptionDataset(synth_root, "test", 64, vocab=train.vocab)
    assert len(train) + len(test) == 120 and train.captions_per_image == 10
    batch = torch.utils.data.default_collate([train[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 64, 64) and batch["tokens"].dtype == torch.long
    assert all(batch["length"] >= 2)
