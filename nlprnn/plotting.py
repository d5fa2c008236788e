"""Figures: attention heatmaps and line plots (matplotlib, written to files, no display needed)."""

from __future__ import annotations

from pathlib import Path

import torch


def attention_heatmap(weights: torch.Tensor, src: list[str], tgt: list[str], path: str | Path) -> Path:
    """weights (T, S): row t is how target piece t attended over the source pieces."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights.detach().float().numpy()
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(src) + 1.5), max(3, 0.4 * len(tgt) + 1.2)))
    image = ax.imshow(w, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src)), src, rotation=60, ha="right", fontsize=9)
    ax.set_yticks(range(len(tgt)), tgt, fontsize=9)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return _save(fig, path, dpi=130)


def line_plot(
    series: dict[str, tuple],
    path: str | Path,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    hline: tuple[float, str] | None = None,
    dashed: tuple[str, ...] = (),
    annotate: list[tuple[float, float, str]] = (),
) -> Path:
    """One line per {label: (xs, ys)} or {label: (xs, ys, sds)}: a band of ± sd around the line
    (the spread over seeds; on a log axis y ×/÷ (1 + sd/y), which stays positive). Labels in
    ``dashed`` are drawn dashed in the colour of the line before them (a training curve beside its
    validation curve); ``hline`` (value, label) draws a dashed grey reference line; ``annotate``
    labels points (x, y, text), e.g. the peaks of a curve. Long titles wrap instead of being cut off."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    colour = None
    for label, (xs, ys, *sds) in series.items():
        style = {"linestyle": "--", "color": colour} if label in dashed else {}
        (line,) = ax.plot(xs, ys, marker="o" if len(xs) <= 12 else None, markersize=4, label=label, **style)
        colour = line.get_color()
        if sds and sds[0] is not None:
            if logy:  # a band that stays positive: y times / divided by (1 + sd / y)
                factor = [1 + s / y if y > 0 else 1.0 for y, s in zip(ys, sds[0])]
                low, high = [y / f for y, f in zip(ys, factor)], [y * f for y, f in zip(ys, factor)]
            else:
                low = [y - s for y, s in zip(ys, sds[0])]
                high = [y + s for y, s in zip(ys, sds[0])]
            ax.fill_between(xs, low, high, color=colour, alpha=0.18, linewidth=0)
    if hline is not None:
        ax.axhline(hline[0], color="grey", linestyle="--", label=hline[1])
    for x, y, text in annotate:
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    if annotate:
        ax.margins(y=0.12)  # room above the highest label
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=10)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, dpi=120)


def _save(fig, path: str | Path, dpi: int) -> Path:
    """Lay out, write (creating the folder) and close a figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
