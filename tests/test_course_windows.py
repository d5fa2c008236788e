"""sliding_windows' sub-studies: the training windows' stride and MLP vs RNN vs CNN over the window
(the split by time vs at random is in tests/test_course.py), their pieces and verdict rules."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from nlprnn.errors import UserError
from nlprnn.models.course import SequenceToOne, WindowCNN, WindowMLP
from nlprnn.recipes.course import sliding_windows as sw
from nlprnn.recipes.course.experiment import parameter_count
from nlprnn.recipes.course.timeseries import stride_windows

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"


def test_window_cnn_shares_its_filters_along_time():
    torch.manual_seed(0)
    model = WindowCNN(window=20, input_size=2, channels=5, output_size=3, kernel_size=3, layers=2)
    x = torch.randn(4, 20, 2)
    out = model(x, targets=torch.randn(4, 3))
    assert out.logits.shape == (4, 3) and out.loss.ndim == 0 and out.loss > 0
    assert model(x).loss is None
    # two convolutions, then a head over the 20 - 2 * 2 = 16 positions left
    assert parameter_count(model) == (2 * 5 * 3 + 5) + (5 * 5 * 3 + 5) + (5 * 16 * 3 + 3)
    convs = model.net[:4]  # a pattern moved one step later moves the feature map one step later
    shifted = torch.roll(x, 1, dims=1)
    assert torch.allclose(
        convs(x.transpose(1, 2))[..., :-1], convs(shifted.transpose(1, 2))[..., 1:], atol=1e-6
    )
    with pytest.raises(ValueError, match="window of at least 5"):
        WindowCNN(window=4, input_size=1, channels=2, output_size=1, kernel_size=3, layers=2)


def test_saved_activation_bytes_counts_what_backward_keeps():
    b, t, h = 16, 20, 8
    x, y = torch.randn(b, t, 1), torch.randn(b, 1)
    mlp = sw.saved_activation_bytes(WindowMLP(t, 1, h, 1), x, y)
    # the flattened input, the tanh output (kept by tanh and the second layer: once), the
    # prediction and the target (kept by the MSE), in float32; the weights are not counted
    assert mlp == 4 * b * (t + h + 1 + 1)
    gru = [
        sw.saved_activation_bytes(SequenceToOne(1, h, 1, "gru"), torch.randn(b, n, 1), y) for n in (t, 2 * t)
    ]
    assert gru[0] > 5 * mlp  # the RNN keeps its gates at every step ...
    assert 1.8 < gru[1] / gru[0] < 2.2  # ... so its activations grow with the window
    model = WindowMLP(t, 1, h, 1)
    sw.saved_activation_bytes(model, x, y)
    assert all(p.grad is None for p in model.parameters())  # measuring leaves no gradients behind


def test_strides_are_resolved_and_checked():
    assert [sw.resolve_stride(s, 20) for s in (1, "half", "window", 7)] == [1, 10, 20, 7]
    assert sw.resolve_stride("half", 1) == 1
    for bad in ("quarter", 0, -2, 1.5, True):
        with pytest.raises(UserError, match="experiment.strides"):
            sw.resolve_stride(bad, 20)
    indices = torch.arange(5, 206)  # 201 training windows
    assert [len(stride_windows(indices, s)) for s in (1, 10, 20)] == [201, 21, 11]
    assert stride_windows(indices, 10)[:3].tolist() == [5, 15, 25]


def test_bad_config_values_name_their_key():
    e = OmegaConf.create(
        {"window": 20, "hidden": 4, "cell": "gru", "strides": [1, "half"]}
        | {"cnn_kernel": 3, "cnn_layers": 2, "cnn_channels": [2, 6]}
    )
    assert sw.check_config(OmegaConf.merge(e, {"compare": ["cnn", "rnn"]})) == ([1, 10], ["cnn", "rnn"])
    with pytest.raises(UserError, match="experiment.compare: 'lstm'"):
        sw.check_config(OmegaConf.merge(e, {"compare": ["lstm"]}))
    with pytest.raises(UserError, match="experiment.cnn_kernel=11"):
        sw.check_config(OmegaConf.merge(e, {"compare": ["cnn"], "cnn_kernel": 11}))
    with pytest.raises(UserError, match="experiment.strides"):
        sw.check_config(OmegaConf.merge(e, {"compare": [], "strides": ["all"]}))
    for bad in ([], [0], ["wide"]):
        with pytest.raises(UserError, match="experiment.cnn_channels"):
            sw.check_config(OmegaConf.merge(e, {"compare": ["cnn"], "cnn_channels": bad}))
    models = sw.compared(e, ["rnn", "cnn"])  # the CNN once per width
    assert [(key, name) for key, name, _ in models] == [
        ("rnn", "RNN (gru)"),
        ("cnn2", "CNN over the window (2 channels)"),
        ("cnn6", "CNN over the window (6 channels)"),
    ]
    assert models[2][2]().net[0].out_channels == 6


def test_every_stride_gets_stride_ones_updates_and_validations():
    cfg = OmegaConf.create(
        {
            "experiment": {"batch_size": 32},
            "trainer": {"max_epochs": 300, "max_steps": None, "eval_every": None},
        }
    )
    assert sw.same_updates(cfg, 201) == {"max_steps": 2100, "max_epochs": 2100, "eval_every": 7}
    cfg.trainer.max_steps, cfg.trainer.eval_every = 500, 10
    assert sw.same_updates(cfg, 201) == {"max_steps": 500, "max_epochs": 500, "eval_every": 10}


def _row(model, mae, sd, **more):
    return {"model": model, "test MAE": mae, "MAE sd": sd, **more}


def test_verdicts_follow_the_numbers():
    def split(leaky):
        rows = [{"split": "time", **_row("M", 20.0, 1.0)}, {"split": sw.LEAKED, **_row("M", leaky, 1.0)}]
        return sw.split_verdict(rows, 33, 53).word

    assert (split(12.0), split(19.0)) == ("agrees", "disagrees")

    def stride(half_mae):
        rows = [
            {"stride": "1 (every window)", "training windows": 201, **_row("M", 20.0, 1.0)},
            {"stride": "10 (half the window)", "training windows": 21, **_row("M", half_mae, 1.0)},
        ]
        return sw.stride_verdict(rows, 20).word

    assert (stride(21.0), stride(30.0)) == ("agrees", "disagrees")
    assert sw.stride_verdict([{"stride": "1 (every window)", **_row("M", 1.0, 0.0)}], 20) is None

    def cost(seconds, kib, mae=10.0):
        costs = {"parameters": 10, "inference ms (5 windows)": 1.0}
        rnn = _row("RNN", 10.0, 1.0, **costs, **{"train s / epoch": 1.0, "fwd+bwd KiB": 100.0})
        cnn = _row(
            "CNN a", mae, 1.0, **costs, **{"val MSE": 0.2, "train s / epoch": seconds, "fwd+bwd KiB": kib}
        )
        worse = _row(
            "CNN b", 10.0, 1.0, **costs, **{"val MSE": 0.3, "train s / epoch": 9.0, "fwd+bwd KiB": 900.0}
        )
        return sw.cost_verdict([rnn, worse, cnn], "RNN").word  # the CNN best on validation decides

    assert (cost(2.0, 200.0), cost(0.5, 50.0), cost(2.0, 50.0)) == ("agrees", "disagrees", "depends")
    assert cost(0.5, 50.0, mae=13.0) == "depends"  # cheaper, but not the same task: worse beyond the spreads
    assert sw.cost_verdict([_row("RNN", 1.0, 0.0)], "RNN") is None


def test_tiny_run_strides_and_costs(run_recipe, tmp_path):
    out = tmp_path / "run"
    result = run_recipe(out, "recipe=course/sliding_windows", "debug=tiny")
    time_rows = {r["model"]: r for r in result["rows"] if r["split"] == "time"}
    strides = result["strides"]["rows"]
    assert [r["training windows"] for r in strides] == [201, 201, 21, 21]  # tiny: strides 1 and half
    assert {r["updates run"] for r in strides} == {20 * 7}  # tiny: no early stopping, equal updates
    for r in strides[:2]:  # stride 1 is the split study's time-split run
        assert r["test MAE"] == time_rows[r["model"]]["test MAE"]
    assert len({r["test MAE"] for r in strides}) == 4  # fewer windows train other models
    costs = {r["model"]: r for r in result["compare"]["rows"]}
    cnn, gru, mlp = (
        costs["CNN over the window (8 channels)"],
        costs["RNN (gru)"],
        costs["MLP over the window"],
    )
    assert cnn["parameters"] == (8 * 3 + 8) + (8 * 8 * 3 + 8) + (8 * 16 + 1)
    assert cnn["test MAE"] < 2 * time_rows["naive (last value)"]["test MAE"]  # it trained
    assert gru["saved activations KiB"] > 10 * mlp["saved activations KiB"] > 0
    assert all(r["train s / epoch"] > 0 and r["inference ms (53 windows)"] > 0 for r in costs.values())
    text = (out / "results.md").read_text()
    for claim in (sw.SPLIT_CLAIM, sw.STRIDE_CLAIM, sw.CNN_CLAIM):
        assert claim.quote in text
    assert text.count("**Verdict: ") == 3
    findings = json.loads((out / "results.json").read_text())["findings"]
    words = [result[key]["verdict"].word for key in ("strides", "compare")]
    assert [f["verdict"]["word"] for f in findings] == [result["verdict"].word, *words]
    for name in ("test_forecasts.png", "strides.png", "cnn_vs_rnn.png"):
        assert (out / name).stat().st_size > 10_000
