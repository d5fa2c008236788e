"""Shared fixtures: where the real data lives, and running a recipe in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def pytest_configure(config):
    """A fresh disk cache (PPMI-SVD vectors) per test session: no test reads a user's stale entry."""
    os.environ["NLPRNN_CACHE"] = tempfile.mkdtemp(prefix="nlprnn-cache-")
    # the Hub is never needed (the hub tests use datasets' local builders): fail fast, never wait on it
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def real_data_dir() -> Path:
    """$NLPRNN_DATA, else ../shared/data beside the repo (the CI layout); absolute, because tests
    start subprocesses in other working directories (the README's command gives a relative path)."""
    return Path(os.environ.get("NLPRNN_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = real_data_dir()
    if not (path / "charlm").is_dir():
        pytest.fail(f"real data not found at {path}: set NLPRNN_DATA")
    return path


def compose_config(overrides: list[str], run_dir: Path | None = None):
    """Compose conf/config.yaml with overrides, as ``python -m nlprnn`` would."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        cfg = compose("config", overrides=overrides, return_hydra_config=run_dir is not None)
    if run_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(run_dir)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
    return cfg


def preset_splits(recipe: str, data: str, *overrides: str, seed: int | None = None) -> dict:
    """The splits a run of ``recipe=RECIPE data=DATA OVERRIDES`` reads (a dataset preset of a reader),
    at ``seed`` (default: the config's)."""
    from nlprnn.modes.splits import load_splits

    cfg = compose_config([f"recipe={recipe}", f"data={data}", f"data.dir={real_data_dir()}", *overrides])
    return load_splits(cfg.data, cfg.seed if seed is None else seed)


@pytest.fixture
def run_recipe(data_dir):
    """run_recipe(run_dir, "recipe=char_lm", "debug=tiny", ...) -> what the mode returns."""
    from nlprnn.run import run

    def _run(run_dir: Path, *overrides: str):
        return run(compose_config([f"data.dir={data_dir}", *overrides], run_dir))

    return _run


def cli_env(data_dir: Path) -> dict:
    """The environment of a ``python -m nlprnn`` subprocess: the data, offline, one thread."""
    return {**os.environ, "NLPRNN_DATA": str(data_dir), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def run_cli(args: list[str], data_dir: Path, stdin: str | None = None, check: bool = True):
    """``python -m nlprnn ARGS`` in a subprocess (offline, one thread), as a user would run it."""
    env = cli_env(data_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "nlprnn", *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def tiny_recipe_cli(recipe: str):
    """``cli(*overrides, data_dir=...)``: run_cli for ``recipe`` at debug=tiny, without Hydra's logging."""
    tiny = [f"recipe={recipe}", "debug=tiny", "hydra/job_logging=none", "hydra/hydra_logging=none"]

    def cli(*args, data_dir, stdin=None, check=True):
        return run_cli([*tiny, *args], data_dir, stdin, check)

    return cli


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, data_dir) -> dict[str, Path]:
    """Each of the four recipes trained tiny (two steps) once per test session, through the command
    line as a user would; what training printed is kept as stdout.txt in the run directory."""
    out = {}
    for recipe in ("char_lm", "ner", "sentiment", "translation"):
        run = tmp_path_factory.mktemp(recipe)
        args = [f"recipe={recipe}", "debug=tiny", "trainer.max_steps=2", "trainer.eval_every=2"]
        proc = run_cli([*args, f"hydra.run.dir={run}", "hydra/job_logging=none"], data_dir)
        (run / "stdout.txt").write_text(proc.stdout)
        out[recipe] = run
    return out


def tiny_trainer_config(**keys):
    """A complete ``trainer`` config for the small Trainers tests build by hand; ``keys`` override."""
    from omegaconf import OmegaConf

    base = {
        "max_epochs": 1, "max_steps": 1, "max_time": None, "eval_every": None, "patience": None,
        "clip_norm": 1.0, "ema": None, "resume": False, "progress": False, "tensorboard": False,
        "accumulate": 1, "precision": "fp32",
        "scheduler": {"name": "constant", "warmup_steps": 0, "min_lr_ratio": 0.0},
    }  # fmt: skip
    return OmegaConf.create({**base, **keys})
