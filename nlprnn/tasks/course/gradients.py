"""Vanishing and exploding gradients, measured.

Part 1 (vanishing): the loss of the adding problem is computed at the last step T only, so the
signal that reaches an early state h_t has crossed T - t recurrent Jacobians. We measure
|dLoss/dh_t| for every t (through all later steps: ``CellRNN.layer_states`` on the trained fused
weights) for Elman (tanh, relu), LSTM and GRU, at initialisation and after training.

Part 2 (exploding): an Elman net whose recurrent matrix starts at spectral radius 2, trained by
plain SGD: without clipping the gradient norm grows until the loss is no longer finite; clipping
the gradient norm keeps the same run finite and trains it.
"""

from __future__ import annotations

import copy

import torch
from omegaconf import OmegaConf

from nlprnn.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from nlprnn.models.many_to_one import SequenceToOne
from nlprnn.modules.cells import CellRNN
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import (
    start,
    synthetic_splits,
    to_device,
    train_and_score,
    write_results,
)

CELLS = {
    "rnn_tanh": ("rnn", "tanh"),
    "rnn_relu": ("rnn", "relu"),
    "lstm": ("lstm", "tanh"),
    "gru": ("gru", "tanh"),
}


WHEN = {"init": "at initialisation", "trained": "after training"}


def state_gradient_norms(model: SequenceToOne, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Mean over the sequences of |dLoss/dh_t| for t = 1..T (the summed squared error of the last
    step's prediction), computed through the cell-by-cell twin of the model's fused layer."""
    fused = model.rnn.rnn
    loop = (
        CellRNN(
            model.rnn.cell,
            fused.input_size,
            fused.hidden_size,
            nonlinearity=getattr(fused, "nonlinearity", "tanh"),
        )
        .to(x.device)
        .load_from_fused(fused)
    )
    states = loop.layer_states(0, x, loop.cells[0].zero_state(x))
    hs = [s[0] if isinstance(s, tuple) else s for s in states]
    loss = ((model.head(hs[-1]) - y) ** 2).sum()
    grads = torch.autograd.grad(loss, hs)
    # in float64: squaring float32 entries below ~1e-20 would underflow to a norm of 0
    return [g.double().norm(dim=-1).mean().item() for g in grads]


def vanishing(cfg, out, device) -> tuple[list[dict], dict]:
    e = cfg.experiment
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = to_device(synthetic_splits(adding_problem, sizes, cfg.seed, length=e.length), device)
    probe = (data["val"][0][: e.probe_size], data["val"][1][: e.probe_size])
    rows, norms = [], {}
    for name in e.cells:
        cell, act = CELLS[name]
        torch.manual_seed(cfg.seed)  # every cell starts from the run's seed
        model = SequenceToOne(2, e.hidden, 1, cell, nonlinearity=act).to(device)
        norms[f"{name} init"] = state_gradient_norms(copy.deepcopy(model), *probe)
        row, _ = train_and_score(cfg, name, model, data, "mse", out)
        norms[f"{name} trained"] = state_gradient_norms(model, *probe)
        for when in ("init", "trained"):
            g = norms[f"{name} {when}"]
            rows.append(
                {
                    "cell": name,
                    "weights": when,
                    "|dL/dh_1|": g[0],
                    "|dL/dh_T|": g[-1],
                    "|dL/dh_1| / |dL/dh_T|": g[0] / g[-1] if g[-1] else None,
                    "test_mse (trained)": row["test_loss"],
                }
            )
    steps = list(range(1, e.length + 1))
    for when in ("init", "trained"):
        line_plot(
            {n: (steps, norms[f"{n} {when}"]) for n in e.cells},
            out / f"state_gradients_{when}.png",
            "time step t (the loss is at t = T)",
            "mean |dLoss/dh_t|",
            logy=True,
            title=f"adding problem T={e.length}, weights {WHEN[when]}",
        )
    return rows, norms


def exploding(cfg, out, device) -> tuple[list[dict], dict]:
    e, x = cfg.experiment, cfg.experiment.explode
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = to_device(synthetic_splits(adding_problem, sizes, cfg.seed, length=x.length), device)
    sgd = OmegaConf.create({"_target_": "torch.optim.SGD", "lr": x.lr})
    rows, curves = [], {}
    for clip in (None, x.clip_norm):
        torch.manual_seed(cfg.seed)  # both runs start from the same weights
        model = SequenceToOne(2, x.hidden, 1, "rnn")
        with torch.no_grad():
            w = model.rnn.rnn.weight_hh_l0
            w.copy_(torch.nn.init.orthogonal_(torch.empty_like(w)) * x.recurrent_scale)
        name = "SGD, no clipping" if clip is None else f"SGD, clip_norm={clip}"
        row, curves[name] = train_and_score(
            cfg,
            name,
            model.to(device),
            data,
            "mse",
            out,
            sgd,
            clip_norm=clip,
            max_steps=x.steps,
            eval_every=x.eval_every,
            max_epochs=10**6,
        )
        finite = [
            r for r in curves[name] if r["val_loss"] == r["val_loss"] and abs(r["val_loss"]) < float("inf")
        ]
        rows.append(
            {
                "run": name,
                "steps trained": row.get("diverged_step", curves[name][-1]["step"] if curves[name] else 0),
                "diverged": bool(row.get("diverged")),
                "max grad norm": max(
                    [r["grad_norm_max"] for r in curves[name]] + [row.get("diverged_grad_norm_max", 0.0)]
                ),
                "last val_mse": curves[name][-1]["val_loss"] if curves[name] else None,
                "best val_mse": min((r["val_loss"] for r in finite), default=None),
                "test_mse (best weights)": row["test_loss"],
            }
        )
    line_plot(
        {n: ([r["step"] for r in c], [r["grad_norm_max"] for r in c]) for n, c in curves.items()},
        out / "exploding_grad_norm.png",
        "step",
        "largest gradient norm since the last point",
        logy=True,
        title=f"Elman, recurrent weights 2x orthogonal, T={x.length}",
    )
    line_plot(
        {n: ([r["step"] for r in c], [r["val_loss"] for r in c]) for n, c in curves.items()},
        out / "exploding_val_mse.png",
        "step",
        "validation MSE",
        logy=True,
        hline=(ADDING_BASELINE_MSE, "predict the mean"),
    )
    return rows, curves


def run(cfg) -> dict:
    out, device = start(cfg)
    vanish_rows, norms = vanishing(cfg, out, device)
    explode_rows, curves = exploding(cfg, out, device)
    write_results(
        out,
        "Vanishing and exploding gradients",
        {"vanishing: |dLoss/dh_t|": vanish_rows, "exploding: Elman trained by SGD": explode_rows},
        {"state_gradient_norms": norms},
    )
    return {"vanishing": vanish_rows, "norms": norms, "exploding": explode_rows, "curves": curves}


MODES = {"train": run}
