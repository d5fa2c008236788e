"""The base of the format readers (table, conll, parallel, text, imdb): a subclass says how one file
reads (``read_file``) and how a hub dataset's rows become its examples (``from_rows``); a dataset
(``conf/data/sst2.yaml``) is a preset of one of them: where its files are, which columns, which hub
copy to use when the files are not there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from nlprnn.data.files import SPLITS, carve_missing, check_data_dir, given_files, resolve, sample
from nlprnn.data.hub import checked_hub, hub_rows
from nlprnn.errors import UserError


class StreamedSplit:
    """A training split read from its files again on each pass instead of held in memory
    (``data.stream=true``): iterating it yields the examples one at a time; ``files`` are what it
    reads (a token store's key names them)."""

    def __init__(self, files: list[Path], examples: Callable[[], Iterator]) -> None:
        self.files, self._examples = files, examples

    def __iter__(self) -> Iterator:
        return self._examples()


class Reader:
    """Splits ``{split: [example]}`` of one dataset in one file format: the ``files`` found (under
    ``dir`` or absolute), else the Hugging Face dataset ``hub`` ({path, config, splits, columns,
    data_files}: see ``nlprnn.data.hub``); a missing val / test carved from train; then a seeded
    random ``train_limit`` / ``eval_limit`` examples of each split. ``stream``: the training file is
    not read into memory but streamed (``StreamedSplit``) for the recipe to tokenize into a token store
    (``nlprnn.data.token_store``), for corpora larger than memory; readers that stream say so with
    ``stream_file``."""

    columns: tuple[str, ...] = ()  # what a hub row must hold for ``from_rows``

    def __init__(
        self,
        name: str,
        dir: str | None,
        files: dict | None = None,
        hub: dict | None = None,
        carve_fraction: float = 0.1,
        train_limit: int | None = None,
        eval_limit: int | None = None,
        stream: bool = False,
    ) -> None:
        self.name, self.dir, self.files = name, dir, dict(files or {})
        self.stream = stream
        self.hub = checked_hub(hub)  # the user configs list a hub with path null: none
        self.carve_fraction, self.train_limit, self.eval_limit = carve_fraction, train_limit, eval_limit

    def splits(self, seed: int = 0) -> dict[str, list]:
        if self.stream:
            return self.streamed_splits(seed)
        splits = self.carve(self.read(), seed)
        limits = {"train": self.train_limit}
        return {s: sample(ex, limits.get(s, self.eval_limit), seed) for s, ex in splits.items()}

    def read(self) -> dict[str, list]:
        """The files' examples; the hub's when the training file is not given or not found."""
        if self.hub and not self.has_train_file():
            local = self.files.get("train")
            where = f"data.dir={self.dir}" if self.dir else "data.dir (unset)"
            how = "point NLPRNN_DATA (or data.dir) at the data folder"
            why = f"data.files.train={local} is not under {where}: {how}" if local else ""
            rows = hub_rows(self.hub, self.columns, self.dir, why)
            return {split: self.from_rows(split_rows) for split, split_rows in rows.items()}
        given = given_files(self.files)
        return {
            split: self.read_file(self.locate(rel, f"data.files.{split}"), split)
            for split, rel in given.items()
        }

    def streamed_splits(self, seed: int = 0, carves: bool = False) -> dict:
        """{train: StreamedSplit, evaluation split: examples}: the training file streamed, the others
        read whole (they are small). Splits cannot be carved or sampled from a stream, unless the
        reader ``carves`` them itself (the text reader cuts them from the end of the text)."""
        files = given_files(self.files)
        missing = [s for s in SPLITS[1:] if s not in files]
        if (missing and not carves) or self.train_limit:
            why = f"no data.files.{missing[0]}" if missing and not carves else "data.train_limit is set"
            raise UserError(
                f"data.stream=true reads the training file as a stream, so it cannot carve or sample "
                f"splits from it ({why}): give data.files.val and data.files.test, and no train_limit"
            )
        train = self.locate(files["train"], "data.files.train")
        out = {"train": StreamedSplit(*self.stream_file(train))}
        for split, rel in files.items():
            if split != "train":
                examples = self.read_file(self.locate(rel, f"data.files.{split}"), split)
                out[split] = sample(examples, self.eval_limit, seed)
        return out

    def stream_file(self, path) -> tuple[list[Path], Callable[[], Iterator]]:
        """(the files read, a function returning a fresh iterator over the examples of ``path``)."""
        raise UserError(f"data={self.name}: this reader cannot stream its files (data.stream=true)")

    def locate(self, rel: str, key: str = "data.files.test") -> Path:
        """Where the file ``rel`` (the value of config key ``key``) is."""
        return resolve(self.dir, rel, key)

    def has_train_file(self) -> bool:
        check_data_dir(self.dir)  # a mistyped data.dir is that, not a reason to try the hub
        try:
            return bool(self.files.get("train")) and bool(
                self.locate(self.files["train"], "data.files.train")
            )
        except UserError:
            return False

    def carve(self, splits: dict[str, list], seed: int) -> dict[str, list]:
        return carve_missing(splits, self.carve_fraction, seed)

    def read_file(self, path: Path, split: str = "test") -> list:
        """One file's examples (``split``: which split it is, for readers that read them differently)."""
        raise NotImplementedError

    def from_rows(self, rows: list[tuple]) -> list:
        """A hub split's rows (the values of ``columns``, class ids as names) as examples."""
        raise NotImplementedError
