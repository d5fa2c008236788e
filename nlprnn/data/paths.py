"""Where the datasets live (``data.dir`` in the config, defaulting to $NLPRNN_DATA), and how much
of them the tests read."""

from __future__ import annotations

from pathlib import Path

from nlprnn.errors import UserError


def data_file(data_dir: str | None, *parts: str) -> Path | None:
    """Path of a dataset file under the data root, or None when there is no local copy."""
    if not data_dir:
        return None
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise UserError(
            f"data.dir={data_dir!r} is not a directory; point data.dir (or $NLPRNN_DATA) "
            "at the folder holding charlm/, translation/, ner/, sentiment/"
        )
    path = root.joinpath(*parts)
    return path if path.exists() else None


def missing_data(what: str, data_dir: str | None, rel: str) -> UserError:
    """The message for a dataset found neither locally nor on the Hugging Face Hub."""
    where = f"{data_dir}/{rel}" if data_dir else f"$NLPRNN_DATA/{rel}"
    return UserError(
        f"{what} not found at {where} and not reachable on the Hugging Face Hub. "
        f"Set NLPRNN_DATA=/path/to/data (or pass data.dir=/path/to/data) so that {rel} exists."
    )


def first_n(splits: dict, train_limit: int | None, eval_limit: int | None) -> dict:
    """The first ``train_limit`` training examples and ``eval_limit`` of every other split (tests)."""
    return {
        name: examples[: train_limit if name == "train" else eval_limit]
        if (train_limit if name == "train" else eval_limit)
        else examples
        for name, examples in splits.items()
    }
