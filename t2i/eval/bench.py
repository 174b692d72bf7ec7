"""`python -m t2i bench`: how fast the shipped models are on this machine.

    python -m t2i bench --tag before                  # generation, editing and training speed of every model
    python -m t2i bench --tag after --optimize        # the same through t2i.export.optimize_for_inference
    python -m t2i bench --models swfgan-synthbirds-64 --repeats 5 --threads 1 --skip-train

Per text-to-image model folder: images/s through the pipeline at batch 1 and 16 (pipe(caption, seed, n=B), text
features cached, so this is the generator + turning tensors into PIL images and masks), images/s of the bare
generator forward at batch 16 (rates from the median call), and the latency of a 4-image request (p50 / p95 over `repeats` calls with distinct
seeds). Per CI-GAN folder (when t2i.edit.EditPipeline exists): seconds per text-guided edit. Per registered family:
training images/s of the shared trainer at the family's 64 px run config (train/<family>_synthbirds64.toml when
present), the first (warm-up) step excluded. The torch thread count is recorded with every number.

Results go to results/bench.json under a tag (merged per model, so before / after sit side by side) and to a
Markdown table in results/bench.md and README.md between <!-- bench:start --> and <!-- bench:end -->.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from t2i import checkpoint as ckpt

BENCH_FILE = "bench.json"
TABLE_FILE = "bench.md"
MARKERS = ("<!-- bench:start -->", "<!-- bench:end -->")
SCHEMA = 1
CAPTION = "this small bird has a red belly, black wings and a short orange beak"
EDIT_TEXT = "this bird has a blue belly"
TAG_ORDER = ("before", "after")
NETG_VARIANTS = ("ours eager, low-res form off", "ours eager", "ours optimized")


def _baseline_tag(tag: str) -> str:
    """The tag a row is compared with: 'before' for 'after', 'before-X' for 'after-X' (the same machine, X)."""
    return "before" + tag[len("after"):] if tag.startswith("after") else "before"


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def machine_info() -> dict:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"torch": torch.__version__, "python": platform.python_version(), "cpu": platform.processor() or
            platform.machine(), "cpus": cpus, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(), "cuda": torch.cuda.is_available()}


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _times(fn, repeats: int, device="cpu", warmup: int = 1) -> list[float]:
    for i in range(warmup):
        fn(-1 - i)
    out = []
    for i in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn(i)
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def _usable_caption(pipe) -> str:
    from t2i.pipeline import CaptionError

    try:
        pipe.encode([CAPTION])
        return CAPTION
    except CaptionError:  # a model with a tiny vocabulary: some words it knows
        return " ".join(pipe.vocab.itos[1:8])


# --- generation -----------------------------------------------------------------------------------------------------
@torch.inference_mode()
def bench_generator(folder, repeats: int = 10, batches=(1, 16), latency_n: int = 4, optimize: bool = False,
                    device: str = "cpu") -> dict:
    """Images/s (pipeline at each batch, bare forward at the largest) and 4-image request latency of one folder."""
    from t2i.pipeline import TextToImagePipeline

    t0 = time.perf_counter()
    pipe = TextToImagePipeline.from_pretrained(folder, device=device)
    load_s = time.perf_counter() - t0
    G0 = pipe.generator
    res = {"model_type": pipe.family, "resolution": pipe.record.get("resolution"),
           "params_G": sum(p.numel() for p in G0.parameters()), "load_s": round(load_s, 3), "optimized": False}
    if optimize:
        from t2i.export import optimize_for_inference

        t0 = time.perf_counter()
        optimize_for_inference(pipe)
        res["optimized"] = bool(getattr(pipe, "optimized", False))
        res["bf16"] = bool(getattr(pipe, "optimized_bf16", False))
        res["optimize_s"] = round(time.perf_counter() - t0, 3)
    cap = _usable_caption(pipe)
    for b in batches:  # rates from the median call: robust to a busy machine's spikes
        ts = _times(lambda i: pipe(cap, seed=1000 + i, n=b), repeats, device)
        res[f"images_per_s_b{b}"] = b / float(np.median(ts))
    b = max(batches)
    words, sent, mask, _, _ = pipe.encode([cap] * b)
    z = pipe.generator.sample_z(b, generator=torch.Generator().manual_seed(0)).to(pipe.device)
    ts = _times(lambda i: pipe.generator(z, sent, words, mask), repeats, device)
    res[f"forward_images_per_s_b{b}"] = b / float(np.median(ts))
    ts = _times(lambda i: pipe(cap, seed=2000 + i, n=latency_n), repeats, device)
    res[f"latency{latency_n}_p50_ms"] = float(np.percentile(ts, 50) * 1000)
    res[f"latency{latency_n}_p95_ms"] = float(np.percentile(ts, 95) * 1000)
    res.update(repeats=repeats, threads=torch.get_num_threads(), device=str(device), measured=_now())
    return res


# --- editing --------------------------------------------------------------------------------------------------------
def _bird_image(size: int):
    from t2i.data.synthbirds import make_species, render_bird

    attrs = make_species(0)[0][1]
    return render_bird(attrs, np.random.default_rng(0), size=size)[0]


def bench_edit(folder, repeats: int = 3, steps: int | None = None, device: str = "cpu") -> dict:
    """Seconds per EditPipeline.edit(image, text, steps) call (p50 over repeats, one warm-up call first)."""
    from t2i.edit import EditPipeline

    pipe = EditPipeline.from_pretrained(folder, device=device)
    size = getattr(pipe, "img_size", None) or ckpt.read_config(folder).get("resolution") or 64
    img = _bird_image(size)
    kw = {} if steps is None else {"steps": steps}
    ts = _times(lambda i: pipe.edit(img, EDIT_TEXT, **kw), repeats, device)
    return {"model_type": "cigan", "steps": steps, "edit_s_p50": float(np.percentile(ts, 50)),
            "edit_s_min": float(min(ts)), "repeats": repeats, "threads": torch.get_num_threads(),
            "device": str(device), "measured": _now()}


# --- training -------------------------------------------------------------------------------------------------------
def run_config_for(family: str, train_dir: str | Path = ckpt.REPO_ROOT / "train") -> Path | None:
    """train/<family>_synthbirds64.toml, else a first-stage config (<family>_stylegan_synthbirds64.toml)."""
    for name in (f"{family}_synthbirds64.toml", f"{family}_stylegan_synthbirds64.toml"):
        if (Path(train_dir) / name).is_file():
            return Path(train_dir) / name
    return None


def _small_synthbirds(tmp: Path, n: int) -> Path:
    from t2i.data.synthbirds import write_synthbirds

    root = tmp / "synthbirds"
    write_synthbirds(root, size=64, n=n, seed=0, workers=1, progress=False)
    return root


def _random_damsm(tmp: Path, data_root: Path, text_dim: int) -> Path:
    """An untrained DAMSM at the default size (text_dim to match the model) over the data's vocabulary: the same
    compute as a trained one, for timing."""
    import dataclasses

    from t2i.data.captions import CaptionDataset
    from t2i.text.damsm import DAMSM, DAMSMConfig

    vocab = CaptionDataset(data_root, "train", 64).vocab
    cfg = DAMSMConfig(vocab_size=len(vocab), img_size=64, text_dim=text_dim)
    folder = tmp / f"damsm-{text_dim}"
    if not (folder / ckpt.CONFIG).is_file():
        ckpt.save_model_folder(folder, "damsm", dataclasses.asdict(cfg), {"damsm": DAMSM(cfg)}, vocab=vocab)
    return folder


def bench_train(family: str, steps: int = 4, batch_size: int | None = None, data: str | Path | None = None,
                damsm: str | Path | None = None, overrides: dict | None = None, device: str | None = None,
                workdir: str | Path | None = None, profile: bool = False) -> dict:
    """Training images/s of the shared Trainer for `steps` steps (the first one, warm-up, excluded).

    Config: the family's 64 px run config (run_config_for) + batch_size + overrides ({"model.nf": 8, ...}).
    data: a dataset root (default: data/synthbirds-64 when rendered, else a small SynthBirds set made here);
    damsm: a DAMSM folder (default: the run config's when it exists, else an untrained one of the default size)."""
    from t2i.eval.run import DEFAULT_DATA
    from t2i.models.registry import get_family
    from t2i.training.gan import Trainer, load_run_config

    if steps < 2:
        raise ValueError("bench_train needs steps >= 2 (the first step is warm-up)")
    cfg_file = run_config_for(family)
    over = {"train.model": family, **({"train.batch_size": batch_size} if batch_size else {}), **(overrides or {})}
    tc, model_cfg = load_run_config(str(cfg_file) if cfg_file else None,
                                    {k: v for k, v in over.items() if k.startswith("train.")})
    model_cfg.update({k.split(".", 1)[1]: v for k, v in over.items() if k.startswith("model.")})
    cfg = get_family(family).config_from_dict(model_cfg)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        if data is None:
            data = DEFAULT_DATA if (DEFAULT_DATA / "test" / "filenames.pickle").is_file() else \
                _small_synthbirds(tmp, max(96, 2 * tc.batch_size))
        if damsm is None:
            damsm = tc.damsm if (Path(tc.damsm) / ckpt.CONFIG).is_file() else \
                _random_damsm(tmp, Path(data), getattr(cfg, "text_dim", 256))
        tc.data, tc.damsm, tc.out, tc.steps = str(data), str(damsm), str(tmp / "run"), steps
        tc.log_every, tc.sample_every, tc.save_every, tc.workers = 1, 10 ** 9, 10 ** 9, 0
        tc.init = ""  # speed from a fresh start, never a committed warm-start snapshot
        if device:
            tc.device = device
        trainer = Trainer(tc, model_cfg)
        prof = _step_profiler(trainer, steps) if profile else None
        t0 = time.perf_counter()
        trainer.train()
        total = time.perf_counter() - t0
        if prof is not None:
            prof.stop()
        log = [json.loads(ln) for ln in (tmp / "run" / "log.jsonl").read_text().splitlines() if ln.strip()]
    # the log's imgs_per_s at step k is k * batch / (run time of steps 1..k): recover the run time of steps 2..N
    bs = tc.batch_size * trainer.world
    first, last = log[0], log[-1]
    t_first = first["step"] * bs / first["imgs_per_s"]
    t_last = last["step"] * bs / last["imgs_per_s"]
    timed = (last["step"] - first["step"]) * bs
    return {"config": str(cfg_file.relative_to(ckpt.REPO_ROOT)) if cfg_file else "defaults",
            "batch_size": tc.batch_size, "img_size": getattr(cfg, "img_size", None), "nf": getattr(cfg, "nf", None),
            "stage": getattr(cfg, "stage", None), "steps_timed": last["step"] - first["step"],
            "train_images_per_s": timed / max(t_last - t_first, 1e-9), "first_step_s": round(t_first, 3),
            "total_s": round(total, 2), "threads": torch.get_num_threads(), "device": str(trainer.device),
            "s_per_kimg": round(1000 * max(t_last - t_first, 1e-9) / timed, 1), "measured": _now(),
            **({"profile_ms_per_step": _regions(prof, steps - 1)} if prof is not None else {})}


# the trainer's and the losses' torch.profiler regions (record_function labels), outermost first
TOP_REGIONS = ("data", "text encoder", "D step: losses", "D step: backward", "G step: losses", "G step: backward",
               "optimisers + EMA")
INNER_REGIONS = ("G forward", "MA-GP (double backward)", "R1 (double backward)", "DAMSM loss", "perceptual loss")


def _step_profiler(trainer, steps: int):
    """torch.profiler over the trainer's steps 2..N (step 1 warms up), driven by the trainer's step hook."""
    from torch.profiler import ProfilerActivity, profile, schedule

    def ready(p):
        p.region_totals = {e.key: e.cpu_time_total for e in p.key_averages() if e.key in TOP_REGIONS + INNER_REGIONS}

    prof = profile(activities=[ProfilerActivity.CPU], schedule=schedule(wait=0, warmup=1, active=steps - 1),
                   on_trace_ready=ready)
    trainer.step_hooks.append(lambda step: prof.step())
    prof.start()
    return prof


def _regions(prof, steps: int) -> dict:
    """Milliseconds per step in each labelled region (inner regions are part of an outer one)."""
    totals = getattr(prof, "region_totals", {})
    return {k: round(totals[k] / 1000 / steps, 1) for k in TOP_REGIONS + INNER_REGIONS if k in totals}


# --- results --------------------------------------------------------------------------------------------------------
def load_bench(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        data = {}
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else {"schema": SCHEMA, "runs": {}}


def _tags(runs: dict) -> list[str]:
    rest = sorted((t for t in runs if t not in TAG_ORDER),  # before-X next to after-X
                  key=lambda t: (t.replace("before", "").replace("after", ""), not t.startswith("before"), t))
    return [t for t in TAG_ORDER if t in runs] + rest


def _f(v, fmt="{:.1f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else "–"


def _speedup(new, old) -> str:
    return f"×{new / old:.2f}" if isinstance(new, (int, float)) and isinstance(old, (int, float)) and old > 0 else "–"


def _netg_table(runs: dict, tags: list[str]) -> list[str]:
    """The side-by-side generation table (t2i.eval.netg_reference.side_by_side) of each tag that has one."""
    rows, bf16_rows = [], []
    for t in tags:
        for size, r in sorted(runs[t].get("netg", {}).items(), key=lambda kv: int(kv[0].rstrip("px"))):
            for b, d in sorted(r["batches"].items(), key=lambda kv: int(kv[0])):
                ms, x, share = d["ms"], d["x_plain"], d["share_of_peak"]
                rows.append(f"| {t} | {size} | {b} | {r['threads']} | {_f(ms['plain eager'])} | "
                            + " | ".join(f"{_f(ms[k])} (×{x[k]:.2f})" for k in NETG_VARIANTS)
                            + f" | {share['plain eager']:.0%} / {share['ours optimized']:.0%} | "
                            f"{max(d['max_abs_diff'].values()):.1e} |")
                if "ours optimized bf16" in ms:
                    q = d["bf16"]
                    bf16_rows.append(
                        f"| {t} | {size} | {b} | {r['threads']} | {_f(ms['plain eager'])} | {_f(ms['ours eager'])} | "
                        f"{_f(ms['ours eager bf16'])} (×{ms['ours eager'] / ms['ours eager bf16']:.2f}) | "
                        f"{_f(ms['ours optimized bf16'])} (×{x['ours optimized bf16']:.2f}) | "
                        f"{share['ours optimized']:.0%} / {q['share_of_bf16_peak']:.0%} | "
                        f"{q['max_abs']:.3f} / {q['mean_abs']:.4f} | {q['psnr_db']:.1f} |")
    if bf16_rows:
        bf16_rows = ["", "**bf16 inference** (CPUs with native bf16: the generator under bf16 autocast, eager and "
                     "traced as `optimize_for_inference` does, timed in the same loop; ×: over eager fp32, and "
                     "over the plain one for the optimized; peak shares: fp32 optimized of the fp32 matmul peak / "
                     "bf16 optimized of the bf16 peak; the bf16 trace's images against the fp32 ones, in [-1, 1])", "",
                     "| Tag | Size | Batch | Threads | plain eager ms | ours eager fp32 ms | ours eager bf16 ms | "
                     "ours optimized bf16 ms (×plain) | peak share fp32 / bf16 | max / mean abs diff | PSNR (dB) |",
                     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *bf16_rows]
    if not rows:
        return []
    return ["**Generation side by side** (DF-GAN at ngf 32 against a plain eager NetG of the same weights, one "
            "process, calls interleaved; ms per call and ×speed over the plain one; share of the measured fp32 "
            "matmul peak counts the plain network's FLOPs)", "",
            "| Tag | Size | Batch | Threads | plain eager ms | " + " | ".join(NETG_VARIANTS)
            + " | peak share plain / optimized | max abs diff |",
            "|---|---|---:|---:|---:|" + "---:|" * (len(NETG_VARIANTS) + 2),
            *rows, *bf16_rows, ""]


def bench_table(bench: dict) -> str:
    """Markdown tables (generation, editing, training) of a bench.json dict, one row per (model, tag)."""
    runs = bench.get("runs", {})
    tags = _tags(runs)
    out = []
    names = sorted({n for t in tags for n in runs[t].get("generators", {})})
    if names:
        out += ["**Generation** (text features cached; images/s through the pipeline, and of the bare generator "
                "forward)", "",
                "| Model | Tag | Threads | img/s b1 | img/s b16 | forward img/s b16 | 4-image request p50 / p95 (ms) "
                "| vs before, same machine (b1 / b16 / p50) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for n in names:
            for t in tags:
                r = runs[t].get("generators", {}).get(n)
                if r is None:
                    continue
                tag = t + (" (optimized, bf16)" if r.get("bf16") else " (optimized)" if r.get("optimized") else "")
                vs = "–"
                before = runs.get(_baseline_tag(t), {}).get("generators", {}).get(n)
                if before is not None and not t.startswith("before"):
                    vs = " / ".join([_speedup(r.get("images_per_s_b1"), before.get("images_per_s_b1")),
                                     _speedup(r.get("images_per_s_b16"), before.get("images_per_s_b16")),
                                     _speedup(before.get("latency4_p50_ms"), r.get("latency4_p50_ms"))])
                out.append(f"| `{n}` | {tag} | {r.get('threads', '?')} | {_f(r.get('images_per_s_b1'))} | "
                           f"{_f(r.get('images_per_s_b16'))} | {_f(r.get('forward_images_per_s_b16'))} | "
                           f"{_f(r.get('latency4_p50_ms'), '{:.0f}')} / {_f(r.get('latency4_p95_ms'), '{:.0f}')} | {vs} |")
        out.append("")
    names = sorted({n for t in tags for n in runs[t].get("edit", {})})
    if names:
        out += ["**Editing** (CI-GAN: one rendered SynthBirds bird, one text, through EditPipeline.edit)", "",
                "| Model | Tag | Threads | Steps | s per edit (p50) |", "|---|---|---:|---:|---:|"]
        for n in names:
            for t in tags:
                r = runs[t].get("edit", {}).get(n)
                if r is not None:
                    out.append(f"| `{n}` | {t} | {r.get('threads', '?')} | {r.get('steps') or 'default'} | "
                               f"{_f(r.get('edit_s_p50'), '{:.2f}')} |")
        out.append("")
    fams = sorted({n for t in tags for n in runs[t].get("train", {})})
    if fams:
        out += ["**Training** (the shared trainer, D + G step, first step excluded)", "",
                "| Family | Tag | Threads | Config | Batch | img/s | s/kimg |", "|---|---|---:|---|---:|---:|---:|"]
        for n in fams:
            for t in tags:
                r = runs[t].get("train", {}).get(n)
                if r is not None:
                    ips = r.get("train_images_per_s")
                    kimg = r.get("s_per_kimg", 1000 / ips if ips else None)  # StyleGAN's seconds per 1,000 images
                    out.append(f"| {n} | {t} | {r.get('threads', '?')} | {r.get('config', '?')} | "
                               f"{r.get('batch_size', '?')} | {_f(ips, '{:.2f}')} | {_f(kimg, '{:.0f}')} |")
        out.append("")
    out += _netg_table(runs, tags)
    notes = []
    for t in tags:
        m = runs[t].get("machine", {})
        notes.append(f"`{t}`: {runs[t].get('updated', '?')[:16]}, torch {m.get('torch', '?')}, {m.get('cpus', '?')} "
                     f"CPUs, {m.get('threads', '?')} threads")
    skipped = {f"{k}": v for t in tags for k, v in runs[t].get("skipped", {}).items()}
    if skipped:
        notes.append("skipped: " + "; ".join(f"{k} ({v})" for k, v in sorted(skipped.items())))
    if not out:
        out = ["_No benchmark yet: run `python -m t2i bench`._", ""]
    return "\n".join(out) + "\n" + ("Measured with `python -m t2i bench` — " + "; ".join(notes) + ".\n" if notes else "")


def run_bench(models: list[str] | None = None, checkpoints: str | Path | None = None, repeats: int = 10,
              threads: int | None = None, skip_train: bool = False, tag: str = "current", optimize: bool = False,
              families: list[str] | None = None, train_steps: int = 4, train_batch: int | None = None,
              train_overrides: dict | None = None, edit_steps: int | None = 20, data: str | None = None,
              device: str | None = None, results_dir: str | Path | None = None,
              readme: str | Path | None = None, netg_sizes: tuple[int, ...] = (), log=print) -> dict:
    """Benchmark and merge the numbers into results_dir/bench.json under `tag`; write bench.md and the README
    table (readme=None: leave it alone). Returns the bench.json dict."""
    from t2i.eval.report import RESULTS_DIR, update_readme_table
    from t2i.models.registry import get_family, list_families
    from t2i.pipeline import list_models
    from t2i.training.common import pick_device

    if threads:
        torch.set_num_threads(int(threads))
    dev = str(pick_device(device))
    out_dir = Path(results_dir) if results_dir else RESULTS_DIR
    bench = load_bench(out_dir / BENCH_FILE)
    run = bench["runs"].setdefault(tag, {})
    run.update(updated=_now(), machine=machine_info())
    for k in ("generators", "edit", "train", "skipped", "netg"):
        run.setdefault(k, {})
    for size in netg_sizes:  # before the model loads, on a machine the other benchmarks have not warmed up
        from t2i.eval.netg_reference import side_by_side

        log(f"generation side by side, {size} px ...")
        run["netg"][f"{size}px"] = r = side_by_side(size, batches=(1, 4, 16),
                                                    repeats=repeats if size <= 64 else max(2, repeats // 4))
        log("  " + ", ".join(f"b{b}: ×{d['x_plain']['ours optimized']:.2f} optimized, ×{d['x_plain']['ours eager']:.2f}"
                             " eager" for b, d in r["batches"].items()))
    if netg_sizes and not models:  # the side-by-side timing alone
        records, skip_train = [], True
    elif models:
        records = []
        for m in models:
            rec = ckpt.read_config(m)
            records.append({"name": Path(str(m)).name, "path": str(ckpt.resolve(m)), **rec})
    else:
        root = Path(checkpoints) if checkpoints else ckpt.SHIPPED
        records = list_models(root)
    for rec in records:
        name, mt = rec["name"], rec["model_type"]
        try:
            fam = get_family(mt)
        except KeyError:
            continue  # DAMSM, attribute classifier: not generators
        run["skipped"].pop(name, None)
        try:
            if fam.text_conditional and "text_encoder" in rec.get("components", []):
                log(f"generation: {name} ...")
                run["generators"][name] = r = bench_generator(rec["path"], repeats, optimize=optimize, device=dev)
                log(f"  {r['images_per_s_b1']:.1f} img/s (b1), {r['images_per_s_b16']:.1f} img/s (b16), "
                    f"4 images p50 {r['latency4_p50_ms']:.0f} ms")
            elif mt == "cigan":
                try:
                    import t2i.edit  # noqa: F401
                except ImportError:
                    run["skipped"][name] = "no t2i.edit.EditPipeline"
                    continue
                if (rec.get("config") or {}).get("stage") not in (None, "aligner"):
                    run["skipped"][name] = f"CI-GAN {rec['config'].get('stage')} stage: edits need the aligner"
                    continue
                log(f"editing: {name} ...")
                run["edit"][name] = r = bench_edit(rec["path"], max(1, min(repeats, 3)), edit_steps, dev)
                log(f"  {r['edit_s_p50']:.2f} s per edit")
        except Exception as e:  # noqa: BLE001 - one broken model must not stop the others
            run["skipped"][name] = f"{type(e).__name__}: {e}"
            log(f"  {name} FAILED: {type(e).__name__}: {e}")
    if not skip_train:
        for family in families or list_families():
            log(f"training: {family} ...")
            run["skipped"].pop(f"train/{family}", None)
            try:
                run["train"][family] = r = bench_train(family, train_steps, train_batch, data, None,
                                                       train_overrides, dev)
                log(f"  {r['train_images_per_s']:.2f} img/s (batch {r['batch_size']})")
            except Exception as e:  # noqa: BLE001
                run["skipped"][f"train/{family}"] = f"{type(e).__name__}: {str(e)[:200]}"
                log(f"  {family} FAILED: {type(e).__name__}: {e}")
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt._atomic_write(out_dir / BENCH_FILE, lambda p: Path(p).write_text(json.dumps(bench, indent=2) + "\n"))
    table = bench_table(bench)
    (out_dir / TABLE_FILE).write_text(table)
    log(f"wrote {out_dir / BENCH_FILE} and {out_dir / TABLE_FILE}")
    if readme is not None and update_readme_table(readme, table, MARKERS):
        log(f"updated the speed table in {readme}")
    return bench
