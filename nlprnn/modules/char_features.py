"""Character-level word features: one vector per word from its spelling (prefixes, suffixes, case).

Two classic choices: a char-CNN with max-over-time pooling (Ma & Hovy 2016) and the final states
of a char-BiLSTM (Lample et al. 2016). Both take each distinct word of a batch once.
"""

from __future__ import annotations

import torch
from torch import nn

from nlprnn.modules.rnn import StackedRNN


class CharCNN(nn.Module):
    """Embed characters, convolve over the word, max-pool over its real characters.

    Shapes: chars (U, C) long, lengths (U,) -> (U, filters).
    """

    def __init__(
        self, num_chars: int, char_dim: int = 30, filters: int = 50, kernel: int = 3, pad_id: int = 0
    ):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=pad_id)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.embed(chars).transpose(1, 2))  # (U, filters, C)
        real = torch.arange(chars.size(1), device=chars.device)[None, :] < lengths.to(chars.device)[:, None]
        return h.masked_fill(~real.unsqueeze(1), float("-inf")).amax(dim=2)


class CharBiLSTM(nn.Module):
    """Embed characters, read the word both ways, concatenate the two final states.

    Shapes: chars (U, C) long, lengths (U,) -> (U, 2 * hidden).
    """

    def __init__(self, num_chars: int, char_dim: int = 30, hidden: int = 25, pad_id: int = 0):
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=pad_id)
        self.rnn = StackedRNN(char_dim, hidden, 1, "lstm", bidirectional=True)
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.rnn(self.embed(chars), lengths)  # h (2, U, hidden): forward, backward
        return torch.cat([h[0], h[1]], dim=-1)


def char_encoder(kind: str, num_chars: int, char_dim: int, size: int) -> nn.Module | None:
    """``kind`` "cnn" (``size`` filters), "lstm" (``size`` per direction) or "none"."""
    if kind == "cnn":
        return CharCNN(num_chars, char_dim, size)
    if kind == "lstm":
        return CharBiLSTM(num_chars, char_dim, size)
    if kind in ("none", None):
        return None
    raise ValueError(f"char_features must be cnn, lstm or none, got {kind!r}")
