import itertools

import pytest
import torch

from nlprnn.modules.crf import CRF

torch.set_num_threads(1)


def brute_force(crf, emissions, length):
    """Scores of every tag sequence of one sentence (its first ``length`` emission rows)."""
    T = crf.num_tags
    scores = {}
    for seq in itertools.product(range(T), repeat=length):
        s = crf.start[seq[0]] + crf.end[seq[-1]]
        s = s + sum(emissions[t, y] for t, y in enumerate(seq))
        s = s + sum(crf.transitions[a, b] for a, b in zip(seq, seq[1:]))
        scores[seq] = s.item()
    return scores


def random_case(seed, B=4, L=5, T=3):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    crf = CRF(T)
    with torch.no_grad():  # larger than the init, so the best path is not trivial
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    emissions = torch.randn(B, L, T, generator=g, dtype=torch.double)
    lengths = torch.tensor([L, 1, 3, L - 1])[:B]
    mask = torch.arange(L)[None, :] < lengths[:, None]
    return crf.double(), emissions, mask, lengths


@pytest.mark.parametrize("seed", range(4))
def test_log_partition_score_and_viterbi_equal_brute_force(seed):
    crf, emissions, mask, lengths = random_case(seed)
    log_z = crf.log_partition(emissions, mask)
    tags, best_scores = crf.decode(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        scores = brute_force(crf, emissions[b], n)
        assert log_z[b].item() == pytest.approx(
            torch.logsumexp(torch.tensor(list(scores.values())), 0).item()
        )
        best = max(scores, key=scores.get)
        assert tuple(tags[b, :n].tolist()) == best
        assert tags[b, n:].eq(0).all()
        assert best_scores[b].item() == pytest.approx(scores[best])
        # the score of any sequence, padded with arbitrary tags, ignores the padding
        seq = torch.randint(0, crf.num_tags, (emissions.size(1),))
        s = crf.score(emissions[b : b + 1], seq[None], mask[b : b + 1])
        assert s.item() == pytest.approx(scores[tuple(seq[:n].tolist())])


def test_nll_is_a_normalised_distribution_and_trains():
    crf, emissions, mask, lengths = random_case(5, B=1, L=4, T=3)
    total = sum(
        torch.exp(-crf(emissions, torch.tensor([seq]), mask)).item()
        for seq in itertools.product(range(3), repeat=4)
    )
    assert total == pytest.approx(1.0)
    # gradient descent on the nll makes the gold sequence the Viterbi output
    gold = torch.tensor([[2, 0, 0, 1]])
    opt = torch.optim.SGD(crf.parameters(), lr=0.5)
    for _ in range(50):
        opt.zero_grad()
        crf(emissions, gold, mask).sum().backward()
        opt.step()
    assert torch.equal(crf.decode(emissions, mask)[0], gold)


def test_padding_invariance():
    crf, emissions, mask, lengths = random_case(7)
    padded = torch.cat([emissions, torch.randn(4, 3, 3, dtype=torch.double) * 50], 1)
    padded_mask = torch.cat([mask, torch.zeros(4, 3, dtype=torch.bool)], 1)
    torch.testing.assert_close(crf.log_partition(padded, padded_mask), crf.log_partition(emissions, mask))
    tags, scores = crf.decode(padded, padded_mask)
    ref_tags, ref_scores = crf.decode(emissions, mask)
    assert torch.equal(tags[:, : emissions.size(1)], ref_tags) and tags[:, emissions.size(1) :].eq(0).all()
    torch.testing.assert_close(scores, ref_scores)


def test_rejects_bad_shapes_and_empty_sentences():
    crf = CRF(3)
    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.randn(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one token"):
        crf.decode(torch.randn(2, 4, 3), torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool))
