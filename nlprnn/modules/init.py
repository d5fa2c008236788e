"""Keras' default initialisers for the toolkit's layers, so a Keras example can be reproduced
weight-distribution for weight-distribution (torch's defaults differ, and that decides results:
see recipes/course/README.md, keras_simple_rnn).

Keras (SimpleRNN, LSTM, GRU, Dense, Conv1D, Embedding) starts from:

- input kernels ``glorot_uniform``: U(-a, a), a = sqrt(6 / (fan_in + fan_out)) over the whole
  kernel (all gate blocks at once), where torch's recurrent layers draw U(-1/sqrt(H), 1/sqrt(H));
- recurrent kernels ``orthogonal``;
- biases ``zeros``, except an LSTM's forget gate at 1 (``unit_forget_bias=True``);
- embeddings ``uniform``: U(-0.05, 0.05) (torch: N(0, 1)).
"""

from __future__ import annotations

import torch
from torch import nn

from nlprnn.modules.cells import JordanCell, LSTMCell

KERAS_EMBEDDING_RANGE = 0.05


@torch.no_grad()
def keras_init(module: nn.Module, unit_forget_bias: bool = True) -> nn.Module:
    """Re-initialise every recurrent, linear, convolutional and embedding layer inside ``module``
    as Keras would; returns ``module``. Parameters are found by torch's names (``weight_ih*`` input
    kernels, ``weight_hh*`` recurrent kernels, ``bias*``), which the fused layers and the cells of
    ``nlprnn.modules.cells`` share; a Jordan cell's output feedback ``weight_yh`` is recurrent.

    Example:
        >>> rnn = nn.LSTM(4, 3)
        >>> _ = keras_init(rnn)
        >>> (rnn.bias_ih_l0[3:6] + rnn.bias_hh_l0[3:6]).tolist()   # forget gate: unit_forget_bias
        [1.0, 1.0, 1.0]
    """
    for layer in module.modules():
        if isinstance(layer, nn.Embedding):
            nn.init.uniform_(layer.weight, -KERAS_EMBEDDING_RANGE, KERAS_EMBEDDING_RANGE)
        elif isinstance(layer, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.RNNBase, nn.RNNCellBase)) or _is_cell(layer):
            _recurrent(layer, unit_forget_bias and _is_lstm(layer))
    return module


def _is_cell(layer: nn.Module) -> bool:
    names = {name for name, _ in layer.named_parameters(recurse=False)}
    return "weight_ih" in names or isinstance(layer, JordanCell)


def _is_lstm(layer: nn.Module) -> bool:
    return isinstance(layer, (nn.LSTM, nn.LSTMCell, LSTMCell))


def _recurrent(layer: nn.Module, forget_one: bool) -> None:
    for name, p in layer.named_parameters(recurse=False):
        if name.startswith("weight_ih") or name == "weight_hy":
            nn.init.xavier_uniform_(p)
        elif name.startswith(("weight_hh", "weight_yh")):
            nn.init.orthogonal_(p)
        elif name.startswith("bias"):
            nn.init.zeros_(p)
            if forget_one and name.startswith("bias_ih"):  # gate blocks i, f, g, o (Keras: i, f, c, o)
                h = p.shape[0] // 4
                p[h : 2 * h] = 1.0
