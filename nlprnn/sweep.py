"""Sweeps: ``python -m nlprnn recipe=NAME --multirun KEY=A,B,C`` through Hydra's launchers and sweepers.

Each job returns its objective, the validation metric that picked its best checkpoint (what Optuna's
sweeper optimises); a job that fails prints its error, returns NaN and leaves the other jobs running.
``SweepSummary`` (a Hydra callback, registered in conf/config.yaml) writes each job's ``job.json`` and,
when the sweep ends, ``sweep.md`` / ``sweep.json`` (every job: its values, objective or error) and
``sweep.png`` (the objective against the first swept number) into the sweep directory.
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode

from nlprnn.atomic import write_text_atomic
from nlprnn.errors import Interrupted, UserError
from nlprnn.plotting import line_plot

LAST_JOB: dict = {}  # this process's last job: {"objective", "metric", "error"}, read by on_job_end
FAILED_JOBS: list[int] = []  # the finished sweep's failed jobs: the command then exits with status 1


def sweeping() -> bool:
    """Whether this process runs a job of a --multirun sweep."""
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def run_job(cfg) -> float:
    """One sweep job: its objective, or NaN with the error printed (the sweep goes on)."""
    from nlprnn.run import run

    LAST_JOB.clear()
    try:
        result = run(cfg)
    except (UserError, Interrupted) as exc:
        return _failed(str(exc))
    except Exception as exc:  # a crash: its traceback too, so that a bug is not hidden in a sweep
        traceback.print_exc()
        return _failed(f"{type(exc).__name__}: {exc}")
    objective = result.get("objective") if isinstance(result, dict) else None
    if not objective:
        LAST_JOB.update(objective=math.nan, metric=None, error=None)
        return math.nan
    LAST_JOB.update(objective=objective["value"], metric=objective["metric"], error=None)
    return objective["value"]


class JobFailed(Exception):
    """A sweep job's error, raised for sweepers that record failed trials (Optuna's)."""


def _failed(message: str) -> float:
    print(f"error: {message}", file=sys.stderr)
    LAST_JOB.update(objective=math.nan, metric=None, error=message.splitlines()[0])
    if "optuna" in str(HydraConfig.get().sweeper.get("_target_", "")):
        raise JobFailed(message)  # Optuna marks the trial failed (it refuses a NaN objective)
    return math.nan  # Hydra's basic sweeper would end the whole sweep at an exception


def _raised(job_return) -> str:
    """What a failed job raised: Hydra's public ``return_value`` re-raises it."""
    try:
        job_return.return_value  # noqa: B018 (the property raises what the job raised)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "failed"


class SweepSummary(Callback):
    """Hydra callback: a ``job.json`` in each job's directory, a summary of them all at the end."""

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if not sweeping():
            return
        error = LAST_JOB.get("error")
        if job_return.status.name == "FAILED" and not error:  # raised past run_job
            error = _raised(job_return)
        out = Path(config.hydra.runtime.output_dir)
        record = {
            "job": config.hydra.job.num,
            "dir": str(out),
            "overrides": list(job_return.overrides or []),
            "status": "failed" if error else "ok",
            "objective": None if error else _number(LAST_JOB.get("objective")),
            "metric": LAST_JOB.get("metric"),
            "error": error,
        }
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "job.json", json.dumps(record, indent=1))

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = sorted(
            (json.loads(p.read_text()) for p in sweep_dir.rglob("job.json")), key=lambda j: j["job"]
        )
        if not jobs:
            return
        table = summary_table(jobs)
        write_text_atomic(sweep_dir / "sweep.md", table + "\n")
        write_text_atomic(sweep_dir / "sweep.json", json.dumps(jobs, indent=1))
        plotted = plot_objective(jobs, sweep_dir / "sweep.png")
        FAILED_JOBS[:] = [j["job"] for j in jobs if j["status"] == "failed"]
        print(f"\nsweep: {len(jobs)} jobs, {len(FAILED_JOBS)} failed; {sweep_dir / 'sweep.md'}\n{table}")
        if plotted:
            print(f"plot: {plotted}")


def _number(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def swept_values(jobs: list[dict]) -> dict[str, list[str]]:
    """{key: each job's value} for the keys whose values differ between jobs."""
    values = [dict(o.split("=", 1) for o in job["overrides"] if "=" in o) for job in jobs]
    keys = dict.fromkeys(k for v in values for k in v)
    return {k: [v.get(k, "") for v in values] for k in keys if len({v.get(k) for v in values}) > 1}


def summary_table(jobs: list[dict]) -> str:
    """A markdown table: job, the swept values, the objective (or the error)."""
    swept = swept_values(jobs)
    metric = next((j["metric"] for j in jobs if j["metric"]), "objective")
    lines = [
        "| job | " + " | ".join(swept) + f" | {metric} | status |",
        "|---|" + "---|" * (len(swept) + 2),
    ]
    for i, job in enumerate(jobs):
        value = "" if job["objective"] is None else f"{job['objective']:.4g}"
        status = job["status"] if not job["error"] else f"failed: {job['error'][:120]}"
        cells = [str(job["job"]), *(swept[k][i] for k in swept), value, status]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_objective(jobs: list[dict], path: Path) -> Path | None:
    """The objective against the first swept key whose values are all numbers (None: no such key)."""
    for key, values in swept_values(jobs).items():
        try:
            xs = [float(v) for v in values]
        except ValueError:
            continue
        points = sorted((x, j["objective"]) for x, j in zip(xs, jobs) if j["objective"] is not None)
        if not points:
            return None
        metric = next(j["metric"] for j in jobs if j["metric"])
        log = min(xs) > 0 and max(xs) / min(xs) >= 10
        series = {metric: ([x for x, _ in points], [y for _, y in points])}
        line_plot(series, path, key, metric, f"sweep: {metric} against {key}, one point a job", logx=log)
        return path
    return None
