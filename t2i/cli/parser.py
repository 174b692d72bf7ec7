"""Command line: python -m t2i data | train | eval | generate | edit | bench | upsampler  (each has --help)."""
from __future__ import annotations

import argparse


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
    s.add_argument("--independent", action="store_true",
                   help="draw every attribute of every image on its own (no species combinations): the training "
                        "set of the part-reading classifier that judges edits")
    s.add_argument("--photo", type=float, nargs="?", const=1.0, default=0.0, metavar="SHARE",
                   help="photo-like renders (ours): feather texture, light, white and cluttered scenes, cast shadows, "
                        "camera blur, noise and JPEG; the same birds, captions and part maps. Alone: every image; "
                        "with a share, e.g. --photo 0.5, that share of them (a mixed set)")


def _add_train(sub):
    p = sub.add_parser("train", help="train a model (resumes from OUT when a run is there)")
    tsub = p.add_subparsers(dest="what", required=True)
    for name, helptext, steps, bs, lr in (("damsm", "DAMSM text + image encoders", 3000, 48, 0.002),
                                          ("attr-classifier", "SynthBirds attribute classifier", 1500, 64, 1e-3),
                                          ("species-classifier", "SynthBirds species classifier (the Inception "
                                           "Score's classifier; t2i.eval.species)", 3000, 64, 1e-3),
                                          ("part-segmenter", "part segmenter of the part-masked edits (SynthBirds "
                                           "part maps; t2i.partseg)", 2000, 32, 2e-3),
                                          ("part-judge", "the part-level judge of PartAcc (heads on part-pooled "
                                           "features; train on `data synthbirds --independent`)", 3000, 256, 2e-3)):
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
        s.add_argument("--init", default=None, help="warm-start from this model folder when OUT has no training state")
        if name == "part-judge":
            s.add_argument("--segmenter", default="partseg-synthbirds-64", help="part-segmenter folder it reads with")
        if name == "damsm":
            s.add_argument("--backbone", default="cnn-pretrained", choices=["cnn-pretrained", "cnn", "efficientnet-lite0"],
                           help="image trunk: in-domain CNN pre-trained on image labels then frozen (default), "
                                "a CNN trained jointly, or the frozen ImageNet EfficientNet-Lite0")
            s.add_argument("--pretrain-steps", type=int, default=1500,
                           help="steps of trunk pre-training on image labels (cnn-pretrained)")
    _add_train_gan(tsub)
    _add_train_upsampler(tsub)


def _add_train_upsampler(tsub):
    s = tsub.add_parser("upsampler", help="the shared 4x upsampler 64 -> 256 px on SynthBirds pairs (issue 30; "
                                          "t2i.models.upsampler)",
                        description="Example: python -m t2i train upsampler --out runs/upsampler --steps 20000\n"
                                    "Renders the 256 px pairs once into DATA (default OUT/pairs); resumes from OUT "
                                    "when the same command is run again.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--out", required=True, help="model folder to write (and resume from)")
    s.add_argument("--data", default=None, help="folder of the cached pair renders (default OUT/pairs)")
    s.add_argument("--steps", type=int, default=20000, help="optimiser steps")
    s.add_argument("--pairs", type=int, default=2000, help="training pairs rendered (256 px birds)")
    s.add_argument("--test-pairs", type=int, default=200, help="held-out pairs of the PSNR (another seed stream)")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--crop", type=int, default=32, help="input crop side (the target crop is 4x)")
    s.add_argument("--lr", type=float, default=2e-4)
    s.add_argument("--perceptual", type=float, default=0.1, help="weight of the EfficientNet-Lite0 feature L1")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    s.add_argument("--eval-every", type=int, default=1000)
    s.add_argument("--save-every", type=int, default=100, help="steps between checkpoints")
    s.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


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
    s = tsub.add_parser("snapshot", help="a compact warm-start copy of a GAN run (fp16 nets + EMA + log) to commit",
                        description="Later: --set train.init=DEST (or init = in the TOML) goes on from it on a "
                                    "machine that has no run folder.")
    s.add_argument("run", help="GAN run folder (with train_state.pt)")
    s.add_argument("--out", required=True, help="snapshot folder to write, e.g. train/snapshots/swfgan-synthbirds-64")
    s = tsub.add_parser("cigan-codes", help="CI-GAN stage-3 targets: refined inversions of the training images",
                        description="Example: python -m t2i train cigan-codes --encoder runs/cigan-encoder-g10k "
                                    "--data data/synthbirds-64 --out runs/cigan-codes-g10k/codes.safetensors\n"
                                    "Resumable (rerun to continue); point the aligner config's code_bank at the file "
                                    "and set its invert_steps / invert_lr / wplus to the same values.",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--encoder", required=True, help="CI-GAN encoder-stage folder (E + its StyleGAN2)")
    s.add_argument("--data", required=True, help="dataset root")
    s.add_argument("--out", required=True, help="code bank file to write or extend (.safetensors)")
    s.add_argument("--split", default="train")
    s.add_argument("--limit", type=int, default=None, help="invert only N images (a seeded random subset)")
    s.add_argument("--steps", type=int, default=100, help="refinement steps per image")
    s.add_argument("--lr", type=float, default=0.05, help="refinement Adam learning rate")
    s.add_argument("--w", dest="wplus", action="store_false", help="one code per image (W) instead of W+")
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--device", default="cpu")


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
    p.add_argument("--skip", type=int, default=0, metavar="N",
                   help="one text-to-image model: start at test image N (with --limit: images N..N+limit), same "
                        "captions and seeds as a full run; a held-out check for a checkpoint chosen on the first "
                        "images (the trainer's quick evals use the first 500)")
    p.add_argument("--device", default=None)
    p.add_argument("--all", action="store_true",
                   help="evaluate every model folder in --checkpoints on the same test captions and seeds; write "
                        "results/results.json, results/results.md and the README table (cached per model)")
    p.add_argument("--force", action="store_true", help="with --all: re-evaluate models whose cached result is valid")
    p.add_argument("--checkpoints", default=None, help="with --all: the folder of model folders (default: checkpoints/)")
    p.add_argument("--damsm", default=None, help="DAMSM folder for R-precision (default: damsm-synthbirds-64)")
    p.add_argument("--classifier", default=None,
                   help="attribute classifier folder for AttrAcc (default: attr-classifier-synthbirds-64)")
    p.add_argument("--results", default=None, help="with --all: output folder (default: results/)")
    p.add_argument("--readme", default=None, help="with --all: the README whose marked table to update")
    p.add_argument("--no-readme", action="store_true", help="with --all: leave the README alone")
    p.add_argument("--best-of", type=int, default=None, metavar="K",
                   help="one model: each test image is the best DAMSM match of K draws (default 1, the protocol of the "
                        "README table; R-precision then uses the reranking DAMSM too); with --all: the K of the table's "
                        "'AttrAcc best of K' column (default 8; 1 skips it)")
    p.add_argument("--edits", type=int, default=None, metavar="N",
                   help="a CI-GAN aligner: only the part-masked edit numbers, on N test images of --data (success, "
                        "preservation, PSNR outside the part, s / edit), e.g. on photo-like renders "
                        "(`data synthbirds --photo`)")
    p.add_argument("--segmenter", default=None, help="with --edits: the part segmenter the edits use (default: the "
                                                     "shipped partseg-synthbirds-64)")
    p.add_argument("--sheet", default=None, help="with --edits: also write the first 16 edits (input | inversion | "
                                                 "edited) to this PNG")


def _add_edit(sub):
    p = sub.add_parser("edit", help="edit a bird picture by text with a CI-GAN (aligner-stage) model",
                       description="Example: python -m t2i edit --model runs/cigan-s3 --image bird.png "
                                   "--text 'this bird has a red belly' --out edited.png\n"
                                   "Writes an input | inversion | edited strip and prints the seconds taken.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="CI-GAN aligner-stage folder (or shipped name / Hub id)")
    p.add_argument("--image", required=True, help="the picture to edit (PNG, JPEG, WebP; any size)")
    p.add_argument("--text", required=True, help="what the bird should look like, e.g. 'this bird has a red belly'")
    p.add_argument("--out", required=True, help="PNG to write (input | inversion | edited)")
    p.add_argument("--steps", type=int, default=None,
                   help="optimisation steps (default: t2i.edit_config.DEFAULT_STEPS)")
    p.add_argument("--lam", type=float, default=None,
                   help="preservation strength (0 = text only; default 1, or t2i.edit_config.MASKED_LAM for the "
                        "part-masked edit, where the mask keeps the rest of the picture)")
    p.add_argument("--invert-steps", type=int, default=None,
                   help="refinement steps of the inversion before the edit (default: the model's invert_steps)")
    p.add_argument("--guidance", type=float, default=None,
                   help="weight of the DAMSM guidance term (ours; default t2i.edit_config.MASKED_GUIDANCE, with "
                        "--whole-image t2i.edit_config.GUIDANCE; 0 = the paper's objective)")
    p.add_argument("--whole-image", action="store_true",
                   help="let the generator redo the whole picture (the paper's edit) instead of changing only the "
                        "parts the text names (the part-masked edit, default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def _add_tsne(sub):
    p = sub.add_parser("tsne", help="CI-GAN t-SNE of sampled vs inverted latents, with and without cycle training",
                       description="Writes tsne_cycle.png, tsne_nocycle.png and tsne_compare.png into --out "
                                   "(the app shows the first two when --out is the shipped CI-GAN folder).")
    p.add_argument("--cycle", required=True, help="encoder (or aligner) folder trained with cycle consistency")
    p.add_argument("--nocycle", required=True, help="encoder folder trained without (model.cycle=false)")
    p.add_argument("--data", required=True, help="dataset root (SynthBirds)")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--n", type=int, default=500, help="sampled and inverted codes per panel")
    p.add_argument("--attribute", default="has_belly_color", help="attribute that colours the inverted codes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")


def _add_curves(sub):
    p = sub.add_parser("curves", help="learning curves (quick-eval PartAcc, AttrAcc or a loss) of training runs",
                       description="Example: python -m t2i curves runs/csagan-synthbirds-64 runs/dfgan-synthbirds-64 "
                                   "--out results/curves_onestage.png")
    p.add_argument("runs", nargs="+", help="run folders, snapshot folders or log.jsonl files")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--metrics", nargs="+", default=["eval/part_acc_in_species", "eval/part_acc_novel"],
                   help="logged keys, one panel each (e.g. eval/attr_acc g_loss damsm)")
    p.add_argument("--reach", type=float, default=None, metavar="V",
                   help="also print a table: best scores and the first step / hour each run reached V on the first metric")
    p.add_argument("--x", choices=["step", "wall_s"], default="step", help="horizontal axis")
    p.add_argument("--smooth", type=int, default=1, help="moving average over this many logged points")
    p.add_argument("--target", type=float, default=None, help="dashed goal line on the first panel")
    p.add_argument("--evals", nargs="+", default=None, metavar="JSON",
                   help="full evaluations (python -m t2i eval --json) whose FID and diversity get two more panels")


def _add_compare(sub):
    p = sub.add_parser("compare", help="side-by-side samples of models on the same test captions and seeds (A/B sheet)",
                       description="Example: python -m t2i compare runs/a/evals/step-011000 runs/b/evals/step-010000 "
                                   "--labels 'paper D' 'projected D' --out results/ab_samples.png")
    p.add_argument("models", nargs="+", help="model folders, run folders or shipped names")
    p.add_argument("--labels", nargs="+", default=None, help="one row label per model (default: folder names)")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--n", type=int, default=8, help="test captions (columns)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="dataset root (default: the one recorded in the first model)")
    p.add_argument("--side", type=int, default=128, help="pixels per tile")
    p.add_argument("--device", default="cpu")


def _add_bench(sub):
    p = sub.add_parser("bench", help="speed of the shipped models: generation, editing, training; writes results/bench.json",
                       description="Example: python -m t2i bench --tag before; python -m t2i bench --tag after --optimize")
    p.add_argument("--models", nargs="+", default=None, help="model folders or names (default: every shipped model)")
    p.add_argument("--checkpoints", default=None, help="folder of model folders (default: checkpoints/)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per measurement (after one warm-up call)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--skip-train", action="store_true", help="skip the training images/s of each family")
    p.add_argument("--tag", default="current", help="store the numbers under this tag (before, after, ...)")
    p.add_argument("--netg", type=int, nargs="*", default=None, metavar="PX",
                   help="also time the DF-GAN generator side by side with a plain eager NetG at these sizes "
                        "(default when given without sizes: 64 256); alone (without --models) it times only that")
    p.add_argument("--optimize", action="store_true",
                   help="run generators through t2i.export.optimize_for_inference (traced, frozen, channels_last)")
    p.add_argument("--families", nargs="+", default=None, help="training: these families (default: all registered)")
    p.add_argument("--train-steps", type=int, default=4, help="training steps per family (the first is warm-up)")
    p.add_argument("--train-batch", type=int, default=None, help="training batch size (default: the run config's)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="training: override a run-config value, e.g. --set model.nf=8")
    p.add_argument("--edit-steps", type=int, default=20, help="optimisation steps per CI-GAN edit")
    p.add_argument("--data", default=None, help="dataset root for training (default: data/synthbirds-64 or a small set)")
    p.add_argument("--device", default=None)
    p.add_argument("--results", default=None, help="output folder (default: results/)")
    p.add_argument("--readme", default=None, help="the README whose marked speed table to update")
    p.add_argument("--no-readme", action="store_true", help="leave the README alone")


def _add_export(sub):
    p = sub.add_parser("export", help="export a text-to-image generator (+ its text encoder) to TorchScript",
                       description="Example: python -m t2i export --model checkpoints/swfgan-synthbirds-64 --out swf.pt\n"
                                   "Load: m = torch.jit.load('swf.pt'); w, s, mask = m.encode_text(tokens, lengths); "
                                   "img = m(z, s, w, mask)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model folder or name")
    p.add_argument("--out", required=True, help="output file (.pt)")
    p.add_argument("--format", choices=["torchscript"], default="torchscript",
                   help="torchscript only: torch.onnx needs the onnx/onnxscript packages, which are not installed")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m t2i", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    _add_data(sub)
    _add_train(sub)
    _add_eval(sub)
    _add_bench(sub)
    _add_export(sub)
    _add_edit(sub)
    _add_tsne(sub)
    _add_curves(sub)
    _add_compare(sub)
    _add_ship(sub)
    _add_generate(sub)
    _add_loadtest(sub)
    _add_space(sub)
    _add_upsampler(sub)
    from t2i.data.openvocab_build import add_parser as _add_vocab_map

    _add_vocab_map(sub)
    return p


def _add_loadtest(sub):
    s = sub.add_parser("loadtest", help="start-up time of app.py and Generate latency, one client and many at once")
    s.add_argument("--model", required=True, help="a model name the app lists (e.g. swfgan-synthbirds-64)")
    s.add_argument("--clients", type=int, default=8, help="concurrent users (HTTP API clients)")
    s.add_argument("--calls", type=int, default=4, help="Generate requests per concurrent client")
    s.add_argument("--single-calls", type=int, default=10, help="requests of the lone client")
    s.add_argument("--best-of", type=int, default=4, help="tries per image, as the Generate tab (default 4; 1 = plain)")
    s.add_argument("--edit-clients", type=int, default=0, metavar="K",
                   help="also time one Edit alone and K at once (examples/bird_blue_on_water.png, 50 steps; "
                        "default 0: no edits)")
    s.add_argument("--results", default="results/bench.json", help="JSON to add the numbers to (key 'app')")
    s.add_argument("--screenshot", default=None, help="also save a headless-Chromium screenshot of a Generate here")


def _add_generate(sub):
    s = sub.add_parser("generate", help="captions -> a PNG grid (one row per caption)")
    s.add_argument("captions", nargs="+", help="one or more captions")
    s.add_argument("--model", required=True, help="model folder, shipped name or Hub id")
    s.add_argument("--out", default="generated.png", help="PNG grid to write")
    s.add_argument("--n", type=int, default=4, help="images per caption")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--truncation", type=float, default=None, help="default: the model's own")
    s.add_argument("--best-of", type=int, default=1, metavar="K",
                   help="draw K per image and keep the ones the DAMSM encoders match best to the caption (default 1)")
    s.add_argument("--size", type=int, default=None, metavar="PX",
                   help="image side: 256 = the kept images through the shared 4x upsampler "
                        "(checkpoints/upsampler-synthbirds-256), 64 = the model's own images; default 256 when the "
                        "upsampler is shipped, else 64 (with a note)")
    s.add_argument("--t2i-mode", choices=("retrieve", "retrieve-auto", "retrieve-edit", "paper"), default=None,
                   help="CI-GAN only: 'retrieve' (ours: a training bird found for the caption), 'retrieve-auto' (the same, "
                        "its named parts recoloured by CI-GAN's edit where the bird fits the caption poorly; the "
                        "default when the model has a code bank), 'retrieve-edit' (always edited) or 'paper' "
                        "(CI-GAN's optimisation from a random code)")
    s.add_argument("--device", default="cpu")


def _add_upsampler(sub):
    p = sub.add_parser("upsampler", help="the 4x upsampler on every shipped generator: a sheet, FID at 256 px",
                       description="Examples: python -m t2i upsampler sheet\n"
                                   "python -m t2i upsampler fid csagan-synthbirds-64 --limit 1000\n"
                                   "(train it with: python -m t2i train upsampler --out DIR)",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    usub = p.add_subparsers(dest="what", required=True)
    s = usub.add_parser("sheet", help="per generator: its 64 px output, bicubic 256, upsampler 256 (one caption)")
    s.add_argument("--out", default="results/upsampler_sheet.png", help="PNG to write")
    s.add_argument("--caption", default=None, help="the caption (default: t2i.eval.upsampling.SHEET_CAPTION)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--models", nargs="+", default=None, help="generators (default: every shipped one)")
    s.add_argument("--upsampler", default=None, help="upsampler folder (default: checkpoints/upsampler-synthbirds-256)")
    s.add_argument("--device", default="cpu")
    s = usub.add_parser("fid", help="FID at 256 px of generators through the upsampler vs bicubic "
                                    "(real: the test birds rendered at 256 px)")
    s.add_argument("models", nargs="*", help="generator folders or names (default with --all: every shipped one)")
    s.add_argument("--all", action="store_true", help="every shipped text-to-image generator")
    s.add_argument("--limit", type=int, default=1000, help="test captions / images (default 1000, the README table's)")
    s.add_argument("--data", default=None, help="SynthBirds root (default: data/synthbirds-64)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--upsampler", default=None, help="upsampler folder (default: checkpoints/upsampler-synthbirds-256)")
    s.add_argument("--json", default="results/upsampler_fid.json", help="add the numbers to this JSON ('' = don't)")
    s.add_argument("--device", default="cpu")


def _add_ship(sub):
    s = sub.add_parser("ship", help="copy a trained run into checkpoints/NAME with a model card (+ evaluation)")
    s.add_argument("run", help="run folder (written by python -m t2i train ...)")
    s.add_argument("--name", required=True, help="folder name under checkpoints/")
    s.add_argument("--dest", default=None, help="another checkpoints root")
    s.add_argument("--eval", action="store_true", help="evaluate the shipped model and record its metrics")
    s.add_argument("--limit", type=int, default=None, help="evaluate on the first N test images")
    s.add_argument("--note", default=None, help="status line for the card, e.g. 'Interim checkpoint: ...' "
                                                "(kept when the card is rewritten; '' removes it)")


def _add_space(sub):
    p = sub.add_parser("space", help="write a ready Hugging Face Space folder (app, package, served models); --push uploads it",
                       description="Example: python -m t2i space --out ../t2i-space --push someone/t2i-studio")
    p.add_argument("--out", required=True, help="folder to write (a previous Space folder there is replaced)")
    p.add_argument("--checkpoints", default=None, help="model folders to take (default: checkpoints/)")
    p.add_argument("--push", default=None, metavar="USER/NAME", help="then create and upload the Space (needs a login)")
    p.add_argument("--private", action="store_true", help="with --push: make the Space private")
