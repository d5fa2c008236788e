"""Mean ± standard deviation of every metric over the jobs of a sweep.

    python -m nlprnn recipe=sentiment --multirun seed=1,2,3
    python scripts/summarize.py runs/sentiment/sweep_2026-11-27_10-00-00

Reads each job's results.json (the folders under SWEEP_DIR), prints a markdown table with one row
per metric (mean ± sample standard deviation, the number of jobs, each job's value) and writes it
to SWEEP_DIR/summary.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

SKIP = {"step", "seconds", "sentences", "texts", "chars", "beam_size", "support"}


def flatten(results: dict, prefix: str = "") -> dict[str, float]:
    """{"val": {"f1": 91.2, "per_type": {...}}} -> {"val.f1": 91.2, "val.per_type.PER.f1": ...}: the
    numbers of a results.json, without counts, timings and confusion matrices."""
    out = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and key not in SKIP:
            out[name] = float(value)
    return out


def jobs(sweep: Path) -> list[tuple[str, dict[str, float]]]:
    """(job folder name, its flattened results) for every job that finished."""
    found = sorted(sweep.glob("*/results.json"))
    if not found:
        raise SystemExit(f"error: no */results.json under {sweep}: is it a sweep directory (--multirun)?")
    return [(path.parent.name, flatten(json.loads(path.read_text()))) for path in found]


def table(runs: list[tuple[str, dict[str, float]]]) -> str:
    names = [name for name, _ in runs]
    metrics = sorted({m for _, values in runs for m in values})
    lines = [
        f"{len(runs)} jobs: {', '.join(names)}",
        "",
        "| metric | mean ± sd | n | values |",
        "|---|---|---|---|",
    ]
    for metric in metrics:
        values = [v[metric] for _, v in runs if metric in v]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        shown = ", ".join(f"{v:.4g}" for v in values)
        lines.append(f"| {metric} | {statistics.fmean(values):.4g} ± {sd:.2g} | {len(values)} | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep_dir", type=Path)
    sweep = parser.parse_args(argv).sweep_dir
    text = table(jobs(sweep))
    (sweep / "summary.md").write_text(text)
    print(text, end="")
    return text


if __name__ == "__main__":
    sys.exit(main() and 0)
