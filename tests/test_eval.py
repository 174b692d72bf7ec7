"""Evaluation core on tiny models: classifier accuracy, AttrAcc, FID, R-precision, the eval CLI."""
import json

import numpy as np
import pytest
import torch

from t2i import checkpoint as ckpt
from t2i.cli import main
from t2i.eval.fid import InceptionFeatures, frechet_distance, statistics


@pytest.fixture(scope="module")
def synth_models(synth_root, tmp_path_factory):
    """Tiny classifier, DAMSM and DF-GAN over the small SynthBirds set (a few steps each)."""
    from t2i.eval.attributes import train_attr_classifier
    from t2i.training.damsm import train_damsm
    from t2i.training.gan import Trainer, load_run_config

    out = tmp_path_factory.mktemp("models")
    train_attr_classifier(str(synth_root), str(out / "clf"), img_size=64, steps=4, batch_size=8, nf=4, eval_every=4)
    train_damsm(str(synth_root), str(out / "damsm"), img_size=64, steps=4, batch_size=8, eval_every=4,
                emb_dim=16, text_dim=16, nf=8, backbone="cnn")
    tc, _ = load_run_config(None, {"train.data": str(synth_root), "train.damsm": str(out / "damsm"),
                                   "train.out": str(out / "gan"), "train.steps": 2, "train.batch_size": 4})
    Trainer(tc, {"img_size": 64, "nf": 4, "text_dim": 16, "z_dim": 8}).train()
    return out


def test_classifier_folder_and_eval_cli(synth_root, synth_models, tmp_path, capsys):
    rec = ckpt.read_config(synth_models / "clf")
    assert rec["model_type"] == "attr-classifier" and "has_belly_color" in rec["config"]["groups"]
    out = tmp_path / "m.json"
    assert main(["eval", str(synth_models / "clf"), "--data", str(synth_root), "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert 0 <= metrics["acc/mean"] <= 1 and "acc/has_wing_color" in metrics
    assert "acc/has_belly_color" in capsys.readouterr().out
    assert main(["eval", str(synth_models / "damsm"), "--data", str(synth_root), "--json", str(out)]) == 0
    assert 0 <= json.loads(out.read_text())["r_precision"] <= 1


def test_generator_evaluation_reports_every_number(synth_root, synth_models):
    from t2i.eval.generators import evaluate_generator

    m = evaluate_generator(synth_models / "gan", synth_root, limit=12, damsm=str(synth_models / "damsm"),
                           classifier=str(synth_models / "clf"))
    for k in ("attr_acc", "attr_acc_ceiling", "fid", "r_precision", "gen_images_per_s", "params_G"):
        assert k in m, k
    assert 0 <= m["attr_acc"] <= 1 and m["fid"] > 0 and m["n_images"] == 12
    b = evaluate_generator(synth_models / "gan", synth_root, limit=12, damsm=str(synth_models / "damsm"),
                           classifier=str(synth_models / "clf"), fid=False, best_of=3)
    assert b["best_of"] == 3 and b["n_images"] == 12 and "fid" not in b
    assert b["attr_acc_ceiling"] == m["attr_acc_ceiling"] and "best_of" not in m


def test_skip_scores_later_test_images_as_a_full_run_draws_them(synth_root, synth_models, tmp_path, capsys):
    from t2i.data.captions import CaptionDataset
    from t2i.eval.generators import evaluate_generator, generate_for_test
    from t2i.pipeline import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained(synth_models / "gan")
    data = CaptionDataset(synth_root, "test", 64, vocab=pipe.vocab, augment=False, limit=12)
    full, full_caps, full_idx, _ = generate_for_test(pipe, data, 0, batch=3)
    part, caps, idx, _ = generate_for_test(pipe, data, 0, batch=3, skip=6)
    assert idx == full_idx[6:] == list(range(6, 12)) and caps == full_caps[6:]
    assert torch.equal(part, full[6:]) and not torch.equal(part, full[:6])
    kw = dict(damsm=str(synth_models / "damsm"), classifier=str(synth_models / "clf"), fid=False)
    m = evaluate_generator(synth_models / "gan", synth_root, limit=4, skip=8, **kw)
    assert m["n_images"] == 4 and m["skip"] == 8 and 0 <= m["attr_acc"] <= 1
    with pytest.raises(ValueError, match="only"):
        evaluate_generator(synth_models / "gan", synth_root, skip=10 ** 6, **kw)
    out = tmp_path / "s.json"
    assert main(["eval", str(synth_models / "gan"), "--data", str(synth_root), "--limit", "4", "--skip", "8",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n_images"] == 4
    capsys.readouterr()
    assert main(["eval", str(synth_models / "clf"), "--data", str(synth_root), "--skip", "8"]) == 2
    assert "--skip is for text-to-image generators" in capsys.readouterr().err


def test_attr_acc_counts_only_mentioned_attributes():
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig, attr_acc

    clf = AttrClassifier(AttrClassifierConfig(groups={"has_belly_color": ["red", "blue"], "has_size": ["s", "l"]},
                                              img_size=16, nf=2)).eval()
    for p in clf.parameters():
        torch.nn.init.zeros_(p)
    clf.heads["has_belly_color"].bias.data = torch.tensor([1.0, 0.0])  # always reads "red"
    imgs = torch.zeros(3, 3, 16, 16)
    r = attr_acc(clf, imgs, [{"has_belly_color": "red"}, {"has_belly_color": "blue"}, {}])
    assert r["attr_acc"] == 0.5 and r["has_belly_color"] == 0.5 and "has_size" not in r


def test_frechet_distance_moves():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 8)), rng.normal(size=(500, 8))
    c = rng.normal(loc=1.0, size=(500, 8))
    same = frechet_distance(*statistics(a), *statistics(b))
    assert same < 0.3 < frechet_distance(*statistics(a), *statistics(c))


def test_inception_features_are_deterministic():
    net = InceptionFeatures()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    f1, f2 = net(x), net(x)
    assert f1.shape == (2, 2048) and torch.equal(f1, f2) and (f1 >= 0).all()


def test_accuracy_survives_the_sorted_config_round_trip(synth_root, synth_models):
    """config.json is written with sorted keys; accuracy must pair heads and targets by name, not position."""
    from t2i.data.attributes import read_image_attributes
    from t2i.data.captions import CaptionDataset
    from t2i.eval.attributes import LabelledImages, load_attr_classifier, per_attribute_accuracy

    clf = load_attr_classifier(synth_models / "clf")
    groups, labels = read_image_attributes(synth_root)
    assert list(clf.cfg.groups) != list(groups)  # the round trip did reorder them
    data = LabelledImages(CaptionDataset(synth_root, "test", 64, augment=False), groups, labels)
    with torch.no_grad():  # a classifier that always answers the true label of image 0 for every group
        for g, head in clf.heads.items():
            head.weight.zero_()
            head.bias.zero_()
            head.bias[groups[g].index(labels[data.base.samples[0].key][g])] = 10.0
    acc = per_attribute_accuracy(clf, _first(data))
    assert acc["mean"] == 1.0


class _first(torch.utils.data.Dataset):
    def __init__(self, data):
        self.data, self.groups = data, data.groups

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return self.data[0]
