"""What every inference API shares: built from a checkpoint, called on one string or a list of
strings (one result per input), and ``stream`` over any iterable of lines, batch by batch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from nlprnn.errors import UserError
from nlprnn.training.checkpoint import load_checkpoint
from nlprnn.training.distributed import local_device


class Predictor:
    """Base of Translator, Tagger, Classifier and Generator.

    Subclasses set ``task`` (the recipe whose checkpoints they read), build themselves in
    ``from_ckpt(ckpt, device, **options)`` and map a list of strings to a list of results in
    ``predict_batch``; ``stream_batch`` is how many lines ``stream`` gathers per batch.
    """

    task = ""
    stream_batch = 256

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str = "auto", **options):
        """Load a checkpoint file (or a run directory, meaning its best.pt) written by this
        predictor's recipe; ``options`` override the inference settings saved with it."""
        ckpt = load_checkpoint(path, cls.task)
        try:
            predictor = cls.from_ckpt(ckpt, local_device(device), **options)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise UserError(f"{cls.__name__}.from_checkpoint: {str(exc).split(')', 1)[-1].strip()}") from None
        predictor.config = ckpt["config"]  # the resolved training config, for evaluation
        predictor.step = ckpt.get("trainer", {}).get("step")  # the training step it was saved at
        return predictor

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, **options):
        raise NotImplementedError

    def predict_batch(self, texts: list[str]) -> list[Any]:
        raise NotImplementedError

    def __call__(self, inputs: str | Iterable[str]):
        """One string -> one result; a list (any iterable) of strings -> a list of results."""
        if isinstance(inputs, str):
            return self.predict_batch([inputs])[0]
        texts = checked_texts(inputs, type(self).__name__)
        return self.predict_batch(texts) if texts else []

    def stream(self, lines: Iterable[str], batch_size: int | None = None) -> Iterator[Any]:
        """Results for a long (or endless) iterable of lines, yielded batch by batch."""
        for _, result in self.pairs(lines, batch_size):
            yield result

    def pairs(self, lines: Iterable[str], batch_size: int | None = None) -> Iterator[tuple[str, Any]]:
        """(line, result) for each line, batch by batch: what the command line's modes write. A line
        read from a file keeps everything but its final "\n"."""
        size = batch_size or self.stream_batch
        chunk: list[str] = []
        for position, line in enumerate(lines):
            line = _checked(line, position, type(self).__name__)
            chunk.append(line[:-1] if line.endswith("\n") else line)
            if len(chunk) >= size:
                yield from zip(chunk, self.predict_batch(chunk))
                chunk = []
        if chunk:
            yield from zip(chunk, self.predict_batch(chunk))


def checked_texts(inputs, who: str) -> list[str]:
    """A list of the strings in ``inputs``; a clear error for a non-iterable or a non-string item."""
    if isinstance(inputs, (bytes, bytearray)):
        raise UserError(f"{who} takes str, not bytes: decode the input first")
    try:
        items = list(inputs)
    except TypeError:
        raise UserError(f"{who} takes a string or a list of strings, got {type(inputs).__name__}") from None
    return [_checked(item, i, who) for i, item in enumerate(items)]


def _checked(item, position: int, who: str) -> str:
    if not isinstance(item, str):
        raise UserError(f"{who}: input #{position} is {type(item).__name__}, not a string")
    return item
