import pytest
import torch

from nlprnn.modules.attention import Attention


@pytest.mark.parametrize("kind", ["dot", "general", "bahdanau"])
def test_padded_positions_get_no_weight_and_change_nothing(kind):
    torch.manual_seed(0)
    att = Attention(kind, query_size=6, memory_size=6)
    query, memory = torch.randn(2, 3, 6), torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    context, weights = att(query, memory, mask)
    assert context.shape == (2, 3, 6) and weights.shape == (2, 3, 5)
    assert weights[1, :, 2:].abs().max() == 0
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    # whatever sits in the padded slots, row 1's result is unchanged...
    junk = memory.clone()
    junk[1, 2:] = 100 * torch.randn(3, 6)
    context2, _ = att(query, junk, mask)
    torch.testing.assert_close(context2, context)
    # ...and equals attending over the real positions only
    alone, _ = att(query[1:], memory[1:, :2], mask[1:, :2])
    torch.testing.assert_close(alone, context[1:])


def test_dot_is_softmax_of_dot_products():
    att = Attention("dot", 4, 4)
    q, m = torch.randn(1, 1, 4), torch.randn(1, 3, 4)
    _, w = att(q, m, torch.ones(1, 3, dtype=torch.bool))
    torch.testing.assert_close(w[0, 0], (m[0] @ q[0, 0]).softmax(0))


def test_bad_configurations():
    with pytest.raises(ValueError, match="attention must be one of"):
        Attention("cosine", 4, 4)
    with pytest.raises(ValueError, match="query_size == memory_size"):
        Attention("dot", 4, 8)
