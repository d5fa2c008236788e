"""Autoregressive decoding over a ``step`` function: greedy and sampling.

Every decoder in the toolkit exposes one interface::

    step(tokens (B,) long, state) -> (logits (B, V), new_state)

so the same search code drives the char LM and the translation decoder. ``state`` is opaque
here (a tensor, a tuple, a dict...): the searches only pass it along.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Step = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """Set to -inf every logit outside the top-k and outside the nucleus of mass top_p.

    logits (B, V) -> (B, V). At least one token (the argmax) always survives.

    Example:
        >>> import torch
        >>> filter_logits(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), top_k=2)
        tensor([[-inf, 3., 2., -inf]])
    """
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0.0 < top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token when the tokens ranked above it already hold top_p of the mass
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def greedy(
    step: Step, tokens: torch.Tensor, state: Any, max_len: int, eos_id: int | None = None
) -> torch.Tensor:
    """Pick the most likely token at every step. tokens (B,) -> generated (B, <=max_len)."""
    return _decode(step, tokens, state, max_len, lambda logits: logits.argmax(-1), eos_id)


def sample(
    step: Step,
    tokens: torch.Tensor,
    state: Any,
    max_len: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_id: int | None = None,
) -> torch.Tensor:
    """Draw each token from softmax(logits / temperature), restricted by top_k / top_p.

    temperature <= 0 means greedy. With a seeded ``generator`` the output is reproducible.
    tokens (B,) -> generated (B, <=max_len).
    """
    if temperature <= 0:
        return greedy(step, tokens, state, max_len, eos_id)

    def pick(logits: torch.Tensor) -> torch.Tensor:
        probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    return _decode(step, tokens, state, max_len, pick, eos_id)


@torch.inference_mode()
def _decode(
    step: Step,
    tokens: torch.Tensor,
    state: Any,
    max_len: int,
    pick: Callable[[torch.Tensor], torch.Tensor],
    eos_id: int | None,
) -> torch.Tensor:
    """Shared loop: feed the last token, pick the next; rows that emitted eos keep emitting it."""
    out = []
    finished = torch.zeros_like(tokens, dtype=torch.bool)
    for _ in range(max_len):
        logits, state = step(tokens, state)
        tokens = pick(logits.float())
        if eos_id is not None:
            tokens = tokens.masked_fill(finished, eos_id)
            finished |= tokens == eos_id
        out.append(tokens)
        if eos_id is not None and bool(finished.all()):
            break
    if not out:
        return tokens.new_empty(tokens.size(0), 0)
    return torch.stack(out, dim=1)
