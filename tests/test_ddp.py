"""torchrun with 2 CPU processes (gloo) matches 1 process with the same global batch, for every
recipe: each rank takes half of every batch and the losses are weighted to the global mean."""

import json
import socket
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


@pytest.fixture(scope="module")
def single_run(tmp_path_factory, data_dir):
    """recipe -> the directory of its one-process run (trained once, shared by the tests below)."""
    runs = {}

    def run(recipe):
        if recipe not in runs:
            runs[recipe] = tmp_path_factory.mktemp(f"single_{recipe}")
            _run([sys.executable], recipe, runs[recipe], data_dir)
        return runs[recipe]

    return run


def _same_training(single_dir, ddp_dir, recipe):
    """The multi-process run took the one-process run's steps: weights, logged metrics, files."""
    single = torch.load(single_dir / "last.pt", weights_only=True)
    ddp = torch.load(ddp_dir / "last.pt", weights_only=True)
    assert ddp["trainer"]["step"] == single["trainer"]["step"] == 4
    assert len(ddp["recipe_state"]) == 2  # each rank's carried state, for resume
    for name, weight in single["model"].items():
        torch.testing.assert_close(ddp["model"][name], weight, rtol=1e-4, atol=1e-5, msg=name)
    logs = [(d / "metrics.jsonl").read_text().splitlines() for d in (single_dir, ddp_dir)]
    assert len(logs[1]) == 2  # evaluations at steps 2 and 4, logged once (rank 0), not per rank
    metrics = {"char_lm": "val_loss", "ner": "val_f1", "sentiment": "val_acc", "translation": "val_bleu"}
    metric = metrics[recipe]
    for a, b in zip(*logs):
        assert abs(json.loads(a)[metric] - json.loads(b)[metric]) < 1e-3
    written = sorted(p.name for p in ddp_dir.iterdir())
    assert written == sorted(p.name for p in single_dir.iterdir())  # rank 1 wrote nothing extra


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_two_processes_match_one(recipe, single_run, data_dir, tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = _run(torchrun, recipe, tmp_path / "ddp", data_dir)
    assert out.count("best checkpoint (step") == 1  # only rank 0 reports and writes
    _same_training(single_run(recipe), tmp_path / "ddp", recipe)


def test_fixed_embedding_rows_under_two_processes(data_dir, tmp_path):
    """NER with words of an unlabelled text: their rows are a buffer (Embedding.fix_rows), synced when
    the processes start rather than at every forward; training matches one process."""
    corpus = tmp_path / "news.txt"
    corpus.write_text("Zanzibar officials met in Zanzibar on Monday .\n" * 3)
    extra = [f"vectors_corpus=[train,{corpus}]", "corpus_vocab_min_count=2"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    _run([sys.executable], "ner", tmp_path / "single", data_dir, *extra)
    _run(torchrun, "ner", tmp_path / "ddp", data_dir, *extra)
    _same_training(tmp_path / "single", tmp_path / "ddp", "ner")  # the fixed rows compared too
    assert len(torch.load(tmp_path / "ddp/last.pt", weights_only=True)["model"]["embedding.fixed"]) > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_two_nodes_over_loopback_match_one(recipe, single_run, data_dir, tmp_path):
    """The multi-machine command (README), started twice on this machine: two "nodes" of one process
    each meet through torchrun's c10d rendezvous and train as one process does."""
    node = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1",
        "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_free_port()}", f"--rdzv-id={recipe}",
    ]  # fmt: skip
    run = f"hydra.run.dir={tmp_path / 'ddp'}"
    command = [*node, "-m", "nlprnn", f"recipe={recipe}", *COMMON, *RECIPES[recipe], run]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    nodes = [subprocess.Popen(command, cwd=REPO, env=cli_env(data_dir), **pipes) for _ in range(2)]
    outputs = [n.communicate(timeout=300)[0] for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], "\n".join(outputs)
    assert sum(out.count("best checkpoint (step") for out in outputs) == 1  # global rank 0 only
    _same_training(single_run(recipe), tmp_path / "ddp", recipe)


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


def test_a_course_comparison_under_torchrun_matches_one_process(data_dir, tmp_path):
    """recipe=course/depth (its NER part) under torchrun: both ranks train every variant and seed,
    rank 0 alone scores and writes the results, which equal one process's."""
    same = ["debug=tiny", "trainer.max_steps=6", "trainer.eval_every=3", "model.dropout=0", "word_dropout=0"]
    same = "experiment.overrides=[" + ",".join(f"'{o}'" for o in [*same, "word_dropout_alpha=null"]) + "]"
    args = ["-m", "nlprnn", "recipe=course/depth", "debug=tiny", "+experiment.only=[ner]", same]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    for prefix, name in (([sys.executable], "single"), (torchrun, "ddp")):
        command = [*prefix, *args, f"hydra.run.dir={tmp_path / name}"]
        proc = subprocess.run(
            command, cwd=REPO, env=cli_env(data_dir), capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = [json.loads((tmp_path / name / "runs_ner.json").read_text()) for name in ("single", "ddp")]
    assert [(r["variant"], r["seed"], r["updates"]) for r in runs[1]] == [
        (r["variant"], r["seed"], r["updates"]) for r in runs[0]
    ] and len(runs[0]) == 4  # 2 variants x 2 seeds
    for one, two in zip(*runs):
        assert abs(one["val"] - two["val"]) < 1e-3 and abs(one["test"] - two["test"]) < 1e-3, (one, two)
    assert (tmp_path / "ddp" / "results_ner.md").read_text().count("## ner") == 1


def test_course_experiments_on_tensors_refuse_torchrun(monkeypatch):
    """Experiments that train in-memory tensors run in one process; under torchrun they say so before
    anything is written (the comparisons of recipes run, above)."""
    from nlprnn.errors import UserError
    from nlprnn.recipes.course.experiment import start
    from tests.conftest import compose_config

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UserError, match="runs in one process: start it without torchrun"):
        start(compose_config(["recipe=course/elman_vs_jordan"]))
