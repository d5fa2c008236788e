"""Exponential moving average of the weights (Polyak averaging).

The averaged weights sit in a flatter region than the last SGD iterate and usually generalise a
little better; the trainer validates and checkpoints them when ``trainer.ema`` is set, and keeps
training the raw weights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightAverage:
    """``average = decay * average + (1 - decay) * weights`` after every optimizer step.

    The effective decay starts low, ``min(decay, (1 + n) / (10 + n))`` after n updates, so that the
    random initial weights are forgotten quickly.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"trainer.ema={decay}: the averaging decay must lie in (0, 1), e.g. 0.999")
        self.decay, self.updates = decay, 0
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.average = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - decay)

    @contextmanager
    @torch.no_grad()
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; the raw ones come back after."""
        raw = [p.detach().clone() for p in self.params]
        torch._foreach_copy_(self.params, self.average)
        try:
            yield
        finally:
            torch._foreach_copy_(self.params, raw)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        for mine, saved in zip(self.average, state["average"]):
            mine.copy_(saved)
