"""What every reader shares: where a file is (``data.files.*``, relative to ``data.dir`` or absolute),
how its text is read (UTF-8, a spreadsheet's BOM allowed, ``.gz`` unpacked), and the one policy for
splits: a split without a file is carved from train (seeded), then ``train_limit`` / ``eval_limit``
keep a seeded random N of each split, in file order (``nlprnn.data.reader`` applies it).
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nlprnn.errors import UserError

SPLITS = ("train", "val", "test")  # any other key of data.files is one more evaluation split


def check_data_dir(data_dir: str | None) -> None:
    """A data.dir that is set must be a folder (a typo there would otherwise read as missing files)."""
    if data_dir and not Path(data_dir).expanduser().is_dir():
        raise UserError(
            f"data.dir={data_dir!r} is not a directory; point data.dir (or $NLPRNN_DATA) "
            "at the folder holding charlm/, translation/, ner/, sentiment/"
        )


def resolve(data_dir: str | None, rel: str, key: str) -> Path:
    """``rel`` as given if absolute (or found from the working directory), else under ``data_dir``;
    a missing file is an error naming the config key (and $NLPRNN_DATA when no data.dir is set)."""
    check_data_dir(data_dir)
    path = Path(rel).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:  # under data.dir, then from where the command runs (as a user would expect)
        candidates = ([Path(data_dir).expanduser() / path] if data_dir else []) + [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = " or ".join(str(c) for c in candidates)
    hint = "" if data_dir or path.is_absolute() else "; set NLPRNN_DATA=/path/to/data (or data.dir=...)"
    raise UserError(f"{key}={rel}: no such file ({tried}){hint}")


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


def iter_lines(path: str | Path) -> Iterator[str]:
    """The lines of a UTF-8 file (plain or ``.gz``) one at a time, without their ``\\n``: a stream for
    files larger than memory. Split on ``\\n`` only, like ``read_utf8(path).split("\\n")`` without the
    empty string after a final newline; errors name the file and line as ``read_utf8``'s do."""
    path = Path(path)
    with _text_errors(path), gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
        offset = 0
        for lineno, raw in enumerate(f, 1):
            yield decode_utf8(raw.removesuffix(b"\n"), path, lineno, offset)
            offset += len(raw)


def iter_text(path: str | Path, chunk_chars: int = 1 << 24) -> Iterator[str]:
    """The text of a UTF-8 file (plain or ``.gz``, a BOM dropped) in chunks of ``chunk_chars``
    characters, with CRLF and CR newlines read as ``\\n`` (universal newlines)."""
    with _text_errors(path), _open_text(path, newline=None) as f:
        while chunk := f.read(chunk_chars):
            yield chunk


def iter_text_lines(path: str | Path) -> Iterator[str]:
    """The lines of a UTF-8 file (plain or ``.gz``, a BOM dropped) with their line endings, as
    ``io.StringIO(read_utf8(path), newline="")`` gives them: what the csv module reads."""
    with _text_errors(path), _open_text(path, newline="") as f:
        yield from f


def _open_text(path: str | Path, newline: str | None):
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", newline=newline)


@contextmanager
def _text_errors(path: str | Path) -> Iterator[None]:
    """Reading errors of a streamed file (missing, not gzip, truncated, not UTF-8) as one-line errors
    naming it."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


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


def given_files(files: dict | None) -> dict[str, str]:
    """{split: file as given} of the splits ``data.files`` names (train is required)."""
    files = {k: v for k, v in (files or {}).items() if v}
    if "train" not in files:
        raise UserError(
            "data.files.train is not set: give the training file (data.files.train=PATH) "
            "or a Hugging Face dataset (data.hub.path=NAME)"
        )
    return files


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
    held = {split: sorted(order[i * take : (i + 1) * take]) for i, split in enumerate(missing)}
    used = {i for ids in held.values() for i in ids}
    out = {**splits, "train": [ex for i, ex in enumerate(train) if i not in used]}
    out.update({s: [train[i] for i in ids] for s, ids in held.items()})
    return in_order(out)


def in_order(splits: dict) -> dict:
    """train, val, test first, then any other evaluation split in the order given."""
    return {**{s: splits[s] for s in SPLITS if s in splits}, **splits}


def sample(examples: list, limit: int | None, seed: int) -> list:
    """A seeded random ``limit`` examples in their original order (files are often sorted by label)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(f"limit:{seed}").sample(range(len(examples)), limit))
    return [examples[i] for i in keep]
