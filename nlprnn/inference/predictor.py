"""What every inference API shares: built from a checkpoint, called on one string or a list of
strings (one result per input), and ``stream`` over any iterable of lines, batch by batch."""

from __future__ import annotations

import os
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
        who = f"{cls.__name__}.from_checkpoint"
        if not isinstance(path, (str, os.PathLike)):
            raise UserError(
                f"{who} takes the path of a checkpoint or a run directory, got {type(path).__name__}"
            )
        device = checked_device(device, who)
        ckpt = load_checkpoint(path, cls.task)
        try:
            predictor = cls.from_ckpt(ckpt, device, **options)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise UserError(f"{who}: {str(exc).split(')', 1)[-1].strip()}") from None
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
        return self._answer(inputs, type(self).__name__)

    def _answer(self, inputs: str | Iterable[str], who: str):
        """``__call__`` for the method ``who`` (named by its errors): one result, or a list of them."""
        if isinstance(inputs, str):
            return self.predict_batch([inputs])[0]
        texts = checked_texts(inputs, who)
        return self.predict_batch(texts) if texts else []

    def stream(self, lines: Iterable[str], batch_size: int | None = None) -> Iterator[Any]:
        """Results for a long (or endless) iterable of lines, yielded batch by batch."""
        pairs = self._pairs(lines, batch_size, f"{type(self).__name__}.stream")
        return (result for _, result in pairs)

    def pairs(self, lines: Iterable[str], batch_size: int | None = None) -> Iterator[tuple[str, Any]]:
        """(line, result) for each line, batch by batch: what the command line's modes write. A line
        read from a file keeps everything but its final "\n"."""
        return self._pairs(lines, batch_size, f"{type(self).__name__}.pairs")

    def _pairs(self, lines, batch_size, who: str) -> Iterator[tuple[str, Any]]:
        """The arguments checked now (not at the first ``next``), then the batches as they come."""
        lines = checked_lines(lines, who)
        if batch_size is not None and not (type(batch_size) is int and batch_size >= 1):
            raise UserError(f"{who}: batch_size={batch_size!r}: give a whole number >= 1, or None")
        return self._batches(lines, batch_size or self.stream_batch, who)

    def _batches(self, lines: Iterator, size: int, who: str) -> Iterator[tuple[str, Any]]:
        chunk: list[str] = []
        for position, line in enumerate(lines):
            line = _checked(line, position, who)
            chunk.append(line[:-1] if line.endswith("\n") else line)
            if len(chunk) >= size:
                yield from zip(chunk, self.predict_batch(chunk))
                chunk = []
        if chunk:
            yield from zip(chunk, self.predict_batch(chunk))


# The argument checks of the inference APIs: ``who`` is the method, named by the error.


def checked_texts(
    inputs, who: str, takes: str = "a string or a list of strings", what: str = "input"
) -> list[str]:
    """A list of the strings in ``inputs``; a clear error for one string (callers taking one handle
    it first), bytes, a non-iterable or a non-string item. ``takes``: what ``who`` accepts;
    ``what``: what an item is called."""
    return [_checked(item, i, who, what) for i, item in enumerate(checked_items(inputs, who, takes))]


def checked_items(inputs, who: str, takes: str) -> list:
    """``list(inputs)``; a clear error for one string, bytes or a non-iterable."""
    if isinstance(inputs, str):
        raise UserError(f"{who} takes {takes}, not one string: put it in a list")
    if isinstance(inputs, (bytes, bytearray)):
        raise UserError(f"{who} takes str, not bytes: decode the input first")
    try:
        return list(inputs)
    except TypeError:
        raise UserError(f"{who} takes {takes}, got {type(inputs).__name__}") from None


def checked_lines(lines, who: str) -> Iterator:
    """An iterator over ``lines`` (a list, a file, a generator: possibly endless, so its items are
    checked as they come); a clear error for one string, bytes or a non-iterable."""
    takes = "an iterable of lines (a list, a file)"
    if isinstance(lines, (str, bytes, bytearray)):
        raise UserError(f"{who} takes {takes}, not one {type(lines).__name__}: put it in a list")
    try:
        return iter(lines)
    except TypeError:
        raise UserError(f"{who} takes {takes}, got {type(lines).__name__}") from None


def checked_text(text, who: str) -> str:
    """``text`` when it is one string, else a clear error."""
    if not isinstance(text, str):
        raise UserError(f"{who} takes one string, got {type(text).__name__}")
    return text


def checked_id_lists(seqs, who: str, vocab_size: int) -> list:
    """The token id lists of ``seqs`` (lists or 1-D tensors); a clear error for anything else, an
    empty one, or an id outside the vocabulary (which would fail deep inside, on a GPU as a device
    assert)."""
    items = checked_items(seqs, who, "a list of token id lists")
    for i, ids in enumerate(items):
        try:
            ok = isinstance(ids, (list, tuple, torch.Tensor)) and 0 <= min(ids) and max(ids) < vocab_size
        except (TypeError, ValueError, RuntimeError):  # a non-number, no ids at all, a 2-D tensor
            ok = False
        if not ok:
            raise UserError(f"{who}: item #{i} is not a non-empty list of token ids in [0, {vocab_size})")
    return items


def checked_device(device, who: str) -> torch.device:
    """``device`` ("auto", "cpu", "cuda", "cuda:N", "mps" or a torch.device) as a torch.device."""
    try:
        if isinstance(device, (str, torch.device)):
            return local_device(device)
    except RuntimeError:  # an unknown device name
        pass
    raise UserError(f"{who}: device={device!r}: give auto, cpu, cuda, cuda:N or mps")


def _checked(item, position: int, who: str, what: str = "input") -> str:
    if not isinstance(item, str):
        raise UserError(f"{who}: {what} #{position} is {type(item).__name__}, not a string")
    return item
