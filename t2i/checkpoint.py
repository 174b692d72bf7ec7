"""Model folders: config.json + model.safetensors (+ vocab.json, and train_state.pt while training).

The same folder lives on disk and on the Hugging Face Hub. Loading never unpickles code: weights are
safetensors, the training state is read with torch.load(weights_only=True), and module shapes must match
the config exactly (strict).
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from t2i.version import __version__

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
VOCAB = "vocab.json"
CODE_BANK = "code_bank.safetensors"  # a CI-GAN folder's bank of training-bird codes (t2i.cigan_retrieval)
CODE_BANK_FEATURES = "code_bank_features.safetensors"  # + the DAMSM features of its birds (made on first use)
WORD_MAP = "word_map.json"  # the open vocabulary's embedding table beside vocab.json (t2i.data.openvocab)
TRAIN_STATE = "train_state.pt"
SNAPSHOT = "snapshot.safetensors"
REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "checkpoints"


class CheckpointError(ValueError):
    """A model folder that is missing, corrupt or does not match its config."""


class DiskFullError(CheckpointError):
    """The disk filled up while a checkpoint was written; the previous checkpoint is untouched."""


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder and rename, so a kill never leaves half a file."""
    _atomic_write_set({path: write})


def _atomic_write_set(files: dict) -> None:
    """Write every file (path -> write(tmp_path)) to a temporary name beside it first, then rename them all in
    the dict's order (put the file that marks a complete set, config.json, last): a kill or a full disk while
    writing leaves the previous set as it was, and no temporary file behind."""
    import errno

    tmps: dict[Path, str] = {}
    try:
        for path, write in files.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmps[path] = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            write(tmps[path])
            os.chmod(tmps[path], 0o644)  # mkstemp makes 0600 files; model folders are meant to be shared
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch.save reports a full disk as a RuntimeError
        full = getattr(e, "errno", None) == errno.ENOSPC or "No space left" in str(e)
        if full:
            where = Path(next(iter(files))).parent
            raise DiskFullError(f"the disk is full: could not write {', '.join(Path(p).name for p in files)} in "
                                f"{where.name}/; the previous checkpoint there is kept. Free some space and run the "
                                "same command again to resume.") from None
        raise
    finally:
        for tmp in tmps.values():
            if os.path.exists(tmp):
                os.unlink(tmp)


def clean_orphans(folder: str | Path) -> list[str]:
    """Delete temporary files a killed save left in `folder` (.<name>.<random>.tmp); returns their names."""
    gone = []
    for f in Path(folder).glob(".*.tmp") if Path(folder).is_dir() else []:
        try:
            f.unlink()
            gone.append(f.name)
        except OSError:
            pass
    return gone


def save_model_folder(folder: str | Path, model_type: str, config: dict, modules: dict[str, nn.Module],
                      vocab=None, dtype: torch.dtype = torch.float32, extra_files: dict | None = None,
                      **meta) -> Path:
    """Write `modules` (name -> nn.Module) as one safetensors file with keys '<name>.<param>' and a config.json
    with the model type, its config dict, the component names and any `meta` (step, dataset, metrics, ...).
    extra_files {file name: write(path)} (e.g. the training state) are written with them as one set, config.json
    last (see _atomic_write_set)."""
    folder = Path(folder)
    tensors = {}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            v = v.detach().cpu()
            tensors[f"{name}.{k}"] = (v.to(dtype) if v.is_floating_point() else v).contiguous().clone()
    record = {"model_type": model_type, "config": config, "components": sorted(modules),
              "vocab": VOCAB if vocab is not None else None, "dtype": str(dtype).replace("torch.", ""),
              "t2i_version": __version__, **meta}
    files = {folder / WEIGHTS: lambda p: save_file(tensors, p, metadata={"format": "pt"})}
    if vocab is not None:
        files[folder / VOCAB] = lambda p: vocab.save(p)
    for name, write in (extra_files or {}).items():
        files[folder / name] = write
    files[folder / CONFIG] = lambda p: _write_record(p, record)
    _atomic_write_set(files)
    return folder


def _write_record(path, record: dict) -> None:
    Path(path).write_text(json.dumps(record, indent=2, sort_keys=True))


def write_config(folder: str | Path, record: dict) -> None:
    """Replace a model folder's config.json with `record` (the same canonical JSON as save_model_folder), atomically."""
    _atomic_write(Path(folder) / CONFIG, lambda p: _write_record(p, record))


def resolve(name: str | Path) -> Path:
    """A model name -> local folder: an existing folder, a shipped model in checkpoints/, or a Hub id
    ('user/repo', downloaded once into the Hugging Face cache; works offline once cached)."""
    p = Path(name)
    if p.is_dir():
        return p
    if (SHIPPED / str(name)).is_dir():
        return SHIPPED / str(name)
    if isinstance(name, str) and name.count("/") == 1 and not p.exists():
        from huggingface_hub import snapshot_download

        try:
            files = [CONFIG, WEIGHTS, VOCAB, WORD_MAP, CODE_BANK, CODE_BANK_FEATURES, "*.md", "*.png"]
            return Path(snapshot_download(repo_id=name, allow_patterns=files))
        except Exception as e:  # noqa: BLE001 - network, missing repo, offline without cache
            raise CheckpointError(f"cannot get model {name!r} from the Hugging Face Hub: {e}") from None
    raise CheckpointError(f"no model {str(name)!r}: not a folder, not in {SHIPPED}, not a Hub id")


MAX_CONFIG_BYTES = 4 * 2 ** 20  # a config.json is a few KB; anything this large is not one


def read_config(folder: str | Path) -> dict:
    """The folder's config record, checked: every malformed file is a CheckpointError naming it (folder name and
    file, never the server's absolute path)."""
    folder = resolve(folder)
    f = folder / CONFIG
    where = f"{folder.name}/{CONFIG}"
    if not f.is_file():
        raise CheckpointError(f"{folder.name} is not a model folder: {CONFIG} is missing")
    try:
        if f.stat().st_size > MAX_CONFIG_BYTES:
            raise CheckpointError(f"{where} is {f.stat().st_size / 2 ** 20:.0f} MB: not a model config")
        record = json.loads(f.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"{where} is corrupt (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{where} is corrupt (not JSON: {e})") from None
    except RecursionError:
        raise CheckpointError(f"{where} is corrupt (nested too deeply)") from None
    except OSError as e:
        raise CheckpointError(f"{where} cannot be read ({e.strerror or e})") from None
    if not isinstance(record, dict):
        raise CheckpointError(f"{where} holds a {type(record).__name__}, not a record; not a T2I Studio checkpoint")
    for key, kind in (("model_type", str), ("config", dict), ("components", list)):
        if key not in record:
            raise CheckpointError(f"{where} has no {key!r} field; not a T2I Studio checkpoint")
        if not isinstance(record[key], kind):
            raise CheckpointError(f"{where}: {key!r} must be a {kind.__name__}, not {type(record[key]).__name__}")
    if not all(isinstance(c, str) for c in record["components"]):
        raise CheckpointError(f"{where}: 'components' must be a list of names")
    return record


def read_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    f = resolve(folder) / WEIGHTS
    if not f.is_file():
        raise CheckpointError(f"{f.parent.name}/{f.name} is missing")
    try:
        return load_file(f)
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{f.parent.name}/{f.name} is corrupt or not a safetensors file: {e}") from None


MAX_PARAMETERS = 500_000_000  # a component larger than this (2 GB in fp32) is refused before it is built


def weight_shapes(folder: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from the safetensors header only (no tensor is read)."""
    from safetensors import safe_open

    f = resolve(folder) / WEIGHTS
    if not f.is_file():
        raise CheckpointError(f"{Path(folder).name}/{WEIGHTS} is missing")
    try:
        with safe_open(str(f), framework="pt") as sf:
            return {k: tuple(sf.get_slice(k).get_shape()) for k in sf.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{Path(folder).name}/{WEIGHTS} is corrupt or not a safetensors file: {e}") from None


def checked_shapes(where: str, what: str, module: nn.Module) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of `module` (built on the meta device: nothing allocated); a CheckpointError naming
    `where` and `what` when it would hold more than MAX_PARAMETERS."""
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    total = sum(int(torch.Size(s).numel()) for s in own.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(f"{where}: {what} would have {total / 1e6:,.0f} M parameters "
                              f"(limit {MAX_PARAMETERS / 1e6:,.0f} M); its config is not one this studio runs")
    return own


def build_checked(folder: str | Path, builders: dict, label: str | None = None) -> dict[str, nn.Module]:
    """Build each component (name -> zero-argument builder) on the meta device first, compare its shapes with the
    weights file's header and refuse a mismatch or an absurd size, and only then build it for real: a config that
    asks for a huge network fails here, before any memory is allocated. label: the folder's name in messages."""
    shapes = weight_shapes(folder)
    name_of = label or Path(folder).name
    for name, make in builders.items():
        try:
            with torch.device("meta"):
                meta = make()
        except (RuntimeError, NotImplementedError, TypeError, ValueError) as e:
            raise CheckpointError(f"{name_of}: component {name!r} cannot be built from its config: {e}") from None
        own = checked_shapes(name_of, f"component {name!r}", meta)
        theirs = {k[len(name) + 1:]: v for k, v in shapes.items() if k.startswith(name + ".")}
        bad = [f"{k}: weights {theirs[k]} vs config {own[k]}" for k in own if k in theirs and theirs[k] != own[k]]
        missing = sorted(set(own) - set(theirs))
        if bad or missing:
            raise CheckpointError(f"{name_of}: component {name!r} does not match its weights "
                                  f"(shape {bad[:3]}, missing {missing[:5]}{'...' if len(missing) > 5 else ''})")
    return {name: make() for name, make in builders.items()}


def load_modules(modules: dict[str, nn.Module], tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Strictly load '<name>.<param>' tensors into the given modules, casting to each module's dtype.
    Missing, unexpected or mis-shaped tensors raise a CheckpointError naming them."""
    for name, module in modules.items():
        prefix = f"{name}."
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not sd:
            raise CheckpointError(f"{source} has no weights for component {name!r}")
        own = module.state_dict()
        missing, unexpected = sorted(set(own) - set(sd)), sorted(set(sd) - set(own))
        bad = [f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
               for k in set(own) & set(sd) if own[k].shape != sd[k].shape]
        if missing or unexpected or bad:
            raise CheckpointError(
                f"{source}: component {name!r} does not match its config "
                f"(missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, shape {bad[:3]})")
        module.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items()}, strict=True)


def save_train_state(folder: str | Path, state: dict) -> None:
    """Optimisers, step and RNG states (tensors and plain containers only)."""
    _atomic_write(Path(folder) / TRAIN_STATE, lambda p: torch.save(state, p))


def load_train_state(folder: str | Path) -> dict | None:
    f = Path(folder) / TRAIN_STATE
    if not f.is_file():
        return None
    try:
        return torch.load(f, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"{f} is corrupt or holds more than tensors: {e}") from None


def save_snapshot(run: str | Path, dest: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """A compact warm-start file of a GAN run (its networks and EMA generator in `dtype`, step and wall time; no
    optimiser state) + its log.jsonl, small enough to commit so that a later machine can go on training."""
    import shutil

    run, dest = Path(run), Path(dest)
    state = load_train_state(run)
    if state is None or "nets" not in state:
        raise CheckpointError(f"{run} has no GAN training state ({TRAIN_STATE})")
    tensors = {}
    for prefix, sd in [(f"nets.{k}", v) for k, v in state["nets"].items()] + [("ema", state["ema"])]:
        for k, v in sd.items():
            tensors[f"{prefix}.{k}"] = (v.to(dtype) if v.is_floating_point() else v).contiguous().clone()
    meta = {"step": str(int(state["step"])), "wall": str(float(state.get("wall", 0.0))),
            "cpu": str(float(state.get("cpu", 0.0))),
            "config": json.dumps(read_config(run).get("config", {}), sort_keys=True)}
    _atomic_write(dest / SNAPSHOT, lambda p: save_file(tensors, p, metadata=meta))
    if (run / "log.jsonl").is_file():
        shutil.copyfile(run / "log.jsonl", dest / "log.jsonl")
    return dest


def load_snapshot(folder: str | Path) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """(state dicts by prefix: 'nets.G', 'nets.D', ..., 'ema'; meta with step, wall and config) of a snapshot."""
    from safetensors import safe_open

    f = Path(folder) / SNAPSHOT
    if not f.is_file():
        raise CheckpointError(f"no warm-start snapshot at {f} (make one with: python -m t2i train snapshot RUN --out "
                              f"{folder})")
    try:
        with safe_open(str(f), "pt") as h:
            meta = dict(h.metadata() or {})
            flat = {k: h.get_tensor(k) for k in h.keys()}
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{f} is not a readable safetensors file: {e}") from None
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in flat.items():
        head, _, rest = k.partition(".")
        if head == "nets":
            net, _, rest = rest.partition(".")
            head = f"nets.{net}"
        groups.setdefault(head, {})[rest] = v.float() if v.is_floating_point() else v
    meta = {"step": int(meta.get("step", 0)), "wall": float(meta.get("wall", 0.0)), "cpu": float(meta.get("cpu", 0.0)),
            "config": json.loads(meta.get("config", "{}"))}
    return groups, meta


@dataclass
class LoadedFolder:
    """A model folder loaded by load_folder."""
    folder: Path  # the local folder (a Hub id is downloaded into the Hugging Face cache)
    record: dict  # config.json
    config: Any  # the typed config
    modules: dict[str, nn.Module]  # component -> network (eval mode, frozen, on the device)


def load_folder(name, model_type: str | tuple[str, ...], config, build=None, device="cpu",
                what: str = "") -> LoadedFolder:
    """The one way to load a model folder, with one error style (a CheckpointError naming the folder, never the
    server's path): the config record (read_config), its model type (one of `model_type`; `what` says what was
    expected, e.g. "a species classifier"), its typed config and its networks.

    config: the config dataclass (unknown or missing keys are named) or a parser record -> typed config (e.g.
            through a family's config_from_dict; its TypeError / ValueError / KeyError become the CheckpointError).
    build:  (typed config, record) -> {component: zero-argument builder}: each network is built on the meta device
            first and refused when it would be huge or its shapes disagree with the weights (build_checked), then
            built and strictly loaded (load_modules). None: only the record and the config are read."""
    label = Path(str(name)).name
    record = read_config(name)
    types = (model_type,) if isinstance(model_type, str) else tuple(model_type)
    if record["model_type"] not in types:
        raise CheckpointError(f"{label} holds a {record['model_type']!r} model, not {what or 'a ' + types[0]}")
    try:
        if dataclasses.is_dataclass(config):
            unknown = set(record["config"]) - {f.name for f in dataclasses.fields(config)}
            if unknown:
                raise ValueError(f"unknown config keys {sorted(unknown)}")
        cfg = config(**record["config"]) if dataclasses.is_dataclass(config) else config(record)
        builders = build(cfg, record) if build is not None else {}
    except (TypeError, ValueError, KeyError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{label}: config does not match this version of t2i: {e}") from None
    folder = resolve(name)
    modules = build_checked(folder, builders, label) if builders else {}
    if modules:
        load_modules(modules, read_weights(folder), label)
    return LoadedFolder(folder, record, cfg,
                        {k: m.to(device).eval().requires_grad_(False) for k, m in modules.items()})


def load_component(name, model_type: str, config_cls, build, component: str, device="cpu", what: str = ""):
    """load_folder for a single-network folder (an evaluator or helper net): build(cfg) -> the `component` network;
    returns (that network in eval mode, frozen, on `device`; the config.json record)."""
    got = load_folder(name, model_type, config_cls, lambda cfg, _: {component: lambda: build(cfg)}, device, what)
    return got.modules[component], got.record
