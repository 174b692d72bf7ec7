"""Command line: python -m t2i data | train | eval | generate | edit | bench  (each has --help)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _add_data(sub):
    p = sub.add_parser("data", help="make datasets")
    dsub = p.add_subparsers(dest="what", required=True)
    s = dsub.add_parser("synthbirds", help="render SynthBirds in the CUB/AttnGAN layout")
    s.add_argument("--out", required=True, help="output folder (the dataset root)")
    s.add_argument("--size", type=int, default=64, help="image side in pixels (64, 128, 256)")
    s.add_argument("--n", type=int, default=11788, help="number of images (CUB has 11,788)")
    s.add_argument("--seed", type=int, default=0, help="random seed; same seed, same dataset")
    s.add_argument("--workers", type=int, default=2, help="rendering processes")
    s.add_argument("--grid", default=None, help="also write a contact sheet PNG here")


def _add_train(sub):
    p = sub.add_parser("train", help="train a model (resumes from OUT when a run is there)")
    tsub = p.add_subparsers(dest="what", required=True)
    for name, helptext, steps, bs, lr in (("damsm", "DAMSM text + image encoders", 3000, 48, 0.002),
                                          ("attr-classifier", "SynthBirds attribute classifier", 3000, 64, 1e-3)):
        s = tsub.add_parser(name, help=helptext)
        s.add_argument("--data", required=True, help="dataset root (AttnGAN layout)")
        s.add_argument("--out", required=True, help="model folder to write (and resume from)")
        s.add_argument("--size", type=int, default=64, help="image side")
        s.add_argument("--steps", type=int, default=steps, help="optimiser steps")
        s.add_argument("--batch-size", type=int, default=bs)
        s.add_argument("--lr", type=float, default=lr)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
        s.add_argument("--eval-every", type=int, default=500)
        s.add_argument("--limit", type=int, default=None, help="use only the first N images of each split")
    _add_train_gan(tsub)


def _add_train_gan(tsub):
    s = tsub.add_parser("gan", help="train a generator family with the shared trainer (torchrun for many GPUs)",
                        description="Example: python -m t2i train gan --config train/dfgan_synthbirds64.toml\n"
                                    "Many GPUs: torchrun --nproc_per_node 4 -m t2i train gan --config ...",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--config", default=None, help="TOML run config with [train] and [model] tables")
    s.add_argument("--model", default=None, help="family name (overrides [train] model)")
    s.add_argument("--out", default=None, help="run folder (resumes when a run is there)")
    s.add_argument("--data", default=None, help="dataset root")
    s.add_argument("--steps", type=int, default=None, help="total generator steps")
    s.add_argument("--batch-size", type=int, default=None, help="per process")
    s.add_argument("--device", default=None, help="cpu, cuda, ...")
    s.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="override any config value, e.g. --set model.nf=16 --set train.save_every=100")


def parse_overrides(items: list[str]) -> dict:
    """['model.nf=16', 'train.amp=false'] -> {'model.nf': 16, 'train.amp': False} (values parsed as TOML)."""
    import tomllib

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--set {item!r}: expected TABLE.KEY=VALUE")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value  # a bare string
    return out


def _add_eval(sub):
    p = sub.add_parser("eval", help="evaluate encoders, classifiers and generators; print a table, write JSON")
    p.add_argument("model", nargs="?", help="model folder or Hub id")
    p.add_argument("--data", default=None, help="dataset root (default: the one recorded in the model)")
    p.add_argument("--json", default=None, help="write the metrics here (default: <model>/eval.json)")
    p.add_argument("--fid-check", action="store_true",
                   help="FID sanity check on real data: train vs test and test vs degraded copies")
    p.add_argument("--limit", type=int, default=None, help="evaluate on the first N test images")
    p.add_argument("--device", default=None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m t2i", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add_data(sub)
    _add_train(sub)
    _add_eval(sub)
    return p


def print_table(rows: dict[str, object], title: str = "") -> None:
    """A two-column metrics table on stdout."""
    if title:
        print(title)
    width = max((len(k) for k in rows), default=0)
    for k, v in rows.items():
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")


def cmd_data(a) -> int:
    from t2i.data.synthbirds import contact_sheet, write_synthbirds

    root = write_synthbirds(a.out, size=a.size, n=a.n, seed=a.seed, workers=a.workers)
    print(f"SynthBirds written to {root}")
    if a.grid:
        contact_sheet(root, a.grid)
        print(f"contact sheet: {a.grid}")
    return 0


def cmd_train(a) -> int:
    if a.what == "gan":
        from t2i.training.gan import Trainer, load_run_config

        over = parse_overrides(a.set)
        for flag, key in (("model", "train.model"), ("out", "train.out"), ("data", "train.data"),
                          ("steps", "train.steps"), ("batch_size", "train.batch_size"), ("device", "train.device")):
            if getattr(a, flag) is not None:
                over[key] = getattr(a, flag)
        model_over = {k: v for k, v in over.items() if k.startswith("model.")}
        tc, model_cfg = load_run_config(a.config, {k: v for k, v in over.items() if k.startswith("train.")})
        model_cfg.update({k.split(".", 1)[1]: v for k, v in model_over.items()})
        logs = Trainer(tc, model_cfg).train()
        print_table(logs, f"{tc.model}: {tc.steps} steps -> {tc.out}")
        return 0
    common = dict(img_size=a.size, steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                  device=a.device, eval_every=a.eval_every, limit=a.limit)
    if a.what == "damsm":
        from t2i.training.damsm import train_damsm

        metrics = train_damsm(a.data, a.out, **common)
    else:
        from t2i.eval.attributes import train_attr_classifier

        metrics = train_attr_classifier(a.data, a.out, **common)
    print_table(metrics, f"{a.what} -> {a.out}")
    return 0


def cmd_eval(a) -> int:
    from t2i.eval.run import evaluate

    metrics = evaluate(a.model, data=a.data, fid_check=a.fid_check, limit=a.limit, device=a.device)
    print_table(metrics, f"evaluation of {a.model or a.data}")
    out = Path(a.json) if a.json else (Path(a.model) / "eval.json" if a.model and Path(a.model).is_dir()
                                       else Path("results") / "eval.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2))
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"data": cmd_data, "train": cmd_train, "eval": cmd_eval}[args.command]
    try:
        return handler(args)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
