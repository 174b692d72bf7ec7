"""t-SNE of latent codes (CI-GAN Fig. 9): codes sampled through the mapping network, w = mapping(z), against
inverted codes of real images, w' = E(x), with and without cycle-consistency training.

Marker shape tells the source (o = sampled w, ^ = inverted E(x)), colour the attribute label (e.g. the
SynthBirds `has_belly_color::red` value of each image). Figures are built with matplotlib's object API on the
Agg canvas (no pyplot state, safe in a server). `latent_frechet` gives the same comparison as a number.
"""
from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

SAMPLED_MARKER, INVERTED_MARKER = "o", "^"
UNLABELLED = "#9e9e9e"


def _embed(w_sampled: np.ndarray, w_inverted: np.ndarray, seed: int, perplexity: float | None) -> np.ndarray:
    """Joint 2-D t-SNE of both sets (rows = codes); returns [n_sampled + n_inverted, 2]."""
    from sklearn.manifold import TSNE

    a, b = np.asarray(w_sampled, dtype=np.float32), np.asarray(w_inverted, dtype=np.float32)
    assert a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[1], (a.shape, b.shape)
    x = np.concatenate([a, b])
    n = len(x)
    if perplexity is None:
        perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    perplexity = min(perplexity, n - 1.0)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def _colours(labels: list[str] | None, n_sampled: int, n_inverted: int):
    """Per-point colours and the legend entries. Labels cover all points (sampled first) or only the inverted ones
    (the sampled codes have no image attributes; they are drawn grey)."""
    n = n_sampled + n_inverted
    if labels is None:
        return [UNLABELLED] * n_sampled + ["C0"] * n_inverted, {}
    labels = list(labels)
    if len(labels) == n_inverted:
        labels = [None] * n_sampled + labels
    if len(labels) != n:
        raise ValueError(f"labels must cover the inverted codes ({n_inverted}) or all codes ({n}), got {len(labels)}")
    names = sorted({lab for lab in labels if lab is not None})
    named = {name: _colour_of(name) for name in names}
    if all(c is not None for c in named.values()):  # colour attributes are drawn in their own colour
        palette = named
    else:
        palette = {name: f"C{i % 10}" if len(names) <= 10 else _tab20(i) for i, name in enumerate(names)}
    return [UNLABELLED if lab is None else palette[lab] for lab in labels], palette


# CUB colour names matplotlib does not know
_EXTRA_COLOURS = {"rufous": "#a8552f", "buff": "#f0dc82", "iridescent": "#4b9c9c"}


def _colour_of(label: str):
    """The colour a label names ('red', 'has_belly_color::red', 'rufous'), or None."""
    from matplotlib.colors import is_color_like

    value = str(label).split("::")[-1].strip().lower()
    if value in _EXTRA_COLOURS:
        return _EXTRA_COLOURS[value]
    return value if value.isalpha() and is_color_like(value) else None


def _tab20(i: int):
    from matplotlib import colormaps

    return colormaps["tab20"](i % 20)


def _draw(ax, xy: np.ndarray, colours, n_sampled: int, title: str) -> None:
    cs, ci = colours[:n_sampled], colours[n_sampled:]
    ax.scatter(xy[:n_sampled, 0], xy[:n_sampled, 1], c=cs, marker=SAMPLED_MARKER, s=18, alpha=0.6, linewidths=0)
    ax.scatter(xy[n_sampled:, 0], xy[n_sampled:, 1], c=ci, marker=INVERTED_MARKER, s=26, alpha=0.85,
               edgecolors="k", linewidths=0.3)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(fig: Figure, palette: dict) -> None:
    handles = [Line2D([], [], ls="", marker=SAMPLED_MARKER, color=UNLABELLED, label="sampled w = mapping(z)"),
               Line2D([], [], ls="", marker=INVERTED_MARKER, color="k", mfc="w", label="inverted w' = E(x)")]
    handles += [Line2D([], [], ls="", marker="s", color=c, mec="k", mew=0.3, label=name)
                for name, c in list(palette.items())[:20]]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)


def _finish(fig: Figure, out_png) -> Figure:
    FigureCanvasAgg(fig)
    if out_png is not None:
        fig.savefig(out_png, dpi=120, bbox_inches="tight")
    return fig


def latent_tsne(w_sampled: np.ndarray, w_inverted: np.ndarray, labels: list[str] | None = None,
                title: str = "W: sampled vs inverted", out_png=None, seed: int = 0,
                perplexity: float | None = None) -> Figure:
    """One t-SNE panel of sampled codes w_sampled [n_s, w_dim] and inverted codes w_inverted [n_i, w_dim].
    labels: attribute label per inverted code (or per code, sampled first); out_png: also save there."""
    xy = _embed(w_sampled, w_inverted, seed, perplexity)
    colours, palette = _colours(labels, len(w_sampled), len(w_inverted))
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    _draw(fig.add_subplot(1, 1, 1), xy, colours, len(w_sampled), title)
    _legend(fig, palette)
    return _finish(fig, out_png)


def cycle_tsne_comparison(w_sampled: np.ndarray, w_inverted_cycle: np.ndarray, w_inverted_nocycle: np.ndarray,
                          labels: list[str] | None = None, title: str = "CI-GAN inversion: t-SNE of W",
                          out_png=None, seed: int = 0, perplexity: float | None = None) -> Figure:
    """CI-GAN Fig. 9: two panels, the same sampled codes against E(x) of an encoder trained with cycle
    consistency (left) and one trained without (right); each panel is its own t-SNE fit (same seed), and the
    panel titles carry the Frechet distance between the sampled and the inverted codes in W."""
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    palette: dict = {}
    for i, (w_inv, name) in enumerate(((w_inverted_cycle, "with cycle consistency"),
                                       (w_inverted_nocycle, "without cycle consistency"))):
        xy = _embed(w_sampled, w_inv, seed, perplexity)
        colours, palette = _colours(labels, len(w_sampled), len(w_inv))
        fd = latent_frechet(w_sampled, w_inv)
        _draw(fig.add_subplot(1, 2, i + 1), xy, colours, len(w_sampled), f"{name}\nFD(w, E(x)) = {fd:.3g}")
    fig.suptitle(title, fontsize=11)
    _legend(fig, palette)
    return _finish(fig, out_png)


def latent_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of codes (rows): how far the distribution of E(x) is
    from that of mapping(z) in W — the number behind the t-SNE picture (same formula as FID)."""
    from t2i.frechet import frechet_distance, statistics

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return frechet_distance(*statistics(a), *statistics(b))
