"""``summary(model, example)``: Keras' ``model.summary()`` for a torch model: each top-level layer
with its output shape (from one forward pass on ``example``) and its parameter count."""

from __future__ import annotations

import torch
from torch import nn


def summary(model: nn.Module, *example: torch.Tensor) -> str:
    """A table of the model's direct children (name, type, output shape, parameters) and the
    total, as Keras prints it. Keras counts one bias per recurrent layer where torch's fused
    layers hold two (``bias_ih``, ``bias_hh``), so a torch recurrent layer shows H more per layer
    (4H for an LSTM, 3H for a GRU).

    Example:
        >>> from nlprnn.modules.rnn import RNNStack
        >>> print(summary(nn.Sequential(nn.Linear(3, 4)), torch.zeros(2, 3)))
        layer    type      output shape    parameters
        0        Linear    (2, 4)          16
        total                              16
    """
    shapes: dict[str, str] = {}

    def record(name):
        def hook(_module, _inputs, output):
            first = output[0] if isinstance(output, tuple) else output
            shapes[name] = str(tuple(first.shape)) if isinstance(first, torch.Tensor) else "?"

        return hook

    children = list(model.named_children())
    handles = [child.register_forward_hook(record(name)) for name, child in children]
    try:
        with torch.no_grad():
            model(*example)
    finally:
        for handle in handles:
            handle.remove()
    rows = [("layer", "type", "output shape", "parameters")]
    rows += [(name, type(c).__name__, shapes.get(name, ""), str(_count(c))) for name, c in children]
    rows.append(("total", "", "", str(_count(model))))
    widths = [max(len(r[k]) for r in rows) + 4 for k in range(3)]
    return "\n".join("".join(cell.ljust(w) for cell, w in zip(r[:3], widths)) + r[3] for r in rows)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
