"""The portable model folder: what inference needs of a checkpoint, and nothing else.

    model.safetensors   the weights (``model.*``) and any other tensor the predictor reads
                        (translation's sentencepiece models as bytes: ``subword.src``, ...)
    config.json         everything else: the recipe (``recipe``), the resolved training config,
                        vocabularies and label names, the training step
    README.md           a model card: what it is, how it was trained, its scores, how to use it

No optimizer, schedule or RNG state (a ``best.pt`` carries those for resuming), no pickle, no
Hydra: ``read_folder`` gives back the checkpoint dict that ``from_checkpoint`` reads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from nlprnn.errors import UserError

WEIGHTS, CONFIG, CARD = "model.safetensors", "config.json", "README.md"
TRAINING_ONLY = ("optimizer", "schedule", "recipe_state", "rng", "train_model", "average")


def is_model_folder(path: str | Path) -> bool:
    return (Path(path) / WEIGHTS).is_file() and (Path(path) / CONFIG).is_file()


def inference_entries(ckpt: dict) -> dict:
    """The checkpoint without its training state (the step it was saved at is kept)."""
    entries = {k: v for k, v in ckpt.items() if k not in TRAINING_ONLY and k != "trainer"}
    entries["trainer"] = {"step": ckpt.get("trainer", {}).get("step")}
    return entries


def write_folder(ckpt: dict, directory: str | Path, card: str) -> Path:
    """Write ``ckpt``'s inference entries as a model folder, whole or not at all (a temporary
    folder beside it, renamed); an existing folder is replaced only if it is a model folder."""
    target = Path(directory)
    if target.exists() and not (target.is_dir() and (is_model_folder(target) or not any(target.iterdir()))):
        raise UserError(f"{target} exists and is not a model folder: save to a new or empty folder")
    tensors, rest = _split_tensors(inference_entries(ckpt))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        from safetensors.torch import save_file

        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "nlprnn", "recipe": str(ckpt["recipe"])})
        (tmp / CONFIG).write_text(json.dumps(rest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / CARD).write_text(card, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_folder(directory: str | Path) -> dict:
    """The checkpoint dict of a model folder (weights on the CPU)."""
    directory = Path(directory)
    try:
        from safetensors.torch import load_file

        tensors = load_file(str(directory / WEIGHTS))
        rest = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    except Exception as exc:  # a torn, foreign or hand-edited folder
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(
            f"{directory}: not a readable nlprnn model folder ({type(exc).__name__}: {reason})"
        ) from None
    if not isinstance(rest, dict) or not {"recipe", "task"} & rest.keys():
        raise UserError(f"{directory}/{CONFIG}: not an nlprnn model folder (no recipe entry)")
    return _join_tensors(rest, tensors)


def _split_tensors(tree: dict, prefix: str = "") -> tuple[dict, dict]:
    """({dotted.path: tensor}, the tree without them); tensors are copied, contiguous, on the CPU
    (safetensors refuses shared storage, as tied weights have)."""
    tensors, rest = {}, {}
    for key, value in tree.items():
        if isinstance(value, torch.Tensor):
            tensors[prefix + key] = value.detach().to("cpu").contiguous().clone()
        elif isinstance(value, dict):
            inner, rest[key] = _split_tensors(value, f"{prefix}{key}.")
            tensors.update(inner)
        else:
            rest[key] = value
    return tensors, rest


def _join_tensors(rest: dict, tensors: dict) -> dict:
    """Put each ``a.b.c`` tensor back at rest["a"]["b"]["c"]; the model's own state dict keeps its
    dotted parameter names (``model`` -> {"rnn.weight_ih_l0": ...})."""
    tree = dict(rest)
    for name, tensor in tensors.items():
        if name.startswith("model."):
            tree.setdefault("model", {})[name[len("model.") :]] = tensor
            continue
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = tensor
    return tree
