"""What every recipe's modes share: seeding, the device, the run directory, models from checkpoints."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

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
