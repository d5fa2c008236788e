"""Parameters of an MLP over a flattened window vs recurrent nets, counted from the real modules.

The lecture's example: T=20 steps of D=30 features, M=16 hidden units, k=3 outputs. The MLP's
first layer sees the T*D flattened window (T*D*M + M*k = 9,648 weights); an Elman net shares one
D*M input matrix and one M*M recurrent matrix over all steps (D*M + M*M + M*k = 784), whatever T.
LSTM and GRU repeat the input and recurrent matrices per gate (4x and 3x); a Jordan net feeds back
the k outputs instead of the M hidden units (D*M + k*M + M*k).
"""

from __future__ import annotations

from nlprnn.models.course import SequenceToOne, WindowMLP
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import Claim, Verdict, parameter_count, start, write_results

CELLS = {"Elman (rnn)": "rnn", "Jordan": "jordan", "GRU": "gru", "LSTM": "lstm"}
CLAIM = Claim(
    quote="En un MLP: I → H: T × D × M = 9600, H → O: M × k = 48, Total: 9648 parámetros a ajustar. "
    "En una RNN: I → H: (D + M) × M = 736, H → O: M × k = 48, Total: 784 parámetros a ajustar",
    english="with T=20, D=30, M=16, k=3 an MLP over the window has 9,648 weights, an RNN 784",
    source="1-redes-recurrentes-etsisi.md, «Además, echando cuentas ...»",
)


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
    exact = all(r["weights (no biases)"] == r["lecture's formula"] for r in rows)
    mlp, elman = rows[0]["weights (no biases)"], rows[1]["weights (no biases)"]
    said = Verdict(
        "agrees" if exact else "disagrees",
        f"counted from the modules: {mlp:,} (MLP over the window) vs {elman:,} (Elman) weights without biases"
        + (", every model equal to the lecture's formula" if exact else ", not the lecture's formula")
        + f"; from T={e.windows[0]} to T={e.windows[-1]} the MLP grows from {growth[rows[0]['model']][0]:,} "
        f"to {growth[rows[0]['model']][-1]:,} parameters, the recurrent nets not at all.",
    )
    write_results(
        out,
        f"Parameters at T={T}, D={D}, M={M}, k={k}",
        {"counts": rows, "growth with T (with biases)": growth_rows},
        findings=[(CLAIM, said)],
    )
    return {"counts": rows, "growth": growth_rows}


MODES = {"train": run}
