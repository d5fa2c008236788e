"""Checkpoints: written atomically, read with ``weights_only=True``, checked for the right recipe."""

from __future__ import annotations

from pathlib import Path

import torch

from nlprnn.atomic import atomic_path
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.models.config import model_config
from nlprnn.training.model_folder import is_model_folder, read_folder

# 2: written by the recipe skeleton (config keys and parameter names of session 9 on); 3: the model's
# node holds its sizes (vocabularies, labels), so no predictor restates them; 4: the recipe's name
# under "recipe" (format 3 said "task": read by renaming); older checkpoints need the nlprnn that
# wrote them
FORMAT, OLDEST = 4, 3
RENAMED_IN_4 = {"task": "recipe", "task_state": "recipe_state"}


def save_atomic(obj: dict, path: str | Path) -> None:
    """``torch.save`` whole or not at all: a crash mid-write never leaves a torn checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | Path | None, recipe: str | None = None) -> dict:
    """Load a checkpoint safely: a ``.pt`` file, a run directory (its ``best.pt``) or a model folder
    (``save_pretrained``); ``recipe`` (e.g. "char_lm") must match the recipe that wrote it."""
    if not path:
        raise UserError("this mode needs a checkpoint: pass ckpt=PATH/best.pt")
    path = Path(path)
    if is_model_folder(path):  # save_pretrained's folder: weights and config, no training state
        ckpt = read_folder(path)
    else:
        ckpt = _load_pt(path / "best.pt" if path.is_dir() else path)
    if not isinstance(ckpt, dict) or "model" not in ckpt or not {"recipe", "task"} & ckpt.keys():
        raise UserError(f"{path}: not an nlprnn checkpoint (no model/recipe entries)")
    version = ckpt.get("format", 1)
    if not isinstance(version, int) or version > FORMAT:
        raise UserError(
            f"{path}: checkpoint format {version!r} is unknown to this nlprnn (it reads {FORMAT})"
        )
    if version < OLDEST:
        raise UserError(
            f"{path} was written by an older nlprnn (checkpoint format {version}, now "
            f"{FORMAT}: config keys, parameter names or the model's stored sizes changed); train it again "
            "with this version"
        )
    if version < 4:
        ckpt = {RENAMED_IN_4.get(k, k): v for k, v in ckpt.items()}
        if isinstance(ckpt.get("config"), dict) and "task" in ckpt["config"]:  # the config key, renamed too
            ckpt["config"] = {("recipe_module" if k == "task" else k): v for k, v in ckpt["config"].items()}
    if recipe is not None and ckpt["recipe"] != recipe:
        raise UserError(f"{path} was trained by recipe {ckpt['recipe']!r}, not {recipe!r}")
    return ckpt


def _load_pt(path: Path) -> dict:
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # text, empty, truncated, random or code-carrying files alike
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(
            f"{path}: not a readable nlprnn checkpoint ({type(exc).__name__}: {reason})"
        ) from None


def checkpoint_config(resolved: dict, model: torch.nn.Module) -> dict:
    """A run's resolved config as its checkpoints store it: the model's node with every keyword,
    the sizes its data gave included (``model_config``), so that the checkpoint alone rebuilds it;
    a model that does not record its keywords (the course's own) keeps the config's node."""
    if getattr(model, "init_kwargs", None) is None:
        return resolved
    return {**resolved, "model": model_config(model)}


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the model from the node stored in the checkpoint (its ``model._target_`` and every
    keyword, sizes included: ``nlprnn.models.config.model_config``) and load its weights."""
    from omegaconf import OmegaConf

    model = build(OmegaConf.create(ckpt["config"]["model"]))
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()
