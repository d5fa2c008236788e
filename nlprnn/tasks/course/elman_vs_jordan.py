"""Elman vs Jordan recurrence on the adding problem, at the same hidden size and training budget.

Elman: h_t = tanh(W x_t + U h_{t-1} + b), the whole hidden state recurs.
Jordan: h_t = tanh(W x_t + U y_{t-1} + b), y_t = V h_t + c, only the output recurs; on a task with
one output its memory is one number per step. A second Jordan net gets as many hidden units as
make its parameter count match Elman's, so the comparison is also fair in weights.
"""

from __future__ import annotations

import statistics

import torch

from nlprnn.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from nlprnn.models.many_to_one import SequenceToOne
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import (
    hidden_for_budget,
    parameter_count,
    start,
    synthetic_splits,
    to_device,
    train_and_score,
    write_results,
)


def summary(name: str, runs: list[dict]) -> dict:
    """One model's row: its test MSE over the seeds (mean ± sd, and each), how many beat the baseline."""
    mse = [r["test_loss"] for r in runs]
    return {
        "model": name,
        "parameters": runs[0]["parameters"],
        "test MSE": statistics.mean(mse),
        "sd": statistics.stdev(mse) if len(mse) > 1 else 0.0,
        "each seed": " / ".join(f"{m:.4f}" for m in mse),
        "seeds below baseline / 2": sum(m < ADDING_BASELINE_MSE / 2 for m in mse),
        "seconds (all seeds)": sum(r["seconds"] for r in runs),
    }


def run(cfg) -> dict:
    out, device = start(cfg)
    e = cfg.experiment
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = to_device(synthetic_splits(adding_problem, sizes, cfg.seed, length=e.length), device)
    budget = parameter_count(SequenceToOne(2, e.hidden, 1, "rnn"))
    wide = hidden_for_budget(lambda h: SequenceToOne(2, h, 1, "jordan"), budget)
    models = {
        f"Elman H={e.hidden}": lambda: SequenceToOne(2, e.hidden, 1, "rnn"),
        f"Jordan H={e.hidden}": lambda: SequenceToOne(2, e.hidden, 1, "jordan"),
        f"Jordan H={wide} (Elman's parameters)": lambda: SequenceToOne(2, wide, 1, "jordan"),
    }
    rows, curves = [], {}
    for name, build_model in models.items():
        runs = []
        for seed in e.seeds:  # the same data; each seed its own initial weights and batch order
            torch.manual_seed(seed)
            row, curve = train_and_score(
                cfg, f"{name} seed {seed}", build_model().to(device), data, "mse", out, seed=seed
            )
            runs.append(row)
            curves.setdefault(name, curve)  # the first seed's curve is plotted
        rows.append(summary(name, runs))
    line_plot(
        {name: ([r["epoch"] for r in c], [r["val_loss"] for r in c]) for name, c in curves.items()},
        out / "val_mse.png",
        "epoch",
        "validation MSE",
        title=f"adding problem, T={e.length}, seed {e.seeds[0]}",
        logy=True,
        hline=(ADDING_BASELINE_MSE, "predict the mean (0.167)"),
    )
    write_results(
        out,
        f"Elman vs Jordan, adding problem T={e.length}",
        {"result": rows},
        {"baseline_mse": ADDING_BASELINE_MSE},
    )
    return {"result": rows, "curves": curves}


MODES = {"train": run}
