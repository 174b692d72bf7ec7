"""The Hugging Face Space folder (python -m t2i space): what goes in, what stays out, and that it starts."""
import os
import subprocess
import sys

import pytest

from t2i import checkpoint as ckpt
from t2i.space import build_space, push_space, runtime_requirements


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    out = tmp_path_factory.mktemp("space") / "t2i-studio"
    return out, build_space(out)


def test_the_space_holds_the_app_the_package_and_the_served_models_only(space):
    out, summary = space
    assert (out / "app.py").is_file() and (out / "t2i" / "__init__.py").is_file()
    assert not list(out.rglob("__pycache__")) and not (out / "tests").exists() and not (out / "train").exists()
    served = {p.name for p in (out / "checkpoints").iterdir()}
    assert {"csagan-synthbirds-64", "cigan-synthbirds-64", "attr-classifier-synthbirds-64",
            "partseg-synthbirds-64", "damsm-synthbirds-64"} <= served
    assert not served & {"judge-synthbirds-64", "damsm-eval-synthbirds-64", "species-classifier-synthbirds-64",
                         "cigan-encoder-synthbirds-64"}  # evaluation-only and intermediate stages stay out
    assert summary["models"] == sorted(served) and summary["size_mb"] < 100
    for folder in (out / "checkpoints").iterdir():
        assert (folder / ckpt.WEIGHTS).is_file() and not (folder / ckpt.TRAIN_STATE).exists()


def test_requirements_are_runtime_only_with_the_cpu_torch_index(space):
    out, _ = space
    req = (out / "requirements.txt").read_text()
    assert req.startswith("--extra-index-url https://download.pytorch.org/whl/cpu")
    assert "torch==2.13.0" in req and "gradio==" in req
    assert not any(dev in req for dev in ("pytest", "tensorboard", "playwright"))
    assert runtime_requirements("-r base.txt\npytest==9\ntorch==2.13.0\n").splitlines()[1:] == ["torch==2.13.0"]


def test_binaries_go_to_lfs_and_the_readme_is_a_gradio_space(space):
    out, _ = space
    attrs = (out / ".gitattributes").read_text()
    assert "*.safetensors filter=lfs" in attrs and "*.png filter=lfs" in attrs
    readme = (out / "README.md").read_text()
    assert readme.startswith("---\n") and "sdk: gradio" in readme and "app_file: app.py" in readme
    assert "license: mit" in readme.split("---")[1]  # the Hub reads the Space's license from the front matter
    assert (out / "LICENSE").read_text().startswith("MIT License")


def test_the_space_starts_on_its_own_files(space, tmp_path):
    """The app imports and finds its models from the Space folder alone (not from this checkout)."""
    out, _ = space
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "T2I_CHECKPOINTS", "T2I_MODELS")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    code = ("import t2i, app; assert t2i.__file__.startswith(%r), t2i.__file__; "
            "print(app.STUDIO.status())" % str(out))
    r = subprocess.run([sys.executable, "-c", code], cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "trained models ready" in r.stdout


def test_rewriting_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a Space folder"):
        build_space(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_push_creates_the_space_and_uploads_the_folder(space, monkeypatch):
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw["repo_type"], kw["space_sdk"]))

        def upload_folder(self, folder_path, repo_id, **kw):
            calls.append(("upload", folder_path, repo_id, kw["repo_type"]))

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    out, _ = space
    url = push_space(out, "someone/t2i-studio", token="hf_x")
    assert url == "https://huggingface.co/spaces/someone/t2i-studio"
    assert calls == [("init", "hf_x"), ("create", "someone/t2i-studio", "space", "gradio"),
                     ("upload", str(out), "someone/t2i-studio", "space")]


def test_model_cards_carry_the_hub_header(studio_checkpoints, tmp_path):
    import shutil

    import yaml

    from t2i.eval.card import write_card

    folder = tmp_path / "swfgan-tiny"
    shutil.copytree(studio_checkpoints / "swfgan-tiny", folder)
    text = write_card(folder, samples=False).read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta["library_name"] == "t2i" and meta["license"] == "mit" and meta["pipeline_tag"] == "text-to-image"
    assert {"gan", "swfgan", "text-to-image"} <= set(meta["tags"]) and meta["datasets"]
    assert {"attr_acc", "fid"} <= set(meta["metrics"])
    assert "| training CPU time | " in text and "| training wall time | " in text  # the trainer keeps both


def test_ship_records_the_repositorys_path_for_a_machine_copy_of_the_default_set(studio_checkpoints, synth_root,
                                                                                 tmp_path):
    """A run trained on ~/t2i-data/synthbirds-64 (train/cpu_runs.sh) ships with data/synthbirds-64, which eval finds
    or renders in any checkout; a set that is not the default one (other size, count or seed) keeps its path."""
    import json
    import shutil

    from t2i import checkpoint as ckpt
    from t2i.eval.card import ship

    copy = tmp_path / "t2i-data" / "synthbirds-64"
    copy.mkdir(parents=True)
    meta = json.loads((synth_root / "synthbirds.json").read_text())  # the fixture set: 120 images
    (copy / "synthbirds.json").write_text(json.dumps({**meta, "n": 11788}))  # as the default render records it
    for root, want in ((copy, "data/synthbirds-64"), (synth_root, str(synth_root))):
        run = tmp_path / "run"
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(studio_checkpoints / "dfgan-tiny", run)
        rec = json.loads((run / ckpt.CONFIG).read_text())
        (run / ckpt.CONFIG).write_text(json.dumps({**rec, "data_root": str(root)}))
        dest = ship(run, "dfgan-x", tmp_path / "shipped")
        assert json.loads((dest / ckpt.CONFIG).read_text())["data_root"] == want
        assert json.loads((run / ckpt.CONFIG).read_text())["data_root"] == str(root)  # the run keeps its record


def test_a_model_loads_by_hub_id_from_a_local_hub_cache_offline(studio_checkpoints, tmp_path, monkeypatch):
    """A model folder as the Hub cache lays it out (models--user--name/snapshots/<rev>/...), loaded by its id with
    the network off: what a Space or a user gets after one download."""
    import shutil

    from t2i.pipeline import TextToImagePipeline

    cache = tmp_path / "hub"
    rev = "0" * 40
    snap = cache / "models--someone--dfgan-tiny" / "snapshots" / rev
    shutil.copytree(studio_checkpoints / "dfgan-tiny", snap)
    (cache / "models--someone--dfgan-tiny" / "refs").mkdir()
    (cache / "models--someone--dfgan-tiny" / "refs" / "main").write_text(rev)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    pipe = TextToImagePipeline.from_pretrained("someone/dfgan-tiny")
    assert len(pipe("a small bird with a red belly", n=2).images) == 2


def test_space_command_writes_the_folder_and_says_how_to_start_it(tmp_path, capsys):
    from t2i.cli import main

    assert main(["space", "--out", str(tmp_path / "sp")]) == 0
    out = capsys.readouterr().out
    assert "Space folder" in out and "MB" in out and "python app.py" in out
    assert (tmp_path / "sp" / "app.py").is_file()
