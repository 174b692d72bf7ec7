"""The Studio service: models (discovered once), their pipelines (loaded once, lazily, under a lock, shared by all
users), the result cache and the input checks; the tabs' logic comes from the GenerateTabs and EditTabs mixins."""
from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

from t2i import checkpoint as ckpt
from t2i import load_pipeline
from t2i.export import optimize_for_inference, trace_image_module
from t2i.pipeline import MAX_RERANK, GenerationResult, TextToImagePipeline, check_caption, check_number
from t2i.studio.catalogue import DEFAULT_ORDER, KIND_ORDER, METRIC_LABELS, WORKS_FID, WORKS_PART_ACC, ModelEntry, \
    checkpoints_root, discover_models, hub_model_ids
from t2i.studio.editing import EditTabs
from t2i.studio.errors import StudioError, parse_flag
from t2i.studio.generate import GenerateTabs
from t2i.upsampling import HOW_TO_SHIP, SHIPPED_UPSAMPLER, load_output_upsampler, upsample_result

log = logging.getLogger("t2i.studio")

CLASSIFIER_NAME = "attr-classifier-synthbirds-64"
MAX_IMAGES = 8  # per Generate request
MAX_SEED = 2 ** 63 - 1 - MAX_IMAGES  # image i of a request shows seed + i
BEST_OF = 4  # the Generate tab's default best-of-k (DAMSM reranking of the GANs' draws; 1 = plain draws)
CAM_UNAVAILABLE = ("CAM saliency needs the attribute classifier `{name}` in `{root}` (train it with "
                   "`python -m t2i train attr-classifier`); it is not there, so the CAM view is hidden.")


class Studio(GenerateTabs, EditTabs):
    """Models (discovered once), their pipelines (loaded once, lazily, thread-safe) and every tab's logic."""

    def __init__(self, root: str | Path | None = None, extra_models: list[str] | None = None, device: str = "cpu",
                 out_dir: str | Path | None = None, result_cache: int = 16, parallel: int = 2,
                 fast: bool = True):
        self.root = checkpoints_root() if root is None else Path(root)
        self.problems: list[str] = []
        self.entries = discover_models(self.root, hub_model_ids() if extra_models is None else extra_models,
                                       self.problems)
        self.device = device
        self.out_dir = Path(out_dir) if out_dir else Path(tempfile.gettempdir()) / "t2i-studio"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._pipes: dict[str, object] = {}
        self._load_locks: dict[str, threading.Lock] = {}
        self._run_locks: dict[str, threading.Lock] = {}
        # requests of one model (generations, edits) run side by side, up to `parallel` at once: inference and each
        # edit's own latent leave the networks untouched; the pipeline's lazily loaded parts are loaded once, under
        # the model's run lock, before the first edit
        self.parallel = max(1, int(parallel))
        self.fast = fast  # text-to-image generators run traced + frozen (t2i.export; same images, checked on load)
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._edit_warm: set[str] = set()
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple, GenerationResult] = OrderedDict()
        self._result_cache = result_cache
        self._classifier = None
        self._classifier_checked = False
        self._upsampler, self._upsampler_checked = None, False  # the 4x upsampler of every model's 256 px output

    # --- models ---------------------------------------------------------------------------------------------
    def models(self, kind: str | None = None) -> list[ModelEntry]:
        return [e for e in self.entries if kind is None or e.kind == kind]

    def generators(self) -> list[ModelEntry]:
        """Every model that can generate from text: the GANs, then CI-GAN (trained ones first)."""
        return self.models("t2i") + self.edit_models()

    def edit_models(self) -> list[ModelEntry]:
        """CI-GAN folders that can edit: the final (aligner) stage when one is there, else every cigan folder."""
        cig = self.models("edit")
        final = [e for e in cig if e.stage in (None, "aligner")]
        return final or cig

    def edit_available(self) -> bool:
        if not any(e.trained for e in self.edit_models()):
            return False
        try:
            import importlib

            importlib.import_module("t2i.edit")
        except Exception as e:  # noqa: BLE001 - a missing or broken edit module disables the Edit tab only
            if not isinstance(e, ModuleNotFoundError):
                log.warning("t2i.edit cannot be imported: %s", e)
            return False
        return True

    def entry(self, name: str) -> ModelEntry:
        for e in self.entries:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.entries) or "none"
        raise StudioError(f"unknown model {name!r}; available: {known}")

    def default_generator(self) -> str | None:
        """The best trained generator by the judge's PartAcc (else AttrAcc) when recorded, else by DEFAULT_ORDER."""
        gens = [e for e in self.generators() if e.trained]
        if not gens:
            return None

        def key(e: ModelEntry):
            acc = e.metrics.get("part_acc/in_species", e.metrics.get("attr_acc"))
            rank = DEFAULT_ORDER.index(e.model_type) if e.model_type in DEFAULT_ORDER else len(DEFAULT_ORDER)
            return (-(acc if isinstance(acc, (int, float)) else -1.0), rank, e.name)

        return min(gens, key=key).name

    def catalogue(self) -> list[ModelEntry]:
        """Every model for the Models tab: generators, then the editing model, the classifier, DAMSM."""
        return sorted(self.entries, key=lambda e: (KIND_ORDER.get(e.kind, 9), not e.trained, e.name))

    def overview(self) -> str:
        """A Markdown table of the text-to-image models and their headline metrics (the Models tab's top)."""
        gens = self.generators()
        if not gens:
            return "_No text-to-image models found._"
        keys = [k for k in ("part_acc/in_species", "part_acc/novel", "diversity", "attr_acc", "fid", "gen_images_per_s")
                if any(k in e.metrics for e in gens)]
        head = ["model", "status", "family", "px", "steps"] + [
            METRIC_LABELS[k][0] + (" ↓" if METRIC_LABELS[k][2] else "") for k in keys]
        rows = []
        for e in gens:
            status = "✓ works" if e.works else "experimental" if e.trained else "not trained"
            r = [f"`{e.name}`", status, e.family_name, str(e.record.get("resolution", "–")),
                 f"{e.record['step']:,}" if isinstance(e.record.get("step"), int) else "–"]
            for k in keys:
                v = e.metrics.get(k)
                r.append(METRIC_LABELS[k][1].format(v) if isinstance(v, (int, float)) else "–")
            rows.append(r)
        out = ["✓ works: the part judge finds the colour asked for on at least half the parts (PartAcc ≥ "
               f"{WORKS_PART_ACC}) and the pictures look like birds (FID ≤ {WORKS_FID:g}).", "",
               "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)

    def status(self) -> str:
        """A Markdown line for the top of the app: how many models, or what to do when there are none."""
        gens = self.generators()
        trained = [e for e in gens if e.trained]
        if not gens:
            msg = (f"**No text-to-image models found** in `{self.root.name}/`. Train one, e.g. "
                   "`python -m t2i train gan --config train/swfgan_synthbirds64.toml`, copy its folder there, "
                   "or set `T2I_CHECKPOINTS` / `T2I_MODELS`.")
        elif not trained:
            msg = (f"**{len(gens)} model(s) in `{self.root.name}/`, none trained yet** (no model.safetensors). "
                   "Train them with the recipes in `train/` (`python -m t2i train gan --config ...`).")
        else:
            msg = (f"{len(trained)} trained model{'s' if len(trained) != 1 else ''} ready"
                   + (f", {len(gens) - len(trained)} not trained yet" if len(gens) > len(trained) else "")
                   + " · runs on CPU")
        if self.problems:
            msg += "\n\n" + "\n".join(f"- {p}" for p in self.problems)
        return msg

    def pipeline(self, name: str):
        """The model's pipeline, loaded on first use (one load per model even with concurrent requests)."""
        e = self.entry(name)
        if name in self._pipes:
            return self._pipes[name]
        with self._lock:
            lock = self._load_locks.setdefault(name, threading.Lock())
            self._run_locks.setdefault(name, threading.Lock())
            self._slots.setdefault(name, threading.BoundedSemaphore(self.parallel))
        with lock:
            if name not in self._pipes:
                if not e.trained:
                    raise StudioError(f"model {name!r} is not trained yet: {e.folder / ckpt.WEIGHTS} is missing. "
                                      "Pick another model, or train it with the recipe in train/.")
                t0 = time.perf_counter()
                try:
                    pipe = load_pipeline(e.folder, device=self.device, upsampler=self.upsampler())
                    if self.fast and isinstance(pipe, TextToImagePipeline):
                        optimize_for_inference(pipe)  # falls back to the eager generator if the trace differs
                except ckpt.CheckpointError as err:
                    raise StudioError(f"model {name!r} could not be loaded: {err}") from None
                except ImportError as err:
                    raise StudioError(f"model {name!r} needs code that is not installed: {err}") from None
                self._pipes[name] = pipe
                log.info("loaded %s in %.2fs", name, time.perf_counter() - t0)
        return self._pipes[name]

    def _generator(self, name: str):
        e = self.entry(name)
        if e.kind not in ("t2i", "edit"):
            raise StudioError(f"{name!r} is a {e.family_name} model, not a text-to-image model")
        return self.pipeline(name)  # both pipelines share one call shape (t2i.pipeline.Pipeline)

    def classifier(self):
        """The attribute classifier for CAM (None when it is not shipped); loaded once."""
        if not self._classifier_checked:
            with self._lock:
                if not self._classifier_checked:
                    folder = self.root / CLASSIFIER_NAME
                    cands = [folder] if (folder / ckpt.CONFIG).is_file() else \
                        [e.folder for e in self.models("classifier") if e.trained]
                    for f in cands:
                        try:
                            from t2i.eval.attributes import load_attr_classifier

                            self._classifier = load_attr_classifier(f, self.device)
                            break
                        except (ckpt.CheckpointError, TypeError, KeyError) as err:
                            self.problems.append(f"attribute classifier {f.name} not usable: {err}")
                    self._classifier_checked = True
        return self._classifier

    def upsampler(self):
        """The shared 4x upsampler (`root`/upsampler-synthbirds-256) of every model's 256 px images and the edits
        at full size; None when it is not shipped (or cannot be loaded: said in `problems`). Loaded once."""
        if not self._upsampler_checked:
            with self._lock:
                if not self._upsampler_checked:
                    folder = self.root / SHIPPED_UPSAMPLER
                    if (folder / ckpt.WEIGHTS).is_file():
                        try:
                            up = load_output_upsampler(folder, self.device)
                            if self.fast:  # traced + frozen; the eager one when the trace differs
                                up = trace_image_module(up, up.cfg.in_size, what="upsampler")
                            self._upsampler = up
                        except ckpt.CheckpointError as err:
                            self.problems.append(f"{SHIPPED_UPSAMPLER} not usable, images stay at 64 px: {err}")
                    self._upsampler_checked = True
        return self._upsampler

    def upsampling_available(self) -> bool:
        """Whether images can be shown at 4x (the default then) through the shipped upsampler."""
        return self.upsampler() is not None

    def _upsampled(self, upsample) -> bool:
        """A request's 'upsampled' choice (None: the default, on when the upsampler is shipped); asking for it without
        one is a StudioError saying how to ship one."""
        if upsample is None:
            return self.upsampling_available()
        if parse_flag("upsampled", upsample) and not self.upsampling_available():
            raise StudioError(f"256 px output needs the 4x upsampler `{SHIPPED_UPSAMPLER}` in `{self.root.name}/`: "
                              f"{HOW_TO_SHIP}. Untick it for the model's own 64 px images.")
        return parse_flag("upsampled", upsample)

    def cam_unavailable_message(self) -> str:
        return CAM_UNAVAILABLE.format(name=CLASSIFIER_NAME, root=f"{self.root.name}/")

    # --- input checks, the shared run -----------------------------------------------------------------------
    @staticmethod
    def _number(name: str, value, lo, hi, whole: bool = True, default=None):
        """pipeline.check_number (finite, in range, whole) with the studio's error type; blank -> default."""
        if value in (None, "") and default is not None:
            return default
        try:
            return check_number(name, value, lo, hi, whole)
        except ValueError as e:
            raise StudioError(str(e)) from None

    @classmethod
    def _check_n(cls, n) -> int:
        return cls._number("number of images", n, 1, MAX_IMAGES)

    @classmethod
    def _check_seed(cls, seed) -> int:
        return cls._number("the seed", seed, 0, MAX_SEED, default=0)

    @classmethod
    def _check_truncation(cls, t) -> float | None:
        if t in (None, "", 0, 0.0):
            return None
        return cls._number("truncation (0 = model default)", t, 0.0, 4.0, whole=False)

    @classmethod
    def _check_rerank(cls, k) -> int:
        return cls._number("best-of", k, 1, MAX_RERANK, default=1)

    def run(self, caption: str, model: str, seed=0, n=4, truncation=None, rerank=1,
            picks: list[int] | None = None, upsample=False) -> GenerationResult:
        """The raw GenerationResult, cached per (model, caption, seed, n, truncation, best-of) so Look inside and
        Download reuse what Generate made. Image i comes from seed + i alone (its best of `rerank` draws), so a
        request with that seed redraws it as image #1. picks: keep these draws instead (another caption's picks:
        the same noise, for a word swap). upsample (None: when the upsampler is shipped): the images through the
        shared 4x upsampler, the model's own in result.originals (made from, and cached beside, the model's own)."""
        if not model:
            gens = self.generators()
            why = (f": none found in {self.root.name}/" if not gens else
                   ": none is trained yet (see the note at the top)" if not any(e.trained for e in gens) else "")
            raise StudioError("no model selected" + why)
        caption = check_caption(caption)
        seed, n, truncation = self._check_seed(seed), self._check_n(n), self._check_truncation(truncation)
        rerank = self._check_rerank(rerank)
        key = (model, caption, seed, n, truncation, rerank, tuple(picks) if picks else None)
        if self._upsampled(upsample):
            big = self._cached(key + ("4x",))
            if big is None:
                big = upsample_result(self.run(caption, model, seed, n, truncation, rerank, picks), self.upsampler())
            return self._remember(key + ("4x",), big)
        res = self._cached(key)
        if res is not None:
            return res
        gen = self._generator(model)
        if self.entry(model).kind == "edit":
            rerank = 1  # CI-GAN makes each image for the caption already: one draw each (the info says so)
        with self._slots[model]:  # up to `parallel` requests of one model at once (the pipelines lock their caches)
            extra = {"rerank": rerank, **({"picks": list(picks)} if picks else {})} if rerank > 1 else {}
            res = gen(caption, seeds=[seed + i for i in range(n)], truncation=truncation, **extra)
        return self._remember(key, res)

    def _cached(self, key: tuple) -> GenerationResult | None:
        """A result made before (now the most recently used), or None."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
            return self._results.get(key)

    def _remember(self, key: tuple, res: GenerationResult) -> GenerationResult:
        """Keep `res` as the most recently used result, dropping the oldest beyond the cache size; returns it."""
        with self._lock:
            self._results[key] = res
            self._results.move_to_end(key)
            while len(self._results) > self._result_cache:
                self._results.popitem(last=False)
        return res
