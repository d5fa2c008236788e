"""What every recipe's modes share: seeding, the device, the run directory, models from checkpoints,
the dataset a checkpoint was trained on, and the text in / text out of the inference modes."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nlprnn.errors import UserError
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
    """Hydra's output directory for this run (``hydra.run.dir``)."""
    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # called outside @hydra.main (Python API): use the working directory
        return Path.cwd()


def save_config(cfg: DictConfig, directory: Path) -> dict:
    """Write the fully resolved config beside the checkpoints and return it as a plain dict."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    if dist.is_main():
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.yaml").write_text(OmegaConf.to_yaml(resolved))
    return resolved


def model_from_checkpoint(ckpt: dict, device: torch.device, **runtime) -> torch.nn.Module:
    """Rebuild the model from the config stored in the checkpoint and load its weights."""
    model = instantiate(OmegaConf.create(ckpt["config"]["model"]), **runtime)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def trained_data_config(cfg: DictConfig, trained: dict) -> DictConfig:
    """The data config a checkpoint was trained with (its ``config``), with data.dir and eval_limit
    from the command line: evaluate mode scores the dataset the model was trained on."""
    return OmegaConf.merge(trained["data"], {"dir": cfg.data.dir, "eval_limit": cfg.data.eval_limit})


def input_lines(cfg: DictConfig) -> Iterator[str]:
    """text="..." as one line, else each line of input=FILE, else of stdin (read as it arrives)."""
    if cfg.text is not None:
        yield cfg.text
        return
    try:
        source = open(cfg.input, encoding="utf-8") if cfg.input else sys.stdin
    except OSError as exc:
        raise UserError(f"input={cfg.input}: cannot read it ({exc})") from None
    try:
        for line in source:
            yield line.rstrip("\n")
    except UnicodeDecodeError as exc:
        raise UserError(f"input={cfg.input or 'stdin'}: not UTF-8 text ({exc.reason})") from None
    finally:
        if cfg.input:
            source.close()


@contextmanager
def output_stream(cfg: DictConfig) -> Iterator[TextIO]:
    """output=FILE (written as UTF-8), else stdout."""
    if not cfg.output:
        yield sys.stdout
        return
    with open(cfg.output, "w", encoding="utf-8") as dst:
        yield dst
