import pytest
import torch

from nlprnn.modules.decoding import filter_logits, greedy, sample


class ToyStep:
    """A fixed random bigram model: logits depend on the previous token only; counts calls."""

    def __init__(self, vocab=11, seed=0):
        self.table = torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed)) * 3
        self.calls = 0

    def __call__(self, tokens, state):
        self.calls += 1
        return self.table[tokens], (state or 0) + 1


def test_top_k_1_sampling_equals_greedy():
    step = ToyStep()
    start = torch.arange(5)
    g = greedy(step, start, None, 12)
    s = sample(step, start, None, 12, temperature=1.3, top_k=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(g, s)
    # greedy really follows the argmax chain
    assert torch.equal(g[:, 0], step.table[start].argmax(-1))
    assert torch.equal(g[:, 1], step.table[g[:, 0]].argmax(-1))


def test_sampling_reproducible_with_seed_and_varies_without():
    step = ToyStep()
    start = torch.zeros(4, dtype=torch.long)
    a = sample(step, start, None, 30, generator=torch.Generator().manual_seed(7))
    b = sample(step, start, None, 30, generator=torch.Generator().manual_seed(7))
    c = sample(step, start, None, 30, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_filter_top_k_and_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, top_k=2)).tolist() == [[False, False, True, True]]
    # nucleus 0.7: 0.5 alone is not enough, 0.5 + 0.3 is -> keep two
    assert torch.isinf(filter_logits(logits, top_p=0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, top_p=0.4)).tolist() == [[False, True, True, True]]
    # unsorted input: the mask follows the tokens, not the positions
    shuffled = logits[:, [2, 0, 3, 1]]
    assert torch.isinf(filter_logits(shuffled, top_p=0.7)).tolist() == [[True, False, True, False]]


def test_top_p_never_samples_outside_nucleus():
    logits = torch.log(torch.tensor([0.6, 0.3, 0.06, 0.04])).repeat(4, 1)

    def step(tokens, state):
        return logits[: tokens.size(0)], state

    out = sample(
        step,
        torch.zeros(4, dtype=torch.long),
        None,
        200,
        top_p=0.85,
        generator=torch.Generator().manual_seed(0),
    )
    assert set(out.unique().tolist()) == {0, 1}


def test_zero_temperature_is_greedy():
    step = ToyStep()
    start = torch.arange(3)
    assert torch.equal(sample(step, start, None, 8, temperature=0.0), greedy(step, start, None, 8))


def test_eos_stops_early_and_pads_finished_rows():
    table = torch.full((3, 3), -10.0)
    table[0, 1] = 0  # 0 -> 1
    table[1, 2] = 0  # 1 -> 2 (eos)
    table[2, 2] = 0

    def step(tokens, state):
        return table[tokens], state

    out = greedy(step, torch.tensor([0, 1]), None, 10, eos_id=2)
    assert out.tolist() == [[1, 2], [2, 2]]


@pytest.mark.parametrize("max_len", [0, 1])
def test_short_lengths(max_len):
    assert greedy(ToyStep(), torch.arange(2), None, max_len).shape == (2, max_len)
