"""Dispatch a composed config to its recipe's mode: ``nlprnn.recipes.<recipe_module>.MODES[mode]``."""

from __future__ import annotations

from importlib import import_module

from omegaconf import DictConfig, OmegaConf

from nlprnn.cli_checks import warn_ignored
from nlprnn.config_checks import check_config
from nlprnn.errors import UserError
from nlprnn.training import distributed as dist


def register_resolvers() -> None:
    """``${run_dir:MODE,DIR}``: Hydra's run directory for training only; the other modes run in the
    working directory and write nothing there."""
    if not OmegaConf.has_resolver("run_dir"):
        OmegaConf.register_new_resolver(
            "run_dir", lambda mode, train_dir: train_dir if mode == "train" else "."
        )


register_resolvers()


def run(cfg: DictConfig):
    """Run ``cfg.mode`` of ``cfg.recipe_module``; unknown modes get a message listing the valid ones."""
    OmegaConf.set_struct(cfg, True)  # a misspelt key read by code fails instead of returning None
    check_config(cfg)  # every documented value's type and range, before anything is read or written
    module = import_module(f"nlprnn.recipes.{cfg.recipe_module}")
    if cfg.mode not in module.MODES:
        raise UserError(
            f"mode={cfg.mode!r} is not a mode of recipe {cfg.recipe_module!r}; "
            f"choose one of: {', '.join(module.MODES)}"
        )
    warn_ignored(cfg)  # a key of the command line that this mode does not read: say so, and go on
    result = module.MODES[cfg.mode](cfg)
    dist.cleanup()  # under torchrun: every rank leaves together, once (a comparison trains many runs)
    return result
