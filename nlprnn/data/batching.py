"""Batches of variable-length examples: padding, and length bucketing to keep padding small.

``make_batches`` only deals in example indices, so it serves translation pairs, tagged sentences and
classified texts alike; ``pad_batch`` then turns the chosen sequences into one (B, T) tensor.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import torch

from nlprnn.errors import UserError


class IndexedBatches:
    """A list of index batches over ``examples``, turned into tensors on access by ``collate(rows)``:
    the trainer's view of one epoch for every recipe that batches with ``make_batches``."""

    def __init__(self, examples: Sequence, batches: list[list[int]], collate) -> None:
        self.examples, self.batches, self.collate = examples, batches, collate

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        return self.collate([self.examples[j] for j in self.batches[i]])


def pad_batch(seqs: Sequence[Sequence[int]] | Sequence[torch.Tensor], pad_id: int):
    """Sequences of ids -> (tokens (B, T) long padded with ``pad_id`` on the right, lengths (B,) long)."""
    if not len(seqs):
        raise ValueError("pad_batch needs at least one sequence")
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    tokens = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        tokens[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return tokens, lengths


def _cut(
    order: list[int], sizes: list[int], max_tokens: int | None, batch_size: int | None
) -> list[list[int]]:
    """Consecutive runs of ``order`` (``sizes``: each one's size) with len <= batch_size and
    len * max(size) <= max_tokens. An example longer than max_tokens on its own still gets a batch (of one).
    """
    batches, cur, longest = [], [], 0
    for i, size in zip(order, sizes):
        new_longest = max(longest, size)
        full = (batch_size and len(cur) >= batch_size) or (
            max_tokens and (len(cur) + 1) * new_longest > max_tokens
        )
        if cur and full:
            batches.append(cur)
            cur, new_longest = [], size
        cur.append(i)
        longest = new_longest
    if cur:
        batches.append(cur)
    return batches


def _length_keys(lengths) -> np.ndarray:
    """(N, K) int64: example i's length, or its tuple of K lengths."""
    if isinstance(lengths, np.ndarray):
        return lengths.reshape(len(lengths), -1).astype(np.int64, copy=False)
    return np.array([k if isinstance(k, tuple) else (k,) for k in lengths], dtype=np.int64)


def _by_length(examples: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``examples`` sorted by their keys (first entry first), ties kept in the given order."""
    return examples[np.lexsort(keys[examples].T[::-1])]


def make_batches(
    lengths: Sequence[int] | Sequence[tuple[int, ...]] | np.ndarray,
    max_tokens: int | None = None,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    chunk_batches: int = 100,
) -> list[list[int]]:
    """Example indices grouped into batches of similar length; every index appears exactly once.

    ``lengths[i]`` is example i's length, or a tuple such as (source length, target length): examples are
    sorted by the tuple and the budget applies to its largest entry (an (N, K) array holds the same for
    a corpus too large for Python tuples). A batch holds at most ``batch_size`` examples and at most
    ``max_tokens`` padded tokens per side (B * longest <= max_tokens); give either or both.

    shuffle=True (training): shuffle all examples, sort by length inside chunks of about ``chunk_batches``
    batches, cut, then shuffle the batch order: the same batches for the same (seed, epoch), new ones for
    the next epoch. shuffle=False (evaluation): sort everything by length, batches in length order; the
    indices tell the caller where each output belongs in the original order.
    Within a batch, indices run longest first (ready for ``pack_padded_sequence``).
    """
    if not max_tokens and not batch_size:
        raise UserError("batching needs max_tokens or batch_size (or both)")
    if not len(lengths):
        return []
    keys = _length_keys(lengths)
    size = keys.max(axis=1)
    if not shuffle:
        order = _by_length(np.arange(len(keys)), keys)
        return [b[::-1] for b in _cut(order.tolist(), size[order].tolist(), max_tokens, batch_size)]
    rng = random.Random(f"{seed}:{epoch}")  # str seeds are hashed with sha512: stable across Python versions
    order = list(range(len(keys)))
    rng.shuffle(order)
    mean = max(1, round(int(size.sum()) / len(size)))
    per_batch = min(n for n in (batch_size, max_tokens and max(1, max_tokens // mean)) if n)
    chunk = per_batch * chunk_batches  # examples per bucketing chunk
    batches = []
    for start in range(0, len(order), chunk):
        part = _by_length(np.array(order[start : start + chunk]), keys)
        batches += [b[::-1] for b in _cut(part.tolist(), size[part].tolist(), max_tokens, batch_size)]
    rng.shuffle(batches)
    return batches


class BpttBatches:
    """Consecutive (input, target) windows over B parallel streams of one long id sequence.

    The sequence (after dropping ``offset`` leading ids) is cut into ``batch_size`` equal streams,
    laid side by side as rows; batch i is columns [i*bptt, (i+1)*bptt) of that (B, N/B) grid, so
    row b of batch i+1 continues row b of batch i and a carried hidden state stays valid.
    With ``world_size`` > 1, rank r keeps rows [r*B/W, (r+1)*B/W): the global batch is sharded.

    batches[i] -> x (B/W, t) long, y (B/W, t) long with y = x shifted by one; t <= bptt.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        batch_size: int,
        bptt: int,
        offset: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size % world_size:
            raise UserError(f"batch_size={batch_size} must divide by the {world_size} processes")
        ids = ids[offset:]
        cols = len(ids) // batch_size
        if cols < 2:
            raise UserError(f"text of {len(ids)} tokens is too short for batch_size={batch_size}")
        grid = ids[: cols * batch_size].view(batch_size, cols)
        per_rank = batch_size // world_size
        self.grid = grid[rank * per_rank : (rank + 1) * per_rank].contiguous()
        self.bptt = bptt

    def __len__(self) -> int:
        return math.ceil((self.grid.size(1) - 1) / self.bptt)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        start = i * self.bptt
        end = min(start + self.bptt, self.grid.size(1) - 1)
        # .long(): a token store keeps ids in a smaller type (a no-op for ids already long)
        return self.grid[:, start:end].long(), self.grid[:, start + 1 : end + 1].long()
