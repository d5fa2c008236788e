"""Length bucketing and padding."""

from __future__ import annotations

import random

import pytest
import torch

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.errors import UserError


def random_lengths(n=3000, seed=0):
    rng = random.Random(seed)
    return [rng.randint(1, 60) for _ in range(n)]


def padding(batches, lengths):
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


def flat(batches):
    return sorted(i for b in batches for i in b)


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_and_budget_respected(shuffle):
    lengths = random_lengths()
    batches = make_batches(lengths, max_tokens=500, shuffle=shuffle, seed=3)
    assert flat(batches) == list(range(len(lengths)))
    assert all(len(b) * max(lengths[i] for i in b) <= 500 for b in batches)
    assert all([lengths[i] for i in b] == sorted((lengths[i] for i in b), reverse=True) for b in batches)
    fixed = make_batches(lengths, batch_size=32, shuffle=shuffle, seed=3)
    assert flat(fixed) == list(range(len(lengths)))
    assert all(len(b) <= 32 for b in fixed) and sum(len(b) == 32 for b in fixed) >= len(fixed) - 30


def test_both_limits_and_pairs():
    rng = random.Random(1)
    pairs = [(rng.randint(1, 40), rng.randint(1, 40)) for _ in range(1000)]
    batches = make_batches(pairs, max_tokens=300, batch_size=16, seed=0)
    assert flat(batches) == list(range(len(pairs)))
    for b in batches:
        assert len(b) <= 16
        assert len(b) * max(pairs[i][0] for i in b) <= 300 and len(b) * max(pairs[i][1] for i in b) <= 300
    with pytest.raises(UserError):
        make_batches(pairs)


def test_bucketing_pads_much_less_than_random_batches():
    lengths = random_lengths()
    bucketed = make_batches(lengths, batch_size=32, seed=0)
    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    naive = [order[i : i + 32] for i in range(0, len(order), 32)]
    assert padding(bucketed, lengths) < 0.2 * padding(naive, lengths)


def test_deterministic_per_seed_and_epoch():
    lengths = random_lengths(500)
    a = make_batches(lengths, max_tokens=400, seed=7, epoch=2, chunk_batches=5)
    assert a == make_batches(lengths, max_tokens=400, seed=7, epoch=2, chunk_batches=5)
    assert a != make_batches(lengths, max_tokens=400, seed=7, epoch=3, chunk_batches=5)
    assert a != make_batches(lengths, max_tokens=400, seed=8, epoch=2, chunk_batches=5)


def test_eval_batches_sorted_and_restorable():
    lengths = random_lengths(200)
    batches = make_batches(lengths, batch_size=16, shuffle=False)
    longest = [max(lengths[i] for i in b) for b in batches]
    assert longest == sorted(longest)
    outputs = {}
    for b in batches:  # "model output" per example, scattered back to the original order
        outputs.update({i: lengths[i] * 10 for i in b})
    assert [outputs[i] for i in range(len(lengths))] == [n * 10 for n in lengths]


def test_pad_batch_lists_and_tensors():
    for seqs in (
        [[5, 6, 7], [8], [9, 10]],
        [torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([9, 10])],
    ):
        tokens, lengths = pad_batch(seqs, pad_id=0)
        assert tokens.dtype == lengths.dtype == torch.long
        assert tokens.tolist() == [[5, 6, 7], [8, 0, 0], [9, 10, 0]]
        assert lengths.tolist() == [3, 1, 2]
