"""Token embedding shared by every recipe."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Embedding(nn.Module):
    """Lookup table + dropout, optionally with a fixed tail of rows.

    Args:
        num_embeddings: vocabulary size V.
        emb_dim: embedding size E.
        padding_idx: id whose vector stays zero and receives no gradient.
        dropout: dropout on the embedded vectors.

    Shapes: tokens (B, T) long -> (B, T, E).

    ``fix_rows(n)`` turns rows ``n..V-1`` into a buffer: words that only unlabelled text gave a vector
    (NER's corpus words) never occur in training, so Adam would leave them unchanged anyway, but it
    still reads and writes every row of a dense table at every step; kept apart they cost nothing.
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
        self.register_buffer("fixed", None)  # (V - n, E) after fix_rows(n)

    @property
    def weight(self) -> nn.Parameter:
        """The trained (V, E) table (rows before ``fix_rows``), so an output layer can tie to it."""
        return self.table.weight

    @property
    def num_embeddings(self) -> int:
        """V, the fixed rows included."""
        return self.table.num_embeddings + (0 if self.fixed is None else self.fixed.size(0))

    @torch.no_grad()
    def fix_rows(self, start: int) -> None:
        """Rows ``start`` and after stop training (they move to the buffer ``fixed``)."""
        low = 0 if self.table.padding_idx is None else self.table.padding_idx  # padding stays trained
        if self.fixed is not None or not low < start < self.table.num_embeddings:
            raise ValueError(f"fix_rows({start}): needs {low} < start < {self.table.num_embeddings}, once")
        full = self.table.weight
        self.fixed = full[start:].clone()
        self.table.weight = nn.Parameter(full[:start].clone())
        self.table.num_embeddings = start

    def _load_from_state_dict(self, state, prefix, *args, **kwargs):
        # a checkpoint saved after fix_rows: split this (full) table the same way before loading
        saved = state.get(prefix + "fixed")
        if saved is not None and self.fixed is None:
            self.fix_rows(self.table.num_embeddings - saved.size(0))
        super()._load_from_state_dict(state, prefix, *args, **kwargs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) long -> embedded (B, T, E), with dropout in training."""
        if self.fixed is None:
            return self.dropout(self.table(tokens))
        trained = self.table.num_embeddings
        vectors = torch.where(
            (tokens < trained).unsqueeze(-1),
            self.table(tokens.clamp(max=trained - 1)),
            F.embedding((tokens - trained).clamp(min=0), self.fixed),
        )
        return self.dropout(vectors)
