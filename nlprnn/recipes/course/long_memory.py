"""How far back can each cell remember? Elman, LSTM and GRU at the same parameter budget, each
trained until its validation score stops improving (early stopping, up to a large number of
updates), on two tasks whose answer lies ``length`` steps back:

- the adding problem (regression): predicting the mean always has MSE 1/6 = 0.167;
- first_symbol (classification): name the first of ``length`` random symbols; chance is 1/S.

A cell "remembers" at a length when its test MSE is below half the baseline, or its accuracy is
above halfway between chance and 1; the table counts, for each cell and length, in how many of
the seeds it remembered (each seed: its own initial weights and batch order, the same data).
The lectures' claim: the Elman net stops remembering first; the LSTM is built to hold long
dependencies.
The LSTM runs twice: with torch's initialisation (forget gates start near 0.5, so the cell state
halves every step until training opens them) and with the forget-gate bias at 1 (Jozefowicz et
al. 2015), which starts it remembering.
"""

from __future__ import annotations

from nlprnn.models.course import SequenceToOne
from nlprnn.modes.run_setup import seed_everything
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    Verdict,
    hidden_for_budget,
    mean_sd,
    parameter_count,
    start,
    synthetic_splits,
    train_and_score,
    write_results,
)
from nlprnn.recipes.course.synthetic import (
    ADDING_BASELINE_MSE,
    ADDING_LEARNED_MSE,
    adding_problem,
    first_symbol,
)

NAMES = {"rnn": "Elman", "lstm": "LSTM", "lstm_forget1": "LSTM, forget bias 1", "gru": "GRU"}
# cell name -> SequenceToOne's cell and LSTM forget-gate bias (torch's default init, or 1.0)
CELLS = {"rnn": ("rnn", None), "lstm": ("lstm", None), "lstm_forget1": ("lstm", 1.0), "gru": ("gru", None)}

CLAIM = Claim(
    quote="En teoría, los RNN son absolutamente capaces de manejar tales «dependencias a largo plazo». "
    "Sin embargo, en la práctica esta aproximación no funciona. [...] Los LSTM están diseñados "
    "explícitamente para evitar el problema de dependencia a largo plazo.",
    english="in theory RNNs can handle long-term dependencies, in practice they do not; LSTMs are designed "
    "explicitly to avoid the long-term dependency problem",
    source="2-lstm-uai.md, «El problema de la dependencia a largo plazo» and «Redes Long Short Term Memory "
    "(LSTM)»",
)


def make_model(name: str, inputs: int, hidden: int, outputs: int, loss: str = "mse") -> SequenceToOne:
    cell, forget_bias = CELLS[name]
    return SequenceToOne(inputs, hidden, outputs, cell, loss=loss, forget_bias=forget_bias)


def tasks(e) -> dict:
    """{task name: (data generator, its kwargs, inputs, outputs, loss)}."""
    return {
        "adding": (adding_problem, {}, 2, 1, "mse"),
        "first_symbol": (first_symbol, {"num_symbols": e.num_symbols}, e.num_symbols, e.num_symbols, "ce"),
    }


def remembers(loss: str, scores: dict, num_symbols: int) -> bool:
    if loss == "mse":
        return scores["test_loss"] < ADDING_LEARNED_MSE
    chance = 1 / num_symbols
    return scores["test_acc"] > (1 + chance) / 2


def run(cfg) -> dict:
    out, device = start(cfg)
    e = cfg.experiment
    sizes = {"train": e.train_size, "val": e.val_size, "test": e.test_size}
    rows = []
    for task, (generate, kwargs, inputs, outputs, loss) in tasks(e).items():
        budget = parameter_count(SequenceToOne(inputs, e.budget_hidden, outputs, "lstm"))
        for length in e.lengths:
            data = synthetic_splits(generate, sizes, cfg.seed, device, length=length, **kwargs)
            for cell in e.cells:
                hidden = hidden_for_budget(
                    lambda h, c=cell, i=inputs, o=outputs: make_model(c, i, h, o), budget
                )
                for seed in e.seeds:  # the same data; each seed its own initial weights and batch order
                    seed_everything(seed)
                    model = make_model(cell, inputs, hidden, outputs, loss).to(device)
                    name = f"{task} T={length} {NAMES[cell]} H={hidden} seed {seed}"
                    row, curve = train_and_score(cfg, name, model, data, loss, out, seed=seed)
                    row = {"task": task, "T": length, "cell": NAMES[cell], "H": hidden, "seed": seed, **row}
                    row["updates"] = curve[-1]["step"] if curve else 0
                    row["remembers"] = remembers(loss, row, e.num_symbols)
                    rows.append(row)
    summary = summarize(rows, e)
    plot(summary, e, out)
    write_results(
        out,
        "Long memory: Elman vs LSTM vs GRU at equal parameters",
        {
            "seeds that remembered, by length": remembered_table(summary, e),
            "mean over seeds": summary,
            "each run": [{k: v for k, v in r.items() if k in COLUMNS} for r in rows],
        },
        {"rows": rows},
        findings=[(CLAIM, verdict(summary, e))],
    )
    return {"summary": summary, "rows": rows}


COLUMNS = (
    "task",
    "T",
    "cell",
    "H",
    "seed",
    "parameters",
    "test_loss",
    "test_acc",
    "updates",
    "seconds",
    "remembers",
)


def summarize(rows: list[dict], e) -> list[dict]:
    """One row per (task, T, cell): the test metric over the seeds (mean ± sd) and how many
    remembered, and the updates early stopping let each seed train."""
    summary = []
    for task in tasks(e):
        for length in e.lengths:
            for cell in e.cells:
                runs = [r for r in rows if (r["task"], r["T"], r["cell"]) == (task, length, NAMES[cell])]
                metric = "test_loss" if task == "adding" else "test_acc"
                values = [r[metric] for r in runs]
                mean, sd = mean_sd(values)
                summary.append(
                    {
                        "task": task,
                        "T": length,
                        "cell": NAMES[cell],
                        "parameters": runs[0]["parameters"],
                        metric: mean,
                        "sd": sd,
                        "each seed": " / ".join(f"{v:.4f}" for v in values),
                        "remembered": sum(r["remembers"] for r in runs),
                        "seeds": len(runs),
                        "updates (each seed)": " / ".join(str(r["updates"]) for r in runs),
                        "seconds (all seeds)": sum(r["seconds"] for r in runs),
                    }
                )
    return summary


def longest_remembered(summary: list[dict], task: str, cell: str) -> int:
    """The longest T at which most seeds remembered (0: none)."""
    held = [
        s["T"] for s in summary if (s["task"], s["cell"]) == (task, cell) and 2 * s["remembered"] > s["seeds"]
    ]
    return max(held, default=0)


def verdict(summary: list[dict], e) -> Verdict:
    """Agrees when, on every task, each gated cell remembers (in most seeds) further back than
    the Elman net; depends when that holds on some tasks or for some gated cells only."""
    cells = [NAMES[c] for c in e.cells]
    gated = [c for c in cells if c != "Elman"]
    per_task, held_up = [], 0
    for task in tasks(e):
        reach = {c: longest_remembered(summary, task, c) for c in cells}
        held_up += all(reach[c] > reach.get("Elman", 0) for c in gated)
        per_task.append(f"{task}: " + ", ".join(f"{c} T={reach[c] or 'none'}" for c in cells))
    word = "agrees" if held_up == len(per_task) else ("depends" if held_up else "disagrees")
    return Verdict(word, "longest T remembered by most seeds: " + "; ".join(per_task) + ".")


def remembered_table(summary: list[dict], e) -> list[dict]:
    """Rows (task, T), one column per cell: "k/n" seeds that remembered."""
    table = []
    for task in tasks(e):
        for length in e.lengths:
            row = {"task": task, "T": length}
            for s in summary:
                if (s["task"], s["T"]) == (task, length):
                    row[s["cell"]] = f"{s['remembered']}/{s['seeds']}"
            table.append(row)
    return table


def plot(summary: list[dict], e, out) -> None:
    def series(task: str, metric: str) -> dict:
        picked = {c: [s for s in summary if s["task"] == task and s["cell"] == NAMES[c]] for c in e.cells}
        return {
            NAMES[c]: ([s["T"] for s in ss], [s[metric] for s in ss], [s["sd"] for s in ss])
            for c, ss in picked.items()
        }

    seeds = f"mean ± sd over {len(e.seeds)} seeds, each trained until validation stops improving"
    line_plot(
        series("adding", "test_loss"),
        out / "adding_mse_vs_length.png",
        "sequence length T",
        "test MSE",
        f"adding problem ({seeds})",
        logx=True,
        logy=True,
        hline=(ADDING_BASELINE_MSE, "predict the mean (0.167)"),
    )
    line_plot(
        series("first_symbol", "test_acc"),
        out / "first_symbol_acc_vs_length.png",
        "sequence length T",
        "test accuracy",
        f"first symbol of {e.num_symbols} ({seeds})",
        logx=True,
        hline=(1 / e.num_symbols, "chance"),
    )


MODES = {"train": run}
