"""Sentence-aligned parallel text for translation (``data=parallel``; Multi30k and Anki are presets):
Moses-style ``PREFIX.{lang}`` files or a TSV, as ``{split: [(source sentence, target sentence)]}`` of
raw, untokenised text.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from nlprnn.data.files import SPLITS, carve_missing, iter_lines, resolve
from nlprnn.data.reader import Reader
from nlprnn.data.table import filled_pairs, iter_filled_pairs, read_columns
from nlprnn.errors import UserError


def read_lines(path: str | Path) -> list[str]:
    """One sentence per line of a UTF-8 file, plain or ``.gz``; each line stripped of surrounding whitespace.

    Splits on ``\\n`` only (never on the exotic separators ``str.splitlines`` knows), so the i-th entry is
    always the i-th line; a final newline does not add an empty entry, and a leading BOM is dropped.
    """
    return [line.strip() for line in iter_lines(path)]


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[tuple[str, str]]:
    """Line i of ``src_path`` and line i of ``tgt_path`` form pair i; the line counts must be equal."""
    return list(iter_parallel(src_path, tgt_path))


def iter_parallel(src_path: str | Path, tgt_path: str | Path) -> Iterator[tuple[str, str]]:
    """``read_parallel`` one pair at a time, reading both files as streams."""
    sides = iter_lines(src_path), iter_lines(tgt_path)
    for i, (src, tgt) in enumerate(itertools.zip_longest(*sides), 1):
        if src is None or tgt is None:
            longer = sides[0] if tgt is None else sides[1]
            counts = (
                (i - 1, i + sum(1 for _ in longer)) if src is None else (i + sum(1 for _ in longer), i - 1)
            )
            raise UserError(
                f"parallel files differ in length: {src_path} has {counts[0]} lines but {tgt_path} has "
                f"{counts[1]}; line i of both files must be a translation pair"
            )
        yield src.strip(), tgt.strip()


def grouped_split(pairs: Sequence[tuple[str, str]], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Indices of ``pairs`` for train/val/test, keeping connected pairs together.

    Two pairs are connected when they share their first or their second sentence (transitively), so no
    sentence of either language occurs in two splits, whichever side is the source. Groups are shuffled with
    ``random.Random(seed)`` in a canonical sorted order (deterministic across runs and Python versions),
    then assigned in turn until each split holds about its fraction of the pairs.
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise UserError(f"splits must be three positive fractions summing to 1, got {list(fractions)}")
    parent: dict[tuple[int, str], tuple[int, str]] = {}

    def find(x):
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for a, b in pairs:
        ra, rb = find((0, a)), find((1, b))
        if ra != rb:
            parent[rb] = ra
    groups: dict[tuple[int, str], list[int]] = {}
    for i, (a, _) in enumerate(pairs):
        groups.setdefault(find((0, a)), []).append(i)
    # canonical key per group (independent of union order): its smallest first-side sentence
    by_key = {min(pairs[i][0] for i in members): members for members in groups.values()}
    keys = sorted(by_key)
    random.Random(seed).shuffle(keys)
    n = len(pairs)
    bounds = (fractions[0] * n, (fractions[0] + fractions[1]) * n)
    out: list[list[int]] = [[], [], []]
    done = 0
    for key in keys:
        split = 0 if done < bounds[0] else 1 if done < bounds[1] else 2
        out[split].extend(by_key[key])
        done += len(by_key[key])
    return out


PAIR_NAMES = ("source sentence", "target sentence")  # what an error calls each side


class ParallelFiles(Reader):
    """``data=parallel`` (Multi30k and Anki are presets of it): sentence pairs in any language pair
    and direction. Each of ``files.train`` / ``val`` / ``test`` (and any other evaluation split) is a
    Moses-style prefix (``PREFIX.{src_lang}`` and ``PREFIX.{tgt_lang}``, optionally ``.gz``, line i
    of one translating line i of the other) or a TSV file whose ``src_column`` and ``tgt_column``
    hold the two sides; or a hub dataset's ``src`` and ``tgt`` columns. Without val and test files,
    a ``grouped_split`` of train (pairs sharing a sentence stay together) with ``carve_fraction``
    each; without one of them, a seeded random ``carve_fraction`` of train."""

    columns = ("src", "tgt")

    def __init__(
        self,
        name: str,
        dir: str | None,
        src_lang: str,
        tgt_lang: str,
        src_column: int = 0,
        tgt_column: int = 1,
        **kwargs,
    ) -> None:
        super().__init__(name, dir, **kwargs)
        self.src_lang, self.tgt_lang, self.tsv_columns = src_lang, tgt_lang, [src_column, tgt_column]
        if src_lang == tgt_lang:
            raise UserError(f"data.src_lang and data.tgt_lang are both {src_lang!r}")

    def locate(self, rel: str, key: str = "data.files.test") -> Path:
        """A TSV file, or the prefix of two per-language files."""
        prefix = Path(rel).expanduser()
        for suffix in ("", ".gz"):
            pair = [Path(f"{rel}.{lang}{suffix}") for lang in (self.src_lang, self.tgt_lang)]
            try:
                found = [resolve(self.dir, str(p), key) for p in pair]
            except UserError:
                continue
            return found[0].with_name(prefix.name)
        try:
            return resolve(self.dir, rel, key)
        except UserError:
            raise UserError(
                f"{key}={rel}: neither a TSV file nor the prefix of {rel}.{self.src_lang} and "
                f"{rel}.{self.tgt_lang} (or .gz), under data.dir={self.dir} or the working directory"
            ) from None

    def read_file(self, path: Path, split: str = "test") -> list[tuple[str, str]]:
        """Pairs of a located file (see ``locate``); an empty side of a pair is an error naming the line."""
        if path.is_file():
            rows = read_columns(path, self.tsv_columns, "tsv", header=False)
            return filled_pairs(path, rows, PAIR_NAMES)
        return list(self.stream_file(path)[1]())

    def stream_file(self, path: Path) -> tuple[list[Path], Callable[[], Iterator[tuple[str, str]]]]:
        """The pairs of a Moses-style prefix, read as two streams (``data.stream=true``)."""
        if path.is_file():
            raise UserError(
                f"data.stream=true: {path} is a TSV file; streaming reads Moses-style files "
                f"(PREFIX.{self.src_lang} and PREFIX.{self.tgt_lang}, one sentence a line)"
            )
        src, tgt = (self._side(path, lang) for lang in (self.src_lang, self.tgt_lang))
        return [src, tgt], lambda: iter_filled_pairs(src, enumerate(iter_parallel(src, tgt), 1), PAIR_NAMES)

    @staticmethod
    def _side(prefix: Path, lang: str) -> Path:
        plain = prefix.with_name(f"{prefix.name}.{lang}")
        return plain if plain.is_file() else plain.with_name(plain.name + ".gz")

    def from_rows(self, rows: list[tuple]) -> list[tuple[str, str]]:
        return [(str(src).strip(), str(tgt).strip()) for src, tgt in rows]

    def carve(self, splits: dict[str, list], seed: int) -> dict[str, list]:
        if len(splits) > 1:
            return carve_missing(splits, self.carve_fraction, seed)
        f = self.carve_fraction
        if not 0 < f < 0.5:
            raise UserError(f"data.carve_fraction={f}: must lie between 0 and 0.5")
        pairs = splits["train"]
        # grouped in the file's column order, so that both directions get the same split
        in_file_order = [(b, a) for a, b in pairs] if self.tsv_columns[0] > self.tsv_columns[1] else pairs
        parts = grouped_split(in_file_order, [1 - 2 * f, f, f], seed)
        return {name: [pairs[i] for i in idx] for name, idx in zip(SPLITS, parts)}
