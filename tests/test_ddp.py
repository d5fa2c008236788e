"""torchrun with 2 CPU processes (gloo) matches 1 process with the same global batch, for every
recipe: each rank takes half of every batch and the losses are weighted to the global mean."""

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

COMMON = ["debug=tiny", "model.dropout=0", "hydra/job_logging=none", "hydra/hydra_logging=none"]
RECIPES = {  # a few steps of each tiny config, without randomness that differs between layouts
    "char_lm": ["data.max_chars=6000", "trainer.max_steps=4", "trainer.eval_every=2"],
    "ner": ["trainer.max_steps=4", "trainer.eval_every=2", "word_dropout=0", "word_dropout_alpha=null"],
    "sentiment": ["trainer.max_steps=4", "trainer.eval_every=2", "embeddings=random"],
    "translation": ["trainer.max_steps=4", "trainer.eval_every=2", "data.train_limit=300"],
}


def _run(prefix, recipe, run_dir, data_dir, *extra):
    env = cli_env(data_dir)
    args = ["-m", "nlprnn", f"recipe={recipe}", *COMMON, *RECIPES[recipe], *extra, f"hydra.run.dir={run_dir}"]
    proc = subprocess.run([*prefix, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_two_processes_match_one(recipe, data_dir, tmp_path):
    _run([sys.executable], recipe, tmp_path / "single", data_dir)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = _run(torchrun, recipe, tmp_path / "ddp", data_dir)
    assert out.count("best checkpoint (step") == 1  # only rank 0 reports and writes
    single = torch.load(tmp_path / "single/last.pt", weights_only=True)
    ddp = torch.load(tmp_path / "ddp/last.pt", weights_only=True)
    assert ddp["trainer"]["step"] == single["trainer"]["step"] == 4
    assert len(ddp["recipe_state"]) == 2  # each rank's carried state, for resume
    for name, weight in single["model"].items():
        torch.testing.assert_close(ddp["model"][name], weight, rtol=1e-4, atol=1e-5, msg=name)
    logs = [(tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("single", "ddp")]
    assert len(logs[1]) == 2  # evaluations at steps 2 and 4, logged once (rank 0), not per rank
    metrics = {"char_lm": "val_loss", "ner": "val_f1", "sentiment": "val_acc", "translation": "val_bleu"}
    metric = metrics[recipe]
    for a, b in zip(*logs):
        assert abs(json.loads(a)[metric] - json.loads(b)[metric]) < 1e-3
    written = sorted(p.name for p in (tmp_path / "ddp").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "single").iterdir())  # rank 1 wrote nothing extra


@pytest.mark.parametrize("recipe", ["ner", "sentiment"])
def test_accumulation_under_two_processes_matches_one(recipe, data_dir, tmp_path):
    """trainer.accumulate=2 under torchrun (no_sync on the first batch of each step, each batch
    weighted by its units over both ranks) takes the steps one process takes."""
    _run([sys.executable], recipe, tmp_path / "single", data_dir, "trainer.accumulate=2")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run(torchrun, recipe, tmp_path / "ddp", data_dir, "trainer.accumulate=2")
    single = torch.load(tmp_path / "single/last.pt", weights_only=True)
    ddp = torch.load(tmp_path / "ddp/last.pt", weights_only=True)
    assert ddp["trainer"]["step"] == single["trainer"]["step"] == 4
    plain = torch.load(_plain_run(recipe, tmp_path, data_dir), weights_only=True)["model"]
    moved = [n for n, w in single["model"].items() if not torch.allclose(plain[n], w, atol=1e-4)]
    assert moved  # accumulating 2 batches a step trained something else than 1 batch a step
    for name, weight in single["model"].items():
        torch.testing.assert_close(ddp["model"][name], weight, rtol=1e-4, atol=1e-5, msg=name)


def _plain_run(recipe, tmp_path, data_dir):
    _run([sys.executable], recipe, tmp_path / "plain", data_dir)
    return tmp_path / "plain/last.pt"
