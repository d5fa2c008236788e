"""Plain text for the character LM (``data=text``; tiny shakespeare and the Quijote are presets):
one or more UTF-8 files per split, joined, with val / test cut contiguously from the end of the
training text when they have no file (no passage can sit in two splits).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from nlprnn.data.files import iter_text, read_utf8
from nlprnn.data.reader import Reader, StreamedSplit
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


def cut_contiguous(text: str, missing: list[str], fraction: float) -> dict[str, str]:
    """{train, *missing}: the last ``fraction`` of the characters for each missing split, in order
    (train | val | test), the rest train."""
    if not 0 < fraction * len(missing) < 0.5:
        raise UserError(f"data.carve_fraction={fraction}: must lie between 0 and {0.5 / len(missing)}")
    n = len(text)
    start = int(n * (1 - fraction * len(missing)))
    out = {"train": text[:start]}
    for i, split in enumerate(missing):
        end = start + int(n * fraction) if i < len(missing) - 1 else n
        out[split], start = text[start:end], end
    return out


def chunks_between(chunks: Iterator[str], start: int, stop: int | None) -> Iterator[str]:
    """The characters ``start`` to ``stop`` (None: the end) of a text given in chunks, in chunks."""
    at = 0
    for chunk in chunks:
        if stop is not None and at >= stop:
            return
        part = chunk[max(0, start - at) : None if stop is None else stop - at]
        at += len(chunk)
        if part:
            yield part


class TextFiles(Reader):
    """``files.train`` is one file or a list (joined in order); ``files.val`` / ``files.test``
    likewise, or null: then cut contiguously from the end of the training text, ``carve_fraction``
    of its characters each. ``max_chars``: only the first N characters of the training text (before
    the cut); ``strip_gutenberg``: keep only the book between Project Gutenberg's markers."""

    columns = ("text",)

    def __init__(
        self,
        *args,
        carve_fraction: float = 0.05,
        strip_gutenberg: bool = False,
        max_chars: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, carve_fraction=carve_fraction, **kwargs)
        self.strip_gutenberg, self.max_chars = strip_gutenberg, max_chars

    def splits(self, seed: int = 0) -> dict[str, str]:
        """{train, val, test: text}; contiguous, so ``seed`` plays no part."""
        if self.stream:
            return self.streamed_text_splits(seed)
        splits = self.read()
        if self.max_chars:
            splits["train"] = splits["train"][: self.max_chars]
        missing = [s for s in ("val", "test") if s not in splits]
        return (
            {**splits, **cut_contiguous(splits["train"], missing, self.carve_fraction)} if missing else splits
        )

    def locate(self, rel, key: str = "data.files.test") -> list[Path]:
        """The file, or each file of a list."""
        names = [rel] if isinstance(rel, str) else list(rel)
        return [super(TextFiles, self).locate(name, key) for name in names]

    def read_file(self, paths: list[Path], split: str = "test") -> str:
        texts = [read_text(path) for path in paths]
        if self.strip_gutenberg:
            texts = [strip_gutenberg(text, path) for text, path in zip(texts, paths)]
        return "".join(t if t.endswith("\n") else t + "\n" for t in texts)

    def streamed_text_splits(self, seed: int) -> dict:
        """``data.stream=true``: train a ``StreamedSplit`` of text chunks; a missing val / test is cut
        from the end as without streaming, by one pass that counts the characters and one that
        keeps the cut part (val and test are small)."""
        splits = self.streamed_splits(seed, carves=True)
        missing = [s for s in ("val", "test") if s not in splits]
        if not missing:
            return splits
        whole = splits["train"]
        chars = sum(len(chunk) for chunk in whole)
        cut = cut_contiguous(range(chars), missing, self.carve_fraction)
        end = cut["train"].stop
        held = "".join(chunks_between(iter(whole), end, chars))
        splits.update({s: held[r.start - end : r.stop - end] for s, r in cut.items() if s != "train"})
        splits["train"] = StreamedSplit(whole.files, lambda: chunks_between(iter(whole), 0, end))
        return splits

    def stream_file(self, paths: list[Path]) -> tuple[list[Path], Callable[[], Iterator[str]]]:
        """The training text in chunks, as ``read_file`` and ``max_chars`` would give it whole."""
        if self.strip_gutenberg:
            raise UserError(
                "data.stream=true cannot strip Project Gutenberg's markers: strip_gutenberg=false"
            )

        def files() -> Iterator[str]:
            for path in paths:
                last, blank = "", True
                for chunk in iter_text(path):
                    blank, last = blank and not chunk.strip(), chunk[-1]
                    yield chunk
                if blank:
                    raise UserError(f"{path}: the file is empty")
                if last != "\n":
                    yield "\n"

        return paths, lambda: chunks_between(files(), 0, self.max_chars)

    def from_rows(self, rows: list[tuple]) -> str:
        # the text builder keeps the BOM opening a file; no line of text starts with one otherwise
        return "".join(str(line).removeprefix("\ufeff") + "\n" for (line,) in rows)
