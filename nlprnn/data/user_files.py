"""A user's own data files: where they are (``data.files.*``, relative to ``data.dir`` or absolute),
how their text is read (UTF-8, a spreadsheet's BOM allowed) and the splits they leave out (carved
from train, seeded).

Used by the generic readers (``data=conll``, ``data=table``, ``data=parallel``, ``data=text``) and,
for reading text, by every dataset reader.
"""

from __future__ import annotations

import gzip
import random
import zlib
from pathlib import Path

from nlprnn.errors import UserError

SPLITS = ("train", "val", "test")


def resolve(data_dir: str | None, rel: str, key: str) -> Path:
    """``rel`` as given if absolute (or found from the working directory), else under ``data_dir``;
    a missing file is an error naming the config key."""
    path = Path(rel).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:  # under data.dir, then from where the command runs (as a user would expect)
        candidates = ([Path(data_dir).expanduser() / path] if data_dir else []) + [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = " or ".join(str(c) for c in candidates)
    raise UserError(f"{key}={rel}: no such file ({tried})")


def read_utf8(path: str | Path) -> str:
    """The whole file as text (gunzipped when it ends in .gz), decoded by ``decode_utf8``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # missing, unreadable, not gzip, or truncated
        raise UserError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    return decode_utf8(raw, path)


def decode_utf8(raw: bytes, path: str | Path, line: int = 1, offset: int = 0) -> str:
    """``raw``, the bytes of ``path`` from byte ``offset`` (its line ``line``) on, as UTF-8 text. A BOM
    opening the file is dropped (spreadsheets write "UTF-8 with BOM"); other bytes are an error
    naming the file and line."""
    try:
        return raw.decode("utf-8-sig" if offset == 0 else "utf-8")
    except UnicodeDecodeError as exc:
        line += raw[: exc.start].count(b"\n")
        raise UserError(
            f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {offset + exc.start}); save it as UTF-8"
        ) from None


def split_files(files: dict | None, data_dir: str | None) -> dict[str, Path]:
    """{split: path} of the splits given in ``data.files`` (train is required)."""
    files = {k: v for k, v in (files or {}).items() if v}
    unknown = set(files) - set(SPLITS)
    if unknown:
        raise UserError(f"data.files.{sorted(unknown)[0]}: the splits are {', '.join(SPLITS)}")
    if "train" not in files:
        raise UserError("data.files.train is not set: give the training file (data.files.train=PATH)")
    return {split: resolve(data_dir, rel, f"data.files.{split}") for split, rel in files.items()}


def carve_missing(splits: dict[str, list], fraction: float, seed: int) -> dict[str, list]:
    """Every split of val / test that has no file gets a seeded random ``fraction`` of train
    (the rest stays train; the order within each split is the file's)."""
    missing = [s for s in ("val", "test") if s not in splits]
    if not missing:
        return splits
    train = splits["train"]
    take = round(fraction * len(train))
    if not 0 < fraction < 0.5 or take < 1 or take * len(missing) >= len(train):
        raise UserError(
            f"data.carve_fraction={fraction}: cannot carve {' and '.join(missing)} from "
            f"{len(train)} training examples; give data.files.val / data.files.test or more data"
        )
    order = list(range(len(train)))
    random.Random(f"carve:{seed}").shuffle(order)
    held = {}
    for i, split in enumerate(missing):
        held[split] = sorted(order[i * take : (i + 1) * take])
    used = {i for ids in held.values() for i in ids}
    out = {"train": [ex for i, ex in enumerate(train) if i not in used]}
    out.update({s: splits[s] for s in ("val", "test") if s in splits})
    out.update({s: [train[i] for i in ids] for s, ids in held.items()})
    return {s: out[s] for s in SPLITS}
