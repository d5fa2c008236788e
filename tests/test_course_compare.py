"""course.compare (depth, pooling, cells): every variant trained once per seed, mean ± sd tables and
bands, the budget named in each title, and verdicts computed from the seeds' spread."""

from __future__ import annotations

import json

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from nlprnn.errors import UserError
from nlprnn.recipes.course.compare import (
    bands,
    budget_of,
    check_pairs,
    chosen,
    compose_recipe,
    judge,
    view_of,
)
from nlprnn.recipes.course.experiment import parameter_count

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"


def test_verdict_agrees_depends_disagrees_from_made_up_seeds():
    # accuracy (higher is better): A ahead of B by 2 points, the seeds' sd 0.5
    a, b, c = [90.0, 90.5, 89.5], [88.0, 88.5, 87.5], [88.2, 87.8, 88.0]
    assert judge([("A", "B")], [], {"A": a, "B": b}, "max", "test acc").word == "agrees"
    assert judge([("B", "A")], [], {"A": a, "B": b}, "max", "test acc").word == "disagrees"
    # one prediction holds, one is within noise (B vs C: 0 ± 0.4): depends
    verdict = judge([("A", "B"), ("B", "C")], [], {"A": a, "B": b, "C": c}, "max", "test acc")
    assert verdict.word == "depends"
    assert "A better than B: holds" in verdict.because and "B better than C: within noise" in verdict.because
    assert "90 ± 0.5 vs 88 ± 0.5, difference +2" in verdict.because  # the numbers that decide it
    # a loss (lower is better): the same numbers read the other way
    assert judge([("B", "A")], [], {"A": a, "B": b}, "min", "test loss").word == "agrees"


def test_verdict_on_about_equal_uses_the_spread_or_the_tolerance():
    lstm, gru = [1.50, 1.52, 1.51], [1.53, 1.55, 1.54]  # 0.03 apart, sd 0.01
    assert judge([], [("GRU", "LSTM")], {"GRU": gru, "LSTM": lstm}, "min", "loss").word == "disagrees"
    within = judge([], [("GRU", "LSTM")], {"GRU": gru, "LSTM": lstm}, "min", "loss", tolerance=0.05)
    assert within.word == "agrees" and "about equal to LSTM: holds" in within.because
    # one seed has no spread: a difference is not judged (unless a tolerance says what matters)
    one = judge([("A", "B")], [], {"A": [90.0], "B": [80.0]}, "max", "test acc")
    assert one.word == "depends" and "one seed, no spread" in one.because
    assert judge([("A", "B")], [], {"A": [90.0], "B": [80.0]}, "max", "acc", tolerance=1).word == "agrees"
    # every seed of the Elman net diverged: the gated cell is better, as predicted
    assert judge([("LSTM", "Elman")], [], {"LSTM": lstm, "Elman": []}, "min", "loss").word == "agrees"


def test_bands_average_the_seeds_up_to_the_shortest_run():
    first = [{"step": 10, "plotted": 2.0}, {"step": 20, "plotted": 1.0}, {"step": 30, "plotted": 0.5}]
    second = [{"step": 10, "plotted": 4.0}, {"step": 20, "plotted": 3.0}]  # stopped early
    xs, means, sds = bands([first, second], "step")
    assert xs == [10, 20] and means == [3.0, 2.0]
    assert sds == pytest.approx([2**0.5, 2**0.5])
    assert bands([[], []], "step") == ([], [], [])  # every seed diverged: no line


def comparison(**keys):
    return OmegaConf.create({"recipe": "char_lm", "metric": "loss", "variants": {"a": [], "b": []}, **keys})


def test_budget_is_named_and_must_be_equal():
    time_cfg = compose_recipe(["recipe=char_lm", "trainer.max_time=4"])
    steps_cfg = compose_recipe(["recipe=char_lm", "trainer.max_time=null", "trainer.max_steps=400"])
    stop_cfg = compose_recipe(["recipe=ner", "trainer.max_time=null", "trainer.max_epochs=20"])
    timed = budget_of(comparison(view="time"), {"a": time_cfg, "b": time_cfg})
    assert timed.startswith("fixed time: a speed comparison") and "4 min" in timed
    assert budget_of(comparison(), {"a": steps_cfg, "b": steps_cfg}) == "equal updates: 400 each"
    stopping = budget_of(comparison(recipe="ner"), {"a": stop_cfg})
    assert stopping.startswith("early stopping on validation (patience 6") and "20 epochs" in stopping
    with pytest.raises(UserError, match="trainer.max_time=4 makes the budget a time limit"):
        budget_of(comparison(), {"a": time_cfg})
    with pytest.raises(UserError, match="view=time needs trainer.max_time"):
        budget_of(comparison(view="time"), {"a": steps_cfg})
    with pytest.raises(UserError, match="different trainer budgets"):
        budget_of(comparison(), {"a": steps_cfg, "b": stop_cfg})


def test_bad_view_or_claim_names_the_key():
    with pytest.raises(UserError, match="view='sideways'"):
        view_of(comparison(view="sideways"))
    with pytest.raises(UserError, match=r"expect \['a', 'c'\] must name two of the variants"):
        check_pairs(comparison(), [("a", "c")], ["a", "b"])
    two = OmegaConf.create({"experiment": {"comparisons": [comparison(), comparison(recipe="ner")]}})
    assert [c.recipe for c in chosen(two)] == ["char_lm", "ner"]
    two.experiment.only = ["ner"]
    assert [c.recipe for c in chosen(two)] == ["ner"]
    for only in (["nre"], []):
        two.experiment.only = only
        with pytest.raises(UserError, match=r"experiment.only=.*one or more of .*\['char_lm', 'ner'\]"):
            chosen(two)


def test_depth_trains_each_variant_at_each_seed(run_recipe, tmp_path, capsys):
    """Replaces tests/test_course.py::test_depth_trains_each_variant_as_its_recipe (the folders are
    now <comparison>/<variant>/seed<S>)."""
    out = tmp_path / "depth"
    part = run_recipe(out, "recipe=course/depth", "debug=tiny", "+experiment.only=[ner]")  # one part first
    assert {r["comparison"] for r in part["runs"]} == {"ner"} and (out / "results_ner.md").exists()
    assert not (out / "results.md").exists() and not (out / "char_lm").exists()
    result = run_recipe(out, "recipe=course/depth", "debug=tiny")
    assert {r["comparison"] for r in result["runs"] if r.get("reused")} == {"ner"}  # read back
    printed = capsys.readouterr().out  # the next steps name the variant's own recipe
    assert (
        "python -m nlprnn recipe=char_lm mode=evaluate" in printed
        and "recipe=course/depth mode" not in printed
    )
    runs = result["runs"]
    assert {(r["variant"], r["seed"]) for r in runs if r["comparison"] == "ner"} == {
        (v, s) for v in ("bidirectional", "left to right") for s in (1, 2)
    }
    saved = (out / "char_lm" / "3_layers" / "seed2" / "config.yaml").read_text()
    assert "num_layers: 3" in saved and "seed: 2" in saved and "hidden_size: 256" in saved
    by = {(r["comparison"], r["variant"], r["seed"]): r for r in runs}
    assert by["char_lm", "1 layer", 1]["parameters"] < by["char_lm", "2 layers", 1]["parameters"]
    wide, two = by["char_lm", "1 wide layer (2 layers' parameters)", 1], by["char_lm", "2 layers", 1]
    assert abs(wide["parameters"] - two["parameters"]) < 0.05 * two["parameters"]  # tiny vocabulary
    assert by["ner", "left to right", 1]["parameters"] < by["ner", "bidirectional", 1]["parameters"]
    # the seeds really differ, and the table gives their mean ± sd and each seed's value
    assert by["char_lm", "2 layers", 1]["val"] != by["char_lm", "2 layers", 2]["val"]
    [table] = [rows for title, rows in result["tables"].items() if title.startswith("char_lm: equal updates")]
    row = table[1]
    assert row["variant"] == "2 layers" and row["seeds"] == 2 and " ± " in row["val loss"]
    assert len(row["val loss per seed"].split(" / ")) == 2 and row["updates"] == "6"
    md = (out / "results.md").read_text()
    assert "## char_lm_time: fixed time: a speed comparison, 4 min of training each; 2 seeds" in md
    assert "## ner: early stopping on validation (patience 6" in md
    saved = json.loads((out / "results.json").read_text())
    words = [f["verdict"]["word"] for f in saved["findings"]]  # char_lm and ner; the time view has none
    assert len(words) == 2 and set(words) <= {"agrees", "disagrees", "depends"}
    assert "Stacked RNN" in saved["findings"][0]["claim"]["source"]
    assert " ± " in saved["findings"][0]["verdict"]["because"]
    for name in ("char_lm", "ner", "char_lm_time"):
        assert (out / f"{name}_val_curves.png").stat().st_size > 10_000
    # killed before its results (hours, in the full run) and run again: the finished runs are read back
    (out / "results.json").unlink()
    again = run_recipe(out, "recipe=course/depth", "debug=tiny")
    assert all(r.get("reused") for r in again["runs"]) and again["tables"] == result["tables"]
    # a run killed after its last checkpoint but before its scores is resumed, not refused
    for results in (out / "results.json", out / "char_lm" / "2_layers" / "seed1" / "results.json"):
        results.unlink()
    third = run_recipe(out, "recipe=course/depth", "debug=tiny")
    fresh = [(r["variant"], r["seed"]) for r in third["runs"] if not r.get("reused")]
    assert fresh == [("2 layers", 1)]
    resumed = {(r["comparison"], r["variant"], r["seed"]): r for r in third["runs"]}
    assert resumed["char_lm", "2 layers", 1]["val"] == by["char_lm", "2 layers", 1]["val"]


def composed_variants(name: str):
    from tests.conftest import compose_config

    cfg = compose_config([f"recipe=course/{name}"])
    for comparison in cfg.experiment.comparisons:
        for label, overrides in comparison.variants.items():
            yield (
                comparison,
                label,
                compose_recipe([f"recipe={comparison.recipe}", *comparison.overrides, *overrides]),
            )


def test_pooling_has_both_directions_and_every_variant_passes_the_checks(data_dir):
    from nlprnn.config_checks import check_config

    seen = {}
    for comparison, label, variant in composed_variants("pooling"):
        check_config(variant)
        seen[comparison.name, label] = (variant.model.bidirectional, variant.model.pooling)
        assert variant.trainer.max_time is None  # an equal budget of epochs, not minutes
        assert set(comparison.dashed) <= set(comparison.variants)  # each BiLSTM beside its LSTM
    for pooling in ("last", "max", "mean", "attention"):
        assert seen["sst2", f"LSTM {pooling}"] == (False, pooling)  # the lecture's many-to-one
        assert seen["sst2", f"BiLSTM {pooling}"] == (True, pooling)
    for pooling in ("last", "max", "mean"):  # IMDB: the lecture's read-outs, within the budget
        assert seen["imdb", f"LSTM {pooling}"] == (False, pooling)
    assert seen["imdb", "BiLSTM last"] == (True, "last") and seen["imdb", "BiLSTM max"] == (True, "max")


def test_cells_widths_match_the_lstms_parameters(data_dir):
    """Each cell's hidden size gives within 1% of the LSTM's weights (with this vocabulary; the
    embeddings, the same for every cell, are left out of the count)."""
    sizes = {"char_lm": {"vocab_size": 66}, "sentiment": {"vocab_size": 1000, "num_classes": 2}}
    sizes["ner"] = {"vocab_size": 1000, "num_tags": 17, "num_chars": 86}
    counts = {}
    for comparison, label, variant in composed_variants("cells"):
        if comparison.get("view") == "time":
            continue
        model = instantiate(variant.model, **sizes[comparison.recipe])
        counts.setdefault(comparison.recipe, {})[label] = (
            parameter_count(model) - model.embedding.weight.numel()
        )
    assert set(counts) == {"char_lm", "sentiment", "ner"}
    for recipe, by_cell in counts.items():
        for cell in ("GRU", "Elman"):
            assert abs(by_cell[cell] - by_cell["LSTM"]) < 0.01 * by_cell["LSTM"], (recipe, by_cell)
