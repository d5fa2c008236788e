"""Labelled texts for classification: SST-2 (GLUE tsv, sentence-level files), IMDB, and any CSV /
TSV / JSON-lines table of the user's (``data=table``).

Every reader's ``splits`` returns ``{split: [(text, label name)]}``; the recipe numbers the labels.
A malformed line stops with the file, the line number and what was expected.
"""

from __future__ import annotations

import random
import re
import tarfile
import zlib
from pathlib import Path

from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, missing_data
from nlprnn.data.table import filled_pairs, read_columns
from nlprnn.data.user_files import carve_missing, read_utf8, split_files
from nlprnn.errors import UserError

Example = tuple[str, int]  # text, label id (the SST-2 / IMDB files' 0 / 1)
Named = tuple[str, str]  # text, label name

_IMDB_MEMBER = re.compile(r"^aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


def _label(value: str, path: Path, lineno: int, line: str) -> int:
    if value not in ("0", "1"):
        raise UserError(f"{path}:{lineno}: expected the label 0 or 1, got {value!r}: {line[:80]!r}")
    return int(value)


def read_glue_tsv(path: str | Path) -> list[Example]:
    """GLUE SST-2 ``train.tsv`` / ``dev.tsv``: a header ``sentence<TAB>label``, then ``text<TAB>label``."""
    path = Path(path)
    lines = read_utf8(path).splitlines()
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise UserError(f"{path}:1: expected the header 'sentence<TAB>label' of a GLUE SST-2 file")
    examples = []
    for lineno, line in enumerate(lines[1:], 2):
        cols = line.split("\t")
        if len(cols) != 2 or not cols[0].strip():
            raise UserError(f"{path}:{lineno}: expected 'text<TAB>label', got {line[:80]!r}")
        examples.append((cols[0].strip(), _label(cols[1].strip(), path, lineno, line)))
    return examples


def read_label_first(path: str | Path) -> list[Example]:
    """Sentence-level SST files (``stsa.binary.*``): ``label text`` per line."""
    path = Path(path)
    examples = []
    for lineno, line in enumerate(read_utf8(path).splitlines(), 1):
        label, _, text = line.partition(" ")
        if not text.strip():
            raise UserError(f"{path}:{lineno}: expected '<label 0|1> <text>', got {line[:80]!r}")
        examples.append((text.strip(), _label(label, path, lineno, line)))
    return examples


def read_labelled(path: str | Path) -> list[Example]:
    """A GLUE ``.tsv`` or a ``label text`` file, by the file's suffix."""
    examples = read_glue_tsv(path) if Path(path).suffix == ".tsv" else read_label_first(path)
    if not examples:
        raise UserError(f"{path}: no examples found")
    return examples


def clean_review(text: str) -> str:
    """IMDB reviews carry HTML line breaks."""
    return _HTML_BREAK.sub(" ", text)


def read_imdb(archive: str | Path, per_class: int | None = None) -> dict[str, list[Example]]:
    """{train, test: [(review, 1 pos / 0 neg)]} straight from the aclImdb .tar.gz (about 2 s), in
    member order (sorted by name in our archive, so deterministic).

    The archive is read to its end, so a damaged one (a bad member, a CRC error, an early end) is an
    error naming it, not a silently shorter dataset; ``per_class`` (aclImdb: 12,500) also checks
    how many reviews of each class each split holds."""
    archive = Path(archive)
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    member = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                match = _IMDB_MEMBER.match(member.name)
                if member.isfile() and match:
                    text = tar.extractfile(member).read().decode("utf-8-sig")
                    splits[match[1]].append((clean_review(text), int(match[2] == "pos")))
            while tar.fileobj.read(1 << 20):  # to the end of the gzip stream: its CRC is checked there
                pass
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{archive}: not a readable aclImdb .tar.gz ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{archive}: {member.name} is not UTF-8 text ({exc.reason})") from None
    if not splits["train"] or not splits["test"]:
        raise UserError(f"{archive}: no aclImdb/{{train,test}}/{{pos,neg}}/*.txt reviews inside")
    if per_class:
        for split, examples in splits.items():
            pos = sum(label for _, label in examples)
            if (pos, len(examples) - pos) != (per_class, per_class):
                raise UserError(
                    f"{archive}: {split} holds {pos:,} positive and {len(examples) - pos:,} negative "
                    f"reviews, not {per_class:,} of each: the archive is damaged or another one "
                    "(data.per_class=null reads any aclImdb-style archive)"
                )
    return splits


def carve_validation(train: list[Example], size: int, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded random ``size`` examples of train become validation; (rest of train, validation)."""
    if not 0 < size < len(train):
        raise UserError(f"data.val_size={size}: must lie between 1 and {len(train) - 1} (the training set)")
    order = list(range(len(train)))
    random.Random(f"val:{seed}").shuffle(order)
    held = set(order[:size])
    return [ex for i, ex in enumerate(train) if i not in held], [train[i] for i in sorted(held)]


class LabelledTexts:
    """Splits {train, val, test: [(text, label id)]} of a labelled-text dataset: local ``files`` under
    ``dir``, else the hub dataset ``hub`` (name, text and label columns, validation split or null to
    carve ``val_size`` from train). With train_limit / eval_limit, a seeded sample of each split."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        files: dict[str, str],
        labels: list[str] | None,
        val_size: int | None = None,
        hub: dict | None = None,
        train_limit: int | None = None,
        eval_limit: int | None = None,
    ) -> None:
        self.name, self.dir, self.files, self.labels, self.val_size = name, dir, files, labels, val_size
        self.hub, self.train_limit, self.eval_limit = hub, train_limit, eval_limit

    def splits(self, seed: int = 0) -> dict[str, list[Named]]:
        splits = {
            split: [(text, self.name_of(label)) for text, label in examples]
            for split, examples in self.read(seed).items()
        }
        limits = {"train": self.train_limit, "val": self.eval_limit, "test": self.eval_limit}
        return {split: _sample(examples, limits[split], seed) for split, examples in splits.items()}

    def name_of(self, label: int | str) -> str:
        """The files' label id -> its name in ``labels`` (negative, positive)."""
        return self.labels[label] if isinstance(label, int) and self.labels else str(label)

    def read(self, seed: int) -> dict[str, list[Example]]:
        raise NotImplementedError

    def _from_hub(self, rel: str, seed: int) -> dict[str, list[Example]]:
        missing = missing_data(f"sentiment data {self.name!r}", self.dir, rel)
        if not self.hub:
            raise missing
        hub = self.hub
        ds = load_from_hub(hub["name"], missing)
        rows = {s: [(clean_review(r[hub["text"]]), int(r[hub["label"]])) for r in ds[s]] for s in ds}
        if hub.get("val_split"):
            return {"train": rows["train"], "val": rows[hub["val_split"]], "test": rows["test"]}
        train, val = carve_validation(rows["train"], self.val_size, seed)
        return {"train": train, "val": val, "test": rows["test"]}


class Sst2(LabelledTexts):
    """SST-2 style files: ``files.train`` / ``val`` / ``test``, each a GLUE .tsv or ``label text`` lines."""

    def read_file(self, path: str | Path) -> list[Named]:
        return [(text, self.name_of(label)) for text, label in read_labelled(path)]

    def read(self, seed: int) -> dict[str, list[Example]]:
        paths = {split: data_file(self.dir, rel) for split, rel in self.files.items()}
        if all(paths.values()):
            return {split: read_labelled(path) for split, path in paths.items()}
        return self._from_hub(self.files["train"], seed)


class ImdbReviews(LabelledTexts):
    """The aclImdb archive (``files.archive``); validation is a seeded ``val_size`` carved from train.
    ``per_class``: the reviews of each class in each split (12,500; null: no check)."""

    def __init__(self, *args, per_class: int | None = 12500, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.per_class = per_class

    def read(self, seed: int) -> dict[str, list[Example]]:
        archive = data_file(self.dir, self.files["archive"])
        if archive is None:
            return self._from_hub(self.files["archive"], seed)
        splits = read_imdb(archive, self.per_class)
        train, val = carve_validation(splits["train"], self.val_size, seed)
        return {"train": train, "val": val, "test": splits["test"]}


def _sample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded random ``limit`` examples in their original order (files are often sorted by label)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(f"limit:{seed}").sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


class TableTexts(LabelledTexts):
    """``data=table``: the user's CSV / TSV / JSON-lines files, text and label columns chosen by name
    (or number, with ``header=false``). Labels are whatever the label column holds (strings or
    integers, any number of classes); ``labels`` fixes their order, else the recipe sorts them.
    A split without a file is a seeded ``carve_fraction`` of train."""

    def __init__(
        self,
        *args,
        text_column: str | int = "text",
        label_column: str | int = "label",
        format: str | None = None,
        header: bool = True,
        carve_fraction: float = 0.1,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.text_column, self.label_column, self.format, self.header = (
            text_column,
            label_column,
            format,
            header,
        )
        self.carve_fraction = carve_fraction

    def read_file(self, path: str | Path) -> list[Named]:
        rows = read_columns(path, [self.text_column, self.label_column], self.format, self.header)
        return filled_pairs(path, rows, ("text", "label"))

    def read(self, seed: int) -> dict[str, list[Named]]:
        splits = {split: self.read_file(path) for split, path in split_files(self.files, self.dir).items()}
        return carve_missing(splits, self.carve_fraction, seed)
