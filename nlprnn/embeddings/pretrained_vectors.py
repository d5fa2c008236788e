"""The user's own word vectors: a word2vec / GloVe text file (``.txt`` or ``.txt.gz``, with or
without word2vec's ``COUNT DIM`` header line) copied into a model's embedding table.

Only the vectors of the model's vocabulary are kept while reading, so a multi-GB file costs the
memory of the vocabulary, not of the file. A vocabulary word is matched exactly first, then
case-insensitively (the first entry of the file wins, as files list frequent forms first).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from nlprnn.data.files import decode_utf8, resolve
from nlprnn.errors import UserError


def vocabulary_of(tokenizer) -> list[str]:
    """The token strings of a word tokenizer or a Vocab (id order)."""
    vocab = getattr(tokenizer, "vocab", tokenizer)
    if not hasattr(vocab, "itos"):
        raise UserError(
            "embeddings=file needs a word vocabulary (tokenizer=word); subword pieces have no word vectors"
        )
    return list(vocab.itos)


def read_vectors(path: Path, words: Sequence[str]) -> tuple[dict[str, torch.Tensor], int]:
    """({vocabulary word: vector}, dim) from a word2vec/GloVe text file, matched exactly or by
    lowercase form; a line with another number of values stops with the file and line number."""
    exact = set(words)
    by_lower: dict[str, list[str]] = {}
    for w in words:
        by_lower.setdefault(w.lower(), []).append(w)
    found: dict[str, torch.Tensor] = {}
    lowered: dict[str, torch.Tensor] = {}
    dim = None
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            offset = 0
            for lineno, raw in enumerate(f, 1):  # bytes, decoded a line at a time: errors name the line
                line = decode_utf8(raw, path, lineno, offset)
                offset += len(raw)
                parts = line.rstrip("\r\n").rstrip(" ").split(" ")
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec's header: COUNT DIM
                if len(parts) < 2:
                    if line.strip():
                        raise UserError(f"{path}:{lineno}: expected 'word v1 v2 ...', got {line[:60]!r}")
                    continue
                dim = dim or len(parts) - 1
                if len(parts) - 1 != dim:
                    raise UserError(f"{path}:{lineno}: {len(parts) - 1} values where line 1 had {dim}")
                word = parts[0]
                wanted = word in exact and word not in found
                if not wanted and word.lower() not in by_lower:
                    continue
                try:
                    vector = torch.tensor([float(v) for v in parts[1:]])
                except ValueError:
                    raise UserError(f"{path}:{lineno}: not a number among the values of {word!r}") from None
                if wanted:
                    found[word] = vector
                lowered.setdefault(word.lower(), vector)
    except (OSError, EOFError) as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if dim is None:
        raise UserError(f"{path}: no vectors found")
    for lower, vector in lowered.items():
        for w in by_lower.get(lower, []):
            found.setdefault(w, vector)
    return found, dim


class PretrainedInit:
    """``embeddings=file``: rows of the embedding table from a vectors file (``path``, relative to
    data.dir or absolute), rescaled to the table's own standard deviation so that found and
    unfound words start alike; the log line gives the coverage."""

    def __init__(self, path: str | None = None) -> None:
        if not path:
            raise UserError("embeddings.path is not set: give the vectors file (embeddings.path=FILE)")
        self.path = path

    def __call__(self, table: torch.Tensor, tokenizer, train_texts, data_dir, seed: int = 0, held_out=()):
        start = time.perf_counter()
        path = resolve(data_dir, self.path, "embeddings.path")
        words = vocabulary_of(tokenizer)
        found, dim = read_vectors(path, words[2:])  # not <pad>, <unk>
        if dim != table.size(1):
            raise UserError(
                f"embeddings.path={self.path}: vectors of {dim} dimensions, but the model's embeddings have "
                f"{table.size(1)}: set model.emb_dim={dim}"
            )
        rows = [i for i, w in enumerate(words) if w in found]
        if rows:
            vectors = torch.stack([found[words[i]] for i in rows])
            vectors = vectors / vectors.std().clamp(min=1e-12) * table.std()
            with torch.no_grad():
                table[rows] = vectors.to(table.device, table.dtype)
        return (
            f"embeddings: {path.name}: vectors for {len(rows):,} of {len(words) - 2:,} words "
            f"({100 * len(rows) / max(1, len(words) - 2):.1f}% coverage, matched exactly or "
            f"case-insensitively) in {time.perf_counter() - start:.0f} s"
        )
