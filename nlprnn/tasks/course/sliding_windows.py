"""Forecasting a real series from sliding windows: the naive last-value forecast, an MLP over the
window and an RNN reading it step by step, first under a split by time (train on the past,
test on the future), then under a random split of the same windows.

The random split leaks: consecutive windows overlap, so a test target is also an input of
training windows. To tell the leak from the difference between periods (the time split's test
years may be harder), every error is also given relative to the naive forecast on the same test
windows, and the random-split models are scored on the time split's test windows as well (many of
which they saw in training).
"""

from __future__ import annotations

import statistics

import torch

from nlprnn.data.timeseries import make_windows, split_windows
from nlprnn.errors import build
from nlprnn.models.many_to_one import SequenceToOne, WindowMLP
from nlprnn.plotting import line_plot
from nlprnn.tasks.course.experiment import TensorTask, fit, start, write_results


def models(e) -> dict:
    return {
        "MLP over the window": lambda: WindowMLP(e.window, 1, e.hidden, 1),
        f"RNN ({e.cell})": lambda: SequenceToOne(1, e.hidden, 1, e.cell),
    }


def errors(prediction: torch.Tensor, target: torch.Tensor) -> dict:
    return {
        "mae": (prediction - target).abs().mean().item(),
        "rmse": (prediction - target).pow(2).mean().sqrt().item(),
    }


def fit_and_predict(cfg, name, make, x, y, split, seed, folder) -> torch.Tensor:
    """Train on split["train"] (normalised with the training targets' mean and sd), choose the best
    epoch on split["val"]; -> predictions for every window, in the series' units.

    ``experiment.relative``: the models see each window relative to its last value and predict
    the change, so a series with a trend (CO2) is not asked for levels it never saw in training."""
    last = x[:, -1] if cfg.experiment.get("relative") else torch.zeros_like(y)  # (N, 1)
    x, y = x - last.unsqueeze(1), y - last
    mean, sd = y[split["train"]].mean(), y[split["train"]].std()
    xn, yn = (x - mean) / sd, (y - mean) / sd
    torch.manual_seed(seed)
    model = make()
    task = TensorTask(
        (xn[split["train"]], yn[split["train"]]),
        (xn[split["val"]], yn[split["val"]]),
        "mse",
        cfg.experiment.batch_size,
        seed,
    )
    fit(cfg, model, task, folder)
    with torch.no_grad():
        model.eval()
        return model(xn).logits * sd + mean + last


def run(cfg) -> dict:
    out, _ = start(cfg)
    e = cfg.experiment
    times, values, filled = build(cfg.data).load()
    x, y = make_windows(values, e.window)
    target_times = times[e.window :]
    splits = {
        "time": split_windows(target_times, cfg.data.val_from, cfg.data.test_from),
        "random": split_windows(
            target_times, cfg.data.val_from, cfg.data.test_from, "random", cfg.seed, allow_leak=True
        ),
    }
    naive = x[:, -1]  # the last value of the window
    rows, predictions = [], {}
    for split_name, split in splits.items():
        test = split["test"]
        base = errors(naive[test], y[test])
        rows.append(row(split_name, "naive (last value)", [base], base))
        for name, make in models(e).items():
            runs = []
            for seed in e.seeds:
                folder = out / f"{split_name}_split" / f"{name.split()[0].lower()}_seed{seed}"
                predicted = fit_and_predict(cfg, name, make, x, y, split, seed, folder)
                runs.append(errors(predicted[test], y[test]))
                predictions.setdefault((split_name, name), []).append(predicted)
            rows.append(row(split_name, name, runs, base))
    # the random-split models on the time split's test windows (which they partly trained on)
    time_test = splits["time"]["test"]
    leaked = splits["random"]["train"][torch.isin(splits["random"]["train"], time_test)]
    base = errors(naive[time_test], y[time_test])
    for name in models(e):
        runs = [errors(p[time_test], y[time_test]) for p in predictions[("random", name)]]
        rows.append(row("random, scored on the time split's test windows", name, runs, base))
    plot(out, cfg, e, target_times, y, naive, predictions, time_test)
    summary = {
        "series": cfg.data.name,
        "values": len(values),
        "missing values filled": filled,
        "windows": len(y),
        "train / val / test windows": "/".join(str(len(splits["time"][s])) for s in ("train", "val", "test")),
        "time split's test windows seen in random-split training": len(leaked),
    }
    write_results(
        out,
        f"Sliding windows on {cfg.data.name}: split by time vs at random",
        {"data": [summary], "test errors (series units)": rows},
    )
    return {"rows": rows, "summary": summary}


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def row(split: str, model: str, runs: list[dict], naive: dict) -> dict:
    """Mean ± sd over seeds of MAE and RMSE, and the MAE relative to the naive forecast's."""
    mae, rmse = [r["mae"] for r in runs], [r["rmse"] for r in runs]
    return {
        "split": split,
        "model": model,
        "test MAE": statistics.mean(mae),
        "MAE sd": _sd(mae),
        "test RMSE": statistics.mean(rmse),
        "RMSE sd": _sd(rmse),
        "MAE / naive MAE": statistics.mean(mae) / naive["mae"],
        "seeds": len(runs),
    }


def decimal_years(times: torch.Tensor) -> list[float]:
    """Time stamps for a plot's x axis: years as they are, YYYYMMDD dates as fractional years (a
    date read as a number would jump by 8,870 from 19961231 to 19970101)."""
    if times.max() < 10000:
        return times.tolist()
    year, month, day = times // 10000, (times // 100) % 100, times % 100
    return (year + (month - 1) / 12 + (day - 1) / 365).tolist()


def plot(out, cfg, e, target_times, y, naive, predictions, test) -> None:
    t = decimal_years(target_times[test])
    series = {"actual": (t, y[test, 0].tolist()), "naive": (t, naive[test, 0].tolist())}
    for name in models(e):
        series[f"{name}, time split"] = (t, predictions[("time", name)][0][test, 0].tolist())
    line_plot(
        series,
        out / "test_forecasts.png",
        "year" if target_times.max() >= 10000 else cfg.data.time_column,
        cfg.data.value_column,
        title=f"{cfg.data.name}: one-step forecasts on the test period (split by time)",
    )


MODES = {"train": run}
