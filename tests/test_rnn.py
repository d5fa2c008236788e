import pytest
import torch

from nlprnn.modules.embedding import Embedding
from nlprnn.modules.rnn import StackedRNN, detach_state


def _final_h(state):
    return state[0] if isinstance(state, tuple) else state


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_shapes(cell, bidirectional):
    rnn = StackedRNN(5, 7, num_layers=3, cell=cell, bidirectional=bidirectional)
    out, state = rnn(torch.randn(4, 6, 5))
    d = 2 if bidirectional else 1
    assert out.shape == (4, 6, d * 7) and rnn.output_size == d * 7
    assert _final_h(state).shape == (3 * d, 4, 7)
    if cell == "lstm":
        assert state[1].shape == (3 * d, 4, 7)


def test_relu_elman_is_used():
    rnn = StackedRNN(3, 4, cell="rnn", nonlinearity="relu")
    out, _ = rnn(torch.randn(2, 5, 3))
    assert (out >= 0).all() and rnn.rnn.nonlinearity == "relu"


def test_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        StackedRNN(3, 4, cell="lstmm")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_invariance(cell, bidirectional):
    """Outputs at real positions and final states do not depend on how much padding follows."""
    torch.manual_seed(0)
    rnn = StackedRNN(3, 4, num_layers=2, cell=cell, bidirectional=bidirectional).eval()
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(3, 5, 3)
    out1, st1 = rnn(x, lengths)
    x_more = torch.cat([x, torch.randn(3, 7, 3)], dim=1)  # 7 more steps of junk padding
    out2, st2 = rnn(x_more, lengths)
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(out1[b, :n], out2[b, :n])
        assert out2[b, n:].abs().max() == 0
    torch.testing.assert_close(_final_h(st1), _final_h(st2))
    # each row alone (no padding at all) gives the same result as inside the padded batch
    for b, n in enumerate(lengths.tolist()):
        alone, _ = rnn(x[b : b + 1, :n])
        torch.testing.assert_close(alone[0], out1[b, :n])


def test_stateful_chunks_equal_one_pass():
    """return_state + initial state: running two halves with the carried state == one full run."""
    torch.manual_seed(0)
    rnn = StackedRNN(3, 4, num_layers=2, cell="lstm").eval()
    x = torch.randn(2, 10, 3)
    full, full_state = rnn(x)
    first, state = rnn(x[:, :6])
    second, state = rnn(x[:, 6:], state=detach_state(state))
    torch.testing.assert_close(torch.cat([first, second], 1), full)
    torch.testing.assert_close(state[1], full_state[1])


def test_detach_state_cuts_graph():
    h = torch.randn(2, 3, requires_grad=True) * 2
    assert not detach_state((h, h))[0].requires_grad
    assert not detach_state(h).requires_grad and detach_state(None) is None


def test_embedding_padding_and_dropout():
    emb = Embedding(10, 4, padding_idx=0, dropout=0.5)
    tokens = torch.tensor([[0, 3, 3]])
    emb.eval()
    out = emb(tokens)
    assert out.shape == (1, 3, 4) and out[0, 0].abs().sum() == 0
    torch.testing.assert_close(out[0, 1], emb.weight[3])
    out.sum().backward()
    assert emb.weight.grad[0].abs().sum() == 0
    emb.train()
    assert not torch.equal(emb(tokens.repeat(50, 1)), out.detach().repeat(50, 1, 1))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_projected_equals_fused_kernel(cell):
    """The per-step path (input projection done by the caller) is the fused kernel's maths."""
    torch.manual_seed(0)
    rnn = StackedRNN(3, 4, num_layers=2, cell=cell).eval()
    x = torch.randn(2, 5, 3)
    out, final = rnn(x)
    weight, bias = rnn.input_weights()
    state = (torch.zeros(2, 2, 4), torch.zeros(2, 2, 4)) if cell == "lstm" else torch.zeros(2, 2, 4)
    steps = []
    for t in range(5):
        y, state = rnn.step_projected(torch.nn.functional.linear(x[:, t], weight, bias), state)
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), out)
    torch.testing.assert_close(_final_h(state), _final_h(final))


def test_forget_bias_starts_every_lstm_forget_gate_there():
    rnn = StackedRNN(3, 4, num_layers=2, cell="lstm", bidirectional=True, forget_bias=1.0)
    for name, p in rnn.rnn.named_parameters():
        if name.startswith("bias_ih"):
            assert torch.all(p[4:8] == 1.0) and not torch.all(p[:4] == 1.0)
        elif name.startswith("bias_hh"):
            assert torch.all(p[4:8] == 0.0)
    with pytest.raises(ValueError, match="lstm. only"):
        StackedRNN(3, 4, cell="gru", forget_bias=1.0)
