"""A disk cache for tensors that are slow to compute from the data and cheap to store (PPMI-SVD word
vectors: a minute for the default 58.5k-text corpus, recomputed by every variant of a comparison and
every seed of a sweep otherwise; a streamed corpus' sentencepiece models). Token stores
(``token_store.py``) live in folders beside these entries.

Entries live in ``$NLPRNN_CACHE`` (default ``$XDG_CACHE_HOME/nlprnn``, else ``~/.cache/nlprnn``), one
file per key: a SHA-256 of everything the result depends on. Deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch

from nlprnn.atomic import atomic_path


def cache_dir() -> Path:
    if os.environ.get("NLPRNN_CACHE"):
        return Path(os.environ["NLPRNN_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "nlprnn"


def fingerprint(parts: Iterable[str | bytes]) -> str:
    """SHA-256 of ``parts``, each length-prefixed so that ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def load(kind: str, key: str) -> torch.Tensor | dict | None:
    """The tensor (or dict of tensors) stored under ``kind/key``, or None when absent or unreadable
    (a warning says so)."""
    path = cache_dir() / kind / f"{key}.pt"
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: recompute rather than fail the run
        warnings.warn(
            f"ignoring unreadable cache entry {path} ({exc.__class__.__name__}); recomputing", stacklevel=2
        )
        return None


def save(kind: str, key: str, tensor: torch.Tensor | dict) -> None:
    """Store ``tensor`` under ``kind/key``, atomically (a killed run leaves no half-written entry).
    A cache that cannot be written (read-only home, full disk) only costs the next run time."""
    folder = cache_dir() / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / f"{key}.pt") as tmp:  # runs of a sweep may write one key at once
            torch.save(tensor, tmp)
    except OSError as exc:
        warnings.warn(
            f"could not write the cache under {folder} ({exc}); set NLPRNN_CACHE elsewhere", stacklevel=2
        )
