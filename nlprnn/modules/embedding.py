"""Token embedding shared by every recipe."""

from __future__ import annotations

import torch
from torch import nn


class Embedding(nn.Module):
    """Lookup table + dropout.

    Args:
        num_embeddings: vocabulary size V.
        emb_dim: embedding size E.
        padding_idx: id whose vector stays zero and receives no gradient.
        dropout: dropout on the embedded vectors.

    Shapes: tokens (B, T) long -> (B, T, E).
    """

    def __init__(
        self,
        num_embeddings: int,
        emb_dim: int,
        padding_idx: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.table = nn.Embedding(num_embeddings, emb_dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)

    @property
    def weight(self) -> nn.Parameter:
        """The (V, E) table, exposed so an output layer can tie its weights to it."""
        return self.table.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) long -> embedded (B, T, E), with dropout in training."""
        return self.dropout(self.table(tokens))
