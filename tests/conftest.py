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
    cfg = DAMSMConfig(vocab_size=len(vocab), img_size=32, emb_dim=16, text_dim=16, nf=8)
    folder = tmp_path_factory.mktemp("damsm")
    ckpt.save_model_folder(folder, "damsm", dataclasses.asdict(cfg), {"damsm": DAMSM(cfg)}, vocab=vocab)
    return folder
