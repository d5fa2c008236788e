"""A run directory's life: checked before anything is written, never replaced silently, and
consistent after a kill at any instant (metrics cut back to the checkpoint, partial writes removed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from nlprnn.errors import UserError
from nlprnn.training.checkpoint import load_checkpoint

RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "results.json")


def check_run_dir(out: Path, task: str, resume: bool, overwrite: bool) -> bool:
    """Every check a training run needs before it writes anything into ``out``; returns whether
    there is a checkpoint to resume from (False also for a run killed before its first one)."""
    if resume:
        last = out / "last.pt"
        if last.is_file():
            load_checkpoint(last, task)  # readable, and written by this recipe
            return True
        if any((out / name).exists() for name in (*RUN_FILES, "config.yaml")):
            return False  # killed before its first complete checkpoint: start it again
        raise UserError(
            f"trainer.resume=true but {last} does not exist; pass the killed run's "
            "directory with hydra.run.dir=..."
        )
    held = [name for name in RUN_FILES if (out / name).exists()]
    if held and not overwrite:
        raise UserError(
            f"{out} already holds a run ({', '.join(held)}): pass trainer.resume=true to continue it, "
            "choose another hydra.run.dir, or trainer.overwrite=true to replace it"
        )
    return False


def start_fresh(out: Path) -> None:
    """trainer.overwrite=true: remove the previous run's checkpoints, logs and results."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)


def remove_partial_writes(out: Path) -> None:
    """A kill during an atomic write leaves ``NAME.tmp`` behind; the real file is intact."""
    for tmp in out.glob("*.tmp"):
        tmp.unlink(missing_ok=True)


def cut_metrics(path: Path, step: int) -> None:
    """Keep the evaluations up to ``step`` (the checkpoint resumed from): the ones after it were
    logged by the killed run and will be logged again, once."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = []
    for line in lines:
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a line torn by the kill
            continue
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def write_text_atomic(path: Path, text: str) -> None:
    """Write a small file (config.yaml, results.json) whole or not at all, even under a kill."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
