"""torchrun with 2 CPU processes (gloo) matches 1 process with the same global batch."""

import json
import os
import subprocess
import sys

import torch

from tests.conftest import REPO

ARGS = [
    "-m",
    "nlprnn",
    "recipe=char_lm",
    "debug=tiny",
    "data.max_chars=6000",
    "model.dropout=0",
    "trainer.max_steps=4",
    "trainer.eval_every=2",
    "hydra/job_logging=none",
    "hydra/hydra_logging=none",
]


def _run(prefix, run_dir, data_dir):
    env = {**os.environ, "NLPRNN_DATA": str(data_dir), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [*prefix, *ARGS, f"hydra.run.dir={run_dir}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_two_processes_match_one(data_dir, tmp_path):
    _run([sys.executable], tmp_path / "single", data_dir)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    out = _run(torchrun, tmp_path / "ddp", data_dir)
    assert out.count("best checkpoint") == 1  # only rank 0 reports and writes
    single = torch.load(tmp_path / "single/last.pt", weights_only=True)
    ddp = torch.load(tmp_path / "ddp/last.pt", weights_only=True)
    assert ddp["trainer"]["step"] == single["trainer"]["step"] == 4
    assert len(ddp["task_state"]) == 2  # each rank's carried hidden state, for resume
    for name, weight in single["model"].items():
        torch.testing.assert_close(ddp["model"][name], weight, rtol=1e-4, atol=1e-5, msg=name)
    logs = [(tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("single", "ddp")]
    assert len(logs[1]) == 2  # evaluations at steps 2 and 4, logged once (rank 0), not per rank
    for a, b in zip(*logs):
        assert abs(json.loads(a)["val_loss"] - json.loads(b)["val_loss"]) < 1e-4
