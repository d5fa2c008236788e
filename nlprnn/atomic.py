"""Files written whole or not at all, even under a kill: checkpoints, results, configs, outputs, cache
entries. One rule for all of them: write a temporary file beside the target (named for this process,
so that runs writing the same file at once never share one), then rename it onto the target."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = ".*.tmp*"  # what a kill mid-write leaves behind (see atomic_path), safe to remove


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers that go by it still work), renamed
    to ``path`` when the block succeeds and removed when it fails. Not for special files (devices,
    pipes), which are no one's to replace: those are written directly."""
    target = Path(path)
    if target.exists() and not target.is_file():  # /dev/stdout, a FIFO, a device: written in place
        yield target
        return
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield tmp
        if target.exists():
            shutil.copymode(target, tmp)  # replacing a file keeps its permissions
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """A small text file (config.yaml, results.json) written whole or not at all."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
