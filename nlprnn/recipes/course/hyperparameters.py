"""How sensitive are LSTM, GRU and Elman to their hyperparameters? A grid of learning rate x hidden
size on SST-2 sentences (binary sentiment), the same number of updates for every configuration.

Every configuration trains once per seed (initial weights and batch order; the same data); its
score is the validation accuracy of its best checkpoint (validation every ``eval_every`` steps).
For each cell the grid's configurations, each the mean over the seeds, give the spread: best,
median, worst, and the fraction within ``within`` of the best. The cell's best configuration
(chosen on validation) is then reported on test.

A cell is called more sensitive than another when its best-minus-median gap (the accuracy a
middling choice of hyperparameters costs) is larger by more than the seed sd of either cell.
"""

from __future__ import annotations

import statistics

from nlprnn.errors import UserError
from nlprnn.modes.run_setup import seed_everything
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    parameter_count,
    start,
    to_device,
    write_results,
)
from nlprnn.recipes.course.small_data import (
    accuracy_over_seeds,
    fit_classifier,
    make_classifier,
    sst2_splits,
    text_tensors,
)

CLAIM = Claim(
    quote="Muy sensibles a la selección de hiperparámetros",
    english="(LSTMs are) very sensitive to the choice of hyperparameters",
    source="4-rnn-carrillo.md, LSTM «Limitaciones», «HIPERPARÁMETROS»",
)
NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "Elman"}


def run(cfg) -> dict:
    check(cfg)
    out, device = start(cfg)
    e = cfg.experiment
    splits = sst2_splits(cfg)
    data, vocab = text_tensors(splits, e.train_size, cfg.seed, e, list(cfg.data.labels))
    data = to_device(data, device)
    rows = []
    for cell in e.cells:
        for hidden in e.hiddens:
            for lr in e.lrs:
                for seed in e.seeds:  # the same data; each seed its own initial weights and batch order
                    seed_everything(seed)
                    model = make_classifier(cell, hidden, vocab, e).to(device)
                    name = f"{NAMES[cell]} H={hidden} lr={lr:g} seed {seed}"
                    optimizer = {**cfg.optimizer, "lr": lr}
                    row = {"cell": NAMES[cell], "H": hidden, "lr": lr, "seed": seed}
                    row["parameters"] = parameter_count(model)
                    row.update(fit_classifier(cfg, name, model, data, out, seed, optimizer))
                    print(f"{name}: val {row['val_acc']:.4f}")
                    rows.append(row)
    grid, spread = configurations(rows), spreads(configurations(rows), e.within)
    verdict = decide(spread, e.within)
    plot(grid, spread, cfg, out)
    write_results(
        out,
        "Hyperparameter sensitivity: LSTM vs GRU vs Elman on SST-2",
        {
            "spread over the grid (validation accuracy)": spread,
            "each configuration (mean over seeds)": [{k: v for k, v in g.items() if k in GRID} for g in grid],
            "each run": rows,
        },
        {"grid": grid, "vocabulary": vocab, "train_size": len(data["train"][0])},
        findings=[(CLAIM, verdict)],
    )
    return {"grid": grid, "spread": spread, "rows": rows, "verdict": verdict}


def check(cfg) -> None:
    """Settings a user could get wrong: a clear message naming the key."""
    e = cfg.experiment
    if not cfg.trainer.max_steps or cfg.trainer.patience:
        raise UserError(
            "trainer.max_steps must be set and trainer.patience null: "
            "every configuration gets the same updates"
        )
    unknown = [c for c in e.cells if c not in NAMES]
    if unknown:
        raise UserError(f"experiment.cells: {unknown} unknown; choose among {list(NAMES)}")
    if "lstm" not in e.cells or len(e.cells) < 2:
        raise UserError(
            "experiment.cells: the claim is about the LSTM: list lstm and at least one other cell"
        )
    if any(lr <= 0 for lr in e.lrs) or any(h < 1 for h in e.hiddens):
        raise UserError("experiment.lrs and experiment.hiddens must be positive")


GRID = ("cell", "H", "lr", "parameters", "val", "test", "diverged")


def configurations(rows: list[dict]) -> list[dict]:
    """One row per (cell, H, lr): mean and sd over the seeds of validation and test accuracy."""
    grid = []
    for key in dict.fromkeys((r["cell"], r["H"], r["lr"]) for r in rows):
        runs = [r for r in rows if (r["cell"], r["H"], r["lr"]) == key]
        grid.append(
            {
                **dict(zip(("cell", "H", "lr"), key)),
                "parameters": runs[0]["parameters"],
                **accuracy_over_seeds(runs),
                "diverged": sum(r["diverged"] for r in runs),
            }
        )
    return grid


def spreads(grid: list[dict], within: float) -> list[dict]:
    """Per cell, over its configurations: best, median, worst validation accuracy, the fraction
    within ``within`` of the best ("near best"), the median seed sd, and the test accuracy of the
    best configuration."""
    table = []
    for cell in dict.fromkeys(g["cell"] for g in grid):
        configs = sorted((g for g in grid if g["cell"] == cell), key=lambda g: -g["val_acc"])
        values = [g["val_acc"] for g in configs]
        best = configs[0]
        table.append(
            {
                "cell": cell,
                "configurations": len(configs),
                "best": values[0],
                "median": statistics.median(values),
                "worst": values[-1],
                "best - median": values[0] - statistics.median(values),
                "near best": sum(v >= values[0] - within for v in values) / len(values),
                "seed sd (median)": statistics.median(g["val_sd"] for g in configs),
                "best configuration": f"H={best['H']} lr={best['lr']:g}",
                "its test accuracy": best["test"],
            }
        )
    return table


def more_sensitive(a: dict, b: dict) -> bool:
    """a's best-minus-median gap exceeds b's by more than the larger of their seed sds."""
    noise = max(a["seed sd (median)"], b["seed sd (median)"])
    return a["best - median"] - b["best - median"] > noise


def decide(spread: list[dict], within: float) -> Verdict:
    """agrees: the LSTM is more sensitive than every other cell; disagrees: than none; depends."""
    lstm = next(s for s in spread if s["cell"] == "LSTM")
    others = [s for s in spread if s["cell"] != "LSTM"]
    beaten = [s["cell"] for s in others if more_sensitive(lstm, s)]
    word = "agrees" if len(beaten) == len(others) else "disagrees" if not beaten else "depends"
    gaps = "; ".join(
        f"{s['cell']} {100 * s['best - median']:.1f} (seed sd {100 * s['seed sd (median)']:.1f})"
        for s in spread
    )
    near = "; ".join(f"{s['cell']} {s['near best']:.0%}" for s in spread)
    return Verdict(
        word,
        f"Validation accuracy lost by the median configuration instead of the best (points): {gaps}. "
        f"The LSTM is more sensitive than {', '.join(beaten) or 'no other cell'} by more than the seed "
        f"sd. Configurations within {100 * within:g} points of their cell's best: {near}.",
    )


def plot(grid: list[dict], spread: list[dict], cfg, out) -> None:
    e = cfg.experiment
    seeds = f"mean ± sd of {len(e.seeds)} seeds"
    profile = {}
    for s in spread:
        configs = sorted((g for g in grid if g["cell"] == s["cell"]), key=lambda g: -g["val_acc"])
        ranks = list(range(1, len(configs) + 1))
        profile[s["cell"]] = (ranks, [g["val_acc"] for g in configs], [g["val_sd"] for g in configs])
    line_plot(
        profile,
        out / "sorted_configurations.png",
        "configuration, best to worst (of the learning rate x hidden size grid)",
        "validation accuracy",
        f"SST-2: each cell's {len(e.lrs)} x {len(e.hiddens)} configurations sorted ({seeds})",
    )
    for hidden in e.hiddens:  # the cells side by side, one plot per hidden size
        line_plot(
            {
                NAMES[cell]: tuple(
                    list(v)
                    for v in zip(
                        *[
                            (g["lr"], g["val_acc"], g["val_sd"])
                            for g in grid
                            if (g["cell"], g["H"]) == (NAMES[cell], hidden)
                        ]
                    )
                )
                for cell in e.cells
            },
            out / f"lr_H{hidden}.png",
            "learning rate (log scale)",
            "validation accuracy",
            f"SST-2, hidden size {hidden}: validation accuracy vs learning rate "
            f"({seeds}, {cfg.trainer.max_steps} updates each)",
            logx=True,
        )


MODES = {"train": run}
