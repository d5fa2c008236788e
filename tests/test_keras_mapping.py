"""Each row of the Keras -> nlprnn table in recipes/course/README.md, checked."""

from __future__ import annotations

import torch

from nlprnn.modules.cells import CellRNN
from nlprnn.modules.rnn import StackedRNN, detach_state


def _x(b=3, t=7, i=5):
    return torch.randn(b, t, i, generator=torch.Generator().manual_seed(0))


def test_return_sequences_false_is_the_last_output():
    # SimpleRNN(8) -> the last step; return_sequences=True -> every step: outputs (B, T, H)
    rnn, x = StackedRNN(5, 8, cell="rnn"), _x()
    outputs, h_n = rnn(x)
    assert outputs.shape == (3, 7, 8)
    torch.testing.assert_close(outputs[:, -1], h_n[-1])


def test_return_state_gives_h_and_c_for_lstm():
    # LSTM(8, return_state=True) -> [output, state_h, state_c]
    rnn, x = StackedRNN(5, 8, cell="lstm"), _x()
    outputs, (h_n, c_n) = rnn(x)
    assert h_n.shape == c_n.shape == (1, 3, 8)
    torch.testing.assert_close(outputs[:, -1], h_n[-1])


def test_stateful_chunks_equal_one_long_sequence():
    # stateful=True: each batch starts from the previous batch's final state
    rnn, x = StackedRNN(5, 8, num_layers=2, cell="gru"), _x(t=12)
    whole, _ = rnn(x)
    first, state = rnn(x[:, :5])
    second, _ = rnn(x[:, 5:], state=detach_state(state))  # detached: truncated BPTT, same values
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_unroll_is_the_cell_loop_with_the_same_numbers():
    # unroll=True: a Python loop over the cell instead of the fused kernel (CellRNN)
    for cell in ("rnn", "lstm", "gru"):
        fused, x = StackedRNN(5, 8, num_layers=2, cell=cell), _x()
        loop = CellRNN(cell, 5, 8, num_layers=2).load_from_fused(fused.rnn)
        torch.testing.assert_close(loop(x)[0], fused(x)[0])


def test_go_backwards_is_flipping_time():
    # go_backwards=True reads the sequence from the end: x.flip(1); Bidirectional(...) runs both
    bi, x = StackedRNN(5, 8, cell="lstm", bidirectional=True), _x()
    back = StackedRNN(5, 8, cell="lstm")
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(back.rnn, f"{name}_l0").copy_(getattr(bi.rnn, f"{name}_l0_reverse"))
    outputs, _ = bi(x)
    backwards, _ = back(x.flip(1))
    torch.testing.assert_close(outputs[..., 8:], backwards.flip(1))


def test_keras_initialisers():
    # Keras: glorot_uniform kernel (all gates at once), orthogonal recurrent kernel, zero bias,
    # unit_forget_bias=True; torch draws every weight from U(-1/sqrt(H), 1/sqrt(H))
    from nlprnn.modules.init import keras_init

    torch.manual_seed(0)
    lstm = StackedRNN(30, 64, cell="lstm")
    keras_init(lstm)
    w_ih, w_hh = lstm.rnn.weight_ih_l0, lstm.rnn.weight_hh_l0
    limit = (6 / (30 + 4 * 64)) ** 0.5
    assert w_ih.abs().max() <= limit and w_ih.abs().max() > 0.95 * limit
    torch.testing.assert_close(w_ih.var().item(), limit**2 / 3, rtol=0.1, atol=0)
    torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(64), atol=1e-5, rtol=0)  # orthonormal columns
    bias = lstm.rnn.bias_ih_l0 + lstm.rnn.bias_hh_l0
    assert bias[64:128].eq(1).all() and bias[:64].eq(0).all() and bias[128:].eq(0).all()
    # the difference that decides the Keras example: an orthogonal recurrent matrix keeps the state's
    # norm (every eigenvalue on the unit circle); torch's uniform one shrinks it (radius ~ 1/sqrt(3))
    elman = keras_init(StackedRNN(1, 10, cell="rnn")).rnn.weight_hh_l0
    torch.testing.assert_close(torch.linalg.eigvals(elman).abs(), torch.ones(10), atol=1e-5, rtol=0)
    default = StackedRNN(1, 10, cell="rnn").rnn.weight_hh_l0
    assert torch.linalg.eigvals(default).abs().max() < 0.9
    dense = keras_init(torch.nn.Linear(10, 1))
    assert dense.bias.eq(0).all() and dense.weight.abs().max() <= (6 / 11) ** 0.5


def test_unit_forget_bias_is_forget_bias_one():
    # LSTM(units, unit_forget_bias=True): the forget gate starts at 1 (b_ih + b_hh in torch)
    rnn = StackedRNN(5, 8, cell="lstm", forget_bias=1.0).rnn
    assert (rnn.bias_ih_l0 + rnn.bias_hh_l0)[8:16].eq(1).all()


def _lecture_stack():
    # Embedding(1000, 64) -> SimpleRNN(256, return_sequences=True) -> SimpleRNN(128) -> Dense(10)
    from torch import nn

    from nlprnn.modules.rnn import RNNStack

    class Lecture(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(1000, 64)
            self.rnn = RNNStack(64, [256, 128], cell="rnn")
            self.dense = nn.Linear(128, 10)

        def forward(self, ids):
            outputs, _ = self.rnn(self.embedding(ids))
            return self.dense(outputs[:, -1])

    return Lecture()


def test_stacking_layers_of_different_widths_and_summary():
    # widths 256 then 128 (num_layers cannot: one width); Keras' summary() counts 196,746
    from nlprnn.models.summary import summary

    model = _lecture_stack()
    keras_count = 64_000 + (64 * 256 + 256 * 256 + 256) + (256 * 128 + 128 * 128 + 128) + (128 * 10 + 10)
    one_bias = sum(p.numel() for n, p in model.named_parameters() if "bias_hh" not in n)
    assert keras_count == one_bias == 196_746
    table = summary(model, torch.zeros(32, 20, dtype=torch.long))
    assert "(32, 20, 64)" in table and "(32, 20, 128)" in table and "(32, 10)" in table
    assert table.splitlines()[-1].split()[-1] == str(196_746 + 256 + 128)  # torch's second bias vectors
    _, states = model.rnn(torch.randn(2, 5, 64))
    assert [s.shape[-1] for s in states] == [256, 128]


def test_embedding_with_mask_zero_is_padding_idx_and_lengths():
    # Embedding(1000, 64, mask_zero=True) + a recurrent layer: padded steps do not change the result
    emb, rnn = torch.nn.Embedding(1000, 64, padding_idx=0), StackedRNN(64, 16, cell="gru")
    ids = torch.tensor([[5, 7, 9, 0, 0], [3, 4, 5, 6, 8]])
    outputs, h_n = rnn(emb(ids), lengths=[3, 5])
    alone, h_alone = rnn(emb(ids[:1, :3]))
    torch.testing.assert_close(h_n[:, :1], h_alone)
    assert outputs[0, 3:].abs().sum() == 0 and emb.weight[0].abs().sum() == 0


def test_input_shape_needs_only_the_feature_size():
    # input_shape=(seq_len, 1): torch reads T from the batch, so one layer takes any length
    rnn = StackedRNN(1, 10, cell="rnn")
    for t in (10, 20):
        assert rnn(torch.randn(4, t, 1))[0].shape == (4, t, 10)


def test_reset_states_is_starting_from_no_state():
    # model.reset_states() on a stateful layer: the next chunk starts from zeros (state=None)
    rnn, x = StackedRNN(5, 8, cell="lstm"), _x()
    zeros = (torch.zeros(1, 3, 8), torch.zeros(1, 3, 8))
    torch.testing.assert_close(rnn(x)[0], rnn(x, state=zeros)[0])
