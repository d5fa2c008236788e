"""Parameters of an MLP over a flattened window vs recurrent nets, counted from the real modules.

The lecture's example: T=20 steps of D=30 features, M=16 hidden units, k=3 outputs. The MLP's
first layer sees the T*D flattened window (T*D*M + M*k = 9,648 weights); an Elman net shares one
D*M input matrix and one M*M recurrent matrix over all steps (D*M + M*M + M*k = 784), whatever T.
LSTM and GRU repeat the input and recurrent matrices per gate (4x and 3x); a Jordan net feeds back
the k outputs instead of the M hidden units (D*M + k*M + M*k).
"""

from __future__ import annotations

from nlprnn.models.many_to_one import SequenceToOne, WindowMLP
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import parameter_count, start, write_results

CELLS = {"Elman (rnn)": "rnn", "Jordan": "jordan", "GRU": "gru", "LSTM": "lstm"}


def models(window: int, features: int, hidden: int, outputs: int) -> dict:
    """{name: module} for one window length: the MLP and every recurrent cell."""
    found = {"MLP over the window": WindowMLP(window, features, hidden, outputs)}
    for name, cell in CELLS.items():
        found[name] = SequenceToOne(features, hidden, outputs, cell)
    return found


def formula(name: str, T: int, D: int, M: int, k: int) -> int:
    """The lecture's count of weights without biases."""
    return {
        "MLP over the window": T * D * M + M * k,
        "Elman (rnn)": D * M + M * M + M * k,
        "Jordan": D * M + k * M + M * k,
        "GRU": 3 * (D * M + M * M) + M * k,
        "LSTM": 4 * (D * M + M * M) + M * k,
    }[name]


def run(cfg) -> dict:
    out, _ = start(cfg)
    e = cfg.experiment
    T, D, M, k = e.window, e.features, e.hidden, e.outputs
    rows = []
    for name, module in models(T, D, M, k).items():
        rows.append(
            {
                "model": name,
                "weights (no biases)": parameter_count(module, biases=False),
                "lecture's formula": formula(name, T, D, M, k),
                "with biases (torch)": parameter_count(module),
            }
        )
    growth = {r["model"]: [] for r in rows}
    for t in e.windows:
        for name, module in models(t, D, M, k).items():
            growth[name].append(parameter_count(module))
    growth_rows = [{"T": t, **{n: growth[n][i] for n in growth}} for i, t in enumerate(e.windows)]
    line_plot(
        {n: (list(e.windows), counts) for n, counts in growth.items()},
        out / "params_vs_T.png",
        xlabel="window length T (steps)",
        ylabel="parameters (with biases)",
        title=f"D={D} features, M={M} hidden, k={k} outputs",
        logx=True,
        logy=True,
    )
    write_results(
        out,
        f"Parameters at T={T}, D={D}, M={M}, k={k}",
        {"counts": rows, "growth with T (with biases)": growth_rows},
    )
    return {"counts": rows, "growth": growth_rows}


MODES = {"train": run}
