"""Fallback to the Hugging Face Hub when no local copy of a dataset exists."""

from __future__ import annotations

import os

from nlprnn.errors import UserError


def load_from_hub(path: str, failure: UserError, **kwargs):
    """``datasets.load_dataset(path, **kwargs)`` (``name=`` picks a configuration); on any failure
    raise ``failure`` (a clear how-to message).

    With HF_HUB_OFFLINE / HF_DATASETS_OFFLINE set we do not even try: the hub client would
    otherwise spend ~25 s retrying before it gives up.
    """
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise failure
    try:
        import datasets

        return datasets.load_dataset(path, **kwargs)
    except Exception as exc:  # network, auth, missing dataset: all mean "use local files"
        raise UserError(f"{failure} (hub error: {type(exc).__name__})") from exc
