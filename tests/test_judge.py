"""The part-level judge (PartAcc), the caption sets, diversity and the quick evals that use them."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from t2i import checkpoint as ckpt


def _render(attrs_list, seed=0):
    from t2i.data.synthbirds import render_bird

    rng = np.random.default_rng(seed)
    ims = [np.asarray(render_bird(a, rng, 64)[0], dtype=np.float32) for a in attrs_list]
    return torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2) / 127.5 - 1


@pytest.fixture(scope="module")
def judge():
    from t2i.eval.judge import load_judge

    return load_judge("judge-synthbirds-64")


def test_shipped_judge_reads_perfect_renders_of_random_attribute_sets(judge):
    from t2i.data.synthbirds.species import random_attributes

    rng = np.random.default_rng(123)
    attrs = [random_attributes(rng) for _ in range(24)]
    read = judge.read(_render(attrs))
    colour = ("has_belly_color", "has_wing_color", "has_upperparts_color", "has_crown_color")
    hits = [read[g][i] == a[g] for i, a in enumerate(attrs) for g in colour]
    assert np.mean(hits) >= 0.85, np.mean(hits)


def test_judge_reads_a_red_crown_on_a_green_bird(judge):
    """What the species classifier could not: parts that no species holds together."""
    from t2i.data.synthbirds import complete_attributes

    base = {"has_bill_length": "about_the_same_as_head", "has_wing_color": "green", "has_upperparts_color": "green",
            "has_belly_color": "green", "has_throat_color": "green", "has_eye_color": "black",
            "has_size": "medium_(9_-_16_in)", "has_leg_color": "grey", "has_bill_color": "black",
            "has_crown_color": "red", "has_wing_pattern": "solid"}
    read = judge.read(_render([complete_attributes(base)] * 4, seed=5))
    assert sum(v == "red" for v in read["has_crown_color"]) >= 3
    assert all(v == "green" for v in read["has_belly_color"])
    blue = complete_attributes({**base, "has_crown_color": "blue"})
    assert sum(v == "blue" for v in judge.read(_render([blue] * 4, seed=6))["has_crown_color"]) >= 3


def test_part_acc_counts_mentions_and_reports_a_shuffled_chance():
    from t2i.eval.judge import JudgeConfig, PartJudge, part_acc

    j = PartJudge(JudgeConfig(groups={"has_belly_color": ["red", "blue"], "has_eye_color": ["black", "red"]},
                              not_judged={"has_eye_color": "too small"}))
    read = {"has_belly_color": ["red", "blue", "red", "blue"], "has_eye_color": ["red"] * 4}
    mentioned = [{"has_belly_color": "red", "has_eye_color": "red"}, {"has_belly_color": "blue"},
                 {"has_belly_color": "red"}, {"has_belly_color": "blue"}]
    out = part_acc(j, None, mentioned, readings=read)
    assert out["part_acc"] == 1.0 and out["n_mentions"] == 4  # the eye is not judged: not counted
    assert out["chance"] < 1.0  # some shuffled caption asks for the other colour
    wrong = part_acc(j, None, [{"has_belly_color": "blue"}, {"has_belly_color": "red"}] * 2, readings=read)
    assert wrong["part_acc"] == 0.0


def test_judge_folder_round_trips_and_refuses_other_models(tmp_path, judge):
    from t2i.eval.judge import load_judge

    ckpt.save_model_folder(tmp_path / "j", "part-judge", dataclasses.asdict(judge.cfg), {"judge": judge})
    again = load_judge(tmp_path / "j")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert again.read(x) == judge.read(x)
    with pytest.raises(ckpt.CheckpointError, match="not a part-judge"):
        load_judge("damsm-synthbirds-64")


def test_caption_sets(synth_root):
    from t2i.data.captions import CaptionDataset
    from t2i.eval.captionsets import caption_set, training_combinations

    data = CaptionDataset(synth_root, "test", 64, augment=False)
    full = caption_set("in_species", data=data)
    assert [c.caption for c in caption_set("in_species", data=data, limit=5)] == [c.caption for c in full[:5]]
    assert all(c.mentioned for c in full)
    combos = training_combinations(synth_root)
    novel = caption_set("novel", root=synth_root, limit=40)
    assert len(novel) == 40 and len({c.caption for c in novel}) > 30
    for c in novel:  # no training bird holds every attribute the caption asks for
        assert not any(all(t.get(g) == v for g, v in c.mentioned.items()) for t in combos)
    assert [c.caption for c in caption_set("novel", root=synth_root, limit=40)] == [c.caption for c in novel]
    free = caption_set("freestyle")
    assert len(free) >= 100 and all(c.mentioned for c in free)
    with pytest.raises(ValueError, match="unknown caption set"):
        caption_set("nope")


class _Pipe:
    """A stand-in pipeline: the same image for every seed (ignores z) or a new one per seed."""

    def __init__(self, ignore_z: bool):
        self.ignore_z = ignore_z

    def __call__(self, captions, seed=0, n=1, return_tensors=True, **kw):
        g = torch.Generator().manual_seed(0 if self.ignore_z else seed)
        base = torch.rand(1 if self.ignore_z else n, 3, 64, 64, generator=g) * 2 - 1
        out = type("Out", (), {"images": [base.expand(n, -1, -1, -1)]})()
        return type("Res", (), {"tensors": out})()


def test_diversity_is_zero_for_a_generator_that_ignores_its_noise():
    from t2i.eval.diversity import FeatureNet, generator_diversity

    net = FeatureNet()
    assert generator_diversity(_Pipe(True), ["a", "b"], 4, net) < 1e-4
    assert generator_diversity(_Pipe(False), ["a", "b"], 4, net) > 0.01


def test_bird_only_diversity_ignores_a_background_that_moves_with_the_noise():
    """The same bird (a centre square) on a new random background per seed: the whole image varies, the bird does
    not; the bird mask of FeatureNet (ours) shows the difference, and a bird that changes with the seed still counts."""
    from t2i.eval.diversity import FeatureNet, group_diversity

    inside = torch.zeros(1, 1, 64, 64)
    inside[..., 16:48, 16:48] = 1
    g = torch.Generator().manual_seed(0)
    bird = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    backs = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    same_bird = inside * bird + (1 - inside) * backs
    new_birds = inside * (torch.rand(4, 3, 64, 64, generator=g) * 2 - 1) + (1 - inside) * backs
    whole, only = FeatureNet(), FeatureNet(bird_mask=lambda x: inside.expand(len(x), -1, -1, -1))
    assert group_diversity(whole(same_bird)[None]) > 0.01
    assert group_diversity(only(same_bird)[None]) < 1e-4
    assert group_diversity(only(new_birds)[None]) > 0.01


def test_quick_evals_score_with_the_judge_and_keep_the_best_by_part_acc(synth_root, tmp_path):
    """On SynthBirds the trainer's quick evals report PartAcc on in-species and novel captions and rank by it."""
    from t2i.data.captions import CaptionDataset
    from t2i.eval.generators import quick_eval
    from t2i.text.damsm import DAMSM, DAMSMConfig
    from t2i.training.gan import Trainer, load_run_config
    from t2i.training.keep import score_of

    torch.manual_seed(0)
    vocab = CaptionDataset(synth_root, "train", 64).vocab
    dcfg = DAMSMConfig(vocab_size=len(vocab), img_size=64, emb_dim=16, text_dim=16, nf=4, backbone="cnn")
    ckpt.save_model_folder(tmp_path / "damsm", "damsm", dataclasses.asdict(dcfg), {"damsm": DAMSM(dcfg)}, vocab=vocab)
    tc, _ = load_run_config(None, {"train.data": str(synth_root), "train.damsm": str(tmp_path / "damsm"),
                                   "train.out": str(tmp_path / "run"), "train.steps": 2, "train.batch_size": 4,
                                   "train.eval_every": 2, "train.eval_images": 8, "train.eval_novel": 8,
                                   "train.sample_every": 1000, "train.log_every": 100})
    Trainer(tc, {"img_size": 64, "nf": 4, "text_dim": 16, "z_dim": 8}, evaluator=quick_eval).train()
    rows = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    ev = [r for r in rows if "eval/part_acc" in r]
    assert len(ev) == 1
    r = ev[0]
    assert 0 <= r["eval/part_acc_in_species"] <= 1 and 0 <= r["eval/part_acc_novel"] <= 1
    assert r["eval/part_acc"] == pytest.approx((r["eval/part_acc_in_species"] + r["eval/part_acc_novel"]) / 2,
                                               abs=1e-3)
    best = json.loads((tmp_path / "run" / "best" / "config.json").read_text())["quick_eval"]
    assert best["eval/part_acc"] == r["eval/part_acc"]
    assert score_of({"eval/attr_acc": 0.7}) == 0.7 and score_of(r) == r["eval/part_acc"]
