"""The forecasting data: CSV reading with file:line errors, gap filling, windows, and a split that
refuses to shuffle time unless told to."""

from __future__ import annotations

import pytest
import torch

from nlprnn.errors import UserError
from nlprnn.recipes.course.timeseries import TimeSeries, fill_gaps, make_windows, read_series, split_windows


def test_windows_predict_the_next_value():
    x, y = make_windows(torch.arange(10.0), 3)
    assert x.shape == (7, 3, 1) and y.shape == (7, 1)
    assert x[0, :, 0].tolist() == [0, 1, 2] and y[0].item() == 3 and y[-1].item() == 9
    with pytest.raises(UserError, match="window=10"):
        make_windows(torch.arange(10.0), 10)


def test_split_by_time_and_the_random_split_only_on_purpose():
    times = torch.arange(1900.0, 2000.0)
    split = split_windows(times, 1960, 1980)
    assert times[split["train"]].max() < 1960 <= times[split["val"]].min()
    assert times[split["val"]].max() < 1980 <= times[split["test"]].min()
    with pytest.raises(UserError, match="leaks"):
        split_windows(times, 1960, 1980, order="random")
    leaky = split_windows(times, 1960, 1980, order="random", seed=1, allow_leak=True)
    assert {k: len(v) for k, v in leaky.items()} == {k: len(v) for k, v in split.items()}
    assert times[leaky["train"]].max() > 1980  # future years in training: the leak
    assert sorted(torch.cat(list(leaky.values())).tolist()) == list(range(100))


def test_gaps_are_interpolated_and_ends_held():
    values, filled = fill_gaps([None, 1.0, None, None, 4.0, None])
    assert values.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0] and filled == 4


def test_malformed_csv_names_file_and_line(tmp_path):
    bad = tmp_path / "s.csv"
    bad.write_text("year,value\n2000,1.5\n2001,abc\n")
    with pytest.raises(UserError, match=r"s.csv:3: not a number"):
        read_series(bad, "year", "value")
    bad.write_text("year,value\n2000,1.5\n2001\n")
    with pytest.raises(UserError, match=r"s.csv:3: fewer columns"):
        read_series(bad, "year", "value")
    bad.write_text("year,value\n2000,nan\n")
    with pytest.raises(UserError, match=r"s.csv:2: not a finite number"):
        read_series(bad, "year", "value")
    with pytest.raises(UserError, match="no column 'v'"):
        read_series(bad, "year", "v")


def test_real_series(data_dir):
    times, values, filled = TimeSeries(str(data_dir), "timeseries/co2_mauna_loa/co2.csv", "date", "co2",
                                       19900101, 19960101, "co2").load()  # fmt: skip
    assert len(values) == 2284 and filled == 59 and torch.isfinite(values).all()
    assert 310 < values.min() and values.max() < 380
    times, values, filled = TimeSeries(str(data_dir), "timeseries/sunspots/sunspots.csv", "YEAR",
                                       "SUNACTIVITY", 1921, 1956, "sunspots").load()  # fmt: skip
    assert len(values) == 309 and filled == 0 and times[0] == 1700
