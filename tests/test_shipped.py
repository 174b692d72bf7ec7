"""Every shipped checkpoint (checkpoints/) still loads through its public loader and gives the same outputs: a few
pooled pixels of generated / edited images, a few output values of the helper networks, compared with the values
recorded in tests/fixtures/shipped_outputs.json (tolerances absorb float rounding across CPUs, not a change).

Re-record (only after a change that is meant to change outputs): python tests/test_shipped.py --record
(every checkpoint) or python tests/test_shipped.py --record NAME ... (those only, e.g. a newly copied upsampler step)
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

if __name__ == "__main__":  # run as a script (--record) from anywhere: the repository's package, not an installed one
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from t2i import checkpoint as ckpt  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "shipped_outputs.json"
CAPTION = "this bird has a red belly and black wings"
BIRD = ckpt.REPO_ROOT / "examples" / "bird_red.png"
GAN_TYPES = ("caegan", "csagan", "dfgan", "ecagan", "ffgan", "ssagan", "swfgan")


def _bird(size: int = 64) -> torch.Tensor:
    from t2i.imageio import prepare_upload

    arr = np.asarray(prepare_upload(BIRD, size=size), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


def _pooled(images) -> dict:
    """PIL images -> 4 x 4 block means (0-255) of each image, and the exact bytes' sha256 (for information)."""
    arrs = [np.asarray(im.convert("RGB"), dtype=np.uint8) for im in images]
    s = arrs[0].shape[0] // 4
    pooled = [a.astype(np.float64).reshape(4, s, 4, s, 3).mean(axis=(1, 3)).round(3).tolist() for a in arrs]
    return {"pooled": pooled, "sha256": hashlib.sha256(b"".join(a.tobytes() for a in arrs)).hexdigest()}


def _values(*tensors) -> dict:
    """Float tensors -> their first 16 values each and their means."""
    flat = [t.detach().float().flatten() for t in tensors]
    return {"values": [[round(v, 6) for v in f[:16].tolist()] for f in flat], "means": [float(f.mean()) for f in flat]}


@torch.no_grad()
def outputs(name: str) -> dict:
    """What the shipped model `name` gives for the fixed caption / bird, through the loader its users call."""
    rec = ckpt.read_config(name)
    kind = rec["model_type"]
    x = _bird()
    if kind in GAN_TYPES:
        from t2i import load_pipeline

        return _pooled(load_pipeline(name)(CAPTION, seed=0, n=2).images)
    if kind == "cigan" and rec["config"]["stage"] == "aligner":
        from t2i import load_pipeline

        pipe = load_pipeline(name)
        images = pipe.generate(CAPTION, seed=0, n=1, steps=3)  # text-to-image (by retrieval with a code bank)
        if pipe.t2i_mode != "paper":  # and the paper's mode
            images += load_pipeline(name, t2i_mode="paper").generate(CAPTION, seed=0, n=1, steps=3)
        # the model's numbers on the whole picture (find_bird=False: the crop around the bird is tested elsewhere)
        images.append(pipe.edit(BIRD, CAPTION, steps=2, invert_steps=1, find_bird=False).edited)  # segmenter, DAMSM
        images.append(pipe.edit(BIRD, CAPTION, steps=2, invert_steps=1, lam=1.0, part_mask=False,
                                guidance=0, find_bird=False).edited)  # whole image, the perceptual term
        return _pooled(images)
    if kind == "cigan":
        from t2i.models.cigan import load_cigan

        _, _, nets = load_cigan(name)
        w = nets["encoder"](x)
        return {**_values(w), **_pooled(_to_pil(nets["stylegan"].synthesis(w, noise_mode="const")))}
    if kind == "damsm":
        from t2i.text.damsm import load_damsm

        model, vocab = load_damsm(name)
        tok, ln, _ = vocab.batch([CAPTION])
        words, sent, _ = model.encode_text(tok, ln)
        regions, glob = model.image_encoder(x)
        return _values(words, sent, regions, glob)
    if kind == "attr-classifier":
        from t2i.eval.attributes import load_attr_classifier

        out = load_attr_classifier(name)(x)
        return _values(*(out[k] for k in sorted(out)))
    if kind == "species-classifier":
        from t2i.eval.species import load_species_classifier

        return _values(load_species_classifier(name)(x))
    if kind == "part-segmenter":
        from t2i.partseg import load_part_segmenter

        return _values(load_part_segmenter(name)(x))
    if kind == "upsampler":
        from t2i.models.upsampler import load_upsampler

        return _pooled(_to_pil(load_upsampler(name)(x)))
    if kind == "part-judge":
        from t2i.eval.judge import load_judge

        judge = load_judge(name)
        logits = judge.logits(judge.features(x))
        return {**_values(*(logits[k] for k in sorted(logits))), "read": judge.read(x)}
    raise AssertionError(f"no output check for {name} ({kind}); add one")


def _to_pil(images: torch.Tensor):
    from t2i.viz.grids import to_pil

    return to_pil(images.clamp(-1, 1))


def shipped() -> list[str]:
    return sorted(p.name for p in ckpt.SHIPPED.iterdir() if (p / ckpt.WEIGHTS).is_file())


def _reference() -> dict:
    return json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {}


def test_every_shipped_checkpoint_has_a_reference():
    assert sorted(_reference()) == shipped()


@pytest.mark.parametrize("name", shipped())
def test_shipped_checkpoint_gives_the_same_outputs(name):
    ref = _reference().get(name)
    if ref is None:
        pytest.fail(f"no recorded outputs for {name}: python tests/test_shipped.py --record")
    got = outputs(name)
    assert sorted(got) == sorted(ref)
    if "pooled" in ref:  # 0-255 block means: a changed model moves them by far more than one level
        np.testing.assert_allclose(np.array(got["pooled"]), np.array(ref["pooled"]), atol=1.0, rtol=0)
    if "values" in ref:
        for g, r in zip(got["values"], ref["values"]):
            np.testing.assert_allclose(g, r, atol=1e-3, rtol=1e-3)
        np.testing.assert_allclose(got["means"], ref["means"], atol=1e-4, rtol=1e-3)
    if "read" in ref:
        assert got["read"] == ref["read"]


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"]:
        sys.exit(__doc__)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    names = sys.argv[2:] or shipped()
    unknown = sorted(set(names) - set(shipped()))
    if unknown:
        sys.exit(f"not shipped checkpoints (no {ckpt.WEIGHTS}): {', '.join(unknown)}")
    ref = {k: v for k, v in _reference().items() if k in shipped()} if sys.argv[2:] else {}
    ref.update({n: outputs(n) for n in names})
    REFERENCE.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(names)} checkpoint(s) in {REFERENCE}")
