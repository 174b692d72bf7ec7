"""A plain eager DF-GAN generator, written the straightforward way the DF-GAN paper describes its NetG, for the
speed bench only (issue 22): the yardstick the project's own generator is timed against, at equal config.

    z [N, nz] -> Linear -> [N, 8 ngf, 4, 4] -> blocks: nearest x2 -> (shortcut 1x1 conv when the width changes)
    + [affine -> LReLU -> affine -> LReLU -> conv3x3 -> affine -> LReLU -> affine -> LReLU -> conv3x3] * 1
    -> LReLU -> conv3x3 -> tanh;  affine(h, c) = MLP_gamma(c) * h + MLP_beta(c), c = [z; sentence]

No shared code with t2i.nn on purpose (so a change there cannot slow the yardstick down with it); the weights
can be copied from the project's DF-GAN generator (`from_project`), which makes the two compute the same images.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _Affine(nn.Module):
    def __init__(self, cond_dim: int, ch: int):
        super().__init__()
        self.gamma = nn.Sequential(nn.Linear(cond_dim, ch), nn.ReLU(), nn.Linear(ch, ch))
        self.beta = nn.Sequential(nn.Linear(cond_dim, ch), nn.ReLU(), nn.Linear(ch, ch))

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return self.gamma(c).unsqueeze(-1).unsqueeze(-1) * h + self.beta(c).unsqueeze(-1).unsqueeze(-1)


class _Block(nn.Module):
    def __init__(self, cond_dim: int, cin: int, cout: int):
        super().__init__()
        self.a = nn.ModuleList([_Affine(cond_dim, cin), _Affine(cond_dim, cin)])
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.b = nn.ModuleList([_Affine(cond_dim, cout), _Affine(cond_dim, cout)])
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2)
        r = x
        for aff in self.a:
            r = F.leaky_relu(aff(r, c), 0.2)
        r = self.conv1(r)
        for aff in self.b:
            r = F.leaky_relu(aff(r, c), 0.2)
        r = self.conv2(r)
        return (self.shortcut(x) if self.shortcut is not None else x) + r


class PlainNetG(nn.Module):
    """forward(z, sent) -> image [N, 3, S, S] in [-1, 1]."""

    def __init__(self, ngf: int = 32, nz: int = 100, text_dim: int = 256, img_size: int = 64):
        super().__init__()
        levels = (img_size // 4).bit_length()  # 4 px and each doubling up to img_size
        chans = [ngf * min(2 ** i, 8) for i in range(levels)][::-1]  # 64 px: 8, 8, 4, 2, 1 x ngf; 256: 8, 8, 8, 8, 4, 2, 1
        self.ngf, self.nz, self.chans = ngf, nz, chans
        self.fc = nn.Linear(nz, chans[0] * 16)
        self.blocks = nn.ModuleList([_Block(nz + text_dim, a, b) for a, b in zip(chans[:-1], chans[1:])])
        self.to_rgb = nn.Conv2d(chans[-1], 3, 3, 1, 1)

    def forward(self, z: Tensor, sent: Tensor) -> Tensor:
        c = torch.cat([z, sent], dim=1)
        h = self.fc(z).view(z.size(0), self.chans[0], 4, 4)
        for block in self.blocks:
            h = block(h, c)
        return torch.tanh(self.to_rgb(F.leaky_relu(h, 0.2)))

    @classmethod
    def from_project(cls, G) -> "PlainNetG":
        """The same network as the project's DF-GAN generator `G` (t2i.models.dfgan), its weights copied."""
        ref = cls(G.nf, G.z_dim, G.text_dim, G.img_size)
        if [b.out_ch for b in G.blocks] != ref.chans[1:]:
            raise ValueError(f"channel plan differs: project {[b.out_ch for b in G.blocks]} vs {ref.chans[1:]}")
        with torch.no_grad():
            ref.fc.load_state_dict(G.fc.state_dict())
            ref.to_rgb.load_state_dict(G.to_rgb.conv.state_dict())
            for mine, theirs in zip(ref.blocks, G.blocks):
                for dst, src in zip([*mine.a, *mine.b], [*theirs.fuse1, *theirs.fuse2]):
                    dst.gamma.load_state_dict(src.fc_gamma.state_dict())
                    dst.beta.load_state_dict(src.fc_beta.state_dict())
                mine.conv1.load_state_dict(theirs.conv1.state_dict())
                mine.conv2.load_state_dict(theirs.conv2.state_dict())
                if mine.shortcut is not None:
                    mine.shortcut.load_state_dict(theirs.shortcut.state_dict())
        return ref


# --- the side-by-side timing (python -m t2i bench --netg) -------------------------------------------------------------
class _Images(nn.Module):
    def __init__(self, G: nn.Module):
        super().__init__()
        self.G = G

    def forward(self, z: Tensor, sent: Tensor) -> Tensor:
        return self.G(z, sent).images[-1]


def matmul_peak_gflops(n: int = 1024, repeats: int = 5, dtype: torch.dtype = torch.float32) -> float:
    """This machine's measured matmul rate (GFLOP/s) at the current thread count: the best of `repeats` n x n x n."""
    import time

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def _flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def _vs_fp32(x: Tensor, ref: Tensor) -> dict:
    """Max and mean absolute difference and PSNR (dB, t2i.export.psnr: images in [-1, 1]) of x vs ref."""
    from t2i.export import psnr

    d = (x.float() - ref).abs()
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()), "psnr_db": psnr(x, ref)}


@torch.inference_mode()
def side_by_side(img_size: int = 64, ngf: int = 32, batches=(1, 4, 16), repeats: int = 10, seed: int = 0) -> dict:
    """Milliseconds per generator call, measured in one process and interleaved call by call (so a busy machine
    slows every variant alike): the plain eager NetG, the project's DF-GAN generator eager (and with its low-res
    block form off: the 'before'), and through t2i.export's traced, frozen, channels-last path; the same weights,
    so the same images. Where the CPU has native bf16, also the eager generator under bf16 autocast, with its
    difference from the fp32 images (max / mean absolute, PSNR). Ratios are plain / ours; each rate also as a share
    of the measured fp32 (and bf16) matmul peak."""
    import copy
    import time
    import warnings

    from t2i.models import get_family
    from t2i.runtime import bf16_autocast_ok

    fam = get_family("dfgan")
    torch.manual_seed(seed)
    G = fam.build_generator(fam.config_from_dict({"nf": ngf, "img_size": img_size})).eval()
    for p in G.parameters():
        p.add_(torch.randn_like(p) * 0.02)  # non-trivial MLP outputs (their last layers start at zero)
    ref = PlainNetG.from_project(G).eval()
    blocks = [b for b in G.blocks if getattr(b, "low_res", False)]
    bf16 = bf16_autocast_ok("cpu")
    peak = matmul_peak_gflops()
    peak_bf16 = matmul_peak_gflops(dtype=torch.bfloat16) if bf16 else None
    out: dict = {"img_size": img_size, "ngf": ngf, "params": sum(p.numel() for p in ref.parameters()),
                 "threads": torch.get_num_threads(), "fp32_matmul_gflops": round(peak, 1),
                 "bf16_matmul_gflops": round(peak_bf16, 1) if peak_bf16 else None, "batches": {}}
    for b in batches:
        z, s = torch.randn(b, G.z_dim), torch.randn(b, G.text_dim)

        def ours_before():
            for blk in blocks:
                blk.low_res = False
            try:
                return G(z, s).images[-1]
            finally:
                for blk in blocks:
                    blk.low_res = True

        def ours_bf16():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return G(z, s).images[-1]

        with warnings.catch_warnings():  # what t2i.export.optimize_for_inference does: channels-last, trace, freeze
            warnings.simplefilter("ignore")
            twin = _Images(copy.deepcopy(G).to(memory_format=torch.channels_last)).eval()
            fast = torch.jit.freeze(torch.jit.trace(twin, (z, s), check_trace=False))
        variants = {"plain eager": lambda: ref(z, s), "ours eager": lambda: G(z, s).images[-1],
                    "ours eager, low-res form off": ours_before, "ours optimized": lambda: fast(z, s)}
        if bf16:  # eager under autocast, and t2i.export's bf16 path: traced under autocast (it records the casts)
            variants["ours eager bf16"] = ours_bf16
            with warnings.catch_warnings(), torch.autocast("cpu", dtype=torch.bfloat16):
                warnings.simplefilter("ignore")
                fast_bf16 = torch.jit.freeze(torch.jit.trace(copy.deepcopy(twin), (z, s), check_trace=False))
            variants["ours optimized bf16"] = lambda: fast_bf16(z, s)
        want = ref(z, s)
        diffs = {k: float((f().float() - want).abs().max()) for k, f in variants.items() if "bf16" not in k}
        times = {k: [] for k in variants}
        for _ in range(repeats + 1):
            for k, f in variants.items():
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
        ms = {k: 1000 * float(sorted(v[1:])[len(v[1:]) // 2]) for k, v in times.items()}
        work = _flops(lambda: ref(z, s))
        out["batches"][str(b)] = {
            "ms": {k: round(v, 3) for k, v in ms.items()},
            "x_plain": {k: round(ms["plain eager"] / v, 3) for k, v in ms.items()},
            "share_of_peak": {k: round(work / (v / 1000) / 1e9 / peak, 4) for k, v in ms.items()},
            "max_abs_diff": diffs, "gflop": round(work / 1e9, 3)}
        if bf16:
            out["batches"][str(b)]["bf16"] = {
                **_vs_fp32(fast_bf16(z, s), G(z, s).images[-1]),
                "share_of_bf16_peak": round(work / (ms["ours optimized bf16"] / 1000) / 1e9 / peak_bf16, 4)}
    return out
