"""What every mode sets up first: the seed, the device, the run directory, the command line's
overrides, and a check that ``output=`` destroys nothing."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from nlprnn.inference.textio import check_output
from nlprnn.training import distributed as dist


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def setup_device(cfg: DictConfig) -> torch.device:
    """The device for this process; joins the process group when launched by torchrun."""
    device = dist.local_device(cfg.trainer.device)
    dist.init_if_launched(device)
    return device


def run_dir() -> Path:
    """Hydra's output directory for this run (``hydra.run.dir``); the working directory outside."""
    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:
        return Path.cwd()


def command_line_overrides() -> list[str]:
    """The overrides the command line gave (``key=value``), when Hydra composed this run."""
    try:
        return list(HydraConfig.get().overrides.task)
    except (ValueError, AttributeError):
        return []


def check_output_of(cfg: DictConfig) -> None:
    """``output=`` must not be the input, a data file, the checkpoint or a file of a run directory."""
    files = cfg.data.get("files") or {}
    named = [v for value in files.values() for v in (value if isinstance(value, list) else [value])]
    data_dir = Path(cfg.data.get("dir") or ".")
    inputs = [cfg.input, *named, *(data_dir / str(v) for v in named if v)]
    check_output(cfg.output, inputs, cfg.ckpt)
