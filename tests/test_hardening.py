"""Bad inputs (issue 27): hostile uploads, malformed model folders, oversized configs, non-finite numbers.
Each case asserts a clear message (or a usable result), never a traceback or a hang."""
import json
import shutil
import time

import pytest
from PIL import Image

from t2i import checkpoint as ckpt
from t2i.imageio import ImageInputError, prepare_upload
from t2i.pipeline import TextToImagePipeline, list_models

EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n%%EndComments\n"
       b"/loop { loop } def { } loop\nshowpage\n%%EOF\n")


# --- uploads: only the allow-listed formats are ever decoded -----------------------------------------------------
@pytest.mark.parametrize("name,data", [
    ("bird.png", EPS),  # an endless PostScript loop named .png: Ghostscript must never see it
    ("bird.eps", EPS),
    ("bird.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"),
    ("bird.svg", b"<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'></svg>"),
    ("bird.html", b"<html><body>not a bird</body></html>"),
])
def test_uploads_outside_the_allow_list_are_refused_at_once(tmp_path, name, data):
    f = tmp_path / name
    f.write_bytes(data)
    t0 = time.perf_counter()
    with pytest.raises(ImageInputError) as e:
        prepare_upload(f)
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "PNG, JPEG" in msg and str(tmp_path) not in msg and "gs " not in msg


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("BMP", "bmp"),
                                     ("GIF", "gif"), ("TIFF", "tif")])
def test_allow_listed_formats_still_open(tmp_path, fmt, ext):
    f = tmp_path / f"bird.{ext}"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(f, fmt)
    assert prepare_upload(f).size == (30, 30)


def test_an_ico_file_is_refused(tmp_path):
    f = tmp_path / "bird.ico"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(f, "ICO")
    with pytest.raises(ImageInputError, match="not an image file"):
        prepare_upload(f)


def test_palette_note_mentions_transparency_only_when_there_is_some():
    opaque = Image.new("RGB", (32, 32), (10, 200, 10)).convert("P")
    notes = []
    prepare_upload(opaque, notes=notes)
    assert notes == ["converted palette to RGB"]
    clear = opaque.copy()
    clear.info["transparency"] = 0
    notes = []
    prepare_upload(clear, notes=notes)
    assert "transparent parts on white" in notes[0]


# --- malformed config.json: a CheckpointError naming the file, never a TypeError / RecursionError ---------------
BAD_CONFIGS = {
    "number": b"123",
    "null": b"null",
    "list": b"[1, 2]",
    "string": b'"dfgan"',
    "deep": b"[" * 100000 + b"]" * 100000,
    "not-utf8": b'{"model_type": "\xff\xfe"}',
    "type-is-a-list": json.dumps({"model_type": ["dfgan"], "config": {}, "components": []}).encode(),
    "config-is-a-string": json.dumps({"model_type": "dfgan", "config": "big", "components": []}).encode(),
    "components-of-numbers": json.dumps({"model_type": "dfgan", "config": {}, "components": [1, 2]}).encode(),
    "truncated": b'{"model_type": "dfg',
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_malformed_config_is_a_checkpoint_error_naming_the_file(tmp_path, case):
    folder = tmp_path / f"broken-{case}"
    folder.mkdir()
    (folder / "config.json").write_bytes(BAD_CONFIGS[case])
    with pytest.raises(ckpt.CheckpointError) as e:
        ckpt.read_config(folder)
    assert f"broken-{case}/config.json" in str(e.value) and str(tmp_path) not in str(e.value)


def test_discovery_skips_broken_and_unknown_folders_and_the_studio_says_why(studio_checkpoints, tmp_path):
    from t2i.studio import Studio

    root = tmp_path / "ckpts"
    shutil.copytree(studio_checkpoints, root)
    for case in ("null", "deep", "not-utf8", "type-is-a-list"):
        (root / f"broken-{case}").mkdir()
        (root / f"broken-{case}" / "config.json").write_bytes(BAD_CONFIGS[case])
    (root / "alien").mkdir()
    (root / "alien" / "config.json").write_text(json.dumps({"model_type": "vqgan", "config": {}, "components": []}))
    problems = []
    names = {r["name"] for r in list_models(root, problems)}
    assert not any(n.startswith("broken") for n in names) and len(problems) == 4
    studio = Studio(root, extra_models=[], out_dir=tmp_path / "out")
    status = studio.status()
    for case in ("null", "deep", "not-utf8", "type-is-a-list"):
        assert f"broken-{case} skipped" in status
    assert "alien skipped: unknown model type 'vqgan'" in status
    assert all(e.name != "alien" for e in studio.entries)


# --- configs that ask for another (or a huge) network: refused before anything is allocated ---------------------
def _doctored(src, tmp_path, **changes):
    dest = tmp_path / "doctored"
    shutil.copytree(src, dest)
    rec = json.loads((dest / "config.json").read_text())
    rec["config"].update(changes)
    (dest / "config.json").write_text(json.dumps(rec))
    return dest


def test_a_config_that_asks_for_a_huge_generator_is_refused_before_building(studio_checkpoints, tmp_path):
    folder = _doctored(studio_checkpoints / "dfgan-tiny", tmp_path, nf=20000)
    t0 = time.perf_counter()
    with pytest.raises(ckpt.CheckpointError, match="parameters|does not match its weights"):
        TextToImagePipeline.from_pretrained(folder)
    assert time.perf_counter() - t0 < 10


def test_a_config_that_disagrees_with_the_weights_names_the_tensor(studio_checkpoints, tmp_path):
    folder = _doctored(studio_checkpoints / "dfgan-tiny", tmp_path, nf=6)
    with pytest.raises(ckpt.CheckpointError, match="does not match its weights") as e:
        TextToImagePipeline.from_pretrained(folder)
    assert "weights (" in str(e.value) and str(tmp_path) not in str(e.value)


# --- numbers: finite, in range, whole where they count things ---------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"truncation": float("nan")}, "truncation must be a finite number"),
    ({"truncation": float("inf")}, "truncation must be a finite number"),
    ({"truncation": -1.0}, "truncation must be between"),
    ({"seed": 2 ** 70}, "seed must be between"),
    ({"seed": float("nan")}, "seed must be a finite number"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"n": 2.5}, "must be a whole number"),
    ({"n": 0}, "between 1 and 64"),
    ({"rerank": "many"}, "best-of-k must be a number"),
])
def test_pipeline_numbers_are_checked(studio_checkpoints, kw, match):
    from t2i.pipeline import CaptionError

    pipe = TextToImagePipeline.from_pretrained(studio_checkpoints / "dfgan-tiny")
    with pytest.raises(CaptionError, match=match):
        pipe("a small bird with a red belly", **kw)


@pytest.mark.parametrize("kw,match", [({"seed": float("inf")}, "seed must be a finite"),
                                       ({"seed": "nan"}, "seed must be a finite"),
                                       ({"n": 2.5}, "number of images must be a whole"),
                                       ({"truncation": float("nan")}, "truncation"),
                                       ({"rerank": 1.5}, "best-of must be a whole")])
def test_studio_numbers_are_checked(studio_checkpoints, tmp_path, kw, match):
    from t2i.studio import Studio, StudioError

    studio = Studio(studio_checkpoints, extra_models=[], out_dir=tmp_path)
    with pytest.raises(StudioError, match=match):
        studio.generate(caption="a small bird with a red belly", model="dfgan-tiny", **kw)


# --- the command line: one `error:` line and exit 2, never a traceback ------------------------------------------
@pytest.mark.parametrize("argv,match", [
    (["generate", "a red bird", "--model", "dfgan-tiny", "--truncation", "nan"], "truncation must be a finite number"),
    (["generate", "a red bird", "--model", "dfgan-tiny", "--seed", str(2 ** 70)], "seed must be between"),
    (["generate", "a red bird", "--model", "dfgan-tiny", "--device", "tpu9"], "device"),
    (["train", "gan", "--model", "dfgan", "--steps", "1", "--set", "model.nf=2.5"], "nf"),
    (["train", "gan", "--model", "dfgan", "--steps", "1", "--set", "model.betas=[1]"], "betas"),
    (["train", "gan", "--model", "nosuchgan", "--steps", "1"], "unknown model type"),
])
def test_cli_errors_are_one_line(studio_checkpoints, tmp_path, capsys, monkeypatch, argv, match):
    from t2i.cli import main

    monkeypatch.chdir(tmp_path)
    argv = [str(studio_checkpoints / a) if a == "dfgan-tiny" else a for a in argv]
    if argv[0] == "generate":
        argv += ["--out", str(tmp_path / "out.png")]
    else:
        argv += ["--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err and len(err.splitlines()) == 1


# --- checkpoints are written as one set; a full disk keeps the last good one --------------------------------------
def _tiny_trainer(tmp_path, cub_tiny, tiny_damsm, steps):
    from t2i.training.gan import Trainer, load_run_config

    tc = load_run_config(None, {"train.data": str(cub_tiny), "train.damsm": str(tiny_damsm), "train.model": "dfgan",
                                "train.out": str(tmp_path / "run"), "train.batch_size": 2, "train.steps": steps,
                                "train.log_every": 1, "train.sample_every": 1000, "train.save_every": 2})[0]
    return Trainer(tc, {"img_size": 32, "nf": 4, "text_dim": 16, "z_dim": 8})


def test_disk_full_during_a_save_says_so_and_keeps_the_previous_checkpoint(tmp_path, cub_tiny, tiny_damsm,
                                                                         monkeypatch):
    import errno

    import torch

    run = tmp_path / "run"
    _tiny_trainer(tmp_path, cub_tiny, tiny_damsm, 2).train()
    before = {f: (run / f).read_bytes() for f in ("config.json", "model.safetensors", "train_state.pt")}

    def full(tensors, path, metadata=None):
        with open(path, "wb") as fh:
            fh.write(b"\0" * 1000)  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt, "save_file", full)
    with pytest.raises(ckpt.DiskFullError, match="the disk is full.*previous checkpoint there is kept"):
        _tiny_trainer(tmp_path, cub_tiny, tiny_damsm, 4).train()
    assert {f: (run / f).read_bytes() for f in before} == before  # weights, config and state all still at step 2
    assert not list(run.glob(".*.tmp"))
    assert torch.load(run / "train_state.pt", weights_only=True)["step"] == 2


def test_orphan_temporary_files_of_a_killed_save_are_removed_on_start(tmp_path, cub_tiny, tiny_damsm):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".train_state.pt.x1y2.tmp").write_bytes(b"\0" * 4096)
    (run / ".model.safetensors.abcd.tmp").write_bytes(b"\0" * 4096)
    _tiny_trainer(tmp_path, cub_tiny, tiny_damsm, 2).train()
    assert not list(run.glob(".*.tmp")) and (run / "train_state.pt").is_file()


def test_best_of_draws_candidates_in_chunks_and_keeps_the_best(studio_checkpoints, monkeypatch):
    import t2i.pipeline as pl

    pipe = TextToImagePipeline.from_pretrained(studio_checkpoints / "dfgan-tiny")
    batches = []
    orig = pipe.generator.forward
    monkeypatch.setattr(pipe.generator, "forward", lambda z, *a: batches.append(len(z)) or orig(z, *a))
    monkeypatch.setattr(pl, "GEN_CHUNK", 8)
    r = pipe("a small bird with a red belly", n=3, rerank=6, seed=1)
    assert max(batches) <= 8 and sum(batches) == 3 * 6 + 3  # 18 candidates scored, the 3 kept drawn in full
    assert len(r.images) == 3 and r.scores == sorted(r.scores, reverse=True)
    import numpy as np

    chunked = pipe("a small bird with a red belly", n=10, rerank=1, seed=1)
    monkeypatch.setattr(pl, "GEN_CHUNK", 64)
    whole = pipe("a small bird with a red belly", n=10, rerank=1, seed=1)
    for a, b in zip(chunked.images, whole.images):
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).max() <= 2  # same birds either way


@pytest.mark.parametrize("value,want", [(True, True), (False, False), ("no", False), ("No", False), ("yes", True),
                                        ("0", False), (1, True), ("off", False), ("true", True)])
def test_yes_no_inputs_mean_what_they_say(value, want):
    from t2i.studio import parse_flag

    assert parse_flag("named part only", value) is want


def test_yes_no_inputs_refuse_anything_else():
    from t2i.studio import StudioError, parse_flag

    with pytest.raises(StudioError, match="named part only must be yes or no"):
        parse_flag("named part only", "maybe")


def test_a_cigan_config_asking_for_a_huge_network_is_refused_before_building(tmp_path):
    import json

    from t2i import load_pipeline

    src = ckpt.SHIPPED / "cigan-synthbirds-64"
    if not (src / ckpt.WEIGHTS).is_file():
        pytest.skip("no shipped CI-GAN")
    dest = tmp_path / "cigan-huge"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.png", "README.md"))
    rec = json.loads((dest / "config.json").read_text())
    rec["config"].update(channel_base=10 ** 8, channel_max=100000)
    (dest / "config.json").write_text(json.dumps(rec))
    t0 = time.perf_counter()
    with pytest.raises(ckpt.CheckpointError, match="cigan-huge: component .* M parameters") as e:
        load_pipeline(dest)
    assert time.perf_counter() - t0 < 10 and str(tmp_path) not in str(e.value)
