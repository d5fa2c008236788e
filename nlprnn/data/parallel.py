"""Sentence-aligned parallel text for translation: Multi30k (de<->en), Anki/Tatoeba (es<->en), and
any pair of the user's (``data=parallel``: Moses-style ``PREFIX.{lang}`` files or a TSV).

Every loader returns ``{split: [(source sentence, target sentence), ...]}`` of raw, untokenised text.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, first_n, missing_data
from nlprnn.data.table import filled_pairs, read_columns
from nlprnn.data.user_files import SPLITS, carve_missing, read_utf8, resolve
from nlprnn.errors import UserError

MULTI30K_HUB = "bentrevett/multi30k"  # train/validation/test with "en" and "de" columns (no test_2017)
# where conf/data/multi30k.yaml and anki_spa_eng.yaml point (the defaults of the Python functions)
MULTI30K_FILES = {
    split: f"translation/multi30k/{stem}"
    for split, stem in {
        "train": "train",
        "val": "val",
        "test": "test_2016_flickr",
        "test_2017": "test_2017_flickr",
    }.items()
}
ANKI_FILE = "translation/anki_spa_eng/spa.txt.gz"


def read_lines(path: str | Path) -> list[str]:
    """One sentence per line of a UTF-8 file, plain or ``.gz``; each line stripped of surrounding whitespace.

    Splits on ``\\n`` only (never on the exotic separators ``str.splitlines`` knows), so the i-th entry is
    always the i-th line; a final newline does not add an empty entry, and a leading BOM is dropped.
    """
    text = read_utf8(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> list[tuple[str, str]]:
    """Line i of ``src_path`` and line i of ``tgt_path`` form pair i; the line counts must be equal."""
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise UserError(
            f"parallel files differ in length: {src_path} has {len(src)} lines but {tgt_path} has "
            f"{len(tgt)}; line i of both files must be a translation pair"
        )
    return list(zip(src, tgt))


def _check_langs(name: str, src_lang: str, tgt_lang: str, langs: set[str]) -> None:
    if src_lang == tgt_lang or {src_lang, tgt_lang} != langs:
        raise UserError(f"{name} translates between {sorted(langs)}; got src={src_lang!r} tgt={tgt_lang!r}")


def load_multi30k(
    data_dir: str | None, src_lang: str = "de", tgt_lang: str = "en", files: dict[str, str] = MULTI30K_FILES
) -> dict:
    """Multi30k task 1: ``files`` maps each split to a path stem under ``data_dir``, read as
    ``{stem}.{lang}.gz`` (train 29,000, val 1,014, test = test_2016_flickr 1,000, test_2017 1,000).

    Without a local copy it falls back to the Hugging Face Hub (``bentrevett/multi30k``), which has no
    test_2017: that split is then left out of the result.
    """
    _check_langs("Multi30k", src_lang, tgt_lang, {"de", "en"})
    stems = {split: data_file(data_dir, f"{stem}.{src_lang}.gz") for split, stem in files.items()}
    if all(stems.values()):
        return {
            split: read_parallel(path, path.with_name(f"{Path(files[split]).name}.{tgt_lang}.gz"))
            for split, path in stems.items()
        }
    ds = load_from_hub(MULTI30K_HUB, missing_data("Multi30k", data_dir, files["train"] + f".{src_lang}.gz"))
    out = {}
    for split, hub_split in (("train", "train"), ("val", "validation"), ("test", "test")):
        rows = ds[hub_split]
        out[split] = [(s.strip(), t.strip()) for s, t in zip(rows[src_lang], rows[tgt_lang])]
    return out


def read_anki(path: str | Path) -> list[tuple[str, str]]:
    """``English<TAB>Spanish`` lines -> [(english, spanish)].

    The 2018 release has two columns; newer ManyThings releases add a third (attribution) column, which is
    ignored. Every line must have the column count of the first line and two non-empty sentences.
    """
    lines = read_lines(path)
    if not lines:
        raise UserError(f"{path}: the file is empty")
    ncols = len(lines[0].split("\t"))
    pairs = []
    for i, line in enumerate(lines, 1):
        cols = line.split("\t")
        if len(cols) != ncols or ncols not in (2, 3) or not cols[0].strip() or not cols[1].strip():
            raise UserError(
                f"{path}, line {i}: expected 'English<TAB>Spanish' (2 or 3 tab-separated columns, as on "
                f"line 1), found {len(cols)} column(s): {line[:80]!r}"
            )
        pairs.append((cols[0].strip(), cols[1].strip()))
    return pairs


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


def load_anki(
    data_dir: str | None,
    src_lang: str = "es",
    tgt_lang: str = "en",
    splits: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 1234,
    file: str = ANKI_FILE,
) -> dict:
    """Anki/Tatoeba Spanish-English (``file`` under ``data_dir``), with a seeded split into
    "train", "val" and "test" (the data has no official split).

    The split groups pairs that share an English *or* a Spanish sentence (see ``grouped_split``), so it is
    the same split in both directions and no source sentence (nor target sentence) is in two splits.
    Pairs are returned in the shuffled group order (translations of one sentence stay adjacent).
    """
    _check_langs("Anki", src_lang, tgt_lang, {"en", "es"})
    path = data_file(data_dir, file)
    if path is None:  # no canonical hub copy: local files only
        raise missing_data("Anki Spanish-English", data_dir, file)
    pairs = read_anki(path)
    parts = grouped_split(pairs, splits, seed)
    flip = src_lang == "es"
    return {
        name: [(pairs[i][1], pairs[i][0]) if flip else pairs[i] for i in idx]
        for name, idx in zip(("train", "val", "test"), parts)
    }


class ParallelCorpus:
    """Translation splits {split: [(source, reference)]} of one corpus in one direction; training
    pairs longer than ``max_len`` subwords are dropped by the recipe. Subclasses read the files."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        src_lang: str,
        tgt_lang: str,
        max_len: int | None = 100,
        train_limit: int | None = None,
        eval_limit: int | None = None,
    ) -> None:
        self.name, self.dir, self.src_lang, self.tgt_lang = name, dir, src_lang, tgt_lang
        self.max_len, self.train_limit, self.eval_limit = max_len, train_limit, eval_limit

    def splits(self, seed: int = 0) -> dict[str, list[tuple[str, str]]]:
        return first_n(self.read(seed), self.train_limit, self.eval_limit)

    def read(self, seed: int) -> dict[str, list[tuple[str, str]]]:
        raise NotImplementedError


class Multi30k(ParallelCorpus):
    """Multi30k de<->en: ``files`` maps each split to a path stem (``{stem}.{lang}.gz``)."""

    def __init__(self, *args, files: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.files = dict(files)

    def read(self, seed: int) -> dict[str, list[tuple[str, str]]]:
        return load_multi30k(self.dir, self.src_lang, self.tgt_lang, self.files)


class AnkiPairs(ParallelCorpus):
    """Anki/Tatoeba es<->en (``file``), split by ``splits`` fractions with the run's seed."""

    def __init__(self, *args, file: str, splits: list[float] = (0.8, 0.1, 0.1), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.file, self.fractions = file, list(splits)

    def read(self, seed: int) -> dict[str, list[tuple[str, str]]]:
        return load_anki(self.dir, self.src_lang, self.tgt_lang, self.fractions, seed, self.file)


class ParallelFiles(ParallelCorpus):
    """``data=parallel``: the user's sentence pairs in any language pair and direction. Each of
    ``files.train`` / ``val`` / ``test`` is a Moses-style prefix (``PREFIX.{src_lang}`` and
    ``PREFIX.{tgt_lang}``, optionally ``.gz``, line i of one translating line i of the other) or a
    TSV file whose ``src_column`` and ``tgt_column`` hold the two sides. Without val and test files,
    a ``grouped_split`` of train (pairs sharing a sentence stay together) with ``carve_fraction``
    each; without one of them, a seeded random ``carve_fraction`` of train."""

    def __init__(
        self,
        *args,
        files: dict[str, str | None],
        src_column: int = 0,
        tgt_column: int = 1,
        carve_fraction: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.files, self.columns, self.carve_fraction = dict(files), [src_column, tgt_column], carve_fraction
        if self.src_lang == self.tgt_lang:
            raise UserError(f"data.src_lang and data.tgt_lang are both {self.src_lang!r}")

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

    def read_file(self, path: Path) -> list[tuple[str, str]]:
        """Pairs of a located file (see ``locate``); an empty side of a pair is an error naming the line."""
        if path.is_file():
            rows = read_columns(path, self.columns, "tsv", header=False)
        else:
            src, tgt = (self._side(path, lang) for lang in (self.src_lang, self.tgt_lang))
            rows = [(i, list(pair)) for i, pair in enumerate(read_parallel(src, tgt), 1)]
            path = src
        return filled_pairs(path, rows, ("source sentence", "target sentence"))

    @staticmethod
    def _side(prefix: Path, lang: str) -> Path:
        plain = prefix.with_name(f"{prefix.name}.{lang}")
        return plain if plain.is_file() else plain.with_name(plain.name + ".gz")

    def read(self, seed: int) -> dict[str, list[tuple[str, str]]]:
        given = {s: rel for s, rel in self.files.items() if rel}
        if set(given) - set(SPLITS) or "train" not in given:
            raise UserError(f"data.files: give train (and optionally val, test), got {sorted(given)}")
        splits = {s: self.read_file(self.locate(rel, f"data.files.{s}")) for s, rel in given.items()}
        if len(splits) > 1:
            return carve_missing(splits, self.carve_fraction, seed)
        f = self.carve_fraction
        if not 0 < f < 0.5:
            raise UserError(f"data.carve_fraction={f}: must lie between 0 and 0.5")
        pairs = splits["train"]
        # grouped in the file's column order, so that both directions get the same split
        in_file_order = [(b, a) for a, b in pairs] if self.columns[0] > self.columns[1] else pairs
        parts = grouped_split(in_file_order, [1 - 2 * f, f, f], seed)
        return {name: [pairs[i] for i in idx] for name, idx in zip(SPLITS, parts)}
