"""Vanishing and exploding gradients, measured.

Part 1 (vanishing): the loss of the adding problem is computed at the last step T only, so the
signal that reaches an early state h_t has crossed T - t recurrent Jacobians. We measure
|dLoss/dh_t| for every t (through all later steps: ``CellRNN.layer_states`` on the trained fused
weights) for Elman (tanh, relu), LSTM (torch's initialisation, and forget bias 1) and GRU, at
initialisation and after training to convergence (early stopping on validation), from several seeds.

Part 2 (exploding): an Elman net whose recurrent matrix starts at spectral radius 2, trained by
plain SGD: without clipping the gradient norm grows until the loss is no longer finite; clipping
the gradient norm keeps the same run finite and trains it. Each seed draws its own start.
"""

from __future__ import annotations

import copy
import math

import torch
from omegaconf import OmegaConf

from nlprnn.models.course import SequenceToOne
from nlprnn.modules.cells import CellRNN
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    mean_sd,
    pm,
    start,
    synthetic_splits,
    train_and_score,
    write_results,
)
from nlprnn.recipes.course.synthetic import ADDING_BASELINE_MSE, ADDING_LEARNED_MSE, adding_problem

CELLS = {  # name: (cell, nonlinearity, LSTM forget-gate bias or None for torch's)
    "rnn_tanh": ("rnn", "tanh", None),
    "rnn_relu": ("rnn", "relu", None),
    "lstm": ("lstm", "tanh", None),
    "lstm_forget1": ("lstm", "tanh", 1.0),
    "gru": ("gru", "tanh", None),
}
GATED = ("lstm", "lstm_forget1", "gru")
VANISHED = 1e-6  # |dL/dh_1| / |dL/dh_T| below this: the signal from t=1 is gone
KEPT = 1e-2  # above this after training: the cell carries the gradient back to t=1

VANISHING = Claim(
    quote="VANISHING GRADIENT: Los gradientes se multiplican repetidas veces entre pasos temporales. "
    "El gradiente final puede reducirse hasta el punto de que el aprendizaje se «para»",
    english="vanishing gradient: gradients are multiplied again and again between time steps; the "
    "gradient can shrink until learning stops",
    source="4-rnn-carrillo.md, «Limitaciones»",
)
GATES = Claim(
    quote="Para solucionar el problema de los gradientes decrecientes (vanishing gradients) se han "
    "propuesto distintas arquitecturas: redes Long short-term memory (LSTM), Gated recurrent unit (GRU)",
    english="LSTM and GRU were proposed to solve the vanishing-gradient problem",
    source="5-redes-recurrentes-ii.md, «Redes recurrentes sin problemas con el gradiente»",
)
EXPLODING = Claim(
    quote="EXPLODING GRADIENT: Cuando las derivadas del gradiente son > 1 los gradientes crecen "
    "exponencialmente. Los pesos se vuelven inestables y excesivamente grandes.",
    english="exploding gradient: when the derivatives are > 1 the gradients grow exponentially and "
    "the weights become unstable",
    source="4-rnn-carrillo.md, «Limitaciones»",
)


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
    """Per cell and seed: the state-gradient norms at initialisation and after training, and the
    trained model's test MSE. -> (one row per cell and seed, {"cell init|trained": [norms per seed]})"""
    e = cfg.experiment
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = synthetic_splits(adding_problem, sizes, cfg.seed, device, length=e.length)
    probe = (data["val"][0][: e.probe_size], data["val"][1][: e.probe_size])
    rows, norms = [], {}
    for name in e.cells:
        cell, act, forget_bias = CELLS[name]
        for seed in e.seeds:  # the same data; each seed its own initial weights and batch order
            torch.manual_seed(seed)
            model = SequenceToOne(2, e.hidden, 1, cell, nonlinearity=act, forget_bias=forget_bias).to(device)
            at_init = state_gradient_norms(copy.deepcopy(model), *probe)
            row, curve = train_and_score(cfg, f"{name} seed {seed}", model, data, "mse", out, seed=seed)
            trained = state_gradient_norms(model, *probe)
            norms.setdefault(f"{name} init", []).append(at_init)
            norms.setdefault(f"{name} trained", []).append(trained)
            rows.append(
                {
                    "cell": name,
                    "seed": seed,
                    "log10 ratio at init": math.log10(at_init[0] / at_init[-1]),
                    "log10 ratio trained": math.log10(trained[0] / trained[-1]),
                    "|dL/dh_1| trained": trained[0],
                    "test_mse": row["test_loss"],
                    "updates": curve[-1]["step"] if curve else 0,
                    "seconds": row["seconds"],
                }
            )
    steps = list(range(1, e.length + 1))
    for when in ("init", "trained"):
        line_plot(
            {n: log10_band(steps, norms[f"{n} {when}"]) for n in e.cells},
            out / f"state_gradients_{when}.png",
            "time step t (the loss is at t = T)",
            "log10 mean |dLoss/dh_t|",
            title=f"adding problem T={e.length}, weights {WHEN[when]}: mean ± sd over seeds {list(e.seeds)}",
        )
    return rows, norms


def log10_band(steps: list[int], per_seed: list[list[float]]) -> tuple[list, list, list]:
    """log10 of each seed's norms at every step -> (steps, mean, sd) over the seeds."""
    stats = [mean_sd([math.log10(max(n[t], 1e-300)) for n in per_seed]) for t in range(len(steps))]
    return steps, [m for m, _ in stats], [s for _, s in stats]


def vanishing_summary(rows: list[dict]) -> list[dict]:
    """One row per cell: the orders of magnitude lost from t=T back to t=1 (mean ± sd over seeds)
    at initialisation and after training, the test MSE, and the seeds that learned the task."""
    table = []
    for cell in dict.fromkeys(r["cell"] for r in rows):
        runs = [r for r in rows if r["cell"] == cell]
        mse = [r["test_mse"] for r in runs]
        table.append(
            {
                "cell": cell,
                "log10 |dL/dh_1|/|dL/dh_T| at init": pm([r["log10 ratio at init"] for r in runs], 3),
                "after training": pm([r["log10 ratio trained"] for r in runs], 3),
                "test MSE (baseline 0.167)": pm(mse, 3),
                "seeds learned (MSE < 0.083)": f"{sum(m < ADDING_LEARNED_MSE for m in mse)}/{len(mse)}",
                "updates (each seed)": " / ".join(str(int(r["updates"])) for r in runs),
            }
        )
    return table


def vanishing_verdicts(rows: list[dict]) -> list[tuple[Claim, Verdict]]:
    at_init = [r["log10 ratio at init"] for r in rows]
    gone = all(v < math.log10(VANISHED) for v in at_init)
    first = Verdict(
        "agrees" if gone else "depends",
        f"at initialisation the gradient reaching t=1 is 10^{max(at_init):.0f} to "
        f"10^{min(at_init):.0f} of the gradient at t=T for every cell and seed"
        if gone
        else f"at initialisation some runs keep more than {VANISHED:g} of the gradient at t=1 "
        f"(log10 ratios {min(at_init):.1f} to {max(at_init):.1f})",
    )

    def kept(names):
        runs = [r for r in rows if r["cell"] in names]
        return sum(
            r["log10 ratio trained"] > math.log10(KEPT) and r["test_mse"] < ADDING_LEARNED_MSE for r in runs
        ), len(runs)

    gated, gated_n = kept(GATED)
    elman, elman_n = kept(("rnn_tanh", "rnn_relu"))
    per_cell = "; ".join(
        f"{c}: {kept((c,))[0]}/{kept((c,))[1]}" for c in dict.fromkeys(r["cell"] for r in rows)
    )
    # the claim is about the gated cells: they agree when every gated run keeps the gradient (an
    # Elman seed that also finds the path does not contradict it, as long as Elman does so less often)
    gated_share, elman_share = gated / max(gated_n, 1), elman / max(elman_n, 1)
    if gated == gated_n and elman_share < 1:
        word = "agrees"
    elif gated_share > elman_share:
        word = "depends"
    else:
        word = "disagrees"
    second = Verdict(
        word,
        f"runs that after training keep |dL/dh_1| above {KEPT:g} of |dL/dh_T| and learn the task: "
        f"{per_cell} (gated {gated}/{gated_n}, Elman {elman}/{elman_n}).",
    )
    return [(VANISHING, first), (GATES, second)]


def exploding(cfg, out, device) -> tuple[list[dict], dict]:
    """Per seed, the same spectral-radius-2 start trained by SGD without and with clipping."""
    e, x = cfg.experiment, cfg.experiment.explode
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    data = synthetic_splits(adding_problem, sizes, cfg.seed, device, length=x.length)
    sgd = OmegaConf.create({"_target_": "torch.optim.SGD", "lr": x.lr})
    rows, curves = [], {}
    for seed in e.seeds:
        for clip in (None, x.clip_norm):
            torch.manual_seed(seed)  # both runs of a seed start from the same weights
            model = SequenceToOne(2, x.hidden, 1, "rnn")
            with torch.no_grad():
                w = model.rnn.rnn.weight_hh_l0
                w.copy_(torch.nn.init.orthogonal_(torch.empty_like(w)) * x.recurrent_scale)
            run_name = "SGD, no clipping" if clip is None else f"SGD, clip_norm={clip}"
            name = f"{run_name} seed {seed}"
            row, curves[name] = train_and_score(
                cfg,
                name,
                model.to(device),
                data,
                "mse",
                out,
                sgd,
                seed=seed,
                clip_norm=clip,
                max_steps=x.steps,
                eval_every=x.eval_every,
                max_epochs=10**6,
                patience=None,
            )
            rows.append(explosion_row(run_name, seed, row, curves[name]))
    first = e.seeds[0]
    shown = {n: c for n, c in curves.items() if n.endswith(f"seed {first}")}
    plots = [  # (the curve's key, the file, the y axis, a reference line)
        ("grad_norm_max", "exploding_grad_norm.png", "largest gradient norm since the last point", None),
        ("val_loss", "exploding_val_mse.png", "validation MSE", (ADDING_BASELINE_MSE, "predict the mean")),
    ]
    for key, file, ylabel, hline in plots:
        line_plot(
            {n: ([r["step"] for r in c], [r[key] for r in c]) for n, c in shown.items()},
            out / file,
            "step",
            ylabel,
            logy=True,
            hline=hline,
            title=f"Elman, recurrent weights 2x orthogonal, T={x.length}, seed {first}",
        )
    return rows, curves


def explosion_row(run: str, seed: int, row: dict, curve: list[dict]) -> dict:
    finite = [r for r in curve if math.isfinite(r["val_loss"])]
    return {
        "run": run,
        "seed": seed,
        "steps trained": row.get("diverged_step", curve[-1]["step"] if curve else 0),
        "diverged": bool(row.get("diverged")),
        "max grad norm": max([r["grad_norm_max"] for r in curve] + [row.get("diverged_grad_norm_max", 0.0)]),
        "first grad norm": curve[0]["grad_norm_max"] if curve else None,
        "best val_mse": min((r["val_loss"] for r in finite), default=None),
        "test_mse (best weights)": row["test_loss"],
    }


def exploding_verdict(rows: list[dict]) -> Verdict:
    free = [r for r in rows if not r["run"].startswith("SGD, clip")]
    clipped = [r for r in rows if r["run"].startswith("SGD, clip")]
    growth = [math.log10(r["max grad norm"] / r["first grad norm"]) for r in free if r["first grad norm"]]
    diverged = sum(r["diverged"] for r in free)
    steps = [r["steps trained"] for r in free if r["diverged"]]
    held = sum(not r["diverged"] for r in clipped)
    said = (
        f"without clipping {diverged}/{len(free)} seeds reach a non-finite loss"
        + (f" (at update {' / '.join(str(s) for s in steps)})" if steps else "")
        + (
            f", the gradient norm growing by 10^{min(growth):.0f} to 10^{max(growth):.0f} first"
            if growth
            else ""
        )
        + f"; with the norm clipped the same starts stay finite in {held}/{len(clipped)} seeds."
    )
    word = "agrees" if diverged == len(free) else ("depends" if diverged else "disagrees")
    return Verdict(word, said)


def run(cfg) -> dict:
    out, device = start(cfg)
    vanish_rows, norms = vanishing(cfg, out, device)
    explode_rows, curves = exploding(cfg, out, device)
    write_results(
        out,
        "Vanishing and exploding gradients",
        {
            "vanishing: orders of magnitude of |dLoss/dh_t| lost from t=T to t=1": vanishing_summary(
                vanish_rows
            ),
            "vanishing: each run": vanish_rows,
            "exploding: Elman trained by SGD": explode_rows,
        },
        {"state_gradient_norms": norms},
        findings=[*vanishing_verdicts(vanish_rows), (EXPLODING, exploding_verdict(explode_rows))],
    )
    return {"vanishing": vanish_rows, "norms": norms, "exploding": explode_rows, "curves": curves}


MODES = {"train": run}
