"""course/fixed_length: T for Keras-style fixed-length batches, and padding vs packing by length."""

from __future__ import annotations

import json

import pytest
import torch
from omegaconf import OmegaConf

from nlprnn.errors import UserError
from nlprnn.recipes.course import fixed_length as fl
from nlprnn.recipes.course.experiment import VERDICTS

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"


def test_tiny_run_measures_padding_time_and_the_unmasked_state(run_recipe, tmp_path):
    out = tmp_path / "fixed_length"
    result = run_recipe(out, "recipe=course/fixed_length", "debug=tiny")
    texts = {r["T from"]: r for r in result["tables"]["training texts"]}
    median, longest = texts["median"], texts["max"]
    assert median["T"] < longest["T"] == longest["longest"]  # max: the longest training review
    assert longest["texts truncated %"] == 0 < median["texts truncated %"]
    assert 40 <= median["texts truncated %"] <= 60  # half the texts are longer than the median
    assert longest["padding % of N x T"] > 50 > median["padding % of N x T"]

    runs = {(r["T from"], r["batching"], r["seed"]): r for r in result["rows"]}
    n = 64  # data.train_limit in the tiny config
    fixed_max = runs[("max", "fixed_pre", 1)]
    fixed_median = runs[("median", "fixed_pre", 1)]
    assert fixed_max["RNN steps / epoch"] == n * longest["T"]  # every batch N x T
    assert fixed_max["padding read %"] == pytest.approx(longest["padding % of N x T"], abs=0.1)
    # six times the steps: an epoch at the longest T takes clearly longer, on any load
    assert fixed_max["seconds / epoch"] > 1.5 * fixed_median["seconds / epoch"]
    packed = runs[("median", "packed_bucketed", 1)]
    assert packed["padding read %"] == 0 and packed["RNN steps / epoch"] < fixed_median["RNN steps / epoch"]
    bucketed = runs[("median", "bucketed_padded", 1)]
    assert 0 < bucketed["padding read %"] < fixed_median["padding read %"]
    assert len({r["parameters"] for r in result["rows"]}) == 1  # one model for every setting

    probe = {(p["input"], p["seed"]): p for p in result["probes"]}
    for seed in (1, 2):
        exact = probe[("packed (exact)", seed)]
        post = probe[("post-padded to T, no mask", seed)]
        pre = probe[("pre-padded to T, no mask", seed)]
        assert exact["last state change (relative)"] == 0 and exact["predictions flipped %"] == 0
        assert post["last state change (relative)"] > 0.05  # zeros read after the text move the state
        assert post["last state change (relative)"] > pre["last state change (relative)"]

    saved = json.loads((out / "results.json").read_text())
    assert [f["verdict"]["word"] for f in saved["findings"]] == result["verdicts"]
    assert len(result["verdicts"]) == 2 and set(result["verdicts"]) <= set(VERDICTS)
    md = (out / "results.md").read_text()
    assert md.startswith("# ") and "No caer en la trampa de escoger la más larga" in md
    for name in ("lengths", "T_val_acc", "batching_val_acc"):
        assert (out / f"{name}.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "override, key",
    [
        ("experiment.lengths=[median,p200]", "experiment.lengths"),
        ("experiment.packing_length=longest", "experiment.packing_length"),
        ("experiment.batchings=[masked]", "experiment.batchings"),
        ("experiment.cell=transformer", "experiment.cell"),
        ("experiment.seeds=[]", "experiment.seeds"),
    ],
)
def test_bad_config_values_name_their_key(run_recipe, tmp_path, override, key):
    with pytest.raises(UserError, match=key):
        run_recipe(tmp_path, "recipe=course/fixed_length", "debug=tiny", override)
    assert not (tmp_path / "config.yaml").exists()  # refused before any data is read or written


def test_length_at_names_quantiles_of_the_training_lengths():
    lengths = list(range(1, 101))  # 1 .. 100 tokens
    assert fl.length_at(lengths, "median", "k") == 50
    assert fl.length_at(lengths, "p90", "k") == 90
    assert fl.length_at(lengths, "p99.5", "k") == 100
    assert fl.length_at(lengths, "max", "k") == 100
    assert fl.length_at(lengths, 37, "k") == 37
    for bad in ("p0", "p101", "longest", 0):
        with pytest.raises(UserError, match="k: "):
            fl.length_at(lengths, bad, "k")


def test_cutting_and_padding_follow_keras_defaults():
    rows = fl.cut([[1, 2, 3, 4, 5], [6]], torch.tensor([0, 1]), 3)
    assert [ids for ids, _ in rows] == [[3, 4, 5], [6]]  # a long text loses its beginning
    assert fl.pad_to([[3, 4, 5], [6]], 4, "pre").tolist() == [[0, 3, 4, 5], [0, 0, 0, 6]]
    assert fl.pad_to([[3, 4, 5], [6]], 4, "post").tolist() == [[3, 4, 5, 0], [6, 0, 0, 0]]
    tokens, lengths, labels = fl.Collate(fl.STRATEGIES["packed_random"], 10)(rows)
    assert tokens.shape == (2, 3) and lengths.tolist() == [3, 1] and labels.tolist() == [0, 1]
    tokens, lengths, _ = fl.Collate(fl.STRATEGIES["fixed_pre"], 10)(rows)
    assert tokens.shape == (2, 10) and lengths is None
    stats = fl.length_stats([2, 4, 10], 4)
    assert stats["texts truncated %"] == pytest.approx(100 / 3)
    assert stats["tokens dropped %"] == pytest.approx(100 * 6 / 16)
    assert stats["padding % of N x T"] == pytest.approx(100 * 2 / 12)


def test_steps_count_what_each_batching_runs():
    lengths = [2, 5, 3, 1]
    batches = [[0, 1], [2, 3]]
    assert fl.rnn_steps(fl.STRATEGIES["fixed_pre"], 6, batches, lengths) == (24, 24 - 11)
    assert fl.rnn_steps(fl.STRATEGIES["bucketed_padded"], 6, batches, lengths) == (16, 16 - 11)
    assert fl.rnn_steps(fl.STRATEGIES["packed_random"], 6, batches, lengths) == (11, 0)
    sizes = [1, 9, 2, 8, 3, 7]
    order = fl.batch_indices(fl.STRATEGIES["packed_bucketed"], sizes, 2, 0, 0)
    assert sorted(tuple(sorted(sizes[i] for i in b)) for b in order) == [(1, 2), (3, 7), (8, 9)]
    random = fl.batch_indices(fl.STRATEGIES["fixed_pre"], sizes, 2, 0, 0)
    assert sorted(i for b in random for i in b) == list(range(6)) and len(random) == 3


def test_the_last_state_ignores_padding_only_when_packed():
    torch.manual_seed(0)
    model = fl.LastStateClassifier(vocab_size=20, emb_dim=4, hidden_size=5, cell="gru").eval()
    seqs = [[3, 4, 5, 6], [7, 8]]
    alone = torch.cat([model.features(torch.tensor([s]), [len(s)]) for s in seqs])
    packed = model.features(fl.pad_to(seqs, 9, "post"), [4, 2])
    assert torch.allclose(packed, alone, atol=1e-6)
    post = model.features(fl.pad_to(seqs, 9, "post"))  # seven zeros read after [7, 8]
    assert (post[1] - alone[1]).norm() > 0.01 * alone[1].norm()


def rows_for(seconds: dict, test: dict) -> list[dict]:
    """Made-up runs: seconds per epoch and test accuracies (one per seed) per (T, batching)."""
    return [
        {"T": t, "batching": b, "seconds / epoch": seconds[(t, b)], "val acc": acc, "test acc": acc,
         "padding read %": 10.0}
        for (t, b), accs in test.items()
        for acc in accs
    ]  # fmt: skip


def test_verdicts_follow_the_numbers():
    a = [fl.Setting(100, "median", "fixed_pre"), fl.Setting(900, "max", "fixed_pre")]
    slow = {(100, "fixed_pre"): 1.0, (900, "fixed_pre"): 6.0}
    same_acc = {(100, "fixed_pre"): [0.70, 0.72, 0.71], (900, "fixed_pre"): [0.71, 0.70, 0.72]}
    assert fl.verdict(rows_for(slow, same_acc), a).word == "agrees"
    better = {(100, "fixed_pre"): [0.70, 0.71, 0.70], (900, "fixed_pre"): [0.80, 0.81, 0.80]}
    assert fl.verdict(rows_for(slow, better), a).word == "depends"
    cheap = {(100, "fixed_pre"): 1.0, (900, "fixed_pre"): 1.1}
    assert fl.verdict(rows_for(cheap, same_acc), a).word == "disagrees"

    b = [fl.Setting(100, "median", "fixed_pre"), fl.Setting(100, "median", "packed_random")]
    acc = {(100, "fixed_pre"): [0.7], (100, "packed_random"): [0.7]}
    slower_packed = {(100, "fixed_pre"): 1.0, (100, "packed_random"): 3.0}
    assert fl.batch_verdict(rows_for(slower_packed, acc), b).word == "agrees"
    faster_packed = {(100, "fixed_pre"): 1.0, (100, "packed_random"): 0.5}
    assert fl.batch_verdict(rows_for(faster_packed, acc), b).word == "disagrees"


def test_part_b_reuses_part_a_fixed_run():
    e = OmegaConf.create(
        {"lengths": ["median", "max"], "packing_length": "median", "batchings": ["packed_random"]}
    )
    part_a, part_b = fl.settings_of(e, [1, 2, 3, 4, 5])
    assert [s.length for s in part_a] == [3, 5]
    assert part_b == [fl.Setting(3, "median", "fixed_pre"), fl.Setting(3, "median", "packed_random")]
