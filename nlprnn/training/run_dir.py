"""A run directory's life: checked before anything is written, never replaced silently, and
consistent after a kill at any instant (metrics cut back to the checkpoint, partial writes removed)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

from nlprnn.atomic import TEMPORARY, write_text_atomic
from nlprnn.errors import UserError
from nlprnn.training.checkpoint import load_checkpoint

RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "results.json")


# what may differ between a run and its resume: how long and how visibly it trains, where the data is,
# where its memory comes from
RESUME_MAY_CHANGE = (
    "trainer.resume", "trainer.overwrite", "trainer.max_time", "trainer.max_epochs", "trainer.max_steps",
    "trainer.patience", "trainer.progress", "trainer.tensorboard", "trainer.device", "data.dir",
    "trainer.keep_freed_memory", "trainer.release_freed_memory",
    "mode", "ckpt", "text", "input", "output", "split", "max_chars",
)  # fmt: skip


def check_run_dir(out: Path, recipe: str, resume: bool, overwrite: bool, config: dict | None = None) -> bool:
    """Every check a training run needs before it writes anything into ``out``; returns whether
    there is a checkpoint to resume from (False also for a run killed before its first one).
    ``config``: the resolved config of this invocation, which a resume must share with the run."""
    if resume:
        last = out / "last.pt"
        if last.is_file():
            ckpt = load_checkpoint(last, recipe)  # readable, and written by this recipe
            if config is not None:
                check_same_config(ckpt["config"], config, out)
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


def check_same_config(trained: dict, now: dict, out: Path) -> None:
    """A resume continues the run as it was configured: any other setting (the model's sizes, the
    data, the optimizer...) would not fit its checkpoint, or would silently change what it trains."""
    old, new = _flat(trained), _flat(now)
    # the checkpoint's model node also holds the sizes its data gave (vocab_size, ...), no setting
    from_data = {k for k in old.keys() - new.keys() if k.startswith("model.")}
    differ = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    keys = sorted(k for k in differ - from_data if not _may_change(k))
    if keys:
        shown = ", ".join(f"{k}={_shown(new, k)} (the run has {_shown(old, k)})" for k in keys[:6])
        more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
        raise UserError(
            f"trainer.resume=true: {shown}{more} differ from the run in {out}; resume with its settings "
            "(see its config.yaml), or train a new run in another hydra.run.dir"
        )


def _may_change(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in RESUME_MAY_CHANGE)


def _flat(tree: dict, prefix: str = "") -> dict:
    """{"model": {"hidden_size": 32}} -> {"model.hidden_size": 32}."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out.update(_flat(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


def _shown(flat: dict, key: str) -> str:
    return repr(flat[key]) if key in flat else "no such key"


def remove_new_entries(out: Path, before: set[str]) -> None:
    """A run that failed before its first checkpoint: remove what it wrote into ``out`` (anything not
    in ``before``), and ``out`` itself when that leaves it empty."""
    if (out / "last.pt").exists() or not out.is_dir():
        return
    for entry in out.iterdir():
        if entry.name in before:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
    if not before and out != Path.cwd():
        with contextlib.suppress(OSError):
            out.rmdir()


def start_fresh(out: Path) -> None:
    """trainer.overwrite=true: remove the previous run's checkpoints, logs and results."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "tensorboard", ignore_errors=True)


def remove_partial_writes(out: Path) -> None:
    """A kill during an atomic write leaves a temporary file behind; the real file is intact."""
    for tmp in out.glob(TEMPORARY):
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
