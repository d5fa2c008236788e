"""A training run stopped by Ctrl-C (SIGINT) or a scheduler (SIGTERM) saves a resumable checkpoint at
the next step boundary, says in one line how to continue, and that command resumes it to the run that
was never interrupted (weights and metrics lines); a resume with other settings is refused before it
writes anything; a run that fails before its first checkpoint leaves nothing behind."""

import json
import shlex
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"

TINY = ["recipe=char_lm", "debug=tiny", "data.max_chars=6000", "trainer.max_steps=8", "trainer.eval_every=3"]
TIMING = ("train_seconds", "train_tok_s")  # wall-clock readings: the only fields a resume may change


def _cli(args, data_dir, env_extra=None):
    env = {**cli_env(data_dir), **(env_extra or {})}
    argv = [sys.executable, "-m", "nlprnn", *args]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _metrics(run):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k not in TIMING} for line in lines]


@pytest.fixture(scope="module")
def reference(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("reference") / "run"
    proc = _cli([*TINY, f"hydra.run.dir={run}"], data_dir)
    assert proc.returncode == 0, proc.stderr
    return run


@pytest.mark.parametrize("name, step, code", [("SIGINT", 4, 130), ("SIGTERM", 5, 143)])
def test_a_signal_saves_a_checkpoint_and_the_printed_command_resumes_it(
    reference, data_dir, tmp_path, name, step, code
):
    run = tmp_path / "run"
    proc = _cli([*TINY, f"hydra.run.dir={run}"], data_dir, {"NLPRNN_TEST_SIGNAL": f"{name}:{step}"})
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    last_line = proc.stderr.strip().splitlines()[-1]
    assert f"stopped by {name} at step {step}" in last_line
    assert torch.load(run / "last.pt", weights_only=True)["trainer"]["step"] == step

    command = shlex.split(last_line.split("continue with: ", 1)[1])
    assert command[:3] == ["python", "-m", "nlprnn"] and "trainer.resume=true" in command
    resumed = _cli(command[3:], data_dir)
    assert resumed.returncode == 0, resumed.stderr

    assert _metrics(run) == _metrics(reference)  # the running loss and gradient norms included
    full, got = (torch.load(d / "last.pt", weights_only=True)["model"] for d in (reference, run))
    for key, weight in full.items():
        torch.testing.assert_close(got[key], weight, rtol=0, atol=1e-6, msg=key)


def test_a_resume_with_other_settings_is_refused_before_anything_is_written(reference, data_dir):
    before = {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()}
    proc = _cli(
        [*TINY, "model.hidden_size=64", "trainer.resume=true", f"hydra.run.dir={reference}"], data_dir
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert error.startswith("error: trainer.resume=true: model.hidden_size=64 (the run has 32)"), error
    assert {p.name: p.read_bytes() for p in reference.iterdir() if p.is_file()} == before


def test_a_run_that_fails_before_its_first_checkpoint_leaves_nothing(data_dir, tmp_path):
    run = tmp_path / "run"
    args = [*TINY, "data=text", "data.files.train=no_such_book.txt", f"hydra.run.dir={run}"]
    proc = _cli(args, data_dir)
    assert proc.returncode == 2 and "no_such_book.txt" in proc.stderr
    assert not run.exists()
    run.mkdir()
    (run / "notes.txt").write_text("mine")  # a directory the user made: only what the run wrote goes
    assert _cli(args, data_dir).returncode == 2
    assert [p.name for p in run.iterdir()] == ["notes.txt"]
