"""Tokenized corpora on disk, read through memory maps: how a corpus larger than memory trains.

A store is a folder under the disk cache (``nlprnn.data.disk_cache.cache_dir() / kind / key``) with,
for each column (``src`` and ``tgt`` of translation pairs, ``text`` of a char LM's one long text), the
ids of every row back to back (``COLUMN.ids``, a raw array of the smallest unsigned type that holds the
vocabulary) and where each row starts (``COLUMN.offsets.npy``), plus ``manifest.json``. Why numpy
memory maps and not Arrow through ``datasets``: the rows are plain id arrays that a batch slices, a
memory map gives them without a copy or a conversion, and the operating system keeps only the pages a
batch touches in memory, so the peak memory of a run does not grow with the corpus.

The key is a fingerprint of everything the ids depend on (the files' paths, sizes and modification
times, the tokenizer, the reader's settings): the first run tokenizes once, later runs (every seed of
a sweep) open the store at once. A store is written into a temporary folder and renamed whole, so a
killed run never leaves half a store; deleting the cache folder is always safe.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from nlprnn.data.disk_cache import cache_dir
from nlprnn.errors import UserError


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type holding ids below ``vocab_size``."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"a vocabulary of {vocab_size} ids does not fit 32 bits")


def file_identity(paths: Iterable[Path]) -> list[str]:
    """What a store's key says of its source files: path, size and modification time of each."""
    out = []
    for path in paths:
        stat = Path(path).stat()
        out.append(f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return out


def in_chunks(examples: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` consecutive examples of a stream (the last may be shorter)."""
    stream = iter(examples)
    while chunk := list(itertools.islice(stream, size)):
        yield chunk


class TokenStore(Sequence):
    """A store opened read-only: ``store[i]`` is row i as a tuple of id arrays (one per column,
    views into the memory map), ``store.lengths(column)`` every row's length, ``store.meta`` what the
    writer recorded (e.g. the vocabulary)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        manifest = json.loads((self.folder / "manifest.json").read_text(encoding="utf-8"))
        self.columns, self.meta = manifest["columns"], manifest.get("meta", {})
        dtype = np.dtype(manifest["dtype"])
        self.offsets = {c: np.load(self.folder / f"{c}.offsets.npy") for c in self.columns}
        self.ids = {c: self._map(self.folder / f"{c}.ids", dtype) for c in self.columns}

    @staticmethod
    def _map(path: Path, dtype: np.dtype) -> np.ndarray:
        if path.stat().st_size == 0:  # np.memmap refuses empty files
            return np.zeros(0, dtype)
        return np.memmap(path, dtype=dtype, mode="r")

    def __len__(self) -> int:
        return len(self.offsets[self.columns[0]]) - 1

    def __getitem__(self, i: int) -> tuple[np.ndarray, ...]:
        return tuple(self.ids[c][self.offsets[c][i] : self.offsets[c][i + 1]] for c in self.columns)

    def lengths(self, column: str) -> np.ndarray:
        return np.diff(self.offsets[column])

    def column(self, name: str) -> np.ndarray:
        """Every id of a column, back to back (a char LM's whole text)."""
        return self.ids[name]


class TokenStoreWriter:
    """Appends rows, chunk by chunk, to a store being written (see ``token_store``)."""

    def __init__(self, folder: Path, columns: Sequence[str], dtype: np.dtype) -> None:
        self.folder, self.columns, self.dtype = folder, list(columns), dtype
        self.files = {c: open(folder / f"{c}.ids", "wb") for c in self.columns}  # noqa: SIM115
        self.lengths: dict[str, list[np.ndarray]] = {c: [] for c in self.columns}

    def append(self, rows: Sequence[Sequence[Sequence[int] | np.ndarray]]) -> None:
        """Rows of ids, one sequence per column each."""
        for j, column in enumerate(self.columns):
            seqs = [row[j] for row in rows]
            self.lengths[column].append(np.fromiter((len(s) for s in seqs), np.int64, len(seqs)))
            if seqs:
                flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
                self.files[column].write(flat.astype(self.dtype).tobytes())

    def close(self, meta: dict) -> None:
        for column in self.columns:
            self.files[column].close()
            lengths = np.concatenate([np.zeros(1, np.int64), *self.lengths[column]])
            np.save(self.folder / f"{column}.offsets.npy", np.cumsum(lengths))
        manifest = {"columns": self.columns, "dtype": self.dtype.name, "meta": meta}
        (self.folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def token_store(kind: str, key: str, columns: Sequence[str], vocab_size: int | None, write) -> TokenStore:
    """The store ``kind/key``: opened when it exists, else written by ``write(writer)`` (which
    appends the rows and returns the ``meta`` dict to record) and then opened. ``vocab_size`` picks
    the id type; None: ``write`` sets ``writer.dtype`` before its first row."""
    folder = cache_dir() / kind / key
    if (folder / "manifest.json").is_file():
        return TokenStore(folder)
    tmp = folder.with_name(f".{key}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot write the token cache under {folder.parent} ({exc}); set NLPRNN_CACHE"
        ) from None
    try:
        writer = TokenStoreWriter(tmp, columns, id_dtype(vocab_size or 1 << 32))
        writer.close(write(writer) or {})
        try:
            os.replace(tmp, folder)
        except OSError:  # another run (a sweep's job) wrote the same store first: use that one
            if not (folder / "manifest.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return TokenStore(folder)
