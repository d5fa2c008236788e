"""Many-to-one: which summary of the RNN's outputs a classifier reads::

    last       the state after the last real token; for a bidirectional RNN the forward half at
               position len-1 and the backward half at position 0 (where the backward pass ends)
    max        element-wise max over the real positions
    mean       average over the real positions
    attention  a learned weighted average: score_t = v . tanh(W h_t), softmax over real positions

All four ignore padding: a batch gives the same vectors as each sequence on its own.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("last", "max", "mean", "attention")


class Pooling(nn.Module):
    """outputs (B, T, D*H), lengths (B,) -> (B, D*H).

    Args:
        kind: one of last | max | mean | attention.
        size: D*H, the feature size of the outputs.
        num_directions: D, needed by ``last``.
        attention_size: hidden size of the attention scorer.

    Example:
        >>> import torch
        >>> pool = Pooling("mean", size=2)
        >>> outputs = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])   # the last step is padding
        >>> pool(outputs, torch.tensor([2]))
        tensor([[2., 3.]])
    """

    def __init__(self, kind: str, size: int, num_directions: int = 1, attention_size: int = 128) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {kind!r}")
        self.kind, self.num_directions = kind, num_directions
        if kind == "attention":
            self.project = nn.Linear(size, attention_size)
            self.score = nn.Linear(attention_size, 1, bias=False)
        self.weights: torch.Tensor | None = None  # attention weights of the last call (B, T)

    def forward(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """outputs (B, T, D*H), lengths (B,) long -> pooled (B, D*H); padding is ignored."""
        mask = torch.arange(outputs.size(1), device=outputs.device)[None, :] < lengths[:, None]  # (B, T)
        if self.kind == "last":
            return self._last(outputs, lengths)
        if self.kind == "max":
            return outputs.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)
        if self.kind == "mean":
            return (outputs * mask[..., None]).sum(1) / lengths[:, None].to(outputs.dtype)
        scores = self.score(torch.tanh(self.project(outputs))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        self.weights = (
            weights.detach()
        )  # kept for inspection only: no graph, so the module stays deep-copyable
        return torch.bmm(weights[:, None, :], outputs).squeeze(1)

    def _last(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(outputs.size(0), device=outputs.device)
        forward = outputs[rows, lengths - 1]  # (B, D*H): its first H features are the forward state
        if self.num_directions == 1:
            return forward
        hidden = outputs.size(-1) // 2
        return torch.cat([forward[:, :hidden], outputs[:, 0, hidden:]], dim=-1)
