"""Export a text-to-image generator to TorchScript, and an optional traced fast path for CPU inference.

    python -m t2i export --model checkpoints/swfgan-synthbirds-64 --out swfgan.pt

    m = torch.jit.load("swfgan.pt")                        # no t2i needed to run it
    words, sent, word_mask = m.encode_text(tokens, lengths)  # tokens [N, L] int64 (0 = padding), lengths [N]
    image = m(z, sent, words, word_mask)                  # [N, 3, H, W] in [-1, 1]; z [N, z_dim] ~ N(0, I)
    # the file also holds config.json, vocab.json and export.json (input sizes, truncation): see `extra_files`

The exported module is the model folder's generator and its DAMSM text encoder, traced (torch.jit.trace) in
float32 on the CPU; export checks the traced module against the eager one at a second batch size and other caption
lengths before saving. Tracing records the branch each Python `if` took, so a generator whose forward branches on
data would be wrong where the check does not reach; the check refuses to save such a trace.

ONNX: torch 2.13's exporters need the `onnx` (and for the default exporter `onnxscript`) packages, which are not
in requirements.txt, so only TorchScript is offered.

`optimize_for_inference(pipe)` swaps a TextToImagePipeline's generator for a traced + frozen (torch.jit.freeze)
copy in channels_last memory format, which keeps outputs within float tolerance and runs faster on CPU (see
`python -m t2i bench --optimize`); it checks itself against the eager generator and keeps the eager one when the
trace does not match. On CPUs with native bf16 (AVX512-BF16/AMX) the generator is traced under bf16 autocast
(`bf16=None`: where t2i.runtime.bf16_autocast_ok says so): DF-GAN about 1.6-1.9x the fp32 trace, images within
BF16_ATOL and BF16_MIN_PSNR of the fp32 ones (PSNR 48-64 dB: visually identical); outputs come back in float32.
"""
from __future__ import annotations

import copy
import json
import math
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from t2i.checkpoint import CheckpointError
from t2i.models.base import GenOutput

EXTRA_FILES = ("config.json", "vocab.json", "export.json")


class GeneratorForExport(nn.Module):
    """forward(z [N, z_dim], sent [N, D], words [N, D, L], word_mask [N, L] bool) -> final image [N, 3, H, W];
    encode_text(tokens [N, L] int64, lengths [N] int64) -> (words, sent, word_mask) as the pipeline computes them."""

    def __init__(self, generator: nn.Module,  # a TextConditionalGenerator
                 text_encoder: nn.Module | None = None):  # the DAMSM TextEncoder (None: forward only)
        super().__init__()
        self.generator = generator
        self.text_encoder = text_encoder

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor) -> Tensor:
        return self.generator(z, sent, words, word_mask).images[-1]

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        assert self.text_encoder is not None
        words, sent = self.text_encoder(tokens, lengths)
        return words, sent, tokens == 0


class _AllOutputs(nn.Module):
    """forward -> a flat tuple of tensors (images, then masks, then word attention, in the order of `layout`):
    what tracing can record of a GenOutput. layout: (n_images, mask names, word_attn names)."""

    def __init__(self, generator: nn.Module, layout: tuple[int, tuple[str, ...], tuple[str, ...]]):
        super().__init__()
        self.generator = generator
        self.layout = layout

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor) -> tuple[Tensor, ...]:
        out = self.generator(z, sent, words, word_mask)
        _, mask_keys, attn_keys = self.layout
        return tuple(t.contiguous() for t in [*out.images, *(out.masks[k] for k in mask_keys),
                                              *(out.word_attn[k] for k in attn_keys)])

    @staticmethod
    def layout_of(out: GenOutput) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
        return len(out.images), tuple(out.masks), tuple(out.word_attn)

    @staticmethod
    def unflatten(flat, layout) -> GenOutput:
        n, mask_keys, attn_keys = layout
        flat = list(flat)
        return GenOutput(images=flat[:n], masks=dict(zip(mask_keys, flat[n:n + len(mask_keys)])),
                         word_attn=dict(zip(attn_keys, flat[n + len(mask_keys):])))


def example_text(vocab_size: int, n: int, max_words: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random token ids [n, max_words] with lengths from max_words down to 1 (0 = padding after the length)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.linspace(max_words, 1, n).round().long().clamp(1, max_words)
    tokens = torch.randint(1, max(vocab_size, 2), (n, max_words), generator=g)
    tokens[torch.arange(max_words)[None, :] >= lengths[:, None]] = 0
    return tokens, lengths


def _example_inputs(generator, text_encoder, vocab_size: int, max_words: int, n: int, seed: int, device="cpu"):
    tokens, lengths = (t.to(device) for t in example_text(vocab_size, n, max_words, seed))
    with torch.no_grad():
        words, sent = text_encoder(tokens, lengths)
    z = generator.sample_z(n, generator=torch.Generator().manual_seed(seed)).to(device)
    return z, sent, words, tokens == 0, tokens, lengths


def _max_abs(a) -> float:
    if isinstance(a, Tensor):
        return a.float().abs().max().item() if a.numel() else 0.0
    return max((_max_abs(x) for x in (a.values() if isinstance(a, dict) else a)), default=0.0)


def _max_diff(a, b) -> float:
    if isinstance(a, Tensor):
        return (a.float() - b.float()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, dict):
        if set(a) != set(b):
            return float("inf")
        return max((_max_diff(a[k], b[k]) for k in a), default=0.0)
    if len(a) != len(b):
        return float("inf")
    return max((_max_diff(x, y) for x, y in zip(a, b)), default=0.0)


def export_torchscript(model_folder, out_path, check_atol: float = 1e-4) -> Path:
    """Trace the folder's generator (forward) and text encoder (encode_text) into one TorchScript file.

    Returns the path. Raises ValueError when the folder is not a text-to-image GAN, or when the trace does not
    reproduce the eager module within `check_atol` at another batch size and caption lengths."""
    from t2i.pipeline import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained(model_folder, device="cpu")
    G, T = pipe.generator.float().eval(), pipe.text_encoder.float().eval()
    wrapper = GeneratorForExport(G, T).eval()
    vocab_size, L = len(pipe.vocab), pipe.max_words
    z, sent, words, mask, tokens, lengths = _example_inputs(G, T, vocab_size, L, 2, seed=0)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace_module(wrapper, {"forward": (z, sent, words, mask), "encode_text": (tokens, lengths)},
                                        check_trace=False)
    # the trace must generalise: another batch size, other caption lengths, other noise
    z2, sent2, words2, mask2, tokens2, lengths2 = _example_inputs(G, T, vocab_size, L, 5, seed=1)
    with torch.no_grad():
        d_text = _max_diff(traced.encode_text(tokens2, lengths2), wrapper.encode_text(tokens2, lengths2))
        d_img = _max_diff(traced(z2, sent2, words2, mask2), wrapper(z2, sent2, words2, mask2))
    if not (d_text <= check_atol and d_img <= check_atol):
        raise ValueError(f"{model_folder}: the traced module does not reproduce the model at another batch size "
                         f"(max |diff| text {d_text:.2e}, image {d_img:.2e}); its forward depends on data in a way "
                         "tracing cannot record")
    spec = {"format": "torchscript", "family": pipe.family, "z_dim": int(getattr(G, "latent_dim", G.z_dim)),
            "text_dim": int(sent.shape[1]), "max_words": L, "vocab_size": vocab_size,
            "img_size": pipe.record.get("resolution") or getattr(pipe.cfg, "img_size", None),
            "truncation": getattr(pipe.cfg, "truncation", None), "pad_id": 0,
            "inputs": {"forward": "z [N, z_dim] float32 ~ N(0, I) (clamped to +-truncation; multi-stage models: the "
                                  "noise then the CA noise), sent [N, D], "
                                  "words [N, D, L], word_mask [N, L] bool (True = padding)",
                       "encode_text": "tokens [N, L] int64 (vocab.json ids, 0 = padding), lengths [N] int64 >= 1"},
            "outputs": {"forward": "image [N, 3, H, W] in [-1, 1]", "encode_text": "(words, sent, word_mask)"},
            "check_max_abs_diff": {"text": d_text, "image": d_img}}
    from t2i import checkpoint as ckpt

    folder = ckpt.resolve(model_folder)
    extra = {"config.json": (folder / ckpt.CONFIG).read_text(), "vocab.json": (folder / ckpt.VOCAB).read_text(),
             "export.json": json.dumps(spec, indent=2)}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(traced, str(out), _extra_files=extra)
    return out


def extra_files(path) -> dict[str, str]:
    """The config.json, vocab.json and export.json stored inside an exported file."""
    files = {k: "" for k in EXTRA_FILES}
    torch.jit.load(str(path), _extra_files=files)
    return files


# --- the CPU fast path ----------------------------------------------------------------------------------------------
# a bf16 trace is kept when its outputs stay within BF16_ATOL of the fp32 generator's everywhere and BF16_MIN_PSNR on
# the whole (peak-to-peak 2: images in [-1, 1]); the shipped models measured max 0.02-0.18, PSNR 48-64 dB
BF16_ATOL, BF16_MIN_PSNR = 0.25, 40.0


def psnr(a, b) -> float:
    """PSNR (dB, peak-to-peak 2: images in [-1, 1]) of a tensor, or of every tensor of a tuple together, against b."""
    pairs = list(zip(a, b)) if isinstance(a, tuple) else [(a, b)]
    sq = sum(float(((x.float() - y.float()) ** 2).sum()) for x, y in pairs)
    n = sum(x.numel() for x, _ in pairs)
    return float("inf") if sq == 0 else 10 * math.log10(4.0 / (sq / max(n, 1)))


def _as_float(out):
    """Floating tensors (or tuples of them) in float32: a bf16 trace returns bf16 images, masks and attention."""
    if isinstance(out, tuple):
        return tuple(_as_float(t) for t in out)
    return out.float() if isinstance(out, Tensor) and out.is_floating_point() else out


class TracedGenerator(nn.Module):
    """A drop-in for a pipeline's generator: forward runs a traced, frozen copy and returns a GenOutput with the same
    images, masks and word attention (kl and extras are not kept); sample_z and the parameters stay the original's."""

    def __init__(self, original: nn.Module,  # the eager generator (kept for sample_z, parameters, fallback)
                 frozen: torch.jit.ScriptModule,  # traced + frozen _AllOutputs of a copy of it
                 layout: tuple):  # _AllOutputs.layout: how to rebuild the GenOutput from the flat tuple
        super().__init__()
        self.original = original
        self.frozen = frozen
        self.layout = layout
        self.z_dim = original.z_dim

    def sample_z(self, *args, **kwargs) -> Tensor:
        return self.original.sample_z(*args, **kwargs)

    def forward(self, z: Tensor, sent: Tensor, words: Tensor, word_mask: Tensor) -> GenOutput:
        return _AllOutputs.unflatten(_as_float(self.frozen(z, sent, words, word_mask)), self.layout)


def _checked_trace(module: nn.Module, example: tuple, check: tuple, reference, freeze: bool, atol: float, what: str,
                   bf16: bool = False):
    """module traced at `example` (frozen when `freeze`), or None (with a warning) when tracing fails or the trace
    differs from `reference` (eager outputs at `check`, another batch size) by more than `atol` times the largest
    reference value (at least 1: images in [-1, 1] get atol itself; the DAMSM's codes run to about 1,000).
    bf16: traced under bf16 autocast (the trace records the casts, so it runs in bf16 without the context)."""
    device = example[0].device.type
    try:
        with torch.no_grad(), warnings.catch_warnings(), torch.autocast(device, torch.bfloat16, enabled=bf16):
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, example, check_trace=False)
            if freeze:
                traced = torch.jit.freeze(traced.eval())
            traced(*check)
            got = traced(*check)  # the profiling executor specialises on the first runs: check a later one
        got = _as_float(got)
        diff = _max_diff(got, reference) / max(1.0, _max_abs(reference))
        quality = psnr(got, reference) if bf16 else None
        if bf16 and quality < BF16_MIN_PSNR:
            diff = float("inf")
    except Exception as e:  # noqa: BLE001 - the fast path is optional
        warnings.warn(f"optimize_for_inference: tracing failed ({type(e).__name__}: {e}); "
                      + ("tracing in float32 instead" if bf16 else f"keeping the eager {what}"))
        return None
    if not diff <= atol:
        warnings.warn(f"optimize_for_inference: the trace differs from the eager {what} by {diff:.2e} (relative"
                      + (f"; PSNR {quality:.1f} dB" if bf16 else "") + "); "
                      + ("tracing in float32 instead" if bf16 else f"keeping the eager {what}"))
        return None
    return traced


def trace_generator(G: nn.Module, text_encoder: nn.Module, vocab_size: int, max_words: int,
                    channels_last: bool = True, freeze: bool = True, atol: float = 1e-4,
                    bf16: bool = False) -> TracedGenerator | None:
    """A TracedGenerator of G (in eval mode), or None (with a warning) when tracing fails or the trace does not
    reproduce G within `atol` (bf16: traced under bf16 autocast, within BF16_ATOL) at another batch size and other
    caption lengths. text_encoder: makes the example word features (the pipeline's DAMSM text encoder)."""
    device = next(G.parameters()).device
    twin = copy.deepcopy(G).eval()
    if channels_last:
        twin = twin.to(memory_format=torch.channels_last)
    ex = [_example_inputs(G, text_encoder, vocab_size, max_words, n, seed, device)[:4]
          for n, seed in ((4, 0), (3, 1))]
    with torch.no_grad():
        layout = _AllOutputs.layout_of(G(*ex[0]))
        ref = _AllOutputs(G, layout)(*ex[1])
    traced = _checked_trace(_AllOutputs(twin, layout), tuple(ex[0]), tuple(ex[1]), ref, freeze,
                            max(atol, BF16_ATOL) if bf16 else atol, "bf16 generator" if bf16 else "generator", bf16)
    return None if traced is None else TracedGenerator(G, traced, layout)


class TracedImageModule(nn.Module):
    """A drop-in for a network of image batches (the 4x upsampler, the DAMSM image encoder): images of the traced
    side run a traced, frozen, channels-last copy (same outputs within float tolerance), any other side the eager
    original; the parameters (and so the device) stay the original's."""

    def __init__(self, original: nn.Module, frozen: torch.jit.ScriptModule, side: int):
        super().__init__()
        self.original, self.frozen, self.side = original, frozen, side

    def forward(self, x: Tensor):
        if tuple(x.shape[-2:]) != (self.side, self.side):
            return self.original(x)
        return self.frozen(x.contiguous(memory_format=torch.channels_last))


def trace_image_module(module: nn.Module, side: int, atol: float = 1e-4, what: str = "network") -> nn.Module:
    """`module` (taking [N, 3, side, side]) traced + frozen in channels_last, checked against the eager one at another
    batch size: a TracedImageModule, or the module itself when the check fails. The 4x upsampler runs about 1.45x
    faster on one CPU thread this way (133 -> 91 ms for four 64 px images)."""
    if isinstance(module, TracedImageModule):
        return module
    device = next(module.parameters()).device
    g = torch.Generator().manual_seed(0)
    ex, check = ((torch.rand(n, 3, side, side, generator=g) * 2 - 1).to(device) for n in (4, 3))
    twin = copy.deepcopy(module).eval().to(memory_format=torch.channels_last)
    with torch.no_grad():
        ref = module.eval()(check)
    traced = _checked_trace(twin, (ex.contiguous(memory_format=torch.channels_last),),
                            (check.contiguous(memory_format=torch.channels_last),), ref, True, atol, what)
    return module if traced is None else TracedImageModule(module, traced, side)


def optimize_for_inference(pipe, channels_last: bool = True, freeze: bool = True, atol: float = 1e-4,
                           bf16: bool | None = None):
    """Swap pipe.generator for a traced, frozen, channels_last copy (same outputs within float tolerance; with bf16,
    within BF16_ATOL). bf16=None: where the device has native bf16 (t2i.runtime.bf16_autocast_ok).

    Returns the pipeline (changed in place), with `pipe.optimized` True when the fast path is in use and
    `pipe.optimized_bf16` when it runs in bf16; a generator that fails the self-check (see trace_generator) falls
    back to the fp32 trace, then to eager."""
    from t2i.runtime import bf16_autocast_ok

    G = pipe.generator
    if isinstance(G, TracedGenerator):
        return pipe
    if bf16 is None:
        bf16 = bf16_autocast_ok(next(G.parameters()).device)
    fast = trace_generator(G, pipe.text_encoder, len(pipe.vocab), pipe.max_words, channels_last, freeze, atol,
                           bf16=True) if bf16 else None
    pipe.optimized_bf16 = fast is not None
    if fast is None:
        fast = trace_generator(G, pipe.text_encoder, len(pipe.vocab), pipe.max_words, channels_last, freeze, atol)
    if fast is not None:
        pipe.generator = fast
    pipe.optimized = fast is not None
    try:  # best-of-k's scorer: the DAMSM image encoder reads every candidate (a fifth of a best-of-4 request)
        damsm, _ = pipe.damsm()
    except CheckpointError:
        return pipe  # no DAMSM here: best-of-k says so when asked for
    damsm.image_encoder = trace_image_module(damsm.image_encoder, pipe.native_size, atol, "DAMSM image encoder")
    return pipe
