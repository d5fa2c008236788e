"""Character (or word) language model: Embedding -> StackedRNN -> Linear over the vocabulary."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.modules.embedding import Embedding
from nlprnn.modules.rnn import StackedRNN, State


class LanguageModel(nn.Module):
    """Predicts token t+1 from tokens <= t.

    Args:
        vocab_size: V.
        emb_dim: E.
        hidden_size: H of each recurrent layer.
        num_layers: stacked recurrent layers.
        cell: "lstm" | "gru" | "rnn".
        dropout: on embeddings, between layers and before the output layer.
        tie_embeddings: share the (V, E) input embedding with the output layer (needs E == H,
            otherwise a projection H -> E is inserted).

    forward(tokens (B, T), state) -> logits (B, T, V), state
    forward(tokens, state, targets (B, T)) -> mean cross-entropy, state   (training, DDP-ready)
    step(tokens (B,), state)      -> logits (B, V), state   (the decoding interface)
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int = 64,
        hidden_size: int = 512,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_embeddings: bool = False,
    ) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, emb_dim, dropout=dropout)
        self.rnn = StackedRNN(emb_dim, hidden_size, num_layers, cell=cell, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        out_dim = emb_dim if tie_embeddings else hidden_size
        self.proj = nn.Linear(hidden_size, emb_dim) if tie_embeddings and emb_dim != hidden_size else None
        self.output = nn.Linear(out_dim, vocab_size)
        if tie_embeddings:
            self.output.weight = self.embedding.weight

    def forward(
        self, tokens: torch.Tensor, state: State | None = None, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        hidden, state = self.rnn(self.embedding(tokens), state=state)  # (B, T, H)
        hidden = self.dropout(hidden)
        if self.proj is not None:
            hidden = self.proj(hidden)
        logits = self.output(hidden)  # (B, T, V)
        if targets is not None:
            return F.cross_entropy(logits.flatten(0, 1), targets.flatten()), state
        return logits, state

    def step(self, tokens: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        logits, state = self(tokens.unsqueeze(1), state)
        return logits.squeeze(1), state
