"""Seed sweeps: Hydra's multirun (one run directory per job) and scripts/summarize.py's table."""

import json
import statistics
from pathlib import Path

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


SWEEP = [
    "recipe=ner",
    "debug=tiny",
    "trainer.max_steps=2",
    "trainer.progress=false",
    "hydra/job_logging=none",
]


def _sweep(tmp_path, data_dir, name, *args):
    """A --multirun of the tiny NER recipe into tmp_path/name: (the process, its sweep.json jobs)."""
    out = tmp_path / name
    proc = run_cli([*SWEEP, "--multirun", *args, f"hydra.sweep.dir={out}"], data_dir, check=False)
    jobs = json.loads((out / "sweep.json").read_text()) if (out / "sweep.json").exists() else None
    return proc, jobs


def _objectives(jobs):
    return {
        tuple(sorted(o for o in j["overrides"] if o.startswith("optimizer"))): j["objective"] for j in jobs
    }


def test_a_failing_job_is_reported_and_the_others_run(data_dir, tmp_path):
    """One bad value ends only its own job: the sweep's table names the error, the good jobs'
    objectives are their results.json's validation metric, the plot is drawn, the exit status is 1."""
    proc, jobs = _sweep(tmp_path, data_dir, "basic", "optimizer.lr=0.001,-1,0.01")
    assert proc.returncode == 1, proc.stderr
    assert [j["status"] for j in jobs] == ["ok", "failed", "ok"]
    assert (
        jobs[1]["error"] == "optimizer.lr=-1: must be a number in [0, inf)" and jobs[1]["objective"] is None
    )
    table = (tmp_path / "basic" / "sweep.md").read_text()
    assert "| 1 | -1 |  | failed: optimizer.lr=-1: must be a number in [0, inf) |" in table
    for job in (jobs[0], jobs[2]):
        results = json.loads((Path(job["dir"]) / "results.json").read_text())
        assert job["metric"] == "val_f1" and job["objective"] == results["objective"]["value"]
    assert (tmp_path / "basic" / "sweep.png").stat().st_size > 1000


def test_the_joblib_and_submitit_launchers_run_the_same_jobs(data_dir, tmp_path):
    """hydra/launcher=joblib (parallel processes here) and hydra/launcher=submitit_local (submitit's
    local executor, as submitit_slurm sends them to a cluster) give the basic launcher's objectives."""
    values = "optimizer.lr=0.001,0.01"
    basic = _objectives(_sweep(tmp_path, data_dir, "basic", values)[1])
    for launcher in (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]):
        proc, jobs = _sweep(tmp_path, data_dir, launcher[0].split("=")[1], values, *launcher)
        assert proc.returncode == 0, proc.stderr
        assert _objectives(jobs) == pytest.approx(basic), launcher


def test_optuna_searches_the_validation_metric(data_dir, tmp_path):
    """hydra/sweeper=search (Optuna's sweeper, failed trials allowed) over learning rate and hidden
    size: its best trial is the sweep's best objective; trials with a failing value are reported."""
    import yaml

    proc, jobs = _sweep(
        tmp_path, data_dir, "optuna", "hydra/sweeper=search", "hydra.sweeper.direction=maximize",
        "hydra.sweeper.n_trials=4", "hydra.sweeper.sampler.seed=1",
        "optimizer.lr=tag(log,interval(0.0005,0.02))", "model.hidden_size=choice(-1,16,32)",
    )  # fmt: skip
    assert [j["status"] for j in jobs] == ["failed", "ok", "ok", "failed"], proc.stderr
    assert all(j["error"] == "model.hidden_size=-1: must be a whole number >= 1" for j in jobs[::3])
    done = [j["objective"] for j in jobs if j["status"] == "ok"]
    best = yaml.safe_load((tmp_path / "optuna" / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(done))


def test_an_exception_raised_past_the_job_is_named_in_its_record():
    """A job that raised outside run_job (Hydra marks it FAILED) is reported by what it raised,
    read through Hydra's public return_value."""
    from hydra.core.utils import JobReturn, JobStatus

    from nlprnn.sweep import _raised

    failed = JobReturn(status=JobStatus.FAILED)
    failed.return_value = ValueError("boom")
    assert _raised(failed) == "ValueError: boom"
