"""The course's GRU-vs-LSTM studies on their tiny configs (small_data: a learning curve on SST-2;
hyperparameters: a learning-rate x hidden-size grid), and the rules their verdicts follow."""

from __future__ import annotations

import json
import statistics

import pytest

from nlprnn.errors import UserError
from nlprnn.recipes.course.experiment import folder_name
from nlprnn.recipes.course.hyperparameters import decide as decide_sensitivity
from nlprnn.recipes.course.small_data import decide_better, decide_comparable


def course(run_recipe, tmp_path, name, *overrides):
    out = tmp_path / name
    result = run_recipe(out, f"recipe=course/{name}", "debug=tiny", *overrides)
    return result, json.loads((out / "results.json").read_text()), out


def best_logged(folder) -> float:
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return max(json.loads(line)["val_acc"] for line in lines if line.strip())


@pytest.mark.slow
def test_small_data_pairs_models_on_each_seeds_subset(run_recipe, tmp_path):
    result, saved, out = course(run_recipe, tmp_path, "small_data")
    rows = result["rows"]
    assert len(rows) == 2 * 3 * 2  # sizes x models x seeds
    vocab = {
        (r["n"], r["seed"]): {x["vocabulary"] for x in rows if (x["n"], x["seed"]) == (r["n"], r["seed"])}
        for r in rows
    }
    assert all(len(v) == 1 for v in vocab.values())  # the three models of a seed read the same subset
    assert vocab[(60, 1)] != vocab[(60, 2)]  # each seed its own subset
    assert min(vocab[(400, 1)]) > 2 * min(vocab[(60, 1)])  # the vocabulary comes from the subset only
    by_model = {r["model"]: r for r in rows if (r["n"], r["seed"]) == (60, 1)}
    e, h = 8, 8  # tiny emb_dim and hidden
    head = 2 * h + 2
    assert by_model["LSTM"]["recurrent parameters"] == 4 * (e * h + h * h + 2 * h) + head
    assert by_model["GRU"]["recurrent parameters"] == 3 * (e * h + h * h + 2 * h) + head
    lstm, wide = by_model["LSTM"]["recurrent parameters"], by_model["GRU, LSTM's parameters"]
    assert wide["H"] > h and abs(wide["recurrent parameters"] - lstm) < 0.1 * lstm
    for r in rows:  # the reported weights are the best on validation
        folder = out / folder_name(f"n={r['n']} {r['model']} seed {r['seed']}")
        assert r["val_acc"] == pytest.approx(best_logged(folder), abs=1e-6)
    for g in result["gaps"]:  # each gap: GRU minus LSTM over the same seeds
        diffs = [
            next(r["test_acc"] for r in rows if (r["n"], r["model"], r["seed"]) == (g["n"], g["GRU"], s))
            - next(r["test_acc"] for r in rows if (r["n"], r["model"], r["seed"]) == (g["n"], "LSTM", s))
            for s in (1, 2)
        ]
        assert g["gap"] == pytest.approx(statistics.mean(diffs))
        assert (g["call"] == "tie") == (abs(g["gap"]) <= g["seed sd"])
    [better, comparable] = saved["findings"]
    assert better["claim"]["quote"].startswith("Empíricamente parece que GRU")
    assert "datos pequeños" in comparable["claim"]["quote"]
    call = next(g["call"] for g in result["gaps"] if (g["n"], g["GRU"]) == (60, "GRU"))
    assert better["verdict"]["word"] == ("agrees" if call == "GRU better" else "disagrees")
    assert comparable["verdict"]["word"] == ("disagrees" if call == "LSTM better" else "agrees")
    assert (out / "test_accuracy.png").stat().st_size > 5000 and (out / "gru_minus_lstm.png").exists()


def gap(n: int, value: float, sd: float = 0.01) -> list[dict]:
    call = "GRU better" if value > sd else "LSTM better" if value < -sd else "tie"
    return [{"n": n, "GRU": name, "gap": value, "seed sd": sd, "call": call} for name in ("GRU", "GRU wide")]


def test_small_data_verdicts_follow_the_calls():
    small = [100, 300]
    wins = gap(100, 0.05) + gap(300, 0.03) + gap(1000, 0.0)
    mixed = gap(100, 0.05) + gap(300, -0.03) + gap(1000, 0.0)
    losses = gap(100, -0.05) + gap(300, -0.03) + gap(1000, 0.0)
    ties = gap(100, 0.005) + gap(300, -0.005) + gap(1000, 0.0)
    assert [decide_better(g, small).word for g in (wins, mixed, losses, ties)] == [
        "agrees",
        "depends",
        "disagrees",
        "disagrees",
    ]
    assert [decide_comparable(g, small).word for g in (wins, mixed, losses, ties)] == [
        "agrees",
        "depends",
        "disagrees",
        "agrees",
    ]
    assert "+5.0 points" in decide_better(wins, small).because


def test_small_data_rejects_sizes_it_cannot_draw(run_recipe, tmp_path):
    with pytest.raises(UserError, match="experiment.sizes"):
        run_recipe(tmp_path / "a", "recipe=course/small_data", "debug=tiny", "experiment.sizes=[99999]")
    with pytest.raises(UserError, match="experiment.small_up_to"):
        run_recipe(tmp_path / "b", "recipe=course/small_data", "debug=tiny", "experiment.small_up_to=10")


@pytest.mark.slow
def test_hyperparameter_grid_gets_equal_updates_and_its_spread(run_recipe, tmp_path):
    result, saved, out = course(run_recipe, tmp_path, "hyperparameters")
    rows, grid, spread = result["rows"], result["grid"], result["spread"]
    assert len(rows) == 3 * 2 * 2 * 2 and len(grid) == 3 * 2 * 2  # cells x H x lr (x seeds)
    for folder in out.glob("*seed*"):  # every configuration: the same 20 updates
        steps = [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert steps == [10, 20]
    assert len({g["val_acc"] for g in grid}) > 6  # the configurations really differ
    for s in spread:
        values = sorted((g["val_acc"] for g in grid if g["cell"] == s["cell"]), reverse=True)
        assert (s["best"], s["worst"]) == (values[0], values[-1])
        assert s["best - median"] == pytest.approx(values[0] - statistics.median(values))
        assert s["near best"] == sum(v >= values[0] - 0.02 for v in values) / len(values)
    lstm = {r["H"]: r["parameters"] for r in rows if r["cell"] == "LSTM"}
    gru = {r["H"]: r["parameters"] for r in rows if r["cell"] == "GRU"}
    assert lstm[16] - gru[16] == 8 * 16 + 16 * 16 + 2 * 16  # one gate block more (emb 8, H 16)
    [finding] = saved["findings"]
    assert finding["claim"]["quote"] == "Muy sensibles a la selección de hiperparámetros"
    assert finding["verdict"]["word"] == decide_sensitivity(spread, 0.02).word
    assert (out / "sorted_configurations.png").stat().st_size > 5000 and (out / "lr_H16.png").exists()


def spread_of(cell: str, gap: float, sd: float = 0.005) -> dict:
    return {"cell": cell, "best - median": gap, "seed sd (median)": sd, "near best": 0.5}


def test_sensitivity_verdict_compares_the_lstm_with_each_cell():
    def word(lstm, gru, elman):
        return decide_sensitivity(
            [spread_of("LSTM", lstm), spread_of("GRU", gru), spread_of("Elman", elman)], 0.02
        ).word

    assert word(0.08, 0.02, 0.03) == "agrees"
    assert word(0.08, 0.02, 0.09) == "depends"
    assert word(0.02, 0.02, 0.09) == "disagrees"
    assert word(0.024, 0.02, 0.02) == "disagrees"  # within the seed sd: not more sensitive


def test_hyperparameters_rejects_unequal_updates_and_unknown_cells(run_recipe, tmp_path):
    with pytest.raises(UserError, match="trainer.patience"):
        run_recipe(tmp_path / "a", "recipe=course/hyperparameters", "debug=tiny", "trainer.patience=2")
    with pytest.raises(UserError, match="experiment.cells"):
        run_recipe(
            tmp_path / "b", "recipe=course/hyperparameters", "debug=tiny", "experiment.cells=[lstm,jordan]"
        )
    with pytest.raises(UserError, match="experiment.cells"):
        run_recipe(
            tmp_path / "c", "recipe=course/hyperparameters", "debug=tiny", "experiment.cells=[gru,rnn]"
        )
