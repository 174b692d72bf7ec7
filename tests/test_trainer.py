"""The shared GAN trainer: a tiny run, resume after kill -9, a 2-process torchrun (gloo) run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from t2i.pipeline import TextToImagePipeline
from t2i.training.gan import Trainer, load_run_config

TINY = {"img_size": 32, "nf": 4, "text_dim": 16, "z_dim": 8}


def _tc(tmp_path, cub_tiny, tiny_damsm, **kw):
    over = {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.out": str(tmp_path / "run"),
            "train.batch_size": 2, "train.log_every": 1, "train.sample_every": 2, "train.save_every": 2,
            "train.steps": 4, **{f"train.{k}": v for k, v in kw.items()}}
    return load_run_config(None, over)[0]


def _cli(tmp_path, cub_tiny, tiny_damsm, steps, extra=()):
    return [sys.executable, "-m", "t2i", "train", "gan", "--model", "dfgan", "--data", str(cub_tiny),
            "--out", str(tmp_path / "run"), "--steps", str(steps), "--batch-size", "2", "--device", "cpu",
            "--set", f"train.damsm='{tiny_damsm}'", "--set", "train.log_every=1", "--set", "train.save_every=3",
            "--set", "train.sample_every=1000"] + [f"--set=model.{k}={v}" for k, v in TINY.items()] + list(extra)


def test_tiny_run_writes_a_loadable_model(tmp_path, cub_tiny, tiny_damsm):
    tc = _tc(tmp_path, cub_tiny, tiny_damsm)
    logs = Trainer(tc, dict(TINY)).train()
    assert {"d_loss", "g_loss"} <= set(logs) and all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    run = tmp_path / "run"
    steps = [json.loads(l)["step"] for l in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert (run / "samples" / "0000004.png").is_file()
    rec = json.loads((run / "config.json").read_text())
    assert rec["model_type"] == "dfgan" and rec["step"] == 4 and rec["config"]["nf"] == 4
    pipe = TextToImagePipeline.from_pretrained(run)
    a = pipe("this bird has a white belly and black wings", seed=3, n=2)
    b = pipe("this bird has a white belly and black wings", seed=3, n=2)
    c = pipe("this bird has a white belly and black wings", seed=4, n=2)
    assert len(a.images) == 2 and a.images[0].size == (32, 32)
    assert a.images[0].tobytes() == b.images[0].tobytes() and a.images[0].tobytes() != c.images[0].tobytes()


def test_every_zero_turns_sampling_and_interim_saves_off(tmp_path, cub_tiny, tiny_damsm):
    tc = _tc(tmp_path, cub_tiny, tiny_damsm, sample_every=0, save_every=0, steps=3)
    Trainer(tc, dict(TINY)).train()
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["0000003.png"]  # only the final grid
    assert json.loads((run / "config.json").read_text())["step"] == 3


def test_unknown_config_keys_fail(tmp_path):
    with pytest.raises(ValueError, match="unknown \\[train\\] keys"):
        load_run_config(None, {"train.stepz": 3})
    f = tmp_path / "c.toml"
    f.write_text("[train]\nmodel = 'dfgan'\n[modle]\nnf = 3\n")
    with pytest.raises(ValueError, match="unknown tables"):
        load_run_config(str(f))
    from t2i.models import get_family

    with pytest.raises(ValueError, match="unknown config keys"):
        get_family("dfgan").config_from_dict({"nff": 3})


def test_kill_9_then_resume_continues(tmp_path, cub_tiny, tiny_damsm):
    log = tmp_path / "run" / "log.jsonl"
    p = subprocess.Popen(_cli(tmp_path, cub_tiny, tiny_damsm, 10000), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    t0 = time.time()
    while time.time() - t0 < 120:
        if (tmp_path / "run" / "train_state.pt").is_file() and log.is_file() and len(log.read_text().splitlines()) >= 8:
            break
        time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    saved = torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["step"]
    assert saved >= 3 and saved % 3 == 0
    r = subprocess.run(_cli(tmp_path, cub_tiny, tiny_damsm, saved + 4), capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    steps = [json.loads(l)["step"] for l in log.read_text().splitlines()]
    assert steps == list(range(1, saved + 5))  # no gap, no repeat: the log continues where the state was saved
    assert json.loads((tmp_path / "run" / "config.json").read_text())["step"] == saved + 4


def test_sigterm_saves_at_the_current_step_then_resume_continues(tmp_path, cub_tiny, tiny_damsm):
    log = tmp_path / "run" / "log.jsonl"
    p = subprocess.Popen(_cli(tmp_path, cub_tiny, tiny_damsm, 10000), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    t0 = time.time()
    while time.time() - t0 < 120:
        if log.is_file() and len(log.read_text().splitlines()) >= 4:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    err, _ = p.communicate(timeout=120)
    assert p.returncode == 128 + signal.SIGTERM, err[-2000:]  # stopped early, resumable: 143, as a shell reports it
    assert "SIGTERM: checkpoint written at step" in err
    assert "stopped by SIGTERM at step" in err and "of 10000" in err and "resume" in err
    assert "10000 steps ->" not in err
    saved = torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["step"]
    steps = [json.loads(l)["step"] for l in log.read_text().splitlines()]
    assert saved == steps[-1] >= 4  # the step it was at, not the last save_every multiple
    r = subprocess.run(_cli(tmp_path, cub_tiny, tiny_damsm, saved + 2), capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert [json.loads(l)["step"] for l in log.read_text().splitlines()] == list(range(1, saved + 3))


def test_torchrun_two_processes_gloo(tmp_path, cub_tiny, tiny_damsm):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m"] + _cli(tmp_path, cub_tiny, tiny_damsm, 3)[2:]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-3000:]
    steps = [json.loads(l)["step"] for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # only rank 0 logs
    assert json.loads((tmp_path / "run" / "config.json").read_text())["step"] == 3


def test_generate_cli_writes_a_grid_and_refuses_bad_captions(tmp_path, cub_tiny, tiny_damsm, capsys):
    from PIL import Image

    from t2i.cli import main

    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=1), dict(TINY)).train()
    out = tmp_path / "grid.png"
    assert main(["generate", "--model", str(tmp_path / "run"), "--out", str(out), "--n", "2",
                 "a white bird with black wings", "a blue bird with zzzunknown wings"]) == 0
    assert Image.open(out).size[0] > 64 and "zzzunknown" in capsys.readouterr().out
    assert main(["generate", "--model", str(tmp_path / "run"), "--out", str(out), "   "]) == 2
    assert "caption is empty" in capsys.readouterr().err
    assert main(["generate", "--model", str(tmp_path / "run"), "--out", str(out), "--n", "3", "--best-of", "2",
                 "a white bird"]) == 0 and Image.open(out).size[0] > 3 * 64
    assert main(["generate", "--model", str(tmp_path / "run"), "--out", str(out), "--best-of", "0", "a bird"]) == 2
    assert "best-of" in capsys.readouterr().err


def test_cpu_bf16_autocast_follows_the_hardware_and_the_switch(tmp_path, cub_tiny, tiny_damsm):
    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    on = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, device="cpu"), dict(TINY))
    assert on.amp_on == native
    assert next(on.nets["G"].parameters()).dtype == torch.float32  # autocast keeps fp32 master weights
    off = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, device="cpu", amp=False, channels_last=False), dict(TINY))
    assert not off.amp_on
    logs = off.train()
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())


def test_snapshot_warm_start_continues_step_weights_and_log(tmp_path, cub_tiny, tiny_damsm):
    from t2i import checkpoint as ckpt

    tc = _tc(tmp_path, cub_tiny, tiny_damsm, steps=2)
    Trainer(tc, dict(TINY)).train()
    snap = ckpt.save_snapshot(tmp_path / "run", tmp_path / "snap")
    assert (snap / "log.jsonl").is_file()
    tc2 = _tc(tmp_path, cub_tiny, tiny_damsm, steps=4, out=str(tmp_path / "elsewhere"), init=str(snap))
    t2 = Trainer(tc2, dict(TINY))
    step, _ = t2.resume()
    assert step == 2
    g_ref = ckpt.load_train_state(tmp_path / "run")["ema"]
    for k, v in t2.ema.module.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(v.cpu(), g_ref[k].float(), atol=1e-2, rtol=1e-2)  # fp16 copy of the same EMA
    Trainer(tc2, dict(TINY)).train()
    steps = [json.loads(l)["step"] for l in (tmp_path / "elsewhere" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    other = _tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "third"), init=str(snap))
    with pytest.raises(ckpt.CheckpointError, match="another model config"):
        Trainer(other, {**TINY, "nf": 8}).resume()
    # a snapshot older than a config field (its config lacks it) warm-starts while the field keeps its default
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(snap / ckpt.SNAPSHOT), "pt") as h:
        meta = dict(h.metadata())
    cfg = json.loads(meta["config"])
    field = next(k for k in sorted(cfg) if k not in TINY and isinstance(cfg[k], (int, float))
                 and not isinstance(cfg[k], bool) and k != "vocab_size"
                 and not k.startswith(("lambda_", "per_", "lr_", "magp_", "d_")))  # what a recipe variant may change
    old = tmp_path / "old-snap"
    old.mkdir()
    save_file(load_file(str(snap / ckpt.SNAPSHOT)), str(old / ckpt.SNAPSHOT),
              metadata={**meta, "config": json.dumps({k: v for k, v in cfg.items() if k != field})})
    assert Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "5"), init=str(old)),
                   dict(TINY)).resume()[0] == 2
    with pytest.raises(ckpt.CheckpointError, match=f"another model config \\({field}\\)"):
        Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "6"), init=str(old)),
                {**TINY, field: cfg[field] + 1}).resume()
    # a snapshot written while the model config still had batch_size (retired: the trainer never read it)
    retired = tmp_path / "retired-snap"
    retired.mkdir()
    save_file(load_file(str(snap / ckpt.SNAPSHOT)), str(retired / ckpt.SNAPSHOT),
              metadata={**meta, "config": json.dumps({**cfg, "batch_size": 40})})
    assert Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "8"), init=str(retired)),
                   dict(TINY)).resume()[0] == 2
    # a recipe variant (other loss weights / learning rates) branches from the same snapshot
    assert Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "7"), init=str(snap)),
                   {**TINY, "lambda_damsm": 0.3, "lr_g": 3e-4}).resume()[0] == 2
    with pytest.raises(ckpt.CheckpointError, match="no warm-start snapshot"):
        Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, out=str(tmp_path / "4"), init=str(tmp_path / "nope")),
                dict(TINY)).resume()


def test_ecagan_reads_its_perceptual_loss_at_per_size_and_may_branch_to_another(tmp_path, cub_tiny, tiny_damsm):
    """per_size (ours, issue 22): the side the perceptual net reads every stage at; a recipe variant may change it."""
    from t2i import checkpoint as ckpt

    cfg = {"img_size": 32, "ngf": 4, "ndf": 4, "z_dim": 8, "text_dim": 16, "c_dim": 4}
    tc = _tc(tmp_path, cub_tiny, tiny_damsm, model="ecagan", steps=1, sample_every=0, save_every=1)
    t = Trainer(tc, {**cfg, "per_size": 64})
    assert t.perceptual.size == 64
    t.train()
    snap = ckpt.save_snapshot(tmp_path / "run", tmp_path / "snap")
    other = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, model="ecagan", out=str(tmp_path / "b"), init=str(snap)),
                    dict(cfg))
    assert other.perceptual.size == 128 and other.resume()[0] == 1


def test_every_run_config_loads_and_retired_model_fields_are_refused_there_only():
    from pathlib import Path

    from t2i.models.registry import get_family

    for toml in sorted((Path(__file__).resolve().parents[1] / "train").glob("*.toml")):
        tc, model = load_run_config(str(toml))
        get_family(tc.model).config_from_dict(model)
    cfg = get_family("csagan").config_from_dict({"batch_size": 40, "nf": 8})  # an old config.json: still loads
    assert cfg.nf == 8 and not hasattr(cfg, "batch_size")
    with pytest.raises(ValueError, match="train.batch_size"):
        load_run_config(None, {"model.batch_size": 40})


def test_ema_decay_ramps_up_so_short_runs_forget_the_random_init(tmp_path, cub_tiny, tiny_damsm):
    t = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, ema_start=2), dict(TINY))
    assert t.ema_decay_at(1) == 0.0 and t.ema_decay_at(2) == 0.0  # copies up to ema_start
    assert t.ema_decay_at(10) == 11 / 20 and t.ema_decay_at(500) < 0.99
    assert t.ema_decay_at(10 ** 6) == t.tc.ema_decay
    flat = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, ema_rampup=False), dict(TINY))
    assert flat.ema_decay_at(10) == flat.tc.ema_decay


def test_late_lr_decay_is_linear_then_flat_and_reaches_the_optimisers(tmp_path, cub_tiny, tiny_damsm):
    const = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm), dict(TINY))
    assert const.lr_factor(0) == const.lr_factor(10 ** 6) == 1.0  # off by default, as the papers
    tc = _tc(tmp_path, cub_tiny, tiny_damsm, lr_decay_start=1, lr_decay_end=5, lr_decay_floor=0.2)
    t = Trainer(tc, dict(TINY))
    assert [t.lr_factor(s) for s in (0, 1, 3, 5, 9)] == pytest.approx([1.0, 1.0, 0.6, 0.2, 0.2])
    t.train()  # 4 steps: the last one ran at step index 3
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(t.cfg.lr_g * 0.6)
    assert t.opt_d.param_groups[0]["lr"] == pytest.approx(t.cfg.lr_d * 0.6)


def test_quick_evals_go_to_the_log_and_leave_training_unchanged(tmp_path, cub_tiny, tiny_damsm, studio_checkpoints):
    """`train gan` with train.eval_every: the CLI gives the trainer its quick eval (t2i.eval.generators.quick_eval)."""
    from safetensors.torch import load_file

    from t2i.cli import main

    clf = str(studio_checkpoints / "attr-classifier-synthbirds-64")
    plain = _tc(tmp_path / "a", cub_tiny, tiny_damsm, device="cpu")
    Trainer(plain, dict(TINY)).train()
    same = ["train.sample_every=2", "train.save_every=2", "train.eval_every=2", "train.eval_images=6",
            f"train.classifier='{clf}'"]
    assert main(_cli(tmp_path / "b", cub_tiny, tiny_damsm, 4, [a for s in same for a in ("--set", s)])[3:]) == 0
    rows = [json.loads(l) for l in (tmp_path / "b" / "run" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/attr_acc" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert all(0 <= r["eval/attr_acc"] <= 1 and 0 <= r["eval/r_precision"] <= 1 and 1 <= r["eval/n_images"] <= 6
               for r in evals)
    assert [r["step"] for r in rows if "g_loss" in r] == [1, 2, 3, 4]
    a = load_file(str(tmp_path / "a" / "run" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "run" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # the evals drew no training randomness


def test_best_quick_eval_checkpoint_is_kept(tmp_path, cub_tiny, tiny_damsm):
    """<out>/best holds the checkpoint of the best quick-eval AttrAcc so far, also across a resume."""
    from t2i.pipeline import TextToImagePipeline

    scores, written = iter([0.3, 0.5, 0.4, 0.45, 0.6]), {}

    def fake_eval(out, tc, device):
        written.setdefault("weights", []).append((out / "model.safetensors").read_bytes())
        return {"eval/attr_acc": next(scores), "eval/r_precision": 0.0, "eval/n_images": 1}

    tc = _tc(tmp_path, cub_tiny, tiny_damsm, steps=6, eval_every=2, save_every=100)
    Trainer(tc, dict(TINY), evaluator=fake_eval).train()
    best = tmp_path / "run" / "best"
    rec = json.loads((best / "config.json").read_text())
    assert rec["quick_eval"]["step"] == 4 and rec["quick_eval"]["eval/attr_acc"] == 0.5
    assert (best / "model.safetensors").read_bytes() == written["weights"][1]
    TextToImagePipeline.from_pretrained(best)  # a loadable model folder
    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=8, eval_every=2, save_every=100), dict(TINY),
            evaluator=fake_eval).train()
    assert json.loads((best / "config.json").read_text())["quick_eval"]["step"] == 4  # 0.45 < 0.5: kept
    assert not (tmp_path / "run" / "best.tmp").exists() and not (tmp_path / "run" / "best.old").exists()


def test_best_by_fid_keeps_the_lowest(tmp_path, cub_tiny, tiny_damsm):
    """A quick eval with FID only (an unconditional generator's) ranks by lower FID; a best kept under PartAcc is
    replaced by the first FID-ranked one rather than compared with it."""
    fids = iter([200.0, 150.0, 180.0])

    def fake_eval(out, tc, device):
        return {"eval/fid": next(fids), "eval/fid_n": 4}

    best = tmp_path / "run" / "best"
    best.mkdir(parents=True)
    (best / "config.json").write_text(json.dumps({"quick_eval": {"step": 0, "eval/part_acc": 0.9}}))
    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=6, eval_every=2, save_every=100), dict(TINY),
            evaluator=fake_eval).train()
    assert json.loads((best / "config.json").read_text())["quick_eval"] == {"step": 4, "eval/fid": 150.0,
                                                                           "eval/fid_n": 4}


def test_keep_evals_keeps_every_evaluated_checkpoint(tmp_path, cub_tiny, tiny_damsm):
    """keep_evals: <out>/evals/step-N holds the model of each quick eval, its score in the config."""
    from t2i.pipeline import TextToImagePipeline

    scores, written = iter([0.5, 0.3, 0.4]), []

    def fake_eval(out, tc, device):
        written.append((out / "model.safetensors").read_bytes())
        return {"eval/attr_acc": next(scores), "eval/r_precision": 0.0, "eval/n_images": 1}

    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=6, eval_every=2, save_every=100, keep_evals=True),
            dict(TINY), evaluator=fake_eval).train()
    kept = sorted((tmp_path / "run" / "evals").iterdir())
    assert [k.name for k in kept] == ["step-000002", "step-000004", "step-000006"]
    for k, w, acc in zip(kept, written, (0.5, 0.3, 0.4)):
        assert (k / "model.safetensors").read_bytes() == w
        assert json.loads((k / "config.json").read_text())["quick_eval"]["eval/attr_acc"] == acc
    assert written[0] != written[2]
    TextToImagePipeline.from_pretrained(kept[1])


def test_without_an_evaluator_eval_every_trains_on_without_quick_evals(tmp_path, cub_tiny, tiny_damsm, capsys):
    """The trainer does not import evaluation: given no evaluator it says once that there are no quick evals."""
    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, eval_every=2), dict(TINY)).train()
    rows = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and not any(k.startswith("eval/") for r in rows for k in r)
    assert capsys.readouterr().out.count("given no evaluator: no quick evals") == 1
    assert not (tmp_path / "run" / "best").exists()


def test_tensorboard_mirror_of_the_log(tmp_path, cub_tiny, tiny_damsm):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, tensorboard=True), dict(TINY)).train()
    ea = EventAccumulator(str(tmp_path / "run" / "tb"))
    ea.Reload()
    assert {"g_loss", "d_loss", "imgs_per_s"} <= set(ea.Tags()["scalars"])
    rows = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    events = ea.Scalars("g_loss")
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert [round(e.value, 4) for e in events] == [round(r["g_loss"], 4) for r in rows]


def test_cpu_time_is_kept_across_resumes_and_snapshots(tmp_path, cub_tiny, tiny_damsm):
    """The campaign's budgets count CPU hours: every log line, the training state, the model folder and a snapshot
    carry the run's CPU seconds, growing over a resume instead of starting again."""
    from t2i import checkpoint as ckpt

    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=2), dict(TINY)).train()
    first = ckpt.load_train_state(tmp_path / "run")["cpu"]
    rows = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    cpu = [r["cpu_s"] for r in rows]
    assert first > 0 and cpu == sorted(cpu) and 0 < cpu[-1] <= first + 0.1
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train_cpu_s"] == round(first, 1)
    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=4), dict(TINY)).train()  # resumes at 2
    second = ckpt.load_train_state(tmp_path / "run")["cpu"]
    rows = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert second > first and rows[-1]["step"] == 4 and rows[-1]["cpu_s"] > first
    snap = ckpt.save_snapshot(tmp_path / "run", tmp_path / "snap")
    assert ckpt.load_snapshot(snap)[1]["cpu"] == second
    t = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, steps=5, out=str(tmp_path / "warm"), init=str(snap)), dict(TINY))
    assert t.resume()[0] == 4 and t.cpu_seconds() >= second


def test_ffgan_per_stage_ds_warm_start_from_the_single_d_snapshot(tmp_path, cub_tiny, tiny_damsm):
    """The one-D ablation branches from a single-D snapshot: the generator trunk and EMA carry over, the to-RGB
    heads and the three Ds start afresh; a snapshot whose G lacks more than those heads is still refused."""
    from t2i import checkpoint as ckpt

    ff = {"img_size": 32, "ngf": 4, "ndf": 4, "text_dim": 16, "z_dim": 8, "c_dim": 4, "dense_layers": 1,
          "dense_growth": 4}
    Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, model="ffgan", steps=2), dict(ff)).train()
    snap = ckpt.save_snapshot(tmp_path / "run", tmp_path / "snap")
    t = Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, model="ffgan", steps=3, out=str(tmp_path / "every"),
                    init=str(snap)), {**ff, "d_stages": "every"})
    assert t.resume()[0] == 2 and sorted(k for k in t.nets if k.startswith("D")) == ["D0", "D1", "D2"]
    ref = ckpt.load_train_state(tmp_path / "run")["nets"]["G"]
    got = t.nets["G"].state_dict()
    assert all(torch.allclose(got[k].float().cpu(), v.float(), atol=1e-2) for k, v in ref.items() if v.is_floating_point())
    assert any(k.startswith("stage_rgb.") for k in got) and not any(k.startswith("stage_rgb.") for k in ref)
    t.train()  # a step with the per-stage Ds
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(snap / ckpt.SNAPSHOT), "pt") as h:
        meta = dict(h.metadata())
    flat = load_file(str(snap / ckpt.SNAPSHOT))
    gone = next(k for k in flat if k.startswith("nets.G.to_rgb."))  # a trunk weight, not one of the new heads
    (tmp_path / "cut").mkdir()
    save_file({k: v for k, v in flat.items() if k != gone}, str(tmp_path / "cut" / ckpt.SNAPSHOT), metadata=meta)
    with pytest.raises(ckpt.CheckpointError, match="does not fit.*missing"):
        Trainer(_tc(tmp_path, cub_tiny, tiny_damsm, model="ffgan", out=str(tmp_path / "cut-run"),
                    init=str(tmp_path / "cut")), {**ff, "d_stages": "every"}).resume()
