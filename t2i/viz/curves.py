"""Learning curves from the trainer's log.jsonl: the quick evals (eval/attr_acc, eval/r_precision) or any logged
loss against steps or training wall time, one line per run, so runs of different families compare at a glance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

LABELS = {"eval/attr_acc": "AttrAcc (quick eval)", "eval/r_precision": "R-precision (quick eval)",
          "eval/part_acc_in_species": "PartAcc in-species (quick eval)",
          "eval/part_acc_novel": "PartAcc novel combinations (quick eval)", "eval/part_acc": "PartAcc (quick eval)",
          "step": "generator steps", "wall_s": "training wall time (h)"}


def read_log(run) -> tuple[str, list[dict]]:
    """(name, rows) of a run folder, snapshot folder or log.jsonl file; torn lines are skipped."""
    p = Path(run)
    f = p / "log.jsonl" if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"no training log at {f}")
    rows = []
    for line in f.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    name = (p if p.is_dir() else p.parent).name
    return name, rows


def series(rows: list[dict], metric: str, x: str = "step", smooth: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the rows that log `metric` (a moving average over `smooth` points for noisy losses)."""
    pts = [(r[x], r[metric]) for r in rows if metric in r and x in r and r[metric] is not None]
    if not pts:
        return np.zeros(0), np.zeros(0)
    xs, ys = (np.asarray(v, dtype=np.float64) for v in zip(*pts))
    if smooth > 1 and len(ys) >= smooth:
        ys = np.convolve(ys, np.ones(smooth) / smooth, mode="valid")
        xs = xs[smooth - 1:]
    if x == "wall_s":
        xs = xs / 3600.0
    return xs, ys


EVAL_PANELS = (("fid", "FID, full evaluation (lower is better)"), ("diversity", "Diversity, full evaluation"))


def _eval_panels(fig: Figure, evals: list, x: str, first: int, total: int, share=None) -> None:
    """FID and diversity of full evaluations (`python -m t2i eval --json` files), one point each at the evaluated
    checkpoint's step or training hours; the real images' diversity as a dashed line."""
    recs = [(Path(f).stem, json.loads(Path(f).read_text())) for f in evals]
    key = "train_wall_s" if x == "wall_s" else "train_steps"
    for j, (metric, label) in enumerate(EVAL_PANELS):
        ax = fig.add_subplot(1, total, first + j + 1, sharex=share)
        for name, e in recs:
            if e.get(metric) is not None and e.get(key) is not None:
                ax.scatter([e[key] / (3600.0 if x == "wall_s" else 1)], [e[metric]], s=36, label=name)
        real = [e["diversity_real"] for _, e in recs if metric == "diversity" and e.get("diversity_real")]
        if real:
            ax.axhline(real[0], ls="--", c="grey", lw=1, label=f"real images {real[0]:.3f}")
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)


def training_curves(runs: list, metrics=("eval/attr_acc", "eval/r_precision"), x: str = "step",
                    smooth: int = 1, targets: dict | None = None, out_png=None, title: str | None = None,
                    evals: list | None = None) -> Figure:
    """One panel per metric, one line per run; targets {metric: value} draws a dashed goal line; evals: full
    evaluation JSONs whose FID and diversity get two more panels on the same horizontal axis."""
    logs = [read_log(r) for r in runs]
    total = len(metrics) + (len(EVAL_PANELS) if evals else 0)
    fig = Figure(figsize=(5.2 * total, 3.8), layout="constrained")
    drawn = 0
    for k, metric in enumerate(metrics):
        ax = fig.add_subplot(1, total, k + 1)
        for name, rows in logs:
            xs, ys = series(rows, metric, x, smooth)
            if len(xs):
                ax.plot(xs, ys, marker="o" if len(xs) < 40 else None, ms=3, label=name)
                drawn += 1
        if targets and metric in targets:
            ax.axhline(targets[metric], ls="--", c="grey", lw=1, label=f"target {targets[metric]:g}")
        ax.set_xlabel(LABELS.get(x, x))
        ax.set_ylabel(LABELS.get(metric, metric))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if not drawn:
        raise ValueError(f"none of {', '.join(str(r) for r in runs)} logs {', '.join(metrics)} "
                         "(quick evals need train.eval_every > 0)")
    if evals:
        _eval_panels(fig, evals, x, len(metrics), total, share=fig.axes[0] if fig.axes else None)
    if title:
        fig.suptitle(title, fontsize=11)
    FigureCanvasAgg(fig)
    if out_png is not None:
        Path(out_png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out_png, dpi=120, bbox_inches="tight")
    return fig


def reach_table(runs: list, metrics=("eval/part_acc_in_species", "eval/part_acc_novel"),
                reach: dict | None = None) -> str:
    """Markdown: per run the last step and wall hours, the best of each metric (with its step) and, for each
    {metric: value} in `reach`, the first step and wall hours at which the metric was >= value ("not yet")."""
    head = ["run", "steps", "wall h"] + [f"best {LABELS.get(m, m).split(' (')[0]} (step)" for m in metrics]
    head += [f"{LABELS.get(m, m).split(' (')[0]} >= {v:g}: step / h" for m, v in (reach or {}).items()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for run in runs:
        name, rows = read_log(run)
        last = max((r for r in rows if "step" in r), key=lambda r: r["step"], default={})
        wall = max((r["wall_s"] for r in rows if "wall_s" in r), default=0.0) / 3600
        cells = [name, str(last.get("step", 0)), f"{wall:.2f}"]
        for m in metrics:
            pts = [(r[m], r["step"]) for r in rows if r.get(m) is not None]
            cells.append(f"{max(pts)[0]:.3f} ({max(pts)[1]})" if pts else "–")
        for m, v in (reach or {}).items():
            hit = next((r for r in sorted(rows, key=lambda r: r.get("step", 0)) if r.get(m) is not None and r[m] >= v), None)
            cells.append(f"{hit['step']} / {hit.get('wall_s', 0) / 3600:.2f}" if hit else "not yet")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
