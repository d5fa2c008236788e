"""The lecture's Keras example, in nlprnn terms::

    model = Sequential([SimpleRNN(10, activation="tanh"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam");  model.fit(x, y, batch_size=1000)

is ``SequenceToOne(1, 10, 1, cell="rnn", loss="bce")``: an Elman layer of 10 tanh units, its last
state into one logit (the sigmoid sits inside the loss, which is more stable), Adam at Keras'
default learning rate, batches of 1000, trained by the shared Trainer. The task's answer depends
on the first input only, so the net must carry it across every later step.
"""

from __future__ import annotations

import torch

from nlprnn.data.synthetic import TASKS
from nlprnn.models.many_to_one import SequenceToOne
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import TensorTask, fit, parameter_count, score, start, write_results


def binary_data(e, length: int, seed: int) -> dict:
    """{"train"|"val"|"test": (x, y)} of the binary task, each split from its own generator."""
    make = TASKS[e.task]
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    return {
        split: make(n, length, torch.Generator().manual_seed(seed * 10 + i))
        for i, (split, n) in enumerate(sizes.items())
    }


def train_one(cfg, length: int, out, device) -> tuple[dict, list[dict]]:
    """Train the Keras model on sequences of ``length``: (its summary row, its per-epoch curve)."""
    e = cfg.experiment
    data = {k: (x.to(device), y.to(device)) for k, (x, y) in binary_data(e, length, cfg.seed).items()}
    torch.manual_seed(cfg.seed)  # each length's model starts from the run's seed
    model = SequenceToOne(data["train"][0].shape[-1], e.hidden, 1, cell="rnn", loss="bce").to(device)
    task = TensorTask(data["train"], data["val"], "bce", e.batch_size, cfg.seed)
    before = score(model, *data["val"], "bce")
    trained = fit(cfg, model, task, out / f"elman_T{length}")
    steps_per_epoch = len(task.train_batches(0))
    curve = [
        {
            "T": length,
            "epoch": r["step"] / steps_per_epoch,
            "train_loss": r["train_loss"],
            "val_loss": r["val_loss"],
            "val_acc": r["val_acc"],
        }
        for r in trained["curve"]
    ]
    test = score(model, *data["test"], "bce")
    row = {
        "T": length,
        "parameters": parameter_count(model),
        "val_acc before training": before["acc"],
        "best val_acc": max(r["val_acc"] for r in curve),
        "test_acc (best val_loss)": test["acc"],
        "test_loss": test["loss"],
        "epochs": curve[-1]["epoch"],
        "seconds": trained["seconds"],
    }
    return row, curve


def run(cfg) -> dict:
    out, device = start(cfg)
    e = cfg.experiment
    rows, curves = [], {}
    for length in e.lengths:
        row, curves[length] = train_one(cfg, length, out, device)
        rows.append(row)
    line_plot(
        {
            f"{split} T={t}": ([r["epoch"] for r in c], [r[f"{split}_loss"] for r in c])
            for t, c in curves.items()
            for split in ("train", "val")
        },
        out / "loss_curves.png",
        "epoch",
        "binary cross-entropy",
        title=f"Elman {e.hidden} tanh units -> sigmoid, Adam lr={cfg.optimizer.lr}, {e.task}",
    )
    line_plot(
        {f"T={t}": ([r["epoch"] for r in c], [r["val_acc"] for r in c]) for t, c in curves.items()},
        out / "val_accuracy.png",
        "epoch",
        "validation accuracy",
        hline=(0.5, "chance"),
    )
    every = [r for c in curves.values() for r in c]
    write_results(out, f"Keras SimpleRNN example: {e.task}", {"result": rows, "curves": every})
    return {"result": rows, "curves": every}


MODES = {"train": run}
