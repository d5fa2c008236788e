"""Learning-rate schedules: linear warmup, then constant, cosine decay, or reduce-on-plateau."""

from __future__ import annotations

import math

import torch


class LRSchedule:
    """Sets every param group's lr to ``base_lr * factor`` after each optimizer step.

    Args:
        optimizer: whose groups' initial lr is the base lr.
        name: "constant" | "cosine" (to ``min_lr_ratio`` at ``total_steps``) | "plateau"
            (multiply by ``plateau_factor`` after ``plateau_patience`` evaluations without
            improvement of the validation metric).
        warmup_steps: linear ramp from ~0 to the base lr, for every schedule.
        anneal_by_time: cosine only: the decay also follows the share of ``trainer.max_time`` used
            (``time_used``), so a time cap that comes before ``total_steps`` still ends at the floor.
        mode: "min" or "max": which direction of the validation metric is better (plateau only).
    """

    NAMES = ("constant", "cosine", "plateau")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        name: str = "constant",
        total_steps: int = 1,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        anneal_by_time: bool = False,
        plateau_factor: float = 0.5,
        plateau_patience: int = 1,
        mode: str = "min",
    ) -> None:
        if name not in self.NAMES:
            raise ValueError(f"trainer.scheduler.name must be one of {self.NAMES}, got {name!r}")
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.name, self.total_steps, self.warmup_steps = name, max(1, total_steps), warmup_steps
        self.min_lr_ratio, self.mode, self.anneal_by_time = min_lr_ratio, mode, anneal_by_time
        self.time_used = 0.0  # share of this invocation's max_time spent (set by the trainer)
        self.plateau_factor, self.plateau_patience = plateau_factor, plateau_patience
        self.plateau_scale, self.best, self.bad_evals, self.step_count = 1.0, None, 0, 0
        self._apply()

    def factor(self, step: int) -> float:
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.name == "cosine":
            progress = min(
                1.0, max(0, step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
            )
            if self.anneal_by_time:  # whichever budget runs out first ends the decay
                progress = max(progress, min(1.0, self.time_used))
            cos = 0.5 * (1 + math.cos(math.pi * progress))
            return warm * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cos)
        return warm * self.plateau_scale

    def step(self) -> None:
        """Call after every optimizer step."""
        self.step_count += 1
        self._apply()

    def spend_time(self, time_used: float) -> None:
        """Call after every optimizer step with the share of the time budget used (0..1)."""
        if self.anneal_by_time:
            self.time_used = time_used
            self._apply()

    def observe(self, metric: float) -> None:
        """Call after every evaluation; only the plateau schedule reacts."""
        if self.name != "plateau":
            return
        better = self.best is None or (metric < self.best if self.mode == "min" else metric > self.best)
        if better:
            self.best, self.bad_evals = metric, 0
            return
        self.bad_evals += 1
        if self.bad_evals >= self.plateau_patience:
            self.plateau_scale *= self.plateau_factor
            self.bad_evals = 0
            self._apply()

    def _apply(self) -> None:
        f = self.factor(self.step_count)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def state_dict(self) -> dict:
        keys = ("plateau_scale", "best", "bad_evals", "step_count")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)
        self._apply()
