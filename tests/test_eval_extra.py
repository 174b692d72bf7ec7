"""Inception Score, the species classifier, and R-precision with the evaluation-only encoder pair."""
import dataclasses
import inspect
import json

import pytest
import torch

from t2i import checkpoint as ckpt
from t2i.data.captions import CaptionDataset
from t2i.eval.rprecision import EVAL_DAMSM_NAME, eval_r_precision, load_eval_encoder, r_precision
from t2i.eval.species import (SpeciesClassifier, SpeciesClassifierConfig, degrade, inception_score,
                              inception_score_from_probs, load_species_classifier, train_species_classifier)
from t2i.text.damsm import SHIPPED_DAMSM


# --- Inception Score -------------------------------------------------------------------------------------------------
def test_inception_score_uniform_is_one_and_confident_spread_is_n_classes():
    n, c = 400, 20
    mean, std = inception_score_from_probs(torch.full((n, c), 1.0 / c))
    assert mean == pytest.approx(1.0, abs=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    onehot = torch.eye(c)[torch.arange(n) % c]  # every split holds every class equally often
    mean, std = inception_score_from_probs(onehot, splits=10, shuffle_seed=None)
    assert mean == pytest.approx(c, rel=1e-4) and std == pytest.approx(0.0, abs=1e-3)
    # confident but always the same class: no spread, IS 1
    assert inception_score_from_probs(torch.eye(c)[torch.zeros(n, dtype=torch.long)])[0] == pytest.approx(1.0, abs=1e-6)


def test_inception_score_splits():
    c = 10
    # first half of the images spread over all classes, second half one class: the splits disagree
    labels = torch.cat([torch.arange(100) % c, torch.zeros(100, dtype=torch.long)])
    probs = torch.eye(c)[labels]
    one = inception_score_from_probs(probs, splits=1)
    two = inception_score_from_probs(probs, splits=2, shuffle_seed=None)  # in the given order
    assert one[1] == 0.0 and two[1] > 0
    assert two[0] == pytest.approx((c + 1) / 2, rel=1e-4)  # mean of 10 and 1
    # sorted by class (as the test split is): consecutive splits see 1 class each; shuffled splits see all 10
    sorted_probs = torch.eye(c)[torch.arange(1000) // 100]
    assert inception_score_from_probs(sorted_probs, splits=10, shuffle_seed=None)[0] == pytest.approx(1.0, abs=1e-6)
    assert inception_score_from_probs(sorted_probs, splits=10)[0] > 0.95 * c
    with pytest.raises(ValueError, match="splits"):
        inception_score_from_probs(probs[:5], splits=10)
    with pytest.raises(ValueError, match="probability"):
        inception_score_from_probs(torch.ones(20, c), splits=2)


def test_inception_score_of_images_with_a_tiny_classifier():
    torch.manual_seed(0)
    clf = SpeciesClassifier(SpeciesClassifierConfig(classes=[f"{i:03d}.s" for i in range(1, 6)], nf=4)).eval()
    images = torch.rand(40, 3, 32, 32) * 2 - 1  # any size: resized to 64 px inside
    mean, std = inception_score(images, clf, splits=4)
    assert 1.0 <= mean <= 5.0 and std >= 0.0
    for how in ("blur", "colour-shuffle", "pixel-shuffle", "noise"):
        assert degrade(images, how).shape == images.shape


# --- species classifier ------------------------------------------------------------------------------------------------
def test_species_classifier_trains_and_round_trips(cub_tiny, tmp_path):
    out = tmp_path / "species"
    metrics = train_species_classifier(str(cub_tiny), str(out), img_size=32, steps=3, batch_size=2, nf=4,
                                       eval_every=3)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "top5" in metrics
    record = json.loads((out / ckpt.CONFIG).read_text())
    assert record["model_type"] == "species-classifier" and record["step"] == 3
    clf = load_species_classifier(out)
    assert clf.cfg.classes == ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
    trained = ckpt.load_train_state(out)["model"]  # the weights the trainer ended with
    for k, v in clf.state_dict().items():
        assert torch.equal(v, trained[k]), k
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    p = clf.probs(x)
    assert p.shape == (3, 2) and torch.allclose(p.sum(1), torch.ones(3))
    again = tmp_path / "again"  # save -> load gives the same predictions
    ckpt.save_model_folder(again, "species-classifier", dataclasses.asdict(clf.cfg), {"classifier": clf})
    assert torch.equal(load_species_classifier(again).probs(x), p)


def test_species_classifier_refuses_other_folders(tiny_damsm):
    with pytest.raises(ckpt.CheckpointError, match="not a species classifier"):
        load_species_classifier(tiny_damsm)


def test_train_species_classifier_is_a_cli_command():
    from t2i.cli import build_parser

    a = build_parser().parse_args(["train", "species-classifier", "--data", "d", "--out", "o"])
    assert a.what == "species-classifier" and a.steps == 3000 and a.batch_size == 64


# --- R-precision with the evaluation-only encoders -------------------------------------------------------------------
def _pairs(root, n=4):
    data = CaptionDataset(root, "train", 32, augment=False)
    caps = [data.caption(i % len(data), i) for i in range(n)]
    classes = torch.tensor([data.samples[i % len(data)].class_id for i in range(n)])
    return caps, classes


def test_eval_r_precision_default_is_not_the_trained_against_damsm():
    default = inspect.signature(eval_r_precision).parameters["encoder"].default
    assert default == EVAL_DAMSM_NAME != SHIPPED_DAMSM
    assert inspect.signature(load_eval_encoder).parameters["name"].default == EVAL_DAMSM_NAME


def test_eval_r_precision_with_a_tiny_encoder(tiny_damsm, cub_tiny):
    caps, classes = _pairs(cub_tiny)
    torch.manual_seed(0)
    images = torch.rand(len(caps), 3, 32, 32) * 2 - 1
    r = eval_r_precision(images, caps, classes, encoder=str(tiny_damsm))
    assert 0.0 <= r <= 1.0
    enc, vocab = load_eval_encoder(str(tiny_damsm))  # the same number by hand, with the encoder's own vocabulary
    tok, ln, _ = vocab.batch(caps)
    sents = enc.encode_text(tok, ln)[1]
    codes = enc.image_encoder(images)[1]
    assert r == r_precision(codes, sents, sents, classes, classes)
    assert eval_r_precision(images, caps, classes, encoder=(enc, vocab)) == r  # a loaded pair works too
    with pytest.raises(ValueError, match="one each"):
        eval_r_precision(images[:2], caps, classes, encoder=(enc, vocab))
    with pytest.raises(ValueError, match="no word in the encoder's vocabulary"):
        eval_r_precision(images[:1], ["zzz qqq"], classes[:1], encoder=(enc, vocab))


def test_real_r_precision_reads_the_fixed_test_captions(tiny_damsm, cub_tiny):
    from t2i.eval.rprecision import real_r_precision

    out = real_r_precision(cub_tiny, encoder=str(tiny_damsm), limit=None)
    assert out["n_images"] == 1 and out["r_precision_real"] == 1.0  # one pair, no distractor of another class
    assert "r_precision_ceiling" not in out  # not SynthBirds: no attribute labels


def test_eval_r_precision_refuses_a_folder_that_is_not_a_damsm(tmp_path, cub_tiny):
    caps, classes = _pairs(cub_tiny, 2)
    images = torch.zeros(2, 3, 32, 32)
    clf = tmp_path / "species"
    cfg = SpeciesClassifierConfig(classes=["001.a", "002.b"], nf=4)
    ckpt.save_model_folder(clf, "species-classifier", dataclasses.asdict(cfg), {"classifier": SpeciesClassifier(cfg)})
    with pytest.raises(ckpt.CheckpointError, match="not a DAMSM"):
        eval_r_precision(images, caps, classes, encoder=str(clf))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ckpt.CheckpointError, match="not a model folder"):
        eval_r_precision(images, caps, classes, encoder=str(empty))


@pytest.mark.skipif(not (ckpt.SHIPPED / EVAL_DAMSM_NAME).is_dir(), reason="evaluation DAMSM not shipped")
def test_shipped_eval_damsm_is_its_own_pair():
    record = ckpt.read_config(EVAL_DAMSM_NAME)
    shipped = ckpt.read_config(SHIPPED_DAMSM)
    assert record["model_type"] == "damsm" and record["dataset"] != shipped["dataset"]
    assert (ckpt.SHIPPED / EVAL_DAMSM_NAME / ckpt.VOCAB).is_file()
    assert "evaluation only" in (ckpt.SHIPPED / EVAL_DAMSM_NAME / "README.md").read_text().lower()
