"""Synthetic sequence tasks whose answer depends on an input far back in time (the course's
memory experiments). Each returns (x (N, T, I) float, y) drawn from a seeded ``torch.Generator``.
"""

from __future__ import annotations

import torch


def adding_problem(n: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Hochreiter & Schmidhuber's adding problem: x[..., 0] ~ U(0, 1), x[..., 1] marks two
    positions (one in each half); the target is the sum of the two marked values.

    Predicting the constant 1 (the target's mean) has MSE Var(U+U) = 1/6 = 0.167: a model must do
    better than that to have remembered anything. -> x (N, T, 2), y (N, 1)
    """
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    marks = torch.zeros(n, length)
    rows = torch.arange(n)
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    y = (values * marks).sum(1, keepdim=True)
    return torch.stack([values, marks], dim=-1), y


ADDING_BASELINE_MSE = 1.0 / 6.0  # predicting the mean (1.0) always
ADDING_LEARNED_MSE = ADDING_BASELINE_MSE / 2  # a test MSE that counts as having learned the problem


def first_symbol(
    n: int, length: int, num_symbols: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy the first symbol: a sequence of random one-hot symbols; the answer is the first one,
    seen ``length - 1`` steps before the end. Chance accuracy is 1 / num_symbols.
    -> x (N, T, num_symbols) one-hot, y (N,) class ids
    """
    symbols = torch.randint(0, num_symbols, (n, length), generator=generator)
    x = torch.nn.functional.one_hot(symbols, num_symbols).float()
    return x, symbols[:, 0].clone()


def sign_of_first(n: int, length: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary: is the first of ``length`` standard-normal values positive? The rest is noise the
    network must ignore while it keeps the sign. -> x (N, T, 1), y (N, 1) in {0, 1}"""
    x = torch.randn(n, length, 1, generator=generator)
    return x, (x[:, 0] > 0).float()


TASKS = {"adding": adding_problem, "first_symbol": first_symbol, "sign_of_first": sign_of_first}
