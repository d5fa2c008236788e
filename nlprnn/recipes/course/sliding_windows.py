"""Forecasting a real series from sliding windows: the naive last-value forecast, an MLP over the
window and an RNN reading it step by step, first under a split by time (train on the past,
test on the future), then under a random split of the same windows.

The random split leaks: consecutive windows overlap, so a test target is also an input of
training windows. To tell the leak from the difference between periods (the time split's test
years may be harder), every error is also given relative to the naive forecast on the same test
windows, and the random-split models are scored on the time split's test windows as well (many of
which they saw in training).

Two sub-studies on the time split follow (each skipped when its list is empty):
``experiment.strides``: the training windows slid by 1, ..., half the window, the whole window
(the lecture's "deslizamos la ventana ... la mitad"), every stride with stride 1's updates and the
same validation and test windows (every window); ``experiment.compare``: MLP, RNN and 1D CNNs of
each width in ``experiment.cnn_channels`` over the window, their errors and costs (training
seconds per epoch, inference time, memory). Each study's verdict is a rule over its table.
"""

from __future__ import annotations

import math
import statistics
import time
from functools import partial

import torch

from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.models.course import SequenceToOne, WindowCNN, WindowMLP
from nlprnn.plotting import line_plot
from nlprnn.recipes.course.experiment import (
    Claim,
    TensorRecipe,
    Verdict,
    fit,
    parameter_count,
    start,
    write_results,
)
from nlprnn.recipes.course.timeseries import make_windows, split_windows, stride_windows

SOURCE = "1-redes-recurrentes-etsisi.md"
SPLIT_CLAIM = Claim(
    quote="No basta con realizar una separación aleatoria de los ejemplos […] Hay que separar los datos "
    "por tiempo: entrenamiento ANTES que test",
    english="A random split of the examples is not enough […] the data must be split by time: "
    "training BEFORE test",
    source=f"{SOURCE}, slide «Una advertencia»",
)
STRIDE_CLAIM = Claim(
    quote="Deslizamos la ventana hacia adelante (p.ej. la mitad del tamaño de la ventana)",
    english="We slide the window forward (e.g. by half the window's size); tested as a way to make "
    "training windows: does sliding by half lose anything against sliding by one step?",
    source=f"{SOURCE}, slide «Ventanas móviles (I)»",
)
CNN_CLAIM = Claim(
    quote="Es un enfoque innecesariamente indirecto […] Requiere mucho más esfuerzo y memoria para "
    "realizar la misma tarea",
    english="[A CNN over events adjacent in time] is an unnecessarily indirect approach […] it takes "
    "much more effort and memory to do the same task",
    source=f"{SOURCE}, slide «¿Se diferencian las RNN de las CNN? (y IV)»",
)
MUCH_MORE = 1.5  # a cost ratio (CNN / RNN) from which the CNN needs "much more"


NETWORKS = ("mlp", "rnn", "cnn")  # what experiment.compare may name


def models(e) -> dict:
    """The split study's networks (and the stride study's): {display name: builder}."""
    return {
        "MLP over the window": lambda: WindowMLP(e.window, 1, e.hidden, 1),
        f"RNN ({e.cell})": lambda: SequenceToOne(1, e.hidden, 1, e.cell),
    }


def compared(e, compare: list[str]) -> list[tuple[str, str, callable]]:
    """experiment.compare -> (folder key, display name, builder) of each model: the split study's
    MLP and RNN, and a CNN of each width in experiment.cnn_channels."""
    split_models = dict(zip(("mlp", "rnn"), models(e).items()))
    cnn = {"kernel_size": e.cnn_kernel, "layers": e.cnn_layers}
    out = []
    for key in compare:
        if key != "cnn":
            out.append((key, *split_models[key]))
        for c in e.cnn_channels if key == "cnn" else ():
            make = partial(WindowCNN, e.window, 1, c, 1, **cnn)
            out.append((f"cnn{c}", f"CNN over the window ({c} channels)", make))
    return out


def errors(prediction: torch.Tensor, target: torch.Tensor) -> dict:
    return {
        "mae": (prediction - target).abs().mean().item(),
        "rmse": (prediction - target).pow(2).mean().sqrt().item(),
    }


def fit_and_predict(cfg, name, make, x, y, split, seed, folder, **trainer) -> dict:
    """Train on split["train"] (normalised with the training targets' mean and sd), choose the best
    epoch on split["val"]; -> {"predicted": predictions for every window in the series' units,
    "curve": the evaluation records}. ``trainer`` overrides cfg.trainer.

    ``experiment.relative``: the models see each window relative to its last value and predict
    the change, so a series with a trend (CO2) is not asked for levels it never saw in training."""
    last = x[:, -1] if cfg.experiment.get("relative") else torch.zeros_like(y)  # (N, 1)
    x, y = x - last.unsqueeze(1), y - last
    mean, sd = y[split["train"]].mean(), y[split["train"]].std()
    xn, yn = (x - mean) / sd, (y - mean) / sd
    torch.manual_seed(seed)
    model = make()
    task = TensorRecipe(
        (xn[split["train"]], yn[split["train"]]),
        (xn[split["val"]], yn[split["val"]]),
        "mse",
        cfg.experiment.batch_size,
        seed,
    )
    fitted = fit(cfg, model, task, folder, **trainer)
    with torch.no_grad():
        model.eval()
        return {"predicted": model(xn).logits * sd + mean + last, "curve": fitted["curve"]}


def train_seeds(cfg, name, make, x, y, split, folder, key=None, **trainer) -> list[dict]:
    """``fit_and_predict`` once per seed of experiment.seeds, each in folder/<key>_seed<seed>
    (key: the name's first word in lower case unless given)."""
    key = key or name.split()[0].lower()
    return [
        fit_and_predict(cfg, name, make, x, y, split, seed, folder / f"{key}_seed{seed}", **trainer)
        for seed in cfg.experiment.seeds
    ]


def check_config(e) -> tuple[list[int], list[str]]:
    """-> (the strides as ints, the compare keys), or a UserError naming the bad key."""
    strides = list(dict.fromkeys(resolve_stride(s, e.window) for s in e.strides))
    compare = list(e.compare)
    for key in compare:
        if key not in NETWORKS:
            raise UserError(f"experiment.compare: {key!r} is not one of {list(NETWORKS)}")
    if "cnn" in compare and e.window - e.cnn_layers * (e.cnn_kernel - 1) < 1:
        raise UserError(
            f"experiment.cnn_layers={e.cnn_layers} convolutions of experiment.cnn_kernel={e.cnn_kernel} "
            f"steps do not fit in experiment.window={e.window}"
        )
    if "cnn" in compare and min(e.cnn_layers, e.cnn_kernel) < 1:
        raise UserError("experiment.cnn_layers and experiment.cnn_kernel must be at least 1")
    if "cnn" in compare and not (len(e.cnn_channels) and all(_positive(c) for c in e.cnn_channels)):
        raise UserError(f"experiment.cnn_channels must list positive integers, got {e.cnn_channels}")
    return strides, compare


def _positive(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def resolve_stride(stride, window: int) -> int:
    """An entry of experiment.strides -> steps between training windows: "half" is half the
    window (the lecture's example), "window" the whole window (windows that do not overlap)."""
    named = {"half": max(1, window // 2), "window": window}
    if stride in named:
        return named[stride]
    if _positive(stride):
        return stride
    raise UserError(f"experiment.strides: {stride!r} is not a positive integer, 'half' or 'window'")


def run(cfg) -> dict:
    out, _ = start(cfg)
    e = cfg.experiment
    strides, compare = check_config(e)
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
    rows, fits = [], {}
    for split_name, split in splits.items():
        test = split["test"]
        base = errors(naive[test], y[test])
        rows.append(row(split_name, "naive (last value)", [base], base))
        for name, make in models(e).items():
            runs = []
            for seed in e.seeds:
                folder = out / f"{split_name}_split" / f"{name.split()[0].lower()}_seed{seed}"
                fitted = fit_and_predict(cfg, name, make, x, y, split, seed, folder)
                runs.append(errors(fitted["predicted"][test], y[test]))
                fits.setdefault((split_name, name), []).append(fitted)
            rows.append(row(split_name, name, runs, base))
    # the random-split models on the time split's test windows (which they partly trained on)
    time_test = splits["time"]["test"]
    leaked = splits["random"]["train"][torch.isin(splits["random"]["train"], time_test)]
    base = errors(naive[time_test], y[time_test])
    for name in models(e):
        runs = [errors(f["predicted"][time_test], y[time_test]) for f in fits[("random", name)]]
        rows.append(row(LEAKED, name, runs, base))
    predictions = {key: [f["predicted"] for f in runs] for key, runs in fits.items()}
    plot(out, cfg, e, target_times, y, naive, predictions, time_test)
    summary = {
        "series": cfg.data.name,
        "values": len(values),
        "missing values filled": filled,
        "windows": len(y),
        "train / val / test windows": "/".join(str(len(splits["time"][s])) for s in ("train", "val", "test")),
        "time split's test windows seen in random-split training": len(leaked),
    }
    data = (x, y, splits["time"], naive)
    studies = {}
    if strides:
        studies["strides"] = stride_study(cfg, out, data, strides, fits)
    if compare:
        studies["compare"] = compare_study(cfg, out, data, compare, fits)
    verdict = split_verdict(rows, len(leaked), len(time_test))
    findings = [(SPLIT_CLAIM, verdict)]
    findings += [(s["claim"], s["verdict"]) for s in studies.values() if s["verdict"] is not None]
    tables = {"data": [summary], "test errors (series units)": rows}
    tables.update({TITLES[key]: study["rows"] for key, study in studies.items()})
    write_results(out, f"Sliding windows on {cfg.data.name}", tables, findings=findings)
    return {"rows": rows, "summary": summary, "verdict": verdict, **studies}


TITLES = {
    "strides": "the training windows' stride (split by time; test: every window; same updates)",
    "compare": "MLP vs RNN vs CNN over the window (split by time): errors and costs",
}


LEAKED = "random, scored on the time split's test windows"


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


def mae_of(row: dict) -> str:
    """A row's test MAE as ``mean ± sd`` over its seeds."""
    return f"{row['test MAE']:.3g} ± {row['MAE sd']:.2g}"


def worse_beyond_spreads(row: dict, other: dict) -> bool:
    """Whether ``row``'s test MAE is above ``other``'s by more than their two seed spreads together."""
    return row["test MAE"] - other["test MAE"] > row["MAE sd"] + other["MAE sd"]


def split_verdict(rows: list[dict], leaked: int, test: int) -> Verdict:
    """Agrees when, for every network, the random-split models' MAE on the time split's test
    windows is below the time-split models' by more than the two seed spreads together: the
    random split reports an error the honest split does not reach on the same windows."""
    by = {(r["split"], r["model"]): r for r in rows}
    parts, optimistic = [], []
    for (split, name), honest in by.items():
        if split != "time" or (LEAKED, name) not in by:
            continue
        seen = by[(LEAKED, name)]
        optimistic.append(worse_beyond_spreads(honest, seen))
        lower = 1 - seen["test MAE"] / honest["test MAE"]
        parts.append(
            f"{name}: MAE {mae_of(seen)} trained on a random split vs {mae_of(honest)} split by time "
            f"({lower:.0%} lower)"
        )
    word = "agrees" if all(optimistic) else "disagrees" if not any(optimistic) else "depends"
    return Verdict(
        word,
        f"On the same {test} test windows (the latest), {leaked} of which were training windows of the "
        f"random split: {'; '.join(parts)}. The random split's estimate is "
        + ("too optimistic beyond the seed spread for every network." if word == "agrees" else "")
        + ("within the seed spread of the honest one." if word == "disagrees" else "")
        + ("too optimistic for some networks only." if word == "depends" else ""),
    )


# ---- stride: training windows slid by 1, half the window, the whole window -------------------------


def stride_label(stride: int, window: int) -> str:
    if stride == 1:
        return "1 (every window)"
    if stride == window:
        return f"{stride} (the window: no overlap)"
    return f"{stride} (half the window)" if stride == max(1, window // 2) else str(stride)


def same_updates(cfg, train_windows: int) -> dict:
    """Trainer overrides giving every stride stride 1's budget: as many updates as stride 1's
    max_epochs (or max_steps) allow, a validation every stride-1 epoch (or eval_every steps)."""
    steps = math.ceil(train_windows / cfg.experiment.batch_size)  # stride 1's updates per epoch
    budget = cfg.trainer.max_epochs * steps
    if cfg.trainer.max_steps:
        budget = min(budget, cfg.trainer.max_steps)
    return {"max_steps": budget, "max_epochs": budget, "eval_every": cfg.trainer.eval_every or steps}


def stride_study(cfg, out, data, strides: list[int], fits: dict) -> dict:
    """Each model trained on every ``stride``-th training window (stride 1 is the split study's
    time-split run: the same windows, updates and validations), validated and tested on every window."""
    x, y, split, naive = data
    e, test = cfg.experiment, split["test"]
    base = errors(naive[test], y[test])
    trainer = same_updates(cfg, len(split["train"]))
    rows = []
    for stride in strides:
        train = stride_windows(split["train"], stride)
        for name, make in models(e).items():
            if stride == 1:
                runs = fits[("time", name)]
            else:
                strided = {"train": train, "val": split["val"]}
                runs = train_seeds(cfg, name, make, x, y, strided, out / f"stride{stride}", **trainer)
            scores = row("time", name, [errors(f["predicted"][test], y[test]) for f in runs], base)
            del scores["split"]
            rows.append(
                {
                    "stride": stride_label(stride, e.window),
                    "model": name,
                    "training windows": len(train),
                    **scores,
                    "updates run": statistics.mean(f["curve"][-1]["step"] for f in runs),
                }
            )
    plot_strides(out, cfg, strides, rows, base)
    return {"claim": STRIDE_CLAIM, "verdict": stride_verdict(rows, e.window), "rows": rows}


def stride_verdict(rows: list[dict], window: int) -> Verdict | None:
    """Agrees when, for every network, half-window strides test within the two seed spreads of
    stride 1; disagrees when worse beyond them for every network. None without both strides."""
    half = stride_label(max(1, window // 2), window)
    by = {(r["stride"], r["model"]): r for r in rows}
    pairs = [(by[(half, m)], one) for (s, m), one in by.items() if s.startswith("1 ") and (half, m) in by]
    if not pairs or half.startswith("1 "):
        return None
    worse, parts = [], []
    for h, one in pairs:
        worse.append(worse_beyond_spreads(h, one))
        parts.append(
            f"{one['model']}: MAE {mae_of(h)} from {h['training windows']} windows slid by half vs "
            f"{mae_of(one)} from {one['training windows']} slid by one "
            f"({h['test MAE'] / one['test MAE'] - 1:+.0%})"
        )
    word = "disagrees" if all(worse) else "agrees" if not any(worse) else "depends"
    said = {
        "agrees": "Sliding by half the window costs no accuracy beyond the seed spread.",
        "disagrees": "Sliding by half the window throws training windows away and the test error "
        "rises beyond the seed spread for every network; slide by one step when the series is short.",
        "depends": "The test error rises beyond the seed spread for some networks only.",
    }[word]
    return Verdict(word, f"Same updates, same test windows: {'; '.join(parts)}. {said}")


def plot_strides(out, cfg, strides, rows, base) -> None:
    series = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        series[name] = (strides, [r["test MAE"] for r in mine], [r["MAE sd"] for r in mine])
    line_plot(
        series,
        out / "strides.png",
        f"stride of the training windows (window {cfg.experiment.window}; test: every window)",
        f"test MAE ({cfg.data.value_column})",
        title=f"{cfg.data.name}, split by time: test MAE vs the training windows' stride "
        f"(mean ± sd over {len(cfg.experiment.seeds)} seeds, same updates)",
        hline=(base["mae"], f"naive forecast ({base['mae']:.3g})"),
    )


# ---- compare: MLP, RNN and CNN over the window, their errors and costs ------------------------------


def compare_study(cfg, out, data, compare: list[str], fits: dict) -> dict:
    """The time split's MLP and RNN runs (from the split study) beside a CNN trained the same way:
    test errors, parameters, training seconds per epoch, inference time and memory."""
    x, y, split, naive = data
    e, test = cfg.experiment, split["test"]
    base = errors(naive[test], y[test])
    batch = (x[split["train"][: e.batch_size]], y[split["train"][: e.batch_size]])
    rows, curves = [], {}
    for key, name, make in compared(e, compare):
        runs = fits.get(("time", name)) or train_seeds(cfg, name, make, x, y, split, out / "time_split", key)
        curves[name] = [f["curve"] for f in runs]
        scores = row("time", name, [errors(f["predicted"][test], y[test]) for f in runs], base)
        del scores["split"]
        cost = costs(make, runs, batch, x[test])
        val = statistics.mean(min(r["val_loss"] for r in f["curve"]) for f in runs)  # the kept epoch's
        rows.append({"model": name, "parameters": cost.pop("parameters"), "val MSE": val, **scores, **cost})
    plot_costs(out, cfg, rows, curves)
    return {"claim": CNN_CLAIM, "verdict": cost_verdict(rows, f"RNN ({e.cell})"), "rows": rows}


def costs(make, runs: list[dict], batch, test_x) -> dict:
    """Parameters, epochs and training seconds per epoch (the Trainer's, training steps only),
    inference ms over the test windows, and the memory of one training batch's forward+backward."""
    per_epoch = [f["curve"][-1]["train_seconds"] / f["curve"][-1]["epochs"] for f in runs]
    torch.manual_seed(0)
    model = make()
    weights = 4 * parameter_count(model)  # float32 bytes
    saved = saved_activation_bytes(model, *batch)
    return {
        "parameters": parameter_count(model),
        "epochs run": statistics.mean(f["curve"][-1]["epochs"] for f in runs),
        "train s / epoch": statistics.mean(per_epoch),
        "s / epoch sd": _sd(per_epoch),
        "train s (all epochs)": statistics.mean(f["curve"][-1]["train_seconds"] for f in runs),
        f"inference ms ({len(test_x)} windows)": inference_ms(model, test_x),
        "saved activations KiB": saved / 1024,
        "fwd+bwd KiB": (saved + 2 * weights) / 1024,  # activations, weights and their gradients
    }


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes autograd keeps from the forward pass for the backward one (the activation memory of a
    training step, counted by ``saved_tensors_hooks``: each storage once, parameters left out)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x, targets=y).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(saved.values())


@torch.no_grad()
def inference_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int = 30) -> float:
    """Median milliseconds of one forward pass over ``x`` (one batch), after a warm-up pass."""
    model.eval()
    model(x)
    seconds = []
    for _ in range(repeats):
        start_time = time.perf_counter()
        model(x)
        seconds.append(time.perf_counter() - start_time)
    return 1000 * statistics.median(seconds)


def cost_verdict(rows: list[dict], rnn_name: str) -> Verdict | None:
    """The CNN (the width with the lowest validation MSE) against the RNN. Agrees when it needs
    MUCH_MORE (1.5x) of both training seconds per epoch and forward+backward memory; disagrees
    when it needs that much of neither and its test MAE is within the two seed spreads of the
    RNN's (the same task for less); depends otherwise (e.g. cheaper, but worse at the task).
    None without a CNN and the RNN."""
    rnn = next((r for r in rows if r["model"] == rnn_name), None)
    cnns = [r for r in rows if r["model"].startswith("CNN")]
    if rnn is None or not cnns:
        return None
    cnn = min(cnns, key=lambda r: r["val MSE"])
    time_ratio = cnn["train s / epoch"] / rnn["train s / epoch"]
    memory_ratio = cnn["fwd+bwd KiB"] / rnn["fwd+bwd KiB"]
    much = [time_ratio >= MUCH_MORE, memory_ratio >= MUCH_MORE]
    as_good = not worse_beyond_spreads(cnn, rnn)
    word = "agrees" if all(much) else "disagrees" if not any(much) and as_good else "depends"
    inference = next(k for k in cnn if k.startswith("inference ms"))
    return Verdict(
        word,
        f"{cnn['model']} (the lowest validation MSE of {len(cnns)} CNN widths) / {rnn['model']}: "
        f"training seconds per epoch x{time_ratio:.2f} "
        f"({cnn['train s / epoch']:.3g} vs {rnn['train s / epoch']:.3g}), forward+backward memory "
        f"x{memory_ratio:.2f} ({cnn['fwd+bwd KiB']:.0f} vs {rnn['fwd+bwd KiB']:.0f} KiB), inference "
        f"x{cnn[inference] / rnn[inference]:.2f}, parameters {cnn['parameters']} vs {rnn['parameters']}; "
        f"test MAE {mae_of(cnn)} vs {mae_of(rnn)}. 'Much more' is {MUCH_MORE}x or more: the CNN needs "
        f"it in {sum(much)} of the 2 (time, memory), and its error is "
        + ("within the two seed spreads of the RNN's." if as_good else "worse beyond the two seed spreads:")
        + ("" if as_good else " it did not do the same task as well."),
    )


def plot_costs(out, cfg, rows, curves) -> None:
    """Validation MSE (mean ± sd over seeds, up to the shortest run) against training seconds:
    each model's epochs times its mean training seconds per epoch."""
    series = {}
    for r in rows:
        runs = curves[r["model"]]
        length = min(len(c) for c in runs)
        vals = [[c[i]["val_loss"] for c in runs] for i in range(length)]
        xs = [runs[0][i]["epochs"] * r["train s / epoch"] for i in range(length)]
        short = r["model"].replace(" over the window", "").replace(" channels", " ch")
        label = f"{short} ({1000 * r['train s / epoch']:.0f} ms/epoch)"
        series[label] = (xs, [statistics.mean(v) for v in vals], [_sd(v) for v in vals])
    line_plot(
        series,
        out / "cnn_vs_rnn.png",
        "training seconds (epochs x mean seconds per epoch)",
        "validation MSE (standardised)",
        title=f"{cfg.data.name}, split by time: validation MSE vs training time "
        f"(mean ± sd over {len(cfg.experiment.seeds)} seeds)",
        logy=True,
    )


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
