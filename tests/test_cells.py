"""Hand-written cells vs torch's fused kernels, and the Jordan feedback loop."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nlprnn.modules.cells import (
    CellRNN,
    ElmanCell,
    GRUCell,
    JordanCell,
    JordanRNN,
    LSTMCell,
)

B, T, IN, H, OUT, L = 3, 5, 4, 6, 2, 2
TOL = {"atol": 1e-6, "rtol": 1e-5}

# name -> (CellRNN cell, nonlinearity, our cell, torch cell, torch fused)
CASES = {
    "elman_tanh": ("rnn", "tanh", ElmanCell, nn.RNNCell, nn.RNN),
    "elman_relu": ("rnn", "relu", ElmanCell, nn.RNNCell, nn.RNN),
    "lstm": ("lstm", "tanh", LSTMCell, nn.LSTMCell, nn.LSTM),
    "gru": ("gru", "tanh", GRUCell, nn.GRUCell, nn.GRU),
}


def _kwargs(kind: str, nonlinearity: str) -> dict:
    return {"nonlinearity": nonlinearity} if kind == "rnn" else {}


def _pair(name: str, num_layers: int = L, dropout: float = 0.0) -> tuple[CellRNN, nn.RNNBase]:
    kind, act, *_, fused_cls = CASES[name]
    fused = fused_cls(IN, H, num_layers=num_layers, batch_first=True, dropout=dropout,
                      **_kwargs(kind, act))  # fmt: skip
    ours = CellRNN(kind, IN, H, num_layers=num_layers, nonlinearity=act, dropout=dropout)
    return ours.load_from_fused(fused), fused


def _random_state(kind: str):
    h = torch.randn(L, B, H)
    return (h, torch.randn(L, B, H)) if kind == "lstm" else h


def _assert_state_close(a, b) -> None:
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b) == 2
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(x, y, **TOL)
    else:
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_cell_matches_torch_cell(name: str, with_state: bool) -> None:
    torch.manual_seed(0)
    kind, act, ours_cls, ref_cls, _ = CASES[name]
    ref = ref_cls(IN, H, **_kwargs(kind, act))
    ours = ours_cls(IN, H, **_kwargs(kind, act))
    ours.load_state_dict(ref.state_dict())  # same names and shapes by design
    x = torch.randn(B, IN)
    state = None
    if with_state:
        state = (torch.randn(B, H), torch.randn(B, H)) if kind == "lstm" else torch.randn(B, H)
    _assert_state_close(ours(x, state), ref(x, state))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("with_state", [False, True])
def test_cellrnn_matches_fused(name: str, with_state: bool) -> None:
    torch.manual_seed(1)
    ours, fused = _pair(name)
    x = torch.randn(B, T, IN)
    state = _random_state(CASES[name][0]) if with_state else None
    out, final = ours(x, state)
    ref_out, ref_final = fused(x, state)
    assert out.shape == (B, T, H)
    torch.testing.assert_close(out, ref_out, **TOL)
    _assert_state_close(final, ref_final)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_gradients_match_fused(name: str) -> None:
    torch.manual_seed(2)
    ours, fused = _pair(name)
    state = _random_state(CASES[name][0])
    grads = []
    for model in (ours, fused):
        x = torch.randn(B, T, IN, generator=torch.Generator().manual_seed(3), requires_grad=True)
        out, final = model(x, state)
        h_n = final[0] if isinstance(final, tuple) else final
        (out.pow(2).sum() + h_n.sum()).backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-5)
    for k, cell in enumerate(ours.cells):
        for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            ref = getattr(fused, f"{p}_l{k}").grad
            assert ref.abs().sum() > 0
            torch.testing.assert_close(getattr(cell, p).grad, ref, atol=1e-5, rtol=1e-5)


def test_dropout_between_layers_only() -> None:
    torch.manual_seed(4)
    x = torch.randn(B, T, IN)
    one = CellRNN("gru", IN, H, num_layers=1, dropout=0.5)
    assert torch.equal(one.train()(x)[0], one.eval()(x)[0])  # never after the last layer
    two = CellRNN("gru", IN, H, num_layers=2, dropout=0.5)
    assert not torch.allclose(two.train()(x)[0], two.eval()(x)[0])


def test_load_from_fused_rejects_mismatch() -> None:
    with pytest.raises(ValueError):
        CellRNN("lstm", IN, H, num_layers=2).load_from_fused(nn.GRU(IN, H, num_layers=2))
    with pytest.raises(ValueError):
        CellRNN("rnn", IN, H).load_from_fused(nn.RNN(IN, H, nonlinearity="relu"))
    with pytest.raises(ValueError):
        CellRNN("lstm", IN, H).load_from_fused(nn.LSTM(IN, H, num_layers=2))
    with pytest.raises(ValueError):
        CellRNN("conv", IN, H)


def _jordan_reference(cell: JordanCell, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The equations, step by step, with nothing hoisted."""
    ys = []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ cell.weight_ih.T + y @ cell.weight_yh.T + cell.bias_h)
        y = h @ cell.weight_hy.T + cell.bias_y
        ys.append(y)
    return torch.stack(ys, dim=1)


def test_jordan_shapes_and_equations() -> None:
    torch.manual_seed(5)
    model = JordanRNN(IN, H, OUT)
    x, y0 = torch.randn(B, T, IN), torch.randn(B, OUT)
    outs, last = model(x, y0)
    assert outs.shape == (B, T, OUT) and last.shape == (B, OUT)
    torch.testing.assert_close(last, outs[:, -1])
    torch.testing.assert_close(outs, _jordan_reference(model.cell, x, y0), **TOL)
    y1, h1 = model.cell(x[:, 0], y0)
    assert y1.shape == (B, OUT) and h1.shape == (B, H)
    torch.testing.assert_close(y1, outs[:, 0], **TOL)


def test_jordan_without_feedback_is_feedforward() -> None:
    torch.manual_seed(6)
    model = JordanRNN(IN, H, OUT)
    with torch.no_grad():
        model.cell.weight_yh.zero_()
    x = torch.randn(B, T, IN)
    c = model.cell
    feedforward = torch.tanh(x @ c.weight_ih.T + c.bias_h) @ c.weight_hy.T + c.bias_y
    torch.testing.assert_close(model(x, torch.randn(B, OUT))[0], feedforward, **TOL)


def test_jordan_feeds_output_back() -> None:
    torch.manual_seed(7)
    model = JordanRNN(IN, H, OUT)
    x = torch.randn(B, T, IN)
    x2 = x.clone()
    x2[:, 0] += 1.0
    a, b = model(x)[0], model(x2)[0]
    assert not torch.allclose(a[:, 2], b[:, 2])  # x_0 reaches y_2 only via y_0 -> y_1 -> y_2
    y0 = torch.randn(B, OUT)
    assert not torch.allclose(model(x, y0)[0][:, 0], a[:, 0])  # y0 is the first feedback
    c = model.cell
    feedforward = torch.tanh(x @ c.weight_ih.T + c.bias_h) @ c.weight_hy.T + c.bias_y
    assert not torch.allclose(a[:, 1:], feedforward[:, 1:])


def test_output_and_state_feedback_equations() -> None:
    # the lectures' third feedback type: h_t = tanh(W x_t + R h_{t-1} + U y_{t-1} + b)
    torch.manual_seed(8)
    model = JordanRNN(IN, H, OUT, state_feedback=True)
    c, x = model.cell, torch.randn(B, T, IN)
    h, y, ys = torch.zeros(B, H), torch.zeros(B, OUT), []
    for t in range(T):
        h = torch.tanh(x[:, t] @ c.weight_ih.T + h @ c.weight_hh.T + y @ c.weight_yh.T + c.bias_h)
        y = h @ c.weight_hy.T + c.bias_y
        ys.append(y)
    torch.testing.assert_close(model(x)[0], torch.stack(ys, dim=1), **TOL)
    assert JordanRNN(IN, H, OUT).cell.weight_hh is None  # output feedback only: no H x H matrix
    extra = sum(p.numel() for p in model.parameters()) - sum(
        p.numel() for p in JordanRNN(IN, H, OUT).parameters()
    )
    assert extra == H * H
