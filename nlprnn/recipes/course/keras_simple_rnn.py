"""The lecture's Keras example (5-redes-recurrentes-ii.md, «Implementación en Keras»), in nlprnn terms::

    model.add(SimpleRNN(10, activation="tanh", input_shape=(seq_len, 1), return_sequences=False,
                        stateful=False, unroll=True))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam())
    model.fit(x, t, epochs=200, batch_size=1000, validation_data=(xval, tval))

is ``SequenceToOne(1, 10, 1, cell="rnn", loss="bce")``: an Elman layer of 10 tanh units, its last
state into one logit (the sigmoid sits inside the loss, which is more stable), Adam at Keras'
default learning rate, batches of 1000, 200 epochs, trained by the shared Trainer. The task's answer
depends on the first input only, so the net must carry it across every later step.

Each run starts from Keras' initialisers (``keras_init``: glorot-uniform input kernel, orthogonal
recurrent kernel, zero biases) or torch's (uniform ±1/sqrt(H) everywhere), so the two frameworks'
defaults are compared on the same data, seeds and training.
"""

from __future__ import annotations

import torch

from nlprnn.errors import UserError
from nlprnn.models.course import SequenceToOne
from nlprnn.modules.init import keras_init
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    TensorRecipe,
    Verdict,
    band_over_seeds,
    fit,
    parameter_count,
    pm,
    score,
    start,
    without,
    write_results,
)
from nlprnn.recipes.course.synthetic import TASKS

CLAIM = Claim(
    quote='model.add(SimpleRNN(10, activation="tanh", input_shape=(seq_len, 1), ...)) · '
    "model.add(Dense(1, activation='sigmoid')) · model.compile(loss='binary_crossentropy', "
    "optimizer=keras.optimizers.Adam(), ...) · model.fit(..., epochs=200, batch_size=1000, ...)",
    english="the lecture's example: 10 tanh units and a sigmoid output, trained with Adam for 200 epochs "
    "in batches of 1000, presented as a model that learns its sequence task",
    source="5-redes-recurrentes-ii.md, «Implementación en Keras»",
)
INITS = ("keras", "torch")
SOLVED = 0.9  # test accuracy that counts as "learned the task" (chance is 0.5)


def binary_data(e, length: int, seed: int) -> dict:
    """{"train"|"val"|"test": (x, y)} of the binary task, each split from its own generator."""
    make = TASKS[e.task]
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    return {
        split: make(n, length, torch.Generator().manual_seed(seed * 10 + i))
        for i, (split, n) in enumerate(sizes.items())
    }


def build(e, init: str, seed: int, device) -> SequenceToOne:
    torch.manual_seed(seed)
    model = SequenceToOne(1, e.hidden, 1, cell="rnn", loss="bce")
    if init == "keras":
        keras_init(model)
    return model.to(device)


def train_one(cfg, init: str, length: int, seed: int, out, device) -> tuple[dict, list[dict]]:
    """One (initialisation, length, seed): its summary row and its per-epoch curve."""
    e = cfg.experiment
    data = {k: (x.to(device), y.to(device)) for k, (x, y) in binary_data(e, length, cfg.seed).items()}
    model = build(e, init, seed, device)
    task = TensorRecipe(data["train"], data["val"], "bce", e.batch_size, seed)
    before = score(model, *data["val"], "bce")
    folder = out / f"{init}_T{length}_seed{seed}"
    trained = fit(cfg, model, task, folder, keep="last")
    last = score(model, *data["test"], "bce")  # the model after the last epoch, as Keras' fit leaves it
    model.load_state_dict(torch.load(folder / "best.pt", weights_only=True)["model"])
    best = score(model, *data["test"], "bce")  # the epoch of lowest validation loss (a checkpoint callback)
    steps_per_epoch = len(task.train_batches(0))
    curve = [
        {
            "init": init,
            "T": length,
            "seed": seed,
            "epoch": r["step"] / steps_per_epoch,
            "train_loss": r["train_loss"],
            "val_loss": r["val_loss"],
            "val_acc": r["val_acc"],
        }
        for r in trained["curve"]
    ]
    learned = [r["epoch"] for r in curve if r["val_acc"] >= SOLVED]
    row = {
        "init": init,
        "T": length,
        "seed": seed,
        "parameters": parameter_count(model),
        "val_acc before training": before["acc"],
        "best val_acc": max(r["val_acc"] for r in curve),
        f"first epoch with val_acc >= {SOLVED}": learned[0] if learned else None,
        "test_acc (last epoch)": last["acc"],
        "test_acc (best val_loss)": best["acc"],
        "epochs": curve[-1]["epoch"],
        "seconds": trained["seconds"],
    }
    return row, curve


def summarise(rows: list[dict]) -> list[dict]:
    """One row per (init, T): how many seeds learned the task (validation accuracy reached SOLVED
    within the epochs) and when, and the test accuracy mean ± sd of the model after the last epoch
    (what Keras' fit leaves) and at the best validation loss (what a checkpoint callback keeps)."""
    table = []
    for init, length in dict.fromkeys((r["init"], r["T"]) for r in rows):
        runs = [r for r in rows if (r["init"], r["T"]) == (init, length)]
        when = [r[f"first epoch with val_acc >= {SOLVED}"] for r in runs]
        learned = sum(w is not None for w in when)
        table.append(
            {
                "init": init,
                "T": length,
                f"seeds that reached val acc {SOLVED}": f"{learned}/{len(runs)}",
                "at epoch (each seed)": " / ".join("never" if w is None else f"{w:.0f}" for w in when),
                "test acc, last epoch": pm([r["test_acc (last epoch)"] for r in runs], 3),
                "test acc, best val_loss": pm([r["test_acc (best val_loss)"] for r in runs], 3),
                "learned": learned,
                "seeds": len(runs),
            }
        )
    return table


def verdict(table: list[dict], epochs: int) -> Verdict:
    """Does the example, as written, learn its task within the epochs? Judged per initialisation
    and length, on whether validation accuracy reaches SOLVED."""

    def said(r):
        return (
            f"{r['init']} init T={r['T']}: {r['learned']}/{r['seeds']} seeds "
            f"(epochs {r['at epoch (each seed)']}; test acc {r['test acc, best val_loss']} at the best "
            f"validation loss, {r['test acc, last epoch']} after the last epoch)"
        )

    where = "; ".join(said(r) for r in table)
    keras = [r for r in table if r["init"] == "keras"]
    failed = [r for r in table if r["learned"] < r["seeds"]]
    if keras and not any(r["init"] == "keras" for r in failed):
        word = "depends" if failed else "agrees"
        tail = (
            " With torch's initialisation not every seed does at "
            + ", ".join(f"T={r['T']}" for r in failed)
            + ": the initialisation, not the example, decides."
            if failed
            else ""
        )
        return Verdict(
            word,
            f"With Keras' initialisers the example learns every length in {epochs} epochs: {where}.{tail}",
        )
    return Verdict(
        "disagrees", f"the example as written does not learn every length in {epochs} epochs: {where}."
    )


def plot(out, cfg, curves: list[dict]) -> None:
    """Per length: training (dashed) and validation loss per initialisation, mean ± sd over seeds;
    and validation accuracy for every (init, T)."""
    e = cfg.experiment
    for length in e.lengths:
        series = {}
        for init in e.inits:
            for split in ("val", "train"):
                series[f"{split} loss, {init} init"] = _mean_curve(curves, init, length, f"{split}_loss")
        line_plot(
            series,
            out / f"loss_curves_T{length}.png",
            "epoch",
            "binary cross-entropy",
            title=f"T={length}: Elman {e.hidden} tanh -> sigmoid, Adam lr={cfg.optimizer.lr}, batch "
            f"{e.batch_size}; mean ± sd over {len(e.seeds)} seeds (training loss dashed)",
            dashed=tuple(k for k in series if k.startswith("train")),
        )
    line_plot(
        {
            f"{init} init, T={t}": _mean_curve(curves, init, t, "val_acc")
            for init in e.inits
            for t in e.lengths
        },
        out / "val_accuracy.png",
        "epoch",
        "validation accuracy",
        title=f"{e.task}: validation accuracy, mean ± sd over {len(e.seeds)} seeds",
        hline=(0.5, "chance"),
    )


def _mean_curve(curves, init, length, key) -> tuple[list, list, list]:
    return band_over_seeds((r["epoch"], r[key]) for r in curves if (r["init"], r["T"]) == (init, length))


def run(cfg) -> dict:
    e = cfg.experiment
    unknown = [i for i in e.inits if i not in INITS]
    if unknown:
        raise UserError(f"experiment.inits: {unknown} unknown; choose from {list(INITS)}")
    out, device = start(cfg)
    rows, curves = [], []
    for init in e.inits:
        for length in e.lengths:
            for seed in e.seeds:
                row, curve = train_one(cfg, init, length, seed, out, device)
                rows.append(row)
                curves += curve
    plot(out, cfg, curves)
    table = summarise(rows)
    shown = without(table, "learned", "seeds")
    write_results(
        out,
        f"Keras SimpleRNN example: {e.task}, {cfg.trainer.max_epochs} epochs",
        {"summary": shown, "runs": rows},
        {"curves": curves},
        findings=[(CLAIM, verdict(table, cfg.trainer.max_epochs))],
    )
    return {"summary": table, "runs": rows, "curves": curves}


MODES = {"train": run}
