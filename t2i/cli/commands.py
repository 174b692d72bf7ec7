"""The handlers of `python -m t2i COMMAND`: cmd_<command>(args) -> exit status (t2i.cli.main picks one)."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from t2i.cli.parser import parse_overrides


def print_table(rows: dict[str, object], title: str = "") -> None:
    """A two-column metrics table on stdout."""
    if title:
        print(title)
    width = max((len(k) for k in rows), default=0)
    for k, v in rows.items():
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")


def cmd_loadtest(a) -> int:
    from t2i.eval.loadtest import loadtest

    r = loadtest(a.model, a.clients, a.calls, a.single_calls, results=a.results, screenshot_to=a.screenshot,
                 best_of=a.best_of, edit_clients=a.edit_clients)
    print(f"app start-up {r['startup_s']:.1f} s; Generate (4 images, best of {a.best_of}) with one client p50 {r['single']['p50_ms']:.0f} ms,"
          f" p95 {r['single']['p95_ms']:.0f} ms; with {a.clients} clients at once p50 {r['concurrent']['p50_ms']:.0f}"
          f" ms, p95 {r['concurrent']['p95_ms']:.0f} ms ({r['concurrent']['requests_per_s']:.2f} requests/s)")
    if "edits" in r:
        e = r["edits"]
        print(f"Edit (50 steps) alone p50 {e['single']['p50_ms']:.0f} ms; {a.edit_clients} at once p50 "
              f"{e['concurrent']['p50_ms']:.0f} ms, p95 {e['concurrent']['p95_ms']:.0f} ms")
    return 0


def cmd_generate(a) -> int:
    from t2i import load_pipeline
    from t2i.pipeline import TextToImagePipeline
    from t2i.upsampling import FACTOR, SHIPPED_UPSAMPLER, upsampler_shipped
    from t2i.viz.grids import tile

    pipe = load_pipeline(a.model, device=a.device, t2i_mode=a.t2i_mode)  # a GAN, or CI-GAN's EditPipeline
    size = a.size
    if size is None:  # the upsampled side when the upsampler is shipped, else the model's own (said once)
        shipped = upsampler_shipped()
        size = FACTOR * pipe.native_size if shipped else pipe.native_size
        if not shipped:
            print(f"note: {pipe.native_size} px images: no upsampler in checkpoints/{SHIPPED_UPSAMPLER} (train one "
                  "with `python -m t2i train upsampler`; --size 64 silences this)")
    best_of = {"rerank": a.best_of} if a.best_of != 1 else {}
    if best_of and not isinstance(pipe, TextToImagePipeline):
        print("note: --best-of applies to the text-to-image GANs; CI-GAN makes each image for the caption already")
        best_of = {}
    res = pipe(a.captions, seed=a.seed, n=a.n, truncation=a.truncation, size=size, **best_of)
    for note in res.notes:
        print(f"note: {note}")
    from t2i.data.openvocab import format_note

    for cap, unk, mapped in zip(res.captions[::a.n], res.unknown[::a.n], res.mapped[::a.n]):
        if unk or mapped:  # the open vocabulary: 'mapped: crimson → red; ignored: plump'
            print(f"note: {format_note(mapped, unk)} ({cap[:40]!r}; vocabulary of {a.model})")
    side = res.images[0].size[0]
    tile(res.images, a.n, scale=2 if side < 128 else 1).save(a.out)
    how = " (4x upsampler)" if res.originals else ""
    print(f"wrote {a.out}: {len(res.images)} images of {side} px{how} in {res.seconds:.2f} s")
    return 0


def cmd_upsampler(a) -> int:
    from t2i.eval.upsampling import SHEET_CAPTION, fid_256, record_fid, shipped_generators, upsampler_sheet

    if a.what == "sheet":
        out = upsampler_sheet(a.out, caption=a.caption or SHEET_CAPTION, seed=a.seed, upsampler=a.upsampler,
                              device=a.device, models=a.models)
        print(f"wrote {out}")
        return 0
    models = list(a.models) + (shipped_generators() if a.all else [])
    if not models:
        raise ValueError("name the generators to measure, or --all")
    for m in models:
        r = fid_256(m, data=a.data, limit=a.limit, upsampler=a.upsampler, device=a.device, seed=a.seed)
        name = Path(m).name
        print(f"  {name:<34} FID@256 upsampler {r['fid_256_upsampler']:.2f}  bicubic {r['fid_256_bicubic']:.2f}"
              f"  ({r['n_images']} images)")
        if a.json:
            record_fid(name, r, a.json)
    if a.json:
        print(f"wrote {a.json}")
    return 0


def cmd_ship(a) -> int:
    from t2i.eval.card import ship, write_card

    dest = ship(a.run, a.name, a.dest, note=a.note)
    if a.eval:
        from t2i.eval.run import evaluate

        metrics = evaluate(str(dest), limit=a.limit)
        write_card(dest, metrics)
        print_table(metrics, f"metrics of {dest}")
    print(f"shipped {a.run} -> {dest}")
    return 0


def cmd_data(a) -> int:
    from t2i.data.synthbirds import contact_sheet, write_synthbirds

    root = write_synthbirds(a.out, size=a.size, n=a.n, seed=a.seed, workers=a.workers, independent=a.independent,
                            photo=a.photo)
    print(f"SynthBirds written to {root}")
    if a.grid:
        contact_sheet(root, a.grid)
        print(f"contact sheet: {a.grid}")
    return 0


def cmd_train(a) -> int:
    if a.what == "snapshot":
        from t2i.checkpoint import save_snapshot

        dest = save_snapshot(a.run, a.out)
        size = (dest / "snapshot.safetensors").stat().st_size / 2 ** 20
        print(f"snapshot of {a.run} -> {dest} ({size:.1f} MiB)")
        return 0
    if a.what == "cigan-codes":
        from t2i.training.cigan_codes import build_code_bank

        out = build_code_bank(a.encoder, a.data, a.out, split=a.split, limit=a.limit, steps=a.steps, lr=a.lr,
                              wplus=a.wplus, batch=a.batch_size, device=a.device)
        print(f"code bank -> {out}")
        return 0
    if a.what == "upsampler":
        import torch

        from t2i.training.upsampler import train_upsampler

        if a.threads:
            torch.set_num_threads(a.threads)
        metrics = train_upsampler(a.out, steps=a.steps, data=a.data, pairs=a.pairs, test_pairs=a.test_pairs,
                                  batch_size=a.batch_size, crop=a.crop, lr=a.lr, perceptual=a.perceptual,
                                  seed=a.seed, device=a.device, eval_every=a.eval_every, save_every=a.save_every)
        print_table(metrics, f"upsampler -> {a.out}")
        return 0
    if a.what == "gan":
        from t2i.eval.generators import quick_eval
        from t2i.training.gan import Trainer, load_run_config

        over = parse_overrides(a.set)
        for flag, key in (("model", "train.model"), ("out", "train.out"), ("data", "train.data"),
                          ("steps", "train.steps"), ("batch_size", "train.batch_size"), ("device", "train.device")):
            if getattr(a, flag) is not None:
                over[key] = getattr(a, flag)
        model_over = {k: v for k, v in over.items() if k.startswith("model.")}
        tc, model_cfg = load_run_config(a.config, {k: v for k, v in over.items() if k.startswith("train.")})
        model_cfg.update({k.split(".", 1)[1]: v for k, v in model_over.items()})
        trainer = Trainer(tc, model_cfg, evaluator=quick_eval)  # the quick evals of train.eval_every
        try:
            logs = trainer.train()
        finally:
            trainer.close()
        if trainer.stopped is not None:  # exit status 128 + the signal's number, as a shell reports a killed job
            sig, step = trainer.stopped
            print(f"{tc.model}: stopped by {sig} at step {step} of {tc.steps}; the checkpoint is in {tc.out}. "
                  "Run the same command again to resume.", file=sys.stderr)
            return 128 + int(getattr(signal, sig, signal.SIGTERM)) if sig.startswith("SIG") else 143
        print_table(logs, f"{tc.model}: {tc.steps} steps -> {tc.out}")
        return 0
    common = dict(img_size=a.size, steps=a.steps, batch_size=a.batch_size, lr=a.lr, seed=a.seed,
                  device=a.device, eval_every=a.eval_every, limit=a.limit, init=a.init)
    if a.what == "damsm":
        from t2i.training.damsm import train_damsm

        metrics = train_damsm(a.data, a.out, backbone=a.backbone, pretrain_steps=a.pretrain_steps, **common)
    elif a.what == "part-judge":
        from t2i.eval.judge import train_part_judge

        metrics = train_part_judge(a.data, a.out, segmenter=a.segmenter, steps=a.steps, batch_size=a.batch_size,
                                   lr=a.lr, seed=a.seed, device=a.device or "cpu", limit=a.limit)
    elif a.what == "species-classifier":
        from t2i.eval.species import train_species_classifier

        metrics = train_species_classifier(a.data, a.out, **common)
    elif a.what == "part-segmenter":
        from t2i.partseg import train_part_segmenter

        metrics = train_part_segmenter(a.data, a.out, **common)
    else:
        from t2i.eval.attributes import train_attr_classifier

        metrics = train_attr_classifier(a.data, a.out, **common)
    print_table(metrics, f"{a.what} -> {a.out}")
    return 0


def cmd_eval(a) -> int:
    if a.all:
        from t2i.eval.report import BEST_OF, README, evaluate_all, headline

        if a.model:
            raise ValueError("give either a model folder or --all, not both")
        if a.skip:
            raise ValueError("--skip is for one model; --all always scores the table's test images")
        res = evaluate_all(a.checkpoints, data=a.data, limit=a.limit, device=a.device, force=a.force,
                           results_dir=a.results, readme=None if a.no_readme else (a.readme or README),
                           damsm=a.damsm, classifier=a.classifier,
                           best_of=BEST_OF if a.best_of is None else a.best_of)
        for name, e in res["models"].items():
            m = headline(e["metrics"])
            print(f"  {name:<32} attr_acc {m.get('attr_acc', float('nan')):.4f}  fid {m.get('fid', float('nan')):.2f}"
                  f"  r_precision {m.get('r_precision', float('nan')):.4f}"
                  + (f"  attr_acc best of {m['best_of']} {m['attr_acc_best_of']:.4f}" if "attr_acc_best_of" in m else ""))
        failed = [k for k, v in res["skipped"].items() if v.startswith("evaluation failed")]
        return 1 if failed else 0
    if a.edits is not None:  # edit numbers only; written where --json says (never over the model's eval.json)
        if not a.model or not a.data:
            raise ValueError("--edits needs a CI-GAN aligner folder and --data")
        from t2i.eval.edits import evaluate_edits
        from t2i.eval.generators import CLASSIFIER_NAME
        from t2i.runtime import pick_device

        metrics = evaluate_edits(a.model, a.data, a.classifier or CLASSIFIER_NAME, n=a.edits,
                                 device=pick_device(a.device), segmenter=a.segmenter, sheet=a.sheet)
        title, out = f"edits of {a.model} on {a.data}", Path(a.json) if a.json else None
    else:
        from t2i.eval.run import evaluate

        metrics = evaluate(a.model, data=a.data, fid_check=a.fid_check, limit=a.limit, device=a.device,
                           damsm=a.damsm, classifier=a.classifier, best_of=a.best_of or 1, skip=a.skip)
        title = f"evaluation of {a.model or a.data}"
        out = Path(a.json) if a.json else (Path(a.model) / "eval.json" if a.model and Path(a.model).is_dir()
                                           else Path("results") / "eval.json")
    print_table(metrics, title)
    if out is None:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2))
    print(f"wrote {out}")
    return 0


def cmd_edit(a) -> int:
    from t2i.edit import edit_file

    res = edit_file(a.model, a.image, a.text, a.out, steps=a.steps, lam=a.lam, seed=a.seed, device=a.device,
                    invert_steps=a.invert_steps, guidance=a.guidance, part_mask=not a.whole_image)
    if res.unknown or res.mapped:
        from t2i.data.openvocab import format_note

        print(f"note: {format_note(res.mapped, res.unknown)}")
    for note in res.notes:
        print(f"note: {note}")
    print(f"edited in {res.seconds:.2f} s -> {a.out}")
    return 0


def cmd_tsne(a) -> int:
    from t2i.eval.edits import tsne_figures

    out = tsne_figures(a.cycle, a.nocycle, a.data, a.out, n=a.n, seed=a.seed, device=a.device, attribute=a.attribute)
    print_table({k: v for k, v in out.items()}, f"t-SNE ({out['n']} sampled + {out['n']} inverted codes per panel)")
    return 0


def cmd_curves(a) -> int:
    from t2i.viz.curves import training_curves

    targets = {a.metrics[0]: a.target} if a.target is not None else None
    training_curves(a.runs, a.metrics, x=a.x, smooth=a.smooth, targets=targets, out_png=a.out, evals=a.evals)
    print(f"wrote {a.out}")
    if a.reach is not None:
        from t2i.viz.curves import reach_table

        print(reach_table(a.runs, a.metrics, {a.metrics[0]: a.reach}))
    return 0


def cmd_compare(a) -> int:
    from t2i.eval.compare import compare_sheet

    sheet = compare_sheet(a.models, a.labels, data_root=a.data, n=a.n, seed=a.seed, device=a.device, side=a.side)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.out, optimize=True)
    print(f"wrote {a.out} ({len(a.models)} models x {a.n} captions)")
    return 0


def cmd_bench(a) -> int:
    from t2i.eval.bench import run_bench
    from t2i.eval.report import README

    bench = run_bench(models=a.models, checkpoints=a.checkpoints, repeats=a.repeats, threads=a.threads,
                      skip_train=a.skip_train, tag=a.tag, optimize=a.optimize, families=a.families,
                      train_steps=a.train_steps, train_batch=a.train_batch, train_overrides=parse_overrides(a.set),
                      edit_steps=a.edit_steps, data=a.data, device=a.device, results_dir=a.results,
                      netg_sizes=() if a.netg is None else tuple(a.netg or (64, 256)),
                      readme=None if a.no_readme else (a.readme or README))
    for k, v in bench["runs"][a.tag].get("skipped", {}).items():
        print(f"  skipped {k}: {v}")
    return 0


def cmd_export(a) -> int:
    from t2i.export import export_torchscript, extra_files

    out = export_torchscript(a.model, a.out)
    spec = json.loads(extra_files(out)["export.json"])
    print(f"wrote {out} ({spec['family']}, z_dim {spec['z_dim']}, text_dim {spec['text_dim']}, "
          f"max_words {spec['max_words']}; traced vs eager max |diff| {max(spec['check_max_abs_diff'].values()):.1e})")
    return 0


def cmd_vocab_map(a) -> int:
    from t2i.data.openvocab_build import run

    return run(a)


def cmd_space(a) -> int:
    from t2i.space import build_space, push_space

    summary = build_space(a.out, checkpoints=a.checkpoints)
    print(f"Space folder {summary['out']}: {summary['files']} files, {summary['size_mb']} MB, largest "
          f"{summary['largest']}; models: {', '.join(summary['models'])}")
    if a.push:
        print(f"pushed: {push_space(a.out, a.push, private=a.private)}")
    else:
        print(f"start it with: cd {a.out} && pip install -r requirements.txt && python app.py")
    return 0
