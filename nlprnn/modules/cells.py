"""Recurrent cells written out from their equations, for teaching and for checking.

Parameters use torch's fused layout and names, so weights copy 1:1 (e.g.
``cell.load_state_dict(nn.LSTMCell(...).state_dict())``): weight_ih (G*H, I), weight_hh (G*H, H),
bias_ih (G*H,), bias_hh (G*H,), gate blocks in torch's order: Elman G=1, LSTM G=4 (i, f, g, o),
GRU G=3 (r, z, n). x (B, I) input, h / c (B, H) state, sequences batch_first (B, T, I).
Python loops are slow: train with ``nlprnn.modules.rnn.StackedRNN``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# h (B, H) for Elman/GRU, (h, c) for LSTM; stacked versions are (L, B, H).
State = Tensor | tuple[Tensor, Tensor]


def _activation(name: str):
    acts = {"tanh": torch.tanh, "relu": torch.relu}
    if name not in acts:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {name!r}")
    return acts[name]


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    """torch's RNN init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def elman_step(xw: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor, act=torch.tanh) -> Tensor:
    """h' = act(xw + W_hh h + b_hh), with xw = W_ih x + b_ih already computed."""
    return elman_gates(xw, F.linear(h, weight_hh, bias_hh), act)


def lstm_step(xw: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor, bias_hh: Tensor):
    """One LSTM step from the projected input xw (B, 4H): (h, c) -> (h', c')."""
    return lstm_gates(xw, F.linear(state[0], weight_hh, bias_hh), state[1])


def gru_step(xw: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """One GRU step from the projected input xw (B, 3H): h -> h'."""
    return gru_gates(xw, F.linear(h, weight_hh, bias_hh), h)


# The same steps from both projections, xw = W_ih x + b_ih and hw = W_hh h + b_hh, computed by the
# caller (e.g. by int8 layers: nlprnn.inference.runtime).
def elman_gates(xw: Tensor, hw: Tensor, act=torch.tanh) -> Tensor:
    return act(xw + hw)


def lstm_gates(xw: Tensor, hw: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    i, f, g, o = (xw + hw).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_gates(xw: Tensor, hw: Tensor, h: Tensor) -> Tensor:
    x_r, x_z, x_n = xw.chunk(3, dim=-1)
    h_r, h_z, h_n = hw.chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


class _Cell(nn.Module):
    """Shared layout. ``step`` takes the input already projected, so a sequence loop can
    compute W_ih x + b_ih for all time steps at once (see ``CellRNN``)."""

    num_gates = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        gh = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(gh, input_size))
        self.weight_hh = nn.Parameter(torch.empty(gh, hidden_size))
        self.bias_ih, self.bias_hh = nn.Parameter(torch.empty(gh)), nn.Parameter(torch.empty(gh))
        _init_uniform(self, hidden_size)

    def input_proj(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih: (..., I) -> (..., G*H)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def zero_state(self, x: Tensor) -> State:
        return x.new_zeros(x.shape[0], self.hidden_size)

    def step(self, xw: Tensor, state: State) -> State:
        """One time step from the projected input xw = W_ih x + b_ih (B, G*H)."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None) -> State:
        return self.step(self.input_proj(x), self.zero_state(x) if state is None else state)


class ElmanCell(_Cell):
    """Elman (vanilla) RNN cell, like ``nn.RNNCell``.

        h' = act(W_ih x + b_ih + W_hh h + b_hh),   act = tanh | relu

    forward(x (B, I), h (B, H) or None = zeros) -> h' (B, H)
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__(input_size, hidden_size)
        self.nonlinearity, self.act = nonlinearity, _activation(nonlinearity)

    def step(self, xw: Tensor, h: Tensor) -> Tensor:
        return elman_step(xw, h, self.weight_hh, self.bias_hh, self.act)


class LSTMCell(_Cell):
    """LSTM cell, like ``nn.LSTMCell`` (gate blocks i, f, g, o).

        i = σ(W_ii x + b_ii + W_hi h + b_hi)      input gate
        f = σ(W_if x + b_if + W_hf h + b_hf)      forget gate
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)   candidate cell
        o = σ(W_io x + b_io + W_ho h + b_ho)      output gate
        c' = f * c + i * g
        h' = o * tanh(c')

    forward(x (B, I), (h, c) each (B, H) or None = zeros) -> (h', c') each (B, H)

    Example:
        >>> import torch
        >>> from torch import nn
        >>> cell, reference = LSTMCell(4, 6), nn.LSTMCell(4, 6)
        >>> _ = cell.load_state_dict(reference.state_dict())   # the same names and layout
        >>> x = torch.randn(2, 4)
        >>> h, c = cell(x)
        >>> torch.allclose(h, reference(x)[0], atol=1e-5)
        True
    """

    num_gates = 4

    def zero_state(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.new_zeros(x.shape[0], self.hidden_size)
        return h, h.clone()

    def step(self, xw: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return lstm_step(xw, state, self.weight_hh, self.bias_hh)


class GRUCell(_Cell):
    """GRU cell, like ``nn.GRUCell`` (gate blocks r, z, n).

        r = σ(W_ir x + b_ir + W_hr h + b_hr)             reset gate
        z = σ(W_iz x + b_iz + W_hz h + b_hz)             update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))    candidate (r gates b_hn too)
        h' = (1 - z) * n + z * h

    forward(x (B, I), h (B, H) or None = zeros) -> h' (B, H)
    """

    num_gates = 3

    def step(self, xw: Tensor, h: Tensor) -> Tensor:
        return gru_step(xw, h, self.weight_hh, self.bias_hh)


class JordanCell(nn.Module):
    """Jordan RNN cell: the previous *output* y_{t-1}, not the hidden state, is fed back.

        h_t = act(W_ih x_t + W_yh y_{t-1} + b_h)
        y_t = W_hy h_t + b_y

    ``state_feedback=True`` feeds back both (the third feedback type of the lectures, output and
    state): h_t = act(W_ih x_t + W_hh h_{t-1} + W_yh y_{t-1} + b_h).

    Parameters: weight_ih (H, I), weight_yh (H, O), bias_h (H,), weight_hy (O, H), bias_y (O,),
    and weight_hh (H, H) with state feedback.
    forward(x (B, I), y_prev (B, O) or None, h_prev (B, H) or None; zeros) -> (y_t (B, O), h_t (B, H))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        nonlinearity: str = "tanh",
        state_feedback: bool = False,
    ) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.nonlinearity, self.act = nonlinearity, _activation(nonlinearity)
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_yh = nn.Parameter(torch.empty(hidden_size, output_size))
        hh = nn.Parameter(torch.empty(hidden_size, hidden_size)) if state_feedback else None
        self.register_parameter("weight_hh", hh)
        self.bias_h = nn.Parameter(torch.empty(hidden_size))
        self.weight_hy = nn.Parameter(torch.empty(output_size, hidden_size))
        self.bias_y = nn.Parameter(torch.empty(output_size))
        _init_uniform(self, hidden_size)

    def input_proj(self, x: Tensor) -> Tensor:
        """W_ih x + b_h: (..., I) -> (..., H)."""
        return F.linear(x, self.weight_ih, self.bias_h)

    def step(self, xw: Tensor, y_prev: Tensor, h_prev: Tensor | None = None) -> tuple[Tensor, Tensor]:
        pre = xw + F.linear(y_prev, self.weight_yh)
        if self.weight_hh is not None:
            pre = pre + F.linear(
                xw.new_zeros(xw.shape[0], self.hidden_size) if h_prev is None else h_prev, self.weight_hh
            )
        h = self.act(pre)
        return F.linear(h, self.weight_hy, self.bias_y), h

    def forward(
        self, x: Tensor, y_prev: Tensor | None = None, h_prev: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        if y_prev is None:
            y_prev = x.new_zeros(x.shape[0], self.output_size)
        return self.step(self.input_proj(x), y_prev, h_prev)


_CELLS = {"rnn": ElmanCell, "lstm": LSTMCell, "gru": GRUCell}


class CellRNN(nn.Module):
    """Stacked, unidirectional, batch_first RNN looping the cells above; a drop-in, slow
    twin of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU(batch_first=True)``.

    forward(x (B, T, I), state or None = zeros)
        -> outputs (B, T, H)  top layer's h at every step
           state   h_n (L, B, H), or (h_n, c_n) for lstm

    Dropout is applied to each layer's output sequence except the last, as in torch.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> fused = nn.GRU(4, 6, num_layers=2, batch_first=True)
        >>> loop = CellRNN("gru", 4, 6, num_layers=2).load_from_fused(fused)
        >>> x = torch.randn(3, 5, 4)
        >>> outputs, h_n = loop(x)
        >>> outputs.shape, h_n.shape
        (torch.Size([3, 5, 6]), torch.Size([2, 3, 6]))
        >>> torch.allclose(outputs, fused(x)[0], atol=1e-5)
        True
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if cell != "rnn" and nonlinearity != "tanh":
            raise ValueError("nonlinearity only applies to cell='rnn'")
        self.cell, self.nonlinearity = cell, nonlinearity
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.cells = nn.ModuleList(_CELLS[cell](i, hidden_size, **extra) for i in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        finals = []
        for k, s in enumerate(self._split(x, state)):
            if k > 0:
                x = self.dropout(x)
            states = self.layer_states(k, x, s)
            x = torch.stack([s[0] if isinstance(s, tuple) else s for s in states], dim=1)
            finals.append(states[-1])
        if isinstance(finals[0], tuple):
            return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        return x, torch.stack(finals)

    def layer_states(self, k: int, x: Tensor, state: State) -> list[State]:
        """Layer k's state after every step of x (B, T, I), starting from ``state`` (h (B, H), or
        the pair (h, c) for an LSTM).

        Each is a node of the autograd graph, so ``torch.autograd.grad(loss, [h_1, ..., h_T])``
        gives dLoss/dh_t through all later steps (the course's vanishing-gradient measurement);
        the fused kernel hides them.
        """
        cell = self.cells[k]
        # One (B*T, I) x (I, G*H) matmul for all steps instead of T small ones: the input
        # projection does not depend on h, so only W_hh h stays inside the time loop.
        xw = cell.input_proj(x)
        states = []
        for t in range(xw.shape[1]):
            state = cell.step(xw[:, t], state)
            states.append(state)
        return states

    def _split(self, x: Tensor, state: State | None) -> list[State]:
        """(L, B, H) state(s) -> one per-layer state per cell."""
        if state is None:
            return [cell.zero_state(x) for cell in self.cells]
        layers = (state[0] if isinstance(state, tuple) else state).shape[0]
        if layers != len(self.cells):
            raise ValueError(f"the state has {layers} layers, the network {len(self.cells)}")
        if isinstance(state, tuple):
            return list(zip(*(s.unbind(0) for s in state), strict=True))
        return list(state.unbind(0))

    @torch.no_grad()
    def load_from_fused(self, module: nn.RNNBase) -> CellRNN:
        """Copy weights from an nn.RNN/LSTM/GRU of the same shape (``weight_ih_l{k}`` etc.)."""
        mode = {"rnn": f"RNN_{self.nonlinearity.upper()}", "lstm": "LSTM", "gru": "GRU"}
        want = (mode[self.cell], self.input_size, self.hidden_size, self.num_layers, True, False)
        got = (module.mode, module.input_size, module.hidden_size, module.num_layers,
               module.bias, module.bidirectional)  # fmt: skip
        if want != got or getattr(module, "proj_size", 0):
            raise ValueError(f"fused module {got} does not match {want}")
        for k, cell in enumerate(self.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(module, f"{name}_l{k}"))
        return self


class JordanRNN(nn.Module):
    """Loops a ``JordanCell`` over time, feeding each output (and with ``state_feedback`` the hidden
    state too) back into the next step.

    Arguments: those of ``JordanCell`` (input_size, hidden_size, output_size, nonlinearity,
    state_feedback).
    forward(x (B, T, I), y0 (B, O) or None = zeros) -> (outputs (B, T, O), last output (B, O))
    """

    def __init__(self, *cell_args, **cell_kwargs) -> None:
        super().__init__()
        self.cell = JordanCell(*cell_args, **cell_kwargs)

    def forward(self, x: Tensor, y0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        y = x.new_zeros(x.shape[0], self.cell.output_size) if y0 is None else y0
        h = None
        xw = self.cell.input_proj(x)  # all steps in one matmul, as in CellRNN
        ys = []
        for t in range(xw.shape[1]):
            y, h = self.cell.step(xw[:, t], y, h)
            ys.append(y)
        return torch.stack(ys, dim=1), y
