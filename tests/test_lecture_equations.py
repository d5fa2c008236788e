"""Where the lectures' equations and torch's differ (recipes/course/README.md, "Where the lectures and
the toolkit differ"): each difference shown on real modules, so the README's corrections cannot drift."""

from __future__ import annotations

import torch
from torch import nn

from nlprnn.modules.rnn import RNNStack, StackedRNN


def test_a_stacked_layer_reads_the_layer_below_at_the_same_step():
    # correct: H_t^2 = f(W^2 H_t^1 + U^2 H_{t-1}^2); the lecture writes H_{t-1}^1
    torch.manual_seed(0)
    stacked, x = StackedRNN(3, 4, num_layers=2, cell="rnn"), torch.randn(2, 6, 3)
    chained = RNNStack(3, [4, 4], cell="rnn")
    with torch.no_grad():
        for k, layer in enumerate(chained.layers):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(layer.rnn, f"{name}_l0").copy_(getattr(stacked.rnn, f"{name}_l{k}"))
    torch.testing.assert_close(chained(x)[0], stacked(x)[0])
    lower, _ = chained.layers[0](x)
    shifted = torch.cat([torch.zeros_like(lower[:, :1]), lower[:, :-1]], 1)  # the lecture's t-1
    assert not torch.allclose(chained.layers[1](shifted)[0], stacked(x)[0], atol=1e-3)


def lecture_gru(x, w_z, b_z, w_r, b_r, w_h, b_h):
    """1-redes-recurrentes-etsisi.md «Unidades GRU (y II)»: the reset gate multiplies h_{t-1} *before*
    the matrix product, and h_t = (1 - z_t) h_{t-1} + z_t h~_t. Inputs concatenated as [h, x]."""
    h = x.new_zeros(x.shape[0], w_z.shape[0])
    for t in range(x.shape[1]):
        hx = torch.cat([h, x[:, t]], -1)
        z, r = torch.sigmoid(hx @ w_z.T + b_z), torch.sigmoid(hx @ w_r.T + b_r)
        candidate = torch.tanh(torch.cat([r * h, x[:, t]], -1) @ w_h.T + b_h)
        h = (1 - z) * h + z * candidate
    return h


def test_the_lectures_gru_is_torchs_with_z_swapped_and_the_reset_moved():
    torch.manual_seed(1)
    gru, x, hidden = nn.GRU(3, 4, batch_first=True), torch.randn(2, 5, 3), 4
    (ir, iz, i_n), (hr, hz, h_n) = gru.weight_ih_l0.detach().chunk(3), gru.weight_hh_l0.detach().chunk(3)
    br, bz, bn = (gru.bias_ih_l0 + gru.bias_hh_l0).detach().chunk(3)  # torch's gate order: r, z, n

    def torch_gru(reset_bias):
        with torch.no_grad():  # one bias per gate, as the lecture; torch's b_hn (inside the reset) at 0
            gru.bias_ih_l0.copy_(torch.cat([reset_bias, bz, bn]))
            gru.bias_hh_l0.zero_()
            return gru(x)[1][0]

    def lecture(reset_bias):
        w_z, w_r, w_h = torch.cat([hz, iz], 1), torch.cat([hr, ir], 1), torch.cat([h_n, i_n], 1)
        # the lectures' z is torch's 1 - z: negate the update gate's weights and bias
        return lecture_gru(x, -w_z, -bz, w_r, reset_bias, w_h, bn)

    open_reset = torch.full((hidden,), 50.0)  # r = 1: where the reset is applied no longer matters
    torch.testing.assert_close(lecture(open_reset), torch_gru(open_reset), rtol=1e-4, atol=1e-5)
    # with a working reset gate, before vs after the matrix product are different functions
    assert not torch.allclose(lecture(br), torch_gru(br), atol=1e-3)
