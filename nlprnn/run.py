"""Dispatch a composed config to its recipe's mode: ``nlprnn.tasks.<task>.MODES[mode]``."""

from __future__ import annotations

from importlib import import_module

from omegaconf import DictConfig, OmegaConf

from nlprnn.errors import UserError


def register_resolvers() -> None:
    """``${run_dir:MODE,DIR}`` / ``${run_subdir:MODE,SUB}``: Hydra's run directory (and its .hydra
    folder) for training only; the other modes run in the working directory and write nothing there."""
    for name, value in (("run_dir", "."), ("run_subdir", None)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(
                name, lambda mode, train_value, other=value: train_value if mode == "train" else other
            )


register_resolvers()


def run(cfg: DictConfig):
    """Run ``cfg.mode`` of ``cfg.task``; unknown modes get a message listing the valid ones."""
    OmegaConf.set_struct(cfg, True)  # a misspelt key read by code fails instead of returning None
    module = import_module(f"nlprnn.tasks.{cfg.task}")
    if cfg.mode not in module.MODES:
        raise UserError(
            f"mode={cfg.mode!r} is not a mode of recipe {cfg.task!r}; "
            f"choose one of: {', '.join(module.MODES)}"
        )
    return module.MODES[cfg.mode](cfg)
