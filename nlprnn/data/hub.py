"""Datasets through Hugging Face ``datasets``: the fallback when a dataset has no local copy, and
``data=hub`` (any recipe on a dataset by name, or on local files through the ``csv`` / ``json`` /
``text`` builders, with its columns mapped to what the recipe reads)."""

from __future__ import annotations

import os
from pathlib import Path

from nlprnn.data.paths import first_n
from nlprnn.data.user_files import SPLITS, carve_missing, resolve
from nlprnn.errors import UserError

LOCAL_BUILDERS = ("csv", "json", "text", "parquet", "arrow")  # read data_files, never the network
# what each recipe reads, and the columns data.columns must name for it
COLUMNS = {
    "sentiment": ("text", "label"),
    "ner": ("tokens", "tags"),
    "translation": ("src", "tgt"),
    "char_lm": ("text",),
}


def load_from_hub(path: str, failure: UserError, **kwargs):
    """``datasets.load_dataset(path, **kwargs)`` (``name=`` picks a configuration); on any failure
    raise ``failure`` (a clear how-to message).

    With HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set we do not even try a hub name: the hub client
    would otherwise spend ~25 s retrying before it gives up. Local builders (csv, json, text, ...)
    and local folders are always tried.
    """
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    if offline and path not in LOCAL_BUILDERS and not Path(path).expanduser().exists():
        raise failure
    try:
        import datasets

        return datasets.load_dataset(path, **kwargs)
    except Exception as exc:  # network, auth, missing dataset: all mean "use local files"
        raise UserError(f"{failure} (hub error: {type(exc).__name__}: {str(exc)[:200]})") from exc


def _names(feature) -> list[str] | None:
    """Class names of a ClassLabel feature (or of a sequence of them), else None."""
    inner = getattr(feature, "feature", feature)
    return list(inner.names) if hasattr(inner, "names") else None


class HubDataset:
    """``data=hub``: ``path`` (a hub name, a local folder, or a builder such as ``csv`` with
    ``data_files``) loaded with ``datasets.load_dataset``; ``splits`` maps train / val / test to
    the dataset's split names (a missing one is carved from train); ``columns`` maps what the
    recipe (``task``) reads to the dataset's column names; ClassLabel ids become their names."""

    def __init__(
        self,
        name: str,
        dir: str | None,
        task: str,
        path: str,
        config: str | None = None,
        data_files: dict | None = None,
        splits: dict | None = None,
        columns: dict | None = None,
        scheme: str = "iob2",
        src_lang: str = "src",
        tgt_lang: str = "tgt",
        carve_fraction: float = 0.1,
        max_len: int | None = 100,
        prompt: str = "",
        labels: list[str] | None = None,  # read by the sentiment recipe itself
        train_limit: int | None = None,
        eval_limit: int | None = None,
    ) -> None:
        if task not in COLUMNS:
            raise UserError(f"data=hub: recipe {task!r} does not read hub datasets")
        self.name, self.dir, self.task, self.path, self.config = name, dir, task, path, config
        self.data_files = {k: v for k, v in (data_files or {}).items() if v}  # the config lists null ones
        self.scheme, self.carve_fraction = scheme, carve_fraction
        self.split_names = {"train": "train", "val": "validation", "test": "test", **(splits or {})}
        self.columns = {c: (columns or {}).get(c) or c for c in COLUMNS[task]}
        self.src_lang, self.tgt_lang, self.max_len, self.prompt = src_lang, tgt_lang, max_len, prompt
        self.train_limit, self.eval_limit = train_limit, eval_limit

    def load(self):
        kwargs = {"name": self.config} if self.config else {}
        if self.data_files:  # local files: relative to data.dir or absolute, as everywhere
            kwargs["data_files"] = {
                split: str(resolve(self.dir, rel, f"data.data_files.{split}"))
                for split, rel in self.data_files.items()
            }
        failure = UserError(
            f"data.path={self.path!r}: not loadable (the Hugging Face Hub is not reachable from here, "
            "or the name is wrong); for local files use data.path=csv|json|text with "
            "data.data_files.train=FILE"
        )
        return load_from_hub(self.path, failure, **kwargs)

    def splits(self, seed: int = 0) -> dict:
        ds = self.load()
        out = {}
        for split in SPLITS:
            hub_split = self.split_names.get(split)
            if hub_split and hub_split in ds:
                out[split] = self.examples(ds[hub_split])
            elif split == "train":
                raise UserError(f"data.splits.train={hub_split!r}: the dataset's splits are {', '.join(ds)}")
        if self.task == "char_lm":
            return self._text_splits(out)
        return first_n(carve_missing(out, self.carve_fraction, seed), self.train_limit, self.eval_limit)

    def examples(self, rows) -> list:
        """One split's rows as the recipe's examples."""
        missing = [c for c in self.columns.values() if c not in rows.column_names]
        if missing:
            raise UserError(
                f"data.columns: no column {missing[0]!r} in {self.path} "
                f"(columns: {', '.join(rows.column_names)})"
            )
        col = self.columns
        if self.task == "sentiment":
            names = _names(rows.features[col["label"]])
            return [
                (str(t), names[y] if names else str(y)) for t, y in zip(rows[col["text"]], rows[col["label"]])
            ]
        if self.task == "ner":
            from nlprnn.data.conll import to_iob2

            names = _names(rows.features[col["tags"]])
            return [
                (list(tokens), to_iob2([names[t] if names else str(t) for t in tags], self.scheme))
                for tokens, tags in zip(rows[col["tokens"]], rows[col["tags"]])
                if tokens
            ]
        if self.task == "translation":
            return [(str(s).strip(), str(t).strip()) for s, t in zip(rows[col["src"]], rows[col["tgt"]])]
        # the text builder keeps the BOM opening a file; no line of text starts with one otherwise
        return "".join(line.removeprefix("\ufeff") + "\n" for line in rows[col["text"]])

    def _text_splits(self, out: dict) -> dict[str, str]:
        """Char LM: a missing split is the end of the training text (contiguous)."""
        train = out["train"]
        for split in ("test", "val"):
            if split not in out:
                k = int(self.carve_fraction * len(train))
                train, out[split] = train[:-k], train[-k:]
        return {"train": train, "val": out["val"], "test": out["test"]}
