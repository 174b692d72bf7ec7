import os

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


@pytest.fixture(scope="session")
def cub_tiny():
    return os.path.join(FIXTURES, "cub_tiny")


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    """A small SynthBirds set shared by the tests (rendered once per session)."""
    from t2i.data.synthbirds import write_synthbirds

    root = tmp_path_factory.mktemp("synthbirds")
    write_synthbirds(root, size=64, n=120, seed=0, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_damsm(cub_tiny, tmp_path_factory):
    """An (untrained) tiny DAMSM folder over the fixture's vocabulary: enough to drive the GAN trainer."""
    import dataclasses

    from t2i import checkpoint as ckpt
    from t2i.data.captions import CaptionDataset
    from t2i.text.damsm import DAMSM, DAMSMConfig

    vocab = CaptionDataset(cub_tiny, "train", 32).vocab
    torch.manual_seed(0)
    cfg = DAMSMConfig(vocab_size=len(vocab), img_size=32, emb_dim=16, text_dim=16, nf=8, backbone="cnn")
    folder = tmp_path_factory.mktemp("damsm")
    ckpt.save_model_folder(folder, "damsm", dataclasses.asdict(cfg), {"damsm": DAMSM(cfg)}, vocab=vocab)
    return folder


@pytest.fixture(scope="session")
def studio_checkpoints(cub_tiny, tiny_damsm, tmp_path_factory):
    """A checkpoints folder for the studio (app) tests: tiny dfgan and swfgan trained for 2 steps on the fixture
    set, an (untrained) tiny attribute classifier for CAM, and on swfgan a model card, metrics and samples.png."""
    import dataclasses
    import json

    from PIL import Image

    from t2i import checkpoint as ckpt
    from t2i.data.synthbirds import ATTRIBUTES
    from t2i.eval.attributes import AttrClassifier, AttrClassifierConfig
    from t2i.training.gan import Trainer, load_run_config

    root = tmp_path_factory.mktemp("studio_checkpoints")
    for fam in ("dfgan", "swfgan"):
        tc = load_run_config(None, {"train.model": fam, "train.data": str(cub_tiny), "train.damsm": str(tiny_damsm),
                                    "train.out": str(root / f"{fam}-tiny"), "train.batch_size": 2,
                                    "train.steps": 2, "train.log_every": 100, "train.sample_every": 2,
                                    "train.save_every": 1000})[0]
        Trainer(tc, {"img_size": 32, "nf": 4, "text_dim": 16, "z_dim": 8}).train()
    sw = root / "swfgan-tiny"
    rec = json.loads((sw / ckpt.CONFIG).read_text())
    rec["metrics"] = {"attr_acc": 0.5123, "fid": 123.4, "r_precision": 0.25, "gen_images_per_s": 150.0}
    (sw / ckpt.CONFIG).write_text(json.dumps(rec, indent=2))
    (sw / "README.md").write_text("---\nlicense: mit\n---\n# swfgan-tiny\n\nA tiny test model card.\n")
    Image.new("RGB", (64, 32), (200, 60, 60)).save(sw / "samples.png")
    torch.manual_seed(0)
    cfg = AttrClassifierConfig(groups={g: list(v) for g, v in ATTRIBUTES.items()}, img_size=32, nf=4)
    ckpt.save_model_folder(root / "attr-classifier-synthbirds-64", "attr-classifier", dataclasses.asdict(cfg),
                           {"classifier": AttrClassifier(cfg)}, step=0, resolution=32)
    return root


@pytest.fixture(scope="session")
def studio_url(studio_checkpoints):
    """The studio (app.py) launched in-process on a free port over `studio_checkpoints`; yields its URL."""
    import importlib
    import socket
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if repo not in sys.path:
        sys.path.insert(0, repo)
    old = os.environ.get("T2I_CHECKPOINTS")
    os.environ["T2I_CHECKPOINTS"] = str(studio_checkpoints)
    try:
        app = importlib.reload(sys.modules["app"]) if "app" in sys.modules else importlib.import_module("app")
    finally:
        if old is None:
            os.environ.pop("T2I_CHECKPOINTS", None)
        else:
            os.environ["T2I_CHECKPOINTS"] = old
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.demo.close()
