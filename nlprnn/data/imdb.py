"""The IMDB-style archive (``data=imdb``): aclImdb's .tar.gz read directly, 25k training and 25k test
reviews labelled by folder (pos / neg); validation is a seeded ``val_size`` carved from train.
"""

from __future__ import annotations

import random
import re
import tarfile
import zlib
from pathlib import Path

from nlprnn.data.reader import Reader
from nlprnn.errors import UserError

Example = tuple[str, int]  # review, 1 positive / 0 negative

_IMDB_MEMBER = re.compile(r"^aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")
FOLDERS = ("neg", "pos")  # label 0, label 1
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


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
                    splits[match[1]].append((clean_review(text), FOLDERS.index(match[2])))
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


class ImdbArchive(Reader):
    """The aclImdb ``archive`` (under ``dir`` or absolute), else the hub dataset ``hub`` (its text and
    label columns; a validation split it lacks is carved like the archive's). ``labels``: the names
    of label 0 and 1; ``per_class``: the reviews of each class in each split (12,500; null: any
    aclImdb-style archive)."""

    columns = ("text", "label")

    def __init__(
        self,
        name: str,
        dir: str | None,
        archive: str,
        labels: list[str] = ("negative", "positive"),
        val_size: int = 2500,
        per_class: int | None = 12500,
        hub: dict | None = None,
        train_limit: int | None = None,
        eval_limit: int | None = None,
    ) -> None:
        super().__init__(name, dir, {"train": archive}, hub, train_limit=train_limit, eval_limit=eval_limit)
        self.labels, self.val_size, self.per_class = list(labels), val_size, per_class

    def read_archive(self, path: Path) -> dict[str, list[tuple[str, str]]]:
        splits = read_imdb(path, self.per_class)
        return {s: [(text, self.labels[label]) for text, label in ex] for s, ex in splits.items()}

    def read(self) -> dict[str, list[tuple[str, str]]]:
        if self.hub and not self.has_train_file():
            return super().read()
        return self.read_archive(self.locate(self.files["train"], "data.archive"))  # every split

    def from_rows(self, rows: list[tuple]) -> list[tuple[str, str]]:
        """Hub rows: labels named as the archive's folders (neg, pos: stanfordnlp/imdb) or 0 / 1."""

        def name(label) -> str:
            return self.labels[FOLDERS.index(label) if label in FOLDERS else int(label)]

        return [(clean_review(str(text)), name(label)) for text, label in rows]

    def carve(self, splits: dict[str, list], seed: int) -> dict[str, list]:
        if "val" in splits:
            return splits
        train, val = carve_validation(splits["train"], self.val_size, seed)
        return {"train": train, "val": val, "test": splits["test"]}
