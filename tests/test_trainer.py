"""The shared trainer, driven through the char_lm recipe on a small slice of tiny shakespeare."""

import json
import math

import pytest
import torch

from nlprnn.errors import UserError
from nlprnn.training.trainer import Trainer

TINY = ["recipe=char_lm", "debug=tiny", "data.max_chars=6000"]


def _weights(path, entry="model"):
    return torch.load(path, weights_only=True)[entry]


@pytest.mark.parametrize("ema", [None, 0.9])
def test_resumed_run_matches_uninterrupted_run(run_recipe, tmp_path, monkeypatch, ema):
    steps = ["trainer.max_steps=8", "trainer.eval_every=3", "trainer.max_epochs=3"]
    steps += [f"trainer.ema={ema}"] if ema else []
    run_recipe(tmp_path / "full", *TINY, *steps)

    # a run killed during step 5: its last checkpoint is from the evaluation at step 3
    real_step, calls = Trainer.train_step, {"n": 0}

    def dying_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(tmp_path / "killed", *TINY, *steps)
    monkeypatch.setattr(Trainer, "train_step", real_step)
    assert torch.load(tmp_path / "killed/last.pt", weights_only=True)["trainer"]["step"] == 3

    before = torch.load(tmp_path / "killed/last.pt", weights_only=True)["trainer"]["train_seconds"]
    run_recipe(tmp_path / "killed", *TINY, *steps, "trainer.resume=true")
    seconds = [json.loads(line)["train_seconds"] for line in (tmp_path / "killed/metrics.jsonl").open()]
    assert (
        before > 0 and seconds[0] == before and seconds[-1] > before
    )  # the whole run's time, over the resume
    for entry in ["model", "train_model"] if ema else ["model"]:
        full, resumed = (
            _weights(tmp_path / "full/last.pt", entry),
            _weights(tmp_path / "killed/last.pt", entry),
        )
        assert full.keys() == resumed.keys()
        for name in full:
            torch.testing.assert_close(resumed[name], full[name], rtol=0, atol=1e-6, msg=name)
    if ema:  # the saved inference weights are the average, not the last iterate
        averaged, raw = (
            _weights(tmp_path / "full/last.pt"),
            _weights(tmp_path / "full/last.pt", "train_model"),
        )
        assert any(not torch.equal(averaged[k], raw[k]) for k in raw)
    # sanity: training moved the weights, so equality above is not trivial
    first = json.loads((tmp_path / "full/metrics.jsonl").read_text().splitlines()[0])
    assert first["step"] == 3


def test_resume_without_checkpoint_is_a_clear_error(run_recipe, tmp_path):
    with pytest.raises(UserError, match="last.pt does not exist"):
        run_recipe(tmp_path, *TINY, "trainer.resume=true")


def test_loss_falls_and_logs_are_written(run_recipe, tmp_path):
    run_recipe(
        tmp_path,
        *TINY,
        "trainer.max_steps=30",
        "trainer.eval_every=10",
        "optimizer.lr=0.01",
        "trainer.tensorboard=true",
    )
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [10, 20, 30]
    assert all(r["train_tok_s"] > 0 for r in records)  # training throughput, evaluation excluded
    vocab = len(json.loads((tmp_path / "vocab.json").read_text())["itos"])
    # an untrained model scores about ln(V) nats; after 30 steps it must do clearly better
    assert records[-1]["val_loss"] < records[0]["val_loss"] < 0.9 * math.log(vocab)
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["trainer"]["best"] == min(r["val_loss"] for r in records)
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "vocab.json").is_file()


def test_early_stopping(run_recipe, tmp_path):
    # lr=0 never improves after the first evaluation: patience 2 stops at the third evaluation
    run_recipe(
        tmp_path,
        *TINY,
        "trainer.max_steps=40",
        "trainer.eval_every=2",
        "trainer.patience=2",
        "optimizer.lr=0.0",
    )
    records = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(records) == 3


def test_final_weights_are_always_validated(run_recipe, tmp_path):
    # max_steps=5 is not a multiple of eval_every=3: validation still runs at step 5
    run_recipe(tmp_path, *TINY, "trainer.max_steps=5", "trainer.eval_every=3")
    steps = [json.loads(r)["step"] for r in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert steps == [3, 5]
    assert torch.load(tmp_path / "last.pt", weights_only=True)["trainer"]["step"] == 5


# a step budget no test reaches and a 6 ms time cap: the cap stops the run after a few steps
TIME_CAPPED = [*TINY, "trainer.max_steps=100000", "trainer.max_epochs=1000", "trainer.eval_every=null"]


def test_max_time_stops_cleanly_with_checkpoint(run_recipe, tmp_path):
    run_recipe(tmp_path, *TIME_CAPPED, "trainer.max_time=0.0001")
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert 1 <= last["trainer"]["step"] < 50  # 6 ms of budget: stopped after a few steps
    assert (tmp_path / "metrics.jsonl").read_text().count("val_loss") == 1


@pytest.mark.parametrize("anneal_by_time", [True, False])
def test_a_time_cap_ends_the_cosine_at_its_floor_with_anneal_by_time(run_recipe, tmp_path, anneal_by_time):
    """trainer.scheduler.anneal_by_time: a run stopped by max_time long before max_steps is validated
    and saved at the floor lr (a slower machine still gets an annealed model); off, mid-schedule."""
    run_recipe(
        tmp_path,
        *TIME_CAPPED,
        "trainer.max_time=0.0001",
        "optimizer.lr=0.01",
        "trainer.scheduler.name=cosine",
        "trainer.scheduler.warmup_steps=0",
        "trainer.scheduler.min_lr_ratio=0.1",
        f"trainer.scheduler.anneal_by_time={anneal_by_time}",
    )
    lr = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["lr"]
    assert lr == pytest.approx(0.001) if anneal_by_time else lr > 0.009


def test_resuming_an_early_stopped_run_does_not_train_on(run_recipe, tmp_path):
    args = ["trainer.max_steps=40", "trainer.eval_every=2", "trainer.patience=2", "optimizer.lr=0.0"]
    run_recipe(tmp_path, *TINY, *args)
    before = (tmp_path / "metrics.jsonl").read_text()
    step = torch.load(tmp_path / "last.pt", weights_only=True)["trainer"]["step"]
    run_recipe(tmp_path, *TINY, *args, "trainer.resume=true")
    assert (tmp_path / "metrics.jsonl").read_text() == before
    assert torch.load(tmp_path / "last.pt", weights_only=True)["trainer"]["step"] == step == 6


def test_recipes_and_course_tasks_implement_the_one_training_protocol():
    from importlib import import_module

    from nlprnn.recipes.course.experiment import TensorRecipe
    from nlprnn.training.trainer import TrainingRecipe
    from tests.conftest import compose_config

    for name in ("char_lm", "ner", "sentiment", "translation"):
        recipe = import_module(f"nlprnn.recipes.{name}").RECIPE(compose_config([f"recipe={name}"]), "cpu")
        assert isinstance(recipe, TrainingRecipe), name
    x, y = torch.zeros(4, 3, 1), torch.zeros(4)
    assert isinstance(TensorRecipe((x, y), (x, y), "mse", 2, 0), TrainingRecipe)
    assert not isinstance(object(), TrainingRecipe)


def _trained_weights(tmp_path, batch_size: int, accumulate: int, precision: str = "fp32", steps: int = 3):
    """A small LSTM regressor after ``steps`` optimizer steps on 10 fixed examples (no shuffling
    differences: the order is the seed's permutation, cut into batches of ``batch_size``)."""
    from omegaconf import OmegaConf

    from nlprnn.models.course import SequenceToOne
    from nlprnn.recipes.course.experiment import TensorRecipe
    from tests.conftest import tiny_trainer_config

    data = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 5, 3, generator=data), torch.randn(10, 1, generator=data)
    torch.manual_seed(0)
    model = SequenceToOne(3, 8, 1, cell="lstm")
    recipe = TensorRecipe((x, y), (x, y), "mse", batch_size, seed=0)
    trainer_cfg = tiny_trainer_config(
        max_epochs=steps, max_steps=steps, accumulate=accumulate, precision=precision
    )
    # plain SGD: its step is linear in the gradient, so float rounding stays rounding (AdamW's
    # m / sqrt(v) turns a rounding-sized gradient into a full step of either sign: it failed on an
    # AVX-512 host)
    optimizer = OmegaConf.create({"_target_": "torch.optim.SGD", "lr": 0.5})
    out = tmp_path / f"b{batch_size}_a{accumulate}_{precision}_{steps}"
    out.mkdir()
    Trainer(trainer_cfg, optimizer, model, recipe, out, {"recipe": "test"}).fit()
    return model.state_dict()


def test_accumulated_batches_step_like_one_batch_of_their_union(tmp_path):
    """trainer.accumulate=N: N consecutive batches of B/N step like one batch of B (clipping and all),
    also when the last batch of a group is smaller: each batch's loss weighs by its examples."""
    one = _trained_weights(tmp_path, batch_size=10, accumulate=1)
    for batch_size, accumulate in ((5, 2), (3, 4), (1, 10)):  # 3+3+3+1: unequal batches
        many = _trained_weights(tmp_path, batch_size, accumulate)
        for name, weight in one.items():
            torch.testing.assert_close(many[name], weight, rtol=1e-5, atol=1e-6, msg=f"{accumulate} x {name}")
    smaller = _trained_weights(tmp_path, batch_size=3, accumulate=1)  # the batch size shows: not trivial
    assert not torch.allclose(smaller["head.weight"], one["head.weight"], rtol=1e-3, atol=1e-4)


def test_a_precision_the_device_cannot_run_is_a_clear_error(tmp_path):
    """trainer.precision=bf16 on a CPU whose oneDNN has no bf16 LSTM: one UserError naming the key;
    where the device can run it (a GPU, another CPU) the run trains and its loss stays finite."""
    try:
        weights = _trained_weights(tmp_path, batch_size=5, accumulate=1, precision="bf16", steps=2)
    except UserError as error:
        assert "trainer.precision=bf16: this model cannot run in that precision on cpu" in str(error)
        assert "use trainer.precision=fp32" in str(error)
    else:
        assert all(torch.isfinite(w).all() for w in weights.values())
