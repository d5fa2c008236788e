"""Many-to-one classifier: embedding -> [1-D convolution front end] -> StackedRNN -> pooling -> linear.

The optional convolution (the CRNN of the course) finds n-gram features and, with max-pooling over
``conv_pool`` steps, shortens the sequence the RNN has to walk: a long review costs the RNN 1/pool
of the steps.

``forward`` returns a ``ModelOutput`` (loss, logits, state=None) like every model here
(nlprnn/models/output.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.models.config import keeps_init_kwargs
from nlprnn.models.output import ModelOutput
from nlprnn.modules.embedding import Embedding
from nlprnn.modules.pooling import Pooling
from nlprnn.modules.rnn import StackedRNN, as_lengths


class ConvFrontEnd(nn.Module):
    """Conv1d (same padding) -> ReLU -> max-pool over ``pool`` steps; tokens (B, T, E) -> (B, T', C)
    with lengths ceil(len / pool). Exact under padding: positions past a sequence's end are zeroed
    before pooling, which leaves every max of ReLU outputs (>= 0) as it was."""

    def __init__(self, input_size: int, channels: int, kernel: int = 3, pool: int = 2) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"model.conv_kernel={kernel}: use an odd width so the output stays centred")
        self.conv = nn.Conv1d(input_size, channels, kernel, padding=kernel // 2)
        self.pool = pool

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | list[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, E), lengths (B,) -> features (B, ceil(T / pool), C), their lengths (B,)."""
        lengths = as_lengths(lengths, x.device)
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
        h = F.relu(self.conv(x.masked_fill(~mask[..., None], 0.0).transpose(1, 2)))
        h = h.masked_fill(~mask[:, None, :], 0.0)
        if self.pool > 1:
            h = F.max_pool1d(h, self.pool, ceil_mode=True)
            lengths = torch.div(lengths + self.pool - 1, self.pool, rounding_mode="floor")
        return h.transpose(1, 2), lengths


class SequenceClassifier(nn.Module):
    """Token ids (B, T) + lengths (B,) -> class logits (B, num_classes), and with targets the loss.

    Args:
        vocab_size, num_classes, pad_id: from the data.
        emb_dim: embedding size.
        hidden_size, num_layers, cell, bidirectional: the StackedRNN.
        pooling: last | max | mean | attention (see ``nlprnn.modules.pooling``).
        conv_channels: 0 for none, else the width of the convolution front end;
        conv_kernel, conv_pool: its window and pooling stride.
        dropout: on embeddings, between RNN layers and before the output layer.

    Example:
        >>> import torch
        >>> model = SequenceClassifier(vocab_size=50, num_classes=3, emb_dim=8, hidden_size=8, pooling="mean")
        >>> tokens = torch.randint(1, 50, (4, 7))
        >>> out = model(tokens, [7, 3, 5, 1], targets=torch.tensor([0, 2, 1, 0]))
        >>> out.logits.shape, out.loss.dim(), out.state is None
        (torch.Size([4, 3]), 0, True)
    """

    @keeps_init_kwargs
    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_id: int = 0,
        emb_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        pooling: str = "max",
        conv_channels: int = 0,
        conv_kernel: int = 3,
        conv_pool: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, emb_dim, padding_idx=pad_id, dropout=dropout)
        self.front = ConvFrontEnd(emb_dim, conv_channels, conv_kernel, conv_pool) if conv_channels else None
        self.rnn = StackedRNN(
            conv_channels or emb_dim,
            hidden_size,
            num_layers,
            cell=cell,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.pool = Pooling(pooling, self.rnn.output_size, self.rnn.num_directions)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.rnn.output_size, num_classes)

    def forward(
        self, tokens: torch.Tensor, lengths: torch.Tensor | list[int], *, targets: torch.Tensor | None = None
    ) -> ModelOutput:
        """tokens (B, T), lengths (B,) -> ModelOutput: class logits (B, C), and with ``targets`` (B,)
        class ids the mean cross-entropy as the loss (training)."""
        lengths = as_lengths(lengths, tokens.device)
        x = self.embedding(tokens)
        if self.front is not None:
            x, lengths = self.front(x, lengths)
        outputs, _ = self.rnn(x, lengths)
        logits = self.output(self.dropout(self.pool(outputs, lengths)))
        return ModelOutput(None if targets is None else F.cross_entropy(logits, targets), logits)
