"""Lose nothing: a run directory is never replaced silently, and a training run SIGKILLed at any
instant (random moments, and the dangerous ones between the checkpoint writes) resumes to exactly
the run that was never interrupted: same final weights, same best.pt, each evaluation logged once."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from nlprnn.atomic import TEMPORARY
from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

TINY = ["debug=tiny", "trainer.max_steps=6", "trainer.eval_every=2", "hydra/job_logging=none"]
EXTRA = {
    "char_lm": ["data.max_chars=6000"],
    "ner": [],
    "sentiment": [],
    "translation": ["data.train_limit=300"],
}


def _train(recipe, run, data_dir, *args, kill: str | None = None, after: float | None = None):
    """One training process; ``kill``: NLPRNN_TEST_KILL point, ``after``: SIGKILL after N seconds."""
    env = cli_env(data_dir)
    if kill:
        env["NLPRNN_TEST_KILL"] = kill
    argv = [sys.executable, "-m", "nlprnn", f"recipe={recipe}", *TINY, *EXTRA[recipe], f"hydra.run.dir={run}"]
    proc = subprocess.Popen([*argv, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if after is not None:
        time.sleep(after)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out.decode(), err.decode()


def _resume_until_done(recipe, run, data_dir):
    resume = ["trainer.resume=true"] if (run / "config.yaml").exists() else []  # killed before any write
    code, out, err = _train(recipe, run, data_dir, *resume)
    assert code == 0, err
    return out


def _same_run(reference, run):
    for name in ("last.pt", "best.pt"):
        ref, got = (torch.load(d / name, weights_only=True) for d in (reference, run))
        assert got["trainer"]["step"] == ref["trainer"]["step"], name
        for key, weight in ref["model"].items():
            torch.testing.assert_close(got["model"][key], weight, rtol=0, atol=1e-6, msg=f"{name} {key}")
    ref, got = ([json.loads(line) for line in (d / "metrics.jsonl").open()] for d in (reference, run))
    assert [m["step"] for m in got] == [m["step"] for m in ref] == [2, 4, 6]  # each evaluation exactly once
    for line in (*ref, *got):  # wall-clock readings are the only fields a resume may change
        del line["train_seconds"], line["train_tok_s"]
    assert got == ref  # the running training loss and gradient norms included
    assert not list(run.glob(TEMPORARY))


@pytest.mark.parametrize("recipe", sorted(EXTRA))
def test_kills_at_any_instant_resume_to_the_uninterrupted_run(recipe, data_dir, tmp_path):
    reference, start = tmp_path / "reference", time.monotonic()
    code, _, err = _train(recipe, reference, data_dir)
    assert code == 0, err
    seconds = time.monotonic() - start  # random kills land within a run of this length
    # after_best:2 comes before any last.pt exists; best.pt is written at step 4 only if it improved
    kills = {"after_best:2": True, "after_metrics:4": True, "after_best:4": False}
    for point, certain in kills.items():
        run = tmp_path / point.replace(":", "_")
        code, _, _ = _train(recipe, run, data_dir, kill=point)
        assert code == -signal.SIGKILL or (code == 0 and not certain), point
        (run / ".last.4321.tmp.pt").write_bytes(b"half a checkpoint")  # what a kill mid-write leaves
        _resume_until_done(recipe, run, data_dir)
        _same_run(reference, run)
    run = tmp_path / "random"
    rng, kills = random.Random(recipe), 0
    while kills < 2 and not (run / "results.json").exists():  # start-up, training, evaluation...
        resume = ["trainer.resume=true"] if (run / "config.yaml").exists() else []
        code, _, err = _train(recipe, run, data_dir, *resume, after=rng.uniform(0.3, 0.9) * seconds)
        assert code in (0, -signal.SIGKILL), err
        kills += code == -signal.SIGKILL
    _resume_until_done(recipe, run, data_dir)
    _same_run(reference, run)


def test_a_run_directory_is_never_replaced_silently(data_dir, tmp_path):
    run = tmp_path / "run"
    assert _train("char_lm", run, data_dir)[0] == 0
    before = {
        name: (run / name).read_bytes() for name in ("best.pt", "last.pt", "metrics.jsonl", "config.yaml")
    }
    code, _, err = _train("char_lm", run, data_dir, "trainer.max_steps=2")
    assert code == 2 and "already holds a run" in err and "trainer.resume=true" in err
    code, _, err = _train("ner", run, data_dir, "trainer.resume=true")  # the wrong recipe's run
    assert code == 2 and "trained by recipe 'char_lm', not 'ner'" in err
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing was written
    out = _resume_until_done("char_lm", run, data_dir)  # a finished run: scores again, logs nothing new
    assert "best checkpoint (step 6)" in out
    assert (run / "metrics.jsonl").read_bytes() == before["metrics.jsonl"]
    code, _, err = _train("char_lm", run, data_dir, "trainer.max_steps=2", "trainer.overwrite=true")
    assert code == 0, err
    assert [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [2]


def test_tensorboard_keeps_each_evaluation_once_after_a_kill(data_dir, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    code, _, _ = _train("char_lm", run, data_dir, "trainer.tensorboard=true", kill="after_metrics:4")
    assert code == -signal.SIGKILL
    assert _train("char_lm", run, data_dir, "trainer.tensorboard=true", "trainer.resume=true")[0] == 0
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("val_loss")] == [2, 4, 6]
