"""Seed sweeps: Hydra's multirun (one run directory per job) and scripts/summarize.py's table."""

import json
import statistics

import pytest

from scripts.summarize import flatten, main
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # trains, starts processes or builds: not in pytest -m "not slow"


def test_multirun_then_summary(data_dir, tmp_path):
    sweep = tmp_path / "sweep"
    # as the README writes it: --multirun among the overrides
    args = ["recipe=char_lm", "debug=tiny", "--multirun", "seed=1,2", f"hydra.sweep.dir={sweep}"]
    run_cli([*args, "hydra/job_logging=none"], data_dir)
    jobs = [f"debug=tiny,recipe=char_lm,seed={s}" for s in (1, 2)]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == jobs
    losses = [json.loads((sweep / job / "results.json").read_text())["val"]["loss"] for job in jobs]
    assert losses[0] != losses[1]  # the seeds made different runs
    text = main([str(sweep)])
    assert (sweep / "summary.md").read_text() == text
    row = next(line for line in text.splitlines() if line.startswith("| val.loss |"))
    assert f"{statistics.fmean(losses):.4g} ± {statistics.stdev(losses):.2g} | 2 |" in row


def test_flatten_keeps_metrics_not_counts():
    results = {
        "step": 6,
        "val": {"f1": 90.0, "seconds": 1.2, "per_type": {"PER": {"f1": 80.0, "support": 3}}},
    }
    assert flatten(results) == {"val.f1": 90.0, "val.per_type.PER.f1": 80.0}


def test_not_a_sweep_directory(tmp_path):
    with pytest.raises(SystemExit, match="no \\*/results.json"):
        main([str(tmp_path)])
