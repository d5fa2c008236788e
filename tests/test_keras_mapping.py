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
