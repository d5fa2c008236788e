"""The lectures' three feedback types on the adding problem, each trained to convergence.

Elman: h_t = tanh(W x_t + U h_{t-1} + b), the whole hidden state recurs.
Jordan: h_t = tanh(W x_t + U y_{t-1} + b), y_t = V h_t + c, only the output recurs; on a task with
one output its memory is one number per step. A second Jordan net gets as many hidden units as
make its parameter count match Elman's, so the comparison is also fair in weights.
Elman + Jordan: h_t = tanh(W x_t + R h_{t-1} + U y_{t-1} + b), output and state recur.
Every model trains until the validation MSE stops improving (early stopping), from several seeds.
"""

from __future__ import annotations

import torch

from nlprnn.models.course import SequenceToOne
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    band_over_seeds,
    hidden_for_budget,
    mean_sd,
    parameter_count,
    pm,
    start,
    synthetic_splits,
    train_and_score,
    without,
    write_results,
)
from nlprnn.recipes.course.synthetic import ADDING_BASELINE_MSE, ADDING_LEARNED_MSE, adding_problem

CLAIM = Claim(
    quote="Tipos de retroalimentación: 1. Salida anterior (y[t]) 2. Estado anterior (h[t]) "
    "3. Salida y estado anterior (h[t] y y[t])",
    english="three kinds of feedback make a recurrent net: the previous output (Jordan), the previous "
    "state (Elman), or both",
    source="3-redes-recurrentes-unam.md, «Tipos de retroalimentación»; the Elman and Jordan formulations: "
    "5-redes-recurrentes-ii.md, «Formulaciones clásicas»",
)


def summary(name: str, runs: list[dict]) -> dict:
    """One model's row: test MSE over the seeds (mean ± sd, and each), seeds that learned the
    task, and the epochs early stopping let each seed train."""
    mse = [r["test_loss"] for r in runs]
    return {
        "model": name,
        "parameters": runs[0]["parameters"],
        "test MSE": pm(mse),
        "each seed": " / ".join(f"{m:.4f}" for m in mse),
        "seeds below baseline / 2": f"{sum(m < ADDING_LEARNED_MSE for m in mse)}/{len(mse)}",
        "epochs (each seed)": " / ".join(f"{r['epochs']:.0f}" for r in runs),
        "seconds (all seeds)": sum(r["seconds"] for r in runs),
        "mean": mean_sd(mse)[0],
        "learned": sum(m < ADDING_LEARNED_MSE for m in mse),
        "seeds": len(mse),
    }


def verdict(rows: list[dict]) -> Verdict:
    """Each feedback type is a working memory if it learns the task in every seed; the ranking
    of the mean test MSE says which memory serves best."""
    ranked = sorted(rows, key=lambda r: r["mean"])
    order = " < ".join(f"{r['model']} {r['test MSE']}" for r in ranked)
    failed = [r["model"] for r in rows if r["learned"] < r["seeds"]]
    if failed:
        return Verdict(
            "depends", f"{', '.join(failed)} did not learn the task in every seed; test MSE: {order}."
        )
    return Verdict(
        "agrees",
        f"every feedback type learns the adding problem in every seed (test MSE below half the "
        f"baseline {ADDING_BASELINE_MSE:.3f}); they are not equal memories: {order}.",
    )


def models(e) -> dict:
    budget = parameter_count(SequenceToOne(2, e.hidden, 1, "rnn"))
    wide = hidden_for_budget(lambda h: SequenceToOne(2, h, 1, "jordan"), budget)
    return {
        f"Elman H={e.hidden}": lambda: SequenceToOne(2, e.hidden, 1, "rnn"),
        f"Jordan H={e.hidden}": lambda: SequenceToOne(2, e.hidden, 1, "jordan"),
        f"Jordan H={wide} (Elman's parameters)": lambda: SequenceToOne(2, wide, 1, "jordan"),
        f"Elman + Jordan H={e.hidden}": lambda: SequenceToOne(2, e.hidden, 1, "elman_jordan"),
    }


def mean_curve(curves: list[list[dict]]) -> tuple[list, list, list]:
    """Validation MSE per epoch, mean ± sd over the seeds still training at that epoch."""
    return band_over_seeds((round(r["epoch"], 3), r["val_loss"]) for curve in curves for r in curve)


def run(cfg) -> dict:
    out, device = start(cfg)
    e = cfg.experiment
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = synthetic_splits(adding_problem, sizes, cfg.seed, device, length=e.length)
    rows, curves = [], {}
    for name, build_model in models(e).items():
        runs = []
        for seed in e.seeds:  # the same data; each seed its own initial weights and batch order
            torch.manual_seed(seed)
            row, curve = train_and_score(
                cfg, f"{name} seed {seed}", build_model().to(device), data, "mse", out, seed=seed
            )
            runs.append(row)
            curves.setdefault(name, []).append(curve)
        rows.append(summary(name, runs))
    line_plot(
        {name: mean_curve(c) for name, c in curves.items()},
        out / "val_mse.png",
        "epoch",
        "validation MSE",
        title=f"adding problem, T={e.length}: mean ± sd over seeds {list(e.seeds)} (each stops early "
        f"after {cfg.trainer.patience} epochs without improvement)",
        logy=True,
        hline=(ADDING_BASELINE_MSE, "predict the mean (0.167)"),
    )
    shown = without(rows, "mean", "learned", "seeds")
    write_results(
        out,
        f"Elman, Jordan and both: adding problem T={e.length}",
        {"result": shown},
        {"baseline_mse": ADDING_BASELINE_MSE},
        findings=[(CLAIM, verdict(rows))],
    )
    return {"result": rows, "curves": curves}


MODES = {"train": run}
