import json

import pytest
import torch
from torch import nn

from t2i import checkpoint as ckpt
from t2i.data.vocab import Vocabulary


def _folder(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ckpt.save_model_folder(tmp_path / "m", "toy", {"width": 4}, {"net": m}, vocab=Vocabulary(["<end>", "red"]),
                           dtype=torch.float16, step=7)
    return m, tmp_path / "m"


def test_roundtrip_fp16_strict(tmp_path):
    m, f = _folder(tmp_path)
    rec = ckpt.read_config(f)
    assert rec["model_type"] == "toy" and rec["step"] == 7 and rec["components"] == ["net"]
    m2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ckpt.load_modules({"net": m2}, ckpt.read_weights(f), str(f))
    assert m2[0].weight.dtype == torch.float32
    assert torch.allclose(m2[0].weight, m[0].weight, atol=1e-3)


def test_mismatch_and_corruption_are_refused(tmp_path):
    _, f = _folder(tmp_path)
    with pytest.raises(ckpt.CheckpointError, match="does not match"):
        ckpt.load_modules({"net": nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))}, ckpt.read_weights(f))
    with pytest.raises(ckpt.CheckpointError, match="no weights for component"):
        ckpt.load_modules({"other": nn.Linear(3, 4)}, ckpt.read_weights(f))
    (f / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.read_weights(f)
    (f / "config.json").write_text("{")
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.read_config(f)
    (f / "config.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(ckpt.CheckpointError, match="not a T2I Studio checkpoint"):
        ckpt.read_config(f)
    with pytest.raises(ckpt.CheckpointError, match="no model"):
        ckpt.resolve(tmp_path / "absent")


def test_train_state_loads_without_unpickling_code(tmp_path):
    ckpt.save_train_state(tmp_path, {"step": 3, "t": torch.ones(2), "py": [1, [2, 3], None]})
    assert ckpt.load_train_state(tmp_path)["step"] == 3

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "train_state.pt")
    with pytest.raises(ckpt.CheckpointError, match="corrupt or holds more than tensors"):
        ckpt.load_train_state(tmp_path)


def test_offline_hub_id_gives_clear_error():
    with pytest.raises(ckpt.CheckpointError, match="Hugging Face Hub"):
        ckpt.resolve("nobody/does-not-exist-t2i")
