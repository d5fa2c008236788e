"""Many-to-one models on real-valued inputs (the course experiments): a recurrent net whose last
step feeds a linear head, and the objectives they train with.

``forward`` returns a ``ModelOutput`` (loss, predictions as logits, state=None) like every model here
(nlprnn/models/output.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.models.output import ModelOutput
from nlprnn.modules.cells import JordanRNN
from nlprnn.modules.rnn import StackedRNN

LOSSES = ("mse", "bce", "ce")
JORDAN = ("jordan", "elman_jordan")  # the output recurs (and, for elman_jordan, the hidden state too)


def objective(kind: str, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mse: regression; bce: one logit per example, target in {0, 1}; ce: logits, class ids."""
    if kind == "mse":
        return F.mse_loss(prediction, target)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(prediction, target)
    if kind == "ce":
        return F.cross_entropy(prediction, target)
    raise ValueError(f"loss must be one of {LOSSES}, got {kind!r}")


class SequenceToOne(nn.Module):
    """x (B, T, I) -> prediction (B, O) from the last step; with ``targets``, the loss as well.

    cell "rnn" | "lstm" | "gru": a ``StackedRNN`` (Elman h_t = act(W x_t + U h_{t-1} + b)),
    the top layer's last state through ``Linear(H, O)``.
    ``forget_bias``: an LSTM's initial forget-gate bias (see ``StackedRNN``).
    cell "jordan": a ``JordanRNN`` (h_t = act(W x_t + U y_{t-1} + b), y_t = V h_t + c) whose last
    output is the prediction: the output, not the hidden state, is what recurs.
    cell "elman_jordan": both recur, h_t = act(W x_t + R h_{t-1} + U y_{t-1} + b).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        cell: str = "rnn",
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        loss: str = "mse",
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.cell, self.loss = cell, loss
        if cell in JORDAN:
            if num_layers != 1:
                raise ValueError("a Jordan network has one layer")
            both = cell == "elman_jordan"
            self.rnn = JordanRNN(input_size, hidden_size, output_size, nonlinearity, state_feedback=both)
            self.head = nn.Identity()
        else:
            self.rnn = StackedRNN(
                input_size, hidden_size, num_layers, cell, nonlinearity, forget_bias=forget_bias
            )
            self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: torch.Tensor, *, targets: torch.Tensor | None = None) -> ModelOutput:
        """x (B, T, I) -> ModelOutput: predictions (B, O) (regression values or logits, per ``loss``)
        as logits, and with ``targets`` (B, O) (class ids (B,) for "ce") the objective as the loss."""
        if self.cell in JORDAN:
            _, last = self.rnn(x)
        else:
            outputs, _ = self.rnn(x)
            last = outputs[:, -1]
        return _output(self.loss, self.head(last), targets)


class WindowMLP(nn.Module):
    """The feed-forward alternative: the whole window (B, T, I) flattened into one input vector.
    Its first layer has T * I * H weights, so it grows with the window; an RNN's does not."""

    def __init__(
        self, window: int, input_size: int, hidden_size: int, output_size: int, loss: str = "mse"
    ) -> None:
        super().__init__()
        self.loss = loss
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(window * input_size, hidden_size),
            nn.Tanh(),
            nn.Linear(hidden_size, output_size),
        )

    def forward(self, x: torch.Tensor, *, targets: torch.Tensor | None = None) -> ModelOutput:
        """x (B, T, I) -> ModelOutput as ``SequenceToOne.forward``."""
        return _output(self.loss, self.net(x), targets)


def _output(loss: str, prediction: torch.Tensor, targets: torch.Tensor | None) -> ModelOutput:
    return ModelOutput(None if targets is None else objective(loss, prediction, targets), prediction)


class WindowCNN(nn.Module):
    """A 1D convolutional net over the window (B, T, I): ``layers`` convolutions of ``kernel_size``
    adjacent steps (``channels`` filters each, ReLU, no padding), the resulting feature map
    flattened into ``Linear(channels * (T - layers * (kernel_size - 1)), O)``. The filters are
    shared along time like an RNN's weights, but the window's length stays fixed, as in an MLP."""

    def __init__(
        self,
        window: int,
        input_size: int,
        channels: int,
        output_size: int,
        kernel_size: int = 3,
        layers: int = 2,
        loss: str = "mse",
    ) -> None:
        super().__init__()
        length = window - layers * (kernel_size - 1)  # what is left of the window after the convolutions
        if layers < 1 or kernel_size < 1 or length < 1:
            raise ValueError(
                f"{layers} convolutions of {kernel_size} steps need a window of at least "
                f"{layers * (kernel_size - 1) + 1} steps (and layers, kernel_size >= 1); got {window}"
            )
        self.loss = loss
        convs = []
        for i in range(layers):
            convs += [nn.Conv1d(input_size if i == 0 else channels, channels, kernel_size), nn.ReLU()]
        self.net = nn.Sequential(*convs, nn.Flatten(), nn.Linear(channels * length, output_size))

    def forward(self, x: torch.Tensor, *, targets: torch.Tensor | None = None) -> ModelOutput:
        """x (B, T, I) -> ModelOutput as ``SequenceToOne.forward`` (Conv1d wants (B, I, T))."""
        return _output(self.loss, self.net(x.transpose(1, 2)), targets)
