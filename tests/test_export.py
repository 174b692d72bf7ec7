"""TorchScript export and the traced CPU fast path, on tiny DF-GAN and SWF-GAN models (2 training steps)."""
import json
import warnings

import pytest
import torch

from t2i.cli import main
from t2i.export import (TracedImageModule, export_torchscript, extra_files, optimize_for_inference, trace_generator,
                        trace_image_module)
from t2i.models.base import GenOutput, TextConditionalGenerator
from t2i.models.upsampler import Upsampler, UpsamplerConfig
from t2i.pipeline import TextToImagePipeline

CAPTIONS = ["this bird has a white belly and black wings", "a small bird", "the bird has a long black bill"]


@pytest.fixture(scope="module", params=["dfgan", "swfgan"])
def tiny_model(request, studio_checkpoints):
    """studio_checkpoints (conftest): dfgan-tiny and swfgan-tiny trained 2 steps on cub_tiny with tiny_damsm."""
    return studio_checkpoints / f"{request.param}-tiny"


def test_exported_module_matches_the_pipeline(tiny_model, tmp_path):
    out = export_torchscript(tiny_model, tmp_path / "g.pt")
    m = torch.jit.load(str(out))
    pipe = TextToImagePipeline.from_pretrained(tiny_model)
    words, sent, mask, _, _ = pipe.encode(CAPTIONS)
    g = torch.Generator().manual_seed(7)
    z = pipe.generator.sample_z(len(CAPTIONS), generator=g, truncation=pipe.cfg.truncation)
    with torch.no_grad():
        got = m(z, sent, words, mask)
    # the pipeline's own images for the same captions and seed (it draws z the same way)
    ref = pipe(CAPTIONS, seed=7, return_tensors=True).tensors.images[-1]
    assert got.shape == ref.shape == (3, 3, 32, 32)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    # the text encoder: token ids -> the features the pipeline computes caption by caption
    tok, ln, _ = pipe.vocab.batch(CAPTIONS, pipe.max_words)
    w2, s2, mask2 = m.encode_text(tok, ln)
    torch.testing.assert_close(w2, words, atol=1e-5, rtol=0)
    torch.testing.assert_close(s2, sent, atol=1e-5, rtol=0)
    assert torch.equal(mask2, mask)
    # another batch size than the one traced
    with torch.no_grad():
        one = m(z[:1], sent[:1], words[:1], mask[:1])
    torch.testing.assert_close(one, ref[:1], atol=1e-5, rtol=0)
    files = extra_files(out)
    spec = json.loads(files["export.json"])
    assert spec["z_dim"] == 8 and spec["text_dim"] == 16 and spec["max_words"] == pipe.max_words
    assert json.loads(files["config.json"])["model_type"] == pipe.family and json.loads(files["vocab.json"])


def test_export_cli(studio_checkpoints, tmp_path, capsys):
    out = tmp_path / "swf.pt"
    assert main(["export", "--model", str(studio_checkpoints / "swfgan-tiny"), "--out", str(out)]) == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert main(["export", "--model", str(studio_checkpoints / "attr-classifier-synthbirds-64"),
                 "--out", str(tmp_path / "x.pt")]) == 2  # not a text-to-image GAN: a clear error


def test_optimize_for_inference_keeps_outputs(tiny_model):
    eager = TextToImagePipeline.from_pretrained(tiny_model)
    fast = optimize_for_inference(TextToImagePipeline.from_pretrained(tiny_model), bf16=False)
    assert fast.optimized and not fast.optimized_bf16 and fast.generator is not eager.generator
    for n, seed in ((1, 0), (2, 5)):  # batch 3 and 6: neither is the traced batch size
        a = eager(CAPTIONS, seed=seed, n=n, return_tensors=True)
        b = fast(CAPTIONS, seed=seed, n=n, return_tensors=True)
        torch.testing.assert_close(b.tensors.images[-1], a.tensors.images[-1], atol=1e-5, rtol=0)
        assert a.masks.keys() == b.masks.keys() and a.word_attn.keys() == b.word_attn.keys()
        for k in a.masks:
            torch.testing.assert_close(torch.from_numpy(b.masks[k]), torch.from_numpy(a.masks[k]), atol=1e-5, rtol=0)
        for k in a.word_attn:
            torch.testing.assert_close(torch.from_numpy(b.word_attn[k]), torch.from_numpy(a.word_attn[k]),
                                       atol=1e-5, rtol=0)
    assert sum(p.numel() for p in fast.generator.parameters()) == sum(p.numel() for p in eager.generator.parameters())


def test_optimize_for_inference_in_bf16_stays_close_and_returns_float32(tiny_model):
    """bf16 (auto on CPUs with native bf16; forced here, as autocast runs anywhere): traced under bf16 autocast,
    images within BF16_ATOL of the fp32 generator's but not bit-equal, masks and attention float32 too."""
    from t2i.export import BF16_ATOL

    eager = TextToImagePipeline.from_pretrained(tiny_model)
    fast = optimize_for_inference(TextToImagePipeline.from_pretrained(tiny_model), bf16=True)
    assert fast.optimized and fast.optimized_bf16
    a = eager(CAPTIONS, seed=2, n=2, return_tensors=True)
    b = fast(CAPTIONS, seed=2, n=2, return_tensors=True)
    x, y = b.tensors.images[-1], a.tensors.images[-1]
    assert x.dtype == torch.float32 and x.shape == y.shape
    diff = (x - y).abs()
    assert 0 < float(diff.max()) <= BF16_ATOL
    assert a.masks.keys() == b.masks.keys() and all(v.dtype == a.masks[k].dtype for k, v in b.masks.items())


class _DataDependent(TextConditionalGenerator):
    """A generator with a Python branch on its input: tracing records one branch for every input."""

    def __init__(self):
        super().__init__()
        self.z_dim, self.lin = 4, torch.nn.Linear(4, 3 * 4 * 4)

    def forward(self, z, sent, words, word_mask):
        x = self.lin(z).view(-1, 3, 4, 4)
        if z.size(0) % 2 == 0:  # the trace records the branch of its example batch (4) for every batch
            x = -x
        return GenOutput(images=[x.tanh()])


def test_trace_that_does_not_generalise_falls_back_to_eager():
    G = _DataDependent().eval()
    text = lambda tokens, lengths: (torch.randn(len(tokens), 4, tokens.size(1)), torch.randn(len(tokens), 4))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert trace_generator(G, text, vocab_size=10, max_words=5) is None
    assert any("keeping the eager generator" in str(x.message) for x in w)


def test_optimize_for_inference_traces_the_best_of_scorer(tiny_model):
    """best-of-k scores every candidate with the DAMSM image encoder: traced too, same scores."""
    eager = TextToImagePipeline.from_pretrained(tiny_model)
    fast = optimize_for_inference(TextToImagePipeline.from_pretrained(tiny_model))
    assert isinstance(fast.damsm()[0].image_encoder, TracedImageModule)
    assert not isinstance(eager.damsm()[0].image_encoder, TracedImageModule)
    images = torch.rand(5, 3, fast.native_size, fast.native_size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    a, b = eager.match_scores(images, CAPTIONS + CAPTIONS[:2]), fast.match_scores(images, CAPTIONS + CAPTIONS[:2])
    torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
    ra = eager(CAPTIONS[:1], seed=3, n=2, rerank=3)
    rb = fast(CAPTIONS[:1], seed=3, n=2, rerank=3)
    assert ra.seeds == rb.seeds and max(abs(x - y) for x, y in zip(ra.scores, rb.scores)) < 1e-3


def test_trace_image_module_same_images_other_sides_eager():
    torch.manual_seed(0)
    up = Upsampler(UpsamplerConfig(channels=8, blocks=2, up_channels=8, in_size=16)).eval()
    with torch.no_grad():
        up.tail.weight.normal_(0, 0.1)  # a residual that shows
    fast = trace_image_module(up, 16, what="upsampler")
    assert isinstance(fast, TracedImageModule) and trace_image_module(fast, 16) is fast
    g = torch.Generator().manual_seed(2)
    with torch.inference_mode():
        for n in (1, 5):  # neither the traced batch (4) nor the checked one (3)
            x = torch.rand(n, 3, 16, 16, generator=g) * 2 - 1
            torch.testing.assert_close(fast(x), up(x), atol=1e-5, rtol=0)
            assert fast(x).shape == (n, 3, 64, 64)
        x = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1  # another side: the eager network, exactly
        assert torch.equal(fast(x), up(x)) and fast(x).shape == (2, 3, 96, 96)
    assert sum(p.numel() for p in fast.parameters()) >= sum(p.numel() for p in up.parameters())


class _BatchDependent(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(x) * (2.0 if x.size(0) == 4 else 1.0)  # the trace keeps the factor of its batch (4)


def test_trace_image_module_that_does_not_generalise_stays_eager():
    m = _BatchDependent().eval()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert trace_image_module(m, 8, what="scorer") is m
    assert any("keeping the eager scorer" in str(x.message) for x in w)
