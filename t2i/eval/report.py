"""`python -m t2i eval --all`: every shipped model on the same SynthBirds test captions and seeds.

    python -m t2i eval --all                  # evaluates what changed, reuses the rest; writes results/ + README
    python -m t2i eval --all --force          # re-evaluates every model
    python -m t2i eval --all --limit 200      # quick run on the first 200 test images

Writes results/results.json (per model: cache key, protocol, all metrics), results/results.md (the table) and the
table in README.md between the markers <!-- results:start --> and <!-- results:end -->.

Cache: a model's entry is reused when its key (SHA-256 of config.json, without a "metrics" field, and of
model.safetensors) and the protocol (dataset root, --limit, seed, and the SHA-256 of the DAMSM and classifier
weights) are unchanged, so training one more model and rerunning evaluates only that one.

What is evaluated: text-to-image families (text_conditional, with a shipped text encoder) through
t2i.eval.generators.evaluate_generator; any other family that defines a classmethod hook
    evaluate(folder, data_root, *, limit, device, seed, damsm, classifier) -> dict of metrics
(CI-GAN folders without such a hook: t2i.eval.edits.evaluate_cigan, whose t2i/... and edit/... numbers fill the
same columns). Everything else is listed as skipped with the reason.

Best-of-k column: each text-to-image GAN is also scored with DAMSM best-of-k reranking (k = 8 by default,
`--best-of K`; 1 skips it, keeping what was cached): AttrAcc only, since R-precision uses the reranking DAMSM. It is cached in the
model's entry beside the single-draw numbers and recomputed when k, the model or the protocol changes.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from pathlib import Path

from t2i import checkpoint as ckpt

RESULTS_DIR = ckpt.REPO_ROOT / "results"
README = ckpt.REPO_ROOT / "README.md"
RESULTS_FILE = "results.json"
TABLE_FILE = "results.md"
SCHEMA = 1
MARKERS = ("<!-- results:start -->", "<!-- results:end -->")
EVALUATOR_TYPES = {"damsm": "evaluator (DAMSM encoders; `python -m t2i eval FOLDER` reports R-precision)",
                   "attr-classifier": "evaluator (attribute classifier; `python -m t2i eval FOLDER` reports accuracy)",
                   "part-segmenter": "helper (part segmenter of the part-masked edits, t2i.partseg)",
                   "species-classifier": "evaluator (species classifier of the Inception Score; `python -m t2i eval "
                                         "FOLDER` reports accuracy and the IS of real images)",
                   "part-judge": "evaluator (part-level judge of PartAcc; `python -m t2i eval FOLDER --data ROOT` "
                                 "reports its agreement with ROOT's true attributes)",
                   "upsampler": "helper (the shared 4x upsampler 64 -> 256 px; its held-out PSNR is in its config.json, "
                                "FID at 256 px: `python -m t2i upsampler fid`)"}
BEST_OF = 8  # the table's best-of-k column (DAMSM reranking; ours, the papers sample once)
from t2i.eval.tables import (  # noqa: E402,F401 - the tables live in t2i.eval.tables; re-exported here
    CIGAN_COLUMNS, FAMILY_ORDER, HEADLINE, cigan_table, fmt_duration, fmt_params, headline, results_table)


# --- cache keys ---------------------------------------------------------------------------------------------------
def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_sha256(folder: str | Path) -> str:
    """SHA-256 of config.json as canonical JSON without its "metrics" and "data_root" fields: recording metrics in
    the model card, or moving the training data (the path the trainer wrote), does not invalidate the cache."""
    record = ckpt.read_config(folder)
    record.pop("metrics", None)
    record.pop("data_root", None)
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def model_key(folder: str | Path) -> dict:
    """{"config": sha256, "weights": sha256} of a model folder (+ "code_bank" for a CI-GAN folder with one, which
    changes its text-to-image); changes whenever one of them changes."""
    folder = ckpt.resolve(folder)
    weights = folder / ckpt.WEIGHTS
    if not weights.is_file():
        raise ckpt.CheckpointError(f"{folder}: {ckpt.WEIGHTS} is missing (not trained yet?)")
    key = {"config": config_sha256(folder), "weights": file_sha256(weights)}
    if (folder / ckpt.CODE_BANK).is_file():
        key["code_bank"] = file_sha256(folder / ckpt.CODE_BANK)
    return key


EDIT_JUDGE = "part-colour-reader-v1"  # the edit metrics' judge (t2i.eval.edits.PartColourReader): bump when it changes


def inference_defaults(record: dict) -> dict:
    """The library defaults a model's numbers depend on beyond its own files (an aligner-stage CI-GAN: the edit and
    text-to-image settings of t2i.edit and t2i.edit_config), so that changing them re-evaluates it; {} for the
    others."""
    if record.get("model_type") != "cigan" or record.get("config", {}).get("stage") != "aligner":
        return {}
    from t2i import cigan_retrieval as cr, edit, edit_config as ec
    from t2i.eval.edits import EDIT_PART_MASK

    return {"edit_steps": ec.DEFAULT_STEPS, "edit_lr": ec.DEFAULT_LR, "guidance": ec.GUIDANCE,
            "guidance_damsm": edit.GUIDANCE_DAMSM, "per_weight": ec.PER_WEIGHT, "pix_weight": ec.PIX_WEIGHT,
            "gen_steps": edit.GEN_STEPS, "gen_lr": edit.GEN_LR, "gen_psi": edit.GEN_PSI,
            "part_mask": EDIT_PART_MASK, "masked_guidance": ec.MASKED_GUIDANCE, "masked_lr": ec.MASKED_LR, "masked_lam": ec.MASKED_LAM,
            "mask_dilate": edit.MASK_DILATE, "part_segmenter": _weights_or_name(edit.PART_SEGMENTER),
            "edit_judge": EDIT_JUDGE, "t2i_mode": edit.DEFAULT_T2I_MODE, "retrieve_k": cr.TOP_K,
            "retrieve_shortlist": cr.SHORTLIST, "auto_edit_below": cr.AUTO_EDIT_BELOW}


def _weights_or_name(name: str) -> str:
    """A helper folder's weights hash (a retrained one under the same name re-evaluates), else its name."""
    try:
        return f"{name}@{model_key(name)['weights'][:16]}"
    except (ckpt.CheckpointError, OSError):
        return name


def protocol(data_root: str | Path, limit: int | None, seed: int, damsm: str | Path, classifier: str | Path,
             judge: str | Path | None = None) -> dict:
    """What must be unchanged for a cached result to be reused (besides the model's own key)."""
    out = {"data": str(Path(data_root).resolve()), "split": "test", "limit": limit, "seed": seed,
           "damsm": model_key(damsm)["weights"][:16], "classifier": model_key(classifier)["weights"][:16]}
    if judge is not None:
        out["judge"] = model_key(judge)["weights"][:16]
    from t2i.eval.rprecision import EVAL_DAMSM_NAME
    from t2i.eval.species import SPECIES_CLASSIFIER_NAME

    for key, name in (("eval_encoder", EVAL_DAMSM_NAME), ("species_classifier", SPECIES_CLASSIFIER_NAME)):
        if (ckpt.SHIPPED / name).is_dir():  # the independent scores use the shipped folders (or skip)
            out[key] = model_key(ckpt.SHIPPED / name)["weights"][:16]
    return out


# --- README ---------------------------------------------------------------------------------------------------------
def update_readme_table(readme_path: str | Path, markdown: str, markers: tuple[str, str] = MARKERS) -> bool:
    """Replace the text between the two marker lines of `readme_path` by `markdown` (markers kept, nothing outside
    them touched). Returns True when the file changed. Raises ValueError when a marker is missing or out of order."""
    path = Path(readme_path)
    text = path.read_text(encoding="utf-8")
    start, end = markers
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i or text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{path}: expected exactly one {start!r} followed by one {end!r} marking where the "
                         f"generated table goes; add both lines to the README")
    new = text[:i + len(start)] + "\n" + markdown.strip("\n") + "\n" + text[j:]
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


# --- the run --------------------------------------------------------------------------------------------------------
def load_results(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        print(f"warning: {path} is not valid JSON; starting afresh")
        return {}
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else {}


def _write_json(path: Path, data: dict) -> None:
    ckpt._atomic_write(path, lambda p: Path(p).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n"))


def rerankable(record: dict) -> bool:
    """A text-to-image GAN evaluated by evaluate_generator, i.e. one that best-of-k reranking applies to."""
    try:
        from t2i.models.registry import get_family

        family = get_family(record.get("model_type"))
    except KeyError:
        return False
    return (not callable(getattr(family, "evaluate", None)) and record.get("model_type") != "cigan"
            and family.text_conditional and "text_encoder" in record.get("components", []))


def evaluator_for(record: dict):
    """(callable(folder, data_root, **kw) -> metrics, None) or (None, why it cannot be evaluated)."""
    mt = record.get("model_type")
    if mt in EVALUATOR_TYPES:
        return None, EVALUATOR_TYPES[mt]
    try:
        from t2i.models.registry import get_family

        family = get_family(mt)
    except KeyError:
        return None, f"unknown model type {mt!r}"
    hook = getattr(family, "evaluate", None)
    if callable(hook):
        return hook, None
    if mt == "cigan":
        stage = (record.get("config") or {}).get("stage")
        if stage == "stylegan":
            return None, "CI-GAN stage 1 (StyleGAN2 only): evaluated through its encoder / aligner folders"
        try:
            from t2i.eval.edits import evaluate_cigan
        except ImportError:
            return None, "cigan: t2i.eval.edits is not available"
        return evaluate_cigan, None
    if rerankable(record):
        from t2i.eval.generators import evaluate_generator

        return evaluate_generator, None
    return None, f"{mt}: no evaluation for this model type yet (its family has no `evaluate` hook)"


def _draws(proto: dict | None) -> dict:
    """The part of a protocol that decides which images are drawn and against which real images (FID's inputs)."""
    out = {k: (proto or {}).get(k) for k in ("data", "split", "limit", "seed")}
    out["data"] = Path(out["data"]).name if out["data"] else None  # the same rendered set at another path counts
    return out


def _default_evaluator(checkpoints: Path, name: str) -> str:
    return str(checkpoints / name) if (checkpoints / name).is_dir() else name


def evaluate_all(checkpoints: str | Path | None = None, data: str | Path | None = None, limit: int | None = None,
                 device: str | None = None, force: bool = False, results_dir: str | Path | None = None,
                 readme: str | Path | None = README, damsm: str | None = None, classifier: str | None = None,
                 seed: int = 0, log=print, cards: bool = True, best_of: int = BEST_OF) -> dict:
    """Evaluate every model folder in `checkpoints` (default: the shipped ones), reusing cached results; write
    results.json + results.md in `results_dir`, the README table (readme=None: leave the README alone) and, with
    `cards`, each newly evaluated model's metrics into its config.json and model card. best_of k > 1: also the
    best-of-k AttrAcc of each text-to-image GAN (the table's extra column).
    Returns the results dict. Raises ValueError when the README has no markers (after writing results/)."""
    import torch

    from t2i.eval.generators import CLASSIFIER_NAME, DAMSM_NAME, JUDGE_NAME
    from t2i.eval.run import ensure_synthbirds
    from t2i.pipeline import list_models
    from t2i.runtime import pick_device

    root = Path(checkpoints) if checkpoints else ckpt.SHIPPED
    if not root.is_dir():
        raise FileNotFoundError(f"checkpoints folder not found: {root}")
    out_dir = Path(results_dir) if results_dir else RESULTS_DIR
    dev = pick_device(device)
    damsm = damsm or _default_evaluator(root, DAMSM_NAME)
    classifier = classifier or _default_evaluator(root, CLASSIFIER_NAME)
    listing = list_models(root)
    log(f"{len(listing)} model folders in {root}")
    proto = None
    if any(evaluator_for(rec)[0] is not None for rec in listing):  # no dataset or evaluators needed otherwise
        data_root = ensure_synthbirds(data)
        try:
            # generators are judged by the shipped part-level judge (evaluate_generator's default)
            proto = protocol(data_root, limit, seed, damsm, classifier,
                             JUDGE_NAME if (ckpt.SHIPPED / JUDGE_NAME).is_dir() else None)
        except ckpt.CheckpointError as e:
            raise ckpt.CheckpointError(f"the evaluation models are needed (DAMSM {damsm!r}, attribute classifier "
                                       f"{classifier!r}; pass --damsm / --classifier): {e}") from None
    old = load_results(out_dir / RESULTS_FILE)
    results = {"schema": SCHEMA, "updated": None, "checkpoints": str(root.resolve()), "protocol": proto or {},
               "models": {}, "skipped": {}}  # threads: per model (each row's images/s), not per run
    for i, rec in enumerate(listing, 1):
        name, folder = rec["name"], Path(rec["path"])
        fn, why = evaluator_for(rec)
        if fn is None:
            results["skipped"][name] = why
            log(f"[{i}/{len(listing)}] {name}: skipped ({why})")
            continue
        try:
            key = model_key(folder)
            if inf := inference_defaults(ckpt.read_config(folder)):
                key["inference"] = inf
        except ckpt.CheckpointError as e:
            results["skipped"][name] = "not trained yet (no weights)"
            log(f"[{i}/{len(listing)}] {name}: skipped ({e})")
            continue
        cached = old.get("models", {}).get(name)
        if not force and cached and cached.get("key") == key and cached.get("protocol") == proto:
            entry, fresh = {**cached, "path": str(folder)}, False
            log(f"[{i}/{len(listing)}] {name}: cached ({cached.get('evaluated', '?')})")
        else:
            # FID depends only on the model, the data and the draws: reuse it when only the evaluators changed
            keep_fid = (not force and cached and cached.get("key") == key and rerankable(rec)
                        and _draws(cached.get("protocol")) == _draws(proto) and "fid" in cached.get("metrics", {}))
            log(f"[{i}/{len(listing)}] {name}: evaluating" + (" (FID from the cache) ..." if keep_fid else " ..."))
            t0 = time.perf_counter()
            try:
                metrics = fn(folder, data_root, limit=limit, device=dev, seed=seed, damsm=damsm, classifier=classifier,
                             **({"fid": False} if keep_fid else {}))
                if keep_fid:
                    metrics = {**metrics, "fid": cached["metrics"]["fid"]}
            except Exception as e:  # noqa: BLE001 - one broken model must not stop the others
                results["skipped"][name] = f"evaluation failed: {type(e).__name__}: {e}"
                log(f"[{i}/{len(listing)}] {name}: FAILED {type(e).__name__}: {e}")
                continue
            entry = {
                "model_type": rec["model_type"], "path": str(folder), "key": key, "protocol": proto,
                "evaluated": _dt.datetime.now().isoformat(timespec="seconds"),
                "eval_seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads(),
                "metrics": {k: (v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}}
            fresh = True
        m = entry["metrics"]
        if best_of > 1 and rerankable(rec) and (m.get("best_of") != best_of
                                                or ("part_acc/in_species" in m and "part_acc_best_of" not in m)):
            log(f"[{i}/{len(listing)}] {name}: best of {best_of} ...")
            try:
                extra = fn(folder, data_root, limit=limit, device=dev, seed=seed, damsm=damsm, classifier=classifier,
                           fid=False, best_of=best_of, novel=None, freestyle=False, diversity=False, secondary=False)
                entry["metrics"] = m = {**m, "attr_acc_best_of": extra["attr_acc"], "best_of": best_of}
                if "part_acc/in_species" in extra:
                    m["part_acc_best_of"] = extra["part_acc/in_species"]
                fresh = True
            except Exception as e:  # noqa: BLE001 - the single-draw numbers still count
                log(f"[{i}/{len(listing)}] {name}: best of {best_of} FAILED {type(e).__name__}: {e}")
        results["models"][name] = entry
        if not fresh:
            continue
        # progress survives an interruption; entries not yet reached keep their old (key-checked) results
        _write_json(out_dir / RESULTS_FILE, {**results, "models": {**old.get("models", {}), **results["models"]},
                                             "updated": _dt.datetime.now().isoformat(timespec="seconds")})
        log(f"[{i}/{len(listing)}] {name}: done" + (f" in {entry['eval_seconds']} s" if "eval_seconds" in entry else ""))
        if cards:
            from t2i.eval.card import write_card

            write_card(folder, m)  # metrics are not part of the cache key
    results["updated"] = _dt.datetime.now().isoformat(timespec="seconds")
    _write_json(out_dir / RESULTS_FILE, results)
    table = results_table(results)
    (out_dir / TABLE_FILE).write_text(table)
    log(f"wrote {out_dir / RESULTS_FILE} and {out_dir / TABLE_FILE}")
    if readme is not None:
        if update_readme_table(readme, table):
            log(f"updated the results table in {readme}")
    return results
