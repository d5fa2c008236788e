"""Attention over encoder states: Luong (dot, general) and Bahdanau (additive) scores."""

from __future__ import annotations

import torch
from torch import nn


class Attention(nn.Module):
    """Scores each source position for each query, softmax over the real (unpadded) positions,
    and returns the weighted sum of the encoder states.

    score(q, k) =  q . k                      kind="dot"      (Luong; needs query_size == memory_size)
                   q . (W k)                  kind="general"  (Luong)
                   v . tanh(W_q q + W_k k)    kind="bahdanau" (additive)

    Args:
        kind: "dot" | "general" | "bahdanau".
        query_size: Hq, size of the decoder states asking.
        memory_size: Hm, size of the encoder states (2H for a bidirectional encoder).
        attn_size: A, hidden size of the additive scorer (bahdanau only; default Hq).

    Shapes: query (B, Tq, Hq), memory (B, S, Hm), mask (B, S) bool, True at real positions
        -> context (B, Tq, Hm), weights (B, Tq, S); padded positions get exactly zero weight.

    ``keys = attention.keys(memory)`` precomputes the query-independent part once per sentence,
    so step-by-step decoding does not redo it at every step.

    Example:
        >>> import torch
        >>> attention = Attention("general", query_size=4, memory_size=6)
        >>> mask = torch.tensor([[True, True, False]])          # one sentence of 2 real positions
        >>> context, weights = attention(torch.randn(1, 5, 4), torch.randn(1, 3, 6), mask)
        >>> context.shape, weights.shape
        (torch.Size([1, 5, 6]), torch.Size([1, 5, 3]))
        >>> weights[0, :, 2].tolist()                            # no weight on padding
        [0.0, 0.0, 0.0, 0.0, 0.0]
    """

    KINDS = ("dot", "general", "bahdanau")

    def __init__(self, kind: str, query_size: int, memory_size: int, attn_size: int | None = None):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"attention must be one of {self.KINDS}, got {kind!r}")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(f"dot attention needs query_size == memory_size ({query_size} != {memory_size})")
        self.kind = kind
        if kind == "general":
            self.key_proj = nn.Linear(memory_size, query_size, bias=False)
        elif kind == "bahdanau":
            attn_size = attn_size or query_size
            self.key_proj = nn.Linear(memory_size, attn_size, bias=False)
            self.query_proj = nn.Linear(query_size, attn_size)
            self.v = nn.Linear(attn_size, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """(B, S, Hm) -> (B, S, Hq) for dot/general, (B, S, A) for bahdanau."""
        return memory if self.kind == "dot" else self.key_proj(memory)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """(B, Tq, Hq), keys -> (B, Tq, S)."""
        if self.kind == "bahdanau":
            q = self.query_proj(query).unsqueeze(2)  # (B, Tq, 1, A)
            # v . tanh(x) = 2 v . sigmoid(2x) - sum(v): the same value, but torch's CPU tanh is ~6x
            # slower than its sigmoid, and (B, Tq, S, A) is the largest tensor of a decoding step
            gate = (2 * q + 2 * keys.unsqueeze(1)).sigmoid_()  # doubling the two small tensors
            return 2 * self.v(gate).squeeze(-1) - self.v.weight.sum()
        return torch.bmm(query, keys.transpose(1, 2))  # one batched matmul for all steps

    def forward(
        self,
        query: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, Tq, Hq), memory (B, S, Hm), mask (B, S) bool, keys (``keys(memory)``, or None to
        compute them) -> context (B, Tq, Hm), weights (B, Tq, S)."""
        keys = self.keys(memory) if keys is None else keys
        scores = self.scores(query, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = scores.softmax(dim=-1)
        return torch.bmm(weights, memory), weights
