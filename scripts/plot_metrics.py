"""Plot the learning curves of one or more runs from their metrics.jsonl.

python scripts/plot_metrics.py runs/char_lm/A runs/char_lm/B --metric val_loss --out curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_metrics(run: Path) -> list[dict]:
    path = run / "metrics.jsonl" if run.is_dir() else run
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (pass a run directory or its metrics.jsonl)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot(runs: list[Path], metrics: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        records = read_metrics(run)
        for metric in metrics:
            points = [(r["step"], r[metric]) for r in records if r.get(metric) is not None]
            if not points:
                raise SystemExit(f"error: {run} has no {metric!r}; have: {sorted(records[0])}")
            ax.plot(*zip(*points), marker=".", label=f"{run.name}: {metric}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(", ".join(metrics))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories (or metrics.jsonl files)")
    p.add_argument("--metric", nargs="+", default=["val_loss", "train_loss"])
    p.add_argument("--out", type=Path, default=Path("curves.png"))
    a = p.parse_args(argv)
    plot(a.runs, a.metric, a.out)


if __name__ == "__main__":
    main()
