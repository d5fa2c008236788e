"""One continuous text -> characters -> contiguous train/val/test streams for truncated BPTT."""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, missing_data
from nlprnn.data.user_files import read_utf8, resolve
from nlprnn.errors import UserError

_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M)


def read_text(path: str | Path) -> str:
    """Read a UTF-8 file (BOM allowed, .gz unpacked), normalise CRLF/CR newlines; clear errors otherwise."""
    text = read_utf8(path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise UserError(f"{path}: the file is empty")
    return text


def strip_gutenberg(text: str, path: str | Path = "<text>") -> str:
    """Keep only the book between Project Gutenberg's START and END marker lines."""
    start, end = _GUTENBERG_START.search(text), _GUTENBERG_END.search(text)
    if not start or not end or end.start() <= start.end():
        raise UserError(
            f"{path}: Project Gutenberg START/END markers not found "
            "(data.strip_gutenberg=true; give data.strip_gutenberg=false for a text without them)"
        )
    return text[start.end() : end.start()].strip("\n") + "\n"


def split_text(text: str, fractions: list[float]) -> tuple[str, str, str]:
    """Contiguous cut: the first f0 of the characters train, the next f1 val, the rest test.

    Contiguous blocks (no shuffling of lines or chunks) mean no passage can sit in two splits.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise UserError(f"data.splits must be three positive fractions summing to 1, got {fractions}")
    n = len(text)
    a = int(n * fractions[0])
    b = a + int(n * fractions[1])
    return text[:a], text[a:b], text[b:]


class BpttBatches:
    """Consecutive (input, target) windows over B parallel streams of one long id sequence.

    The sequence (after dropping ``offset`` leading ids) is cut into ``batch_size`` equal streams,
    laid side by side as rows; batch i is columns [i*bptt, (i+1)*bptt) of that (B, N/B) grid, so
    row b of batch i+1 continues row b of batch i and a carried hidden state stays valid.
    With ``world_size`` > 1, rank r keeps rows [r*B/W, (r+1)*B/W): the global batch is sharded.

    batches[i] -> x (B/W, t) long, y (B/W, t) long with y = x shifted by one; t <= bptt.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        batch_size: int,
        bptt: int,
        offset: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size % world_size:
            raise UserError(f"batch_size={batch_size} must divide by the {world_size} processes")
        ids = ids[offset:]
        cols = len(ids) // batch_size
        if cols < 2:
            raise UserError(f"text of {len(ids)} tokens is too short for batch_size={batch_size}")
        grid = ids[: cols * batch_size].view(batch_size, cols)
        per_rank = batch_size // world_size
        self.grid = grid[rank * per_rank : (rank + 1) * per_rank].contiguous()
        self.bptt = bptt

    def __len__(self) -> int:
        return math.ceil((self.grid.size(1) - 1) / self.bptt)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.bptt
        end = min(start + self.bptt, self.grid.size(1) - 1)
        return self.grid[:, start:end], self.grid[:, start + 1 : end + 1]


class CharCorpus:
    """One text file (``file`` under ``dir``, else the hub dataset ``hub``), cut contiguously into
    train/val/test by ``splits`` fractions; ``prompt`` is the corpus' default generation prompt."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        file: str,
        hub: str | None = None,
        strip_gutenberg: bool = False,
        max_chars: int | None = None,
        splits: list[float] = (0.9, 0.05, 0.05),
        prompt: str = "",
    ) -> None:
        self.name, self.dir, self.file, self.hub = name, dir, file, hub
        self.strip_gutenberg, self.max_chars, self.fractions = strip_gutenberg, max_chars, list(splits)
        self.prompt = prompt

    def text(self) -> str:
        """The whole text of the corpus (its first ``max_chars`` characters when set)."""
        path = data_file(self.dir, self.file)
        if path is not None:
            text = read_text(path)
            if self.strip_gutenberg:
                text = strip_gutenberg(text, path)
        else:
            failure = missing_data(f"corpus {self.name!r}", self.dir, self.file)
            if not self.hub:
                raise failure
            ds = load_from_hub(self.hub, failure)
            text = "".join(ds[s][0]["text"] for s in ("train", "validation", "test"))
        return text[: self.max_chars] if self.max_chars else text

    def splits(self, seed: int = 0) -> dict[str, str]:
        """{train, val, test: text}; contiguous, so ``seed`` plays no part."""
        return dict(zip(("train", "val", "test"), split_text(self.text(), self.fractions)))


class TextFiles(CharCorpus):
    """``data=text``: the user's plain text. ``files.train`` is one file or a list (joined in order);
    ``files.val`` / ``files.test`` likewise, or null: then cut contiguously from the end of the
    training text, ``carve_fraction`` of its characters each (train | val | test, as in ``splits``)."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        files: dict,
        carve_fraction: float = 0.05,
        strip_gutenberg: bool = False,
        max_chars: int | None = None,
        prompt: str = "",
    ) -> None:
        super().__init__(name, dir, "", None, strip_gutenberg, max_chars, prompt=prompt)
        self.files, self.carve_fraction = dict(files), carve_fraction

    def read_file(self, path: str | Path) -> str:
        text = read_text(path)
        return strip_gutenberg(text, path) if self.strip_gutenberg else text

    def _read(self, split: str) -> str | None:
        given = self.files.get(split)
        if not given:
            return None
        names = [given] if isinstance(given, str) else list(given)
        texts = [self.read_file(resolve(self.dir, n, f"data.files.{split}")) for n in names]
        return "".join(t if t.endswith("\n") else t + "\n" for t in texts)

    def splits(self, seed: int = 0) -> dict[str, str]:
        """{train, val, test: text}; contiguous, so ``seed`` plays no part."""
        train = self._read("train")
        if train is None:
            raise UserError("data.files.train is not set: give the text file(s) (data.files.train=PATH)")
        train = train[: self.max_chars] if self.max_chars else train
        given = {s: self._read(s) for s in ("val", "test")}
        missing = [s for s, text in given.items() if text is None]
        f = self.carve_fraction
        if missing and not 0 < f * len(missing) < 0.5:
            raise UserError(f"data.carve_fraction={f}: must lie between 0 and {0.5 / len(missing)}")
        cut = len(train) - int(f * len(train)) * len(missing)
        out, start = {"train": train[:cut]}, cut
        for split in ("val", "test"):
            if given[split] is None:
                out[split], start = train[start : start + int(f * len(train))], start + int(f * len(train))
            else:
                out[split] = given[split]
        return out
