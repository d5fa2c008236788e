"""Rows of a dataset through Hugging Face ``datasets``: any reader's ``data.hub`` (a hub name, a local
folder, or a builder such as ``csv`` / ``json`` / ``text`` / ``parquet`` with ``data_files``), used
when the reader's own files are not given or not found. The reader turns the rows into examples.

``data.hub``: {path, config (load_dataset's name=), data_files: {split: FILE}, splits: {our split:
the dataset's} (default train, validation, test), columns: {what the reader reads: the dataset's
column} (default: the same name)}.
"""

from __future__ import annotations

import os
from pathlib import Path

from nlprnn.data.files import resolve
from nlprnn.errors import UserError

LOCAL_BUILDERS = ("csv", "json", "text", "parquet", "arrow")  # read data_files, never the network
HUB_KEYS = ("path", "config", "data_files", "splits", "columns")


def load_from_hub(path: str, failure: UserError, **kwargs):
    """``datasets.load_dataset(path, **kwargs)``; on any failure raise ``failure`` (a clear how-to
    message) with the hub's error added.

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


def class_names(feature) -> list[str] | None:
    """Class names of a ClassLabel feature (or of a sequence of them), else None."""
    inner = getattr(feature, "feature", feature)
    return list(inner.names) if hasattr(inner, "names") else None


def as_names(values, names: list[str] | None):
    """A column's value with class ids as their names (also inside a sequence of ids)."""
    if names is None:
        return values
    return [names[v] for v in values] if isinstance(values, list) else names[values]


def checked_hub(hub: dict | None) -> dict | None:
    """``data.hub`` when it names a dataset (its path), else None; a key it does not know is an error."""
    unknown = sorted(set(hub or {}) - set(HUB_KEYS))
    if unknown:
        raise UserError(f"data.hub.{unknown[0]}: not a key of data.hub ({', '.join(HUB_KEYS)})")
    return hub if hub and hub.get("path") else None


def hub_rows(hub: dict, wanted: tuple[str, ...], data_dir: str | None, why: str = "") -> dict[str, list]:
    """{our split: [tuple of the ``wanted`` columns' values]} of the dataset ``hub`` describes; a split
    the dataset lacks is left out (the reader carves it from train). ``why``: why the hub is used."""
    kwargs = {"name": hub["config"]} if hub.get("config") else {}
    files = {k: v for k, v in (hub.get("data_files") or {}).items() if v}
    if files:  # local files: relative to data.dir or absolute, as everywhere
        kwargs["data_files"] = {
            s: str(resolve(data_dir, f, f"data.hub.data_files.{s}")) for s, f in files.items()
        }
    failure = UserError(
        f"{why + ', and ' if why else ''}data.hub.path={hub['path']!r} is not loadable (the Hugging Face "
        "Hub is not reachable from here, or the name is wrong); for local files use the reader's "
        "data.files.train=FILE (or data.hub.path=csv|json|text|parquet with data.hub.data_files.train=FILE)"
    )
    ds = load_from_hub(hub["path"], failure, **kwargs)
    theirs = {"train": "train", "val": "validation", "test": "test", **(hub.get("splits") or {})}
    if theirs["train"] not in ds:
        raise UserError(
            f"data.hub.splits.train={theirs['train']!r}: the dataset's splits are {', '.join(ds)}"
        )
    columns = [(hub.get("columns") or {}).get(c) or c for c in wanted]
    out = {}
    for split, their_split in theirs.items():
        if their_split in ds:
            rows = ds[their_split]
            missing = [c for c in columns if c not in rows.column_names]
            if missing:
                raise UserError(
                    f"data.hub.columns: no column {missing[0]!r} in {hub['path']} "
                    f"(columns: {', '.join(rows.column_names)})"
                )
            values = []
            for column in columns:
                names = class_names(rows.features[column])
                values.append([as_names(v, names) for v in rows[column]])
            out[split] = list(zip(*values))
    return out
