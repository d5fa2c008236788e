"""Univariate time series from CSV files -> overlapping windows -> a split that follows time.

A window of the ``window`` values before time t predicts the value at t. Consecutive windows
share all but one value, and a window's target is an input of the next ones: shuffled into
train/val/test, a test target sits inside training windows (the future leaks into training), so
``split_windows`` splits by time unless a random split is asked for by name.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import torch

from nlprnn.data.files import read_utf8, resolve
from nlprnn.errors import UserError


def read_series(path: Path, time_column: str, value_column: str) -> tuple[list[float], list[float | None]]:
    """(times, values) from a CSV with a header; an empty value is None (a missing measurement)."""
    times, values = [], []
    with io.StringIO(read_utf8(path), newline="") as f:
        reader = csv.DictReader(f)
        for name in (time_column, value_column):
            if name not in (reader.fieldnames or []):
                raise UserError(f"{path}: no column {name!r} (the header has {reader.fieldnames})")
        for line, row in enumerate(reader, start=2):
            if row[time_column] is None or row[value_column] is None:
                raise UserError(f"{path}:{line}: fewer columns than the header: {row}")
            try:
                times.append(float(row[time_column]))
                raw = row[value_column].strip()
                values.append(float(raw) if raw else None)
            except ValueError:
                raise UserError(f"{path}:{line}: not a number: {row}") from None
            if not math.isfinite(times[-1]) or (values[-1] is not None and not math.isfinite(values[-1])):
                raise UserError(f"{path}:{line}: not a finite number: {row}")
    if len(times) < 2:
        raise UserError(f"{path}: fewer than two rows")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise UserError(f"{path}: the {time_column!r} column is not strictly increasing")
    return times, values


def fill_gaps(values: list[float | None]) -> tuple[torch.Tensor, int]:
    """Linear interpolation over missing values (by position: the rows are evenly spaced), the
    ends held at the nearest measurement. -> (values, how many were filled). A gap just before a
    split boundary is filled from the next measurement, a few weeks into the later split: the
    result states how many values were filled (co2: 59 of 2,284)."""
    known = [i for i, v in enumerate(values) if v is not None]
    if not known:
        raise UserError("the series has no values")
    out = torch.empty(len(values), dtype=torch.float64)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = v
    for a, b in zip([None, *known], [*known, None]):
        lo, hi = (0 if a is None else a + 1), (len(values) if b is None else b)
        for i in range(lo, hi):
            if a is None:
                out[i] = out[b]
            elif b is None:
                out[i] = out[a]
            else:
                out[i] = out[a] + (out[b] - out[a]) * (i - a) / (b - a)
    return out.float(), len(values) - len(known)


class TimeSeries:
    """The ``data`` node of the forecasting experiment: one column of a CSV over time.

    ``val_from`` / ``test_from``: the first time (in the file's units, e.g. the year 1921 or the
    date 19900101) whose target belongs to validation / test.
    """

    def __init__(
        self,
        dir: str | None,
        file: str,
        time_column: str,
        value_column: str,
        val_from: float,
        test_from: float,
        name: str = "",
        **_,
    ) -> None:
        self.dir, self.file, self.name = dir, file, name
        self.time_column, self.value_column = time_column, value_column
        self.val_from, self.test_from = val_from, test_from

    def load(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(times (N,), values (N,), number of missing values filled)."""
        path = resolve(self.dir, self.file, "data.file")
        times, raw = read_series(path, self.time_column, self.value_column)
        values, filled = fill_gaps(raw)
        return torch.tensor(times, dtype=torch.float64), values, filled


def make_windows(values: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (window values, next value) pair: x (N - window, window, 1), y (N - window, 1);
    example i predicts values[i + window] from values[i : i + window]."""
    if not 1 <= window < len(values):
        raise UserError(f"window={window} must be between 1 and the series length - 1 ({len(values) - 1})")
    x = values.unfold(0, window, 1)[:-1]
    return x.unsqueeze(-1).contiguous(), values[window:].unsqueeze(-1).clone()


def split_windows(
    target_times: torch.Tensor,
    val_from: float,
    test_from: float,
    order: str = "time",
    seed: int = 0,
    allow_leak: bool = False,
) -> dict[str, torch.Tensor]:
    """{"train"|"val"|"test": example indices}. order="time": by each window's target time.
    order="random": the same split sizes drawn at random, which leaks (see the module docstring)
    and is refused unless ``allow_leak=True`` says it is done on purpose."""
    if not val_from < test_from:
        raise UserError(f"val_from={val_from} must come before test_from={test_from}")
    train = (target_times < val_from).nonzero().squeeze(1)
    val = ((target_times >= val_from) & (target_times < test_from)).nonzero().squeeze(1)
    test = (target_times >= test_from).nonzero().squeeze(1)
    if min(len(train), len(val), len(test)) == 0:
        raise UserError(f"val_from={val_from}, test_from={test_from} leave a split without windows")
    if order == "time":
        return {"train": train, "val": val, "test": test}
    if order != "random":
        raise UserError(f"order must be 'time' or 'random', got {order!r}")
    if not allow_leak:
        raise UserError(
            "a random split of overlapping windows puts future values into training (it leaks); "
            "split by time, or pass allow_leak=True to measure the leak on purpose"
        )
    perm = torch.randperm(len(target_times), generator=torch.Generator().manual_seed(seed))
    a, b = len(train), len(train) + len(val)
    return {"train": perm[:a].sort().values, "val": perm[a:b].sort().values, "test": perm[b:].sort().values}


def stride_windows(indices: torch.Tensor, stride: int) -> torch.Tensor:
    """Every ``stride``-th of the example indices, from the first: the window slid ``stride`` steps
    at a time (1: every window; the window's length: windows that do not overlap)."""
    if stride < 1:
        raise UserError(f"stride={stride} must be at least 1")
    return indices[::stride]
