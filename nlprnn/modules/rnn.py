"""StackedRNN: the one recurrent encoder every recipe uses, on torch's fused kernels; RNNStack for
layers of different widths."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlprnn.modules.cells import elman_gates, gru_gates, lstm_gates

# (h_n,) for rnn/gru, (h_n, c_n) for lstm; each (L * D, B, H) like torch.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_FUSED = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def as_lengths(lengths, device: torch.device | str | None = None) -> torch.Tensor:
    """Sequence lengths as a (B,) long tensor on ``device``: every model and module that takes
    ``lengths`` accepts a tensor or a plain list of ints, and converts it here, once."""
    lengths = torch.as_tensor(lengths, dtype=torch.long, device=device)  # no copy when already so
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be one number per sequence, shape (B,); got {tuple(lengths.shape)}")
    return lengths


class StackedRNN(nn.Module):
    """A stack of Elman (tanh/relu), LSTM or GRU layers run by one fused kernel call.

    Args:
        input_size: I, size of each input vector.
        hidden_size: H, state size per direction.
        num_layers: L, stacked layers (the output sequence of one feeds the next).
        cell: "lstm" | "gru" | "rnn" (Elman).
        nonlinearity: "tanh" | "relu", only for cell="rnn".
        bidirectional: D = 2 when True; outputs concatenate both directions.
        dropout: dropout between layers (not after the last one).
        forget_bias: LSTM only: start every forget gate's bias here (e.g. 1.0, Jozefowicz et al.
            2015) instead of torch's small random values, so the cell keeps its memory at first.

    forward(x (B, T, I), lengths (B,) tensor or list, or None, state or None)
        -> outputs (B, T, D*H)  every step of the top layer  (Keras: return_sequences)
           state  (L*D, B, H), or a pair (h, c) for LSTM      (Keras: return_state)

    With ``lengths`` the batch is packed, so outputs at real positions and final states do not
    depend on the padding; padded output positions are zero. Without ``lengths`` every row is
    taken as full length (the fast path for equal-length batches such as truncated BPTT).
    Pass the returned state back in as ``state`` to run "stateful" across consecutive chunks.

    Example:
        >>> import torch
        >>> rnn = StackedRNN(input_size=8, hidden_size=16, num_layers=2, cell="gru", bidirectional=True)
        >>> outputs, state = rnn(torch.randn(3, 5, 8), lengths=[5, 2, 4])
        >>> outputs.shape, state.shape            # (B, T, D*H), (L*D, B, H)
        (torch.Size([3, 5, 32]), torch.Size([4, 3, 16]))
        >>> outputs[1, 2:].abs().sum().item()     # zero past each row's length
        0.0
        >>> lstm = StackedRNN(8, 16, cell="lstm", forget_bias=1.0)
        >>> out, (h, c) = lstm(torch.randn(3, 5, 8))
        >>> h.shape, c.shape
        (torch.Size([1, 3, 16]), torch.Size([1, 3, 16]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        nonlinearity: str = "tanh",
        bidirectional: bool = False,
        dropout: float = 0.0,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if cell not in _FUSED:
            raise ValueError(f"cell must be one of {sorted(_FUSED)}, got {cell!r}")
        kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.rnn = _FUSED[cell](
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **kwargs,
        )
        if forget_bias is not None:
            self._set_forget_bias(forget_bias)
        self.packed = True  # False: the masked path of ``without_packing`` (graph export)
        self.step_linears: nn.ModuleDict | None = None  # int8 copies for step_projected (int8_steps)

    @torch.no_grad()
    def _set_forget_bias(self, value: float) -> None:
        if self.cell != "lstm":
            raise ValueError("forget_bias applies to cell='lstm' only")
        h = self.hidden_size
        for name, p in self.rnn.named_parameters():
            if name.startswith("bias_ih"):  # gate blocks i, f, g, o: the sum b_ih + b_hh is the bias
                p[h : 2 * h] = value
            elif name.startswith("bias_hh"):
                p[h : 2 * h] = 0.0

    @property
    def output_size(self) -> int:
        return self.num_directions * self.hidden_size

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | list[int] | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, State]:
        """x (B, T, I), lengths (B,) or None, state -> outputs (B, T, D*H), final state (see the class)."""
        if lengths is None:
            return self.rnn(x, state)
        if not self.packed:
            return self._masked(x, as_lengths(lengths, x.device), state)
        packed = pack_padded_sequence(x, as_lengths(lengths, "cpu"), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out, state

    def _masked(self, x: torch.Tensor, lengths: torch.Tensor, state: State | None):
        """``forward`` with lengths, without packing: each layer and direction runs the fused kernel
        on the padded batch; the backward direction reads each sequence reversed within its length,
        so real positions see only real inputs, as packed. Same outputs (zero at padding) and final
        h; the LSTM's final c is not recovered here (None): no model reads it after a lengths call."""
        if state is not None:
            raise ValueError("the masked path starts from a zero state")
        mask = (torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        finals = []
        for k in range(self.num_layers):
            if k > 0:
                x = F.dropout(x, self.rnn.dropout, self.training)
            outs = []
            for direction in range(self.num_directions):
                if direction == 0:
                    out = self._one_layer(x, k, "")
                    finals.append(last_real(out, lengths))
                else:  # reversed within each length, run forwards, reversed back
                    out = reverse_padded(self._one_layer(reverse_padded(x, lengths), k, "_reverse"), lengths)
                    finals.append(out[:, 0])
                outs.append(out * mask)
            x = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
        h_n = torch.stack(finals)  # (L * D, B, H), torch's layer-major, direction-minor order
        return x, ((h_n, None) if self.cell == "lstm" else h_n)

    def _one_layer(self, x: torch.Tensor, k: int, suffix: str) -> torch.Tensor:
        """Layer ``k``, one direction (``suffix`` "" or "_reverse"), from a zero state: (B, T, H)."""
        weights = [getattr(self.rnn, f"{kind}_l{k}{suffix}") for kind in ("weight_ih", "weight_hh")]
        weights += [getattr(self.rnn, f"{kind}_l{k}{suffix}") for kind in ("bias_ih", "bias_hh")]
        h0 = x.new_zeros(1, x.size(0), self.hidden_size)
        if self.cell == "lstm":
            return torch.lstm(x, (h0, h0), weights, True, 1, 0.0, False, False, True)[0]
        if self.cell == "gru":
            return torch.gru(x, h0, weights, True, 1, 0.0, False, False, True)[0]
        run = torch.rnn_relu if self.rnn.nonlinearity == "relu" else torch.rnn_tanh
        return run(x, h0, weights, True, 1, 0.0, False, False, True)[0]

    def step_projected(self, xw0: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One time step of a unidirectional stack, with layer 0's input projection
        W_ih x + b_ih (B, G*H) computed by the caller: a loop over time that must run step by
        step (input feeding) can then project the inputs it already knows for all steps at once.

        Same weights and maths as the fused kernel (cells in ``nlprnn.modules.cells``), and the
        same dropout between layers. state as in forward -> output (B, H), new state.
        """
        if self.num_directions != 1:
            raise ValueError("step_projected runs unidirectional stacks only")
        h_all, c_all = state if self.cell == "lstm" else (state, None)
        hs, cs, xw = [], [], xw0
        for k in range(self.num_layers):
            if k > 0:  # lower layer's output, with the between-layer dropout, projected
                xw = self._project(f"ih_l{k}", F.dropout(hs[-1], self.rnn.dropout, self.training))
            hw = self._project(f"hh_l{k}", h_all[k])
            if self.cell == "lstm":
                h, c = lstm_gates(xw, hw, c_all[k])
                cs.append(c)
            elif self.cell == "gru":
                h = gru_gates(xw, hw, h_all[k])
            else:
                h = elman_gates(xw, hw, torch.relu if self.rnn.nonlinearity == "relu" else torch.tanh)
            hs.append(h)
        new_h = torch.stack(hs)
        return hs[-1], ((new_h, torch.stack(cs)) if self.cell == "lstm" else new_h)

    def _project(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """W x + b with the weights ``name`` ("ih_l1", "hh_l0", ...): their int8 copy when
        ``int8_steps`` made one, else the fused kernel's fp32 weights."""
        if self.step_linears is not None:
            return self.step_linears[name](x)
        return F.linear(x, getattr(self.rnn, f"weight_{name}"), getattr(self.rnn, f"bias_{name}"))

    def int8_steps(self, int8_linear) -> None:
        """Give ``step_projected`` int8 copies of the weights it reads (``int8_linear(weight, bias)``
        makes one layer): a quantized fused RNN no longer exposes them."""
        names = [f"hh_l{k}" for k in range(self.num_layers)] + [f"ih_l{k}" for k in range(1, self.num_layers)]
        self.step_linears = nn.ModuleDict(
            {n: int8_linear(getattr(self.rnn, f"weight_{n}"), getattr(self.rnn, f"bias_{n}")) for n in names}
        )

    def input_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer 0's (W_ih (G*H, I), b_ih (G*H,)), for callers that project inputs themselves."""
        return self.rnn.weight_ih_l0, self.rnn.bias_ih_l0


class RNNStack(nn.Module):
    """Recurrent layers of *different* widths, each reading the whole output sequence of the one
    below, e.g. Keras' ``SimpleRNN(256, return_sequences=True)`` then ``SimpleRNN(128)``:
    ``RNNStack(64, [256, 128], cell="rnn")``. ``StackedRNN(num_layers=L)`` runs L layers of one
    width in a single fused call; use it whenever the widths are equal.

    forward(x (B, T, I), lengths or None) -> outputs (B, T, widths[-1]) of the top layer, and the
    list of each layer's final state (as ``StackedRNN`` returns it).

    Example:
        >>> stack = RNNStack(64, [256, 128], cell="rnn")
        >>> outputs, states = stack(torch.randn(2, 7, 64))
        >>> outputs.shape, [tuple(h.shape) for h in states]
        (torch.Size([2, 7, 128]), [(1, 2, 256), (1, 2, 128)])
    """

    def __init__(
        self,
        input_size: int,
        widths: list[int],
        cell: str = "lstm",
        nonlinearity: str = "tanh",
        dropout: float = 0.0,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one layer, e.g. [256, 128]")
        sizes = [input_size, *widths]
        self.layers = nn.ModuleList(
            StackedRNN(i, h, 1, cell, nonlinearity, forget_bias=forget_bias) for i, h in zip(sizes, widths)
        )
        self.dropout = nn.Dropout(dropout)  # between layers, as StackedRNN's
        self.output_size = widths[-1]

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | list[int] | None = None
    ) -> tuple[torch.Tensor, list[State]]:
        states = []
        for k, layer in enumerate(self.layers):
            x, state = layer(self.dropout(x) if k else x, lengths)
            states.append(state)
        return x, states


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B, T, F) with each row's first ``lengths`` steps reversed; padding stays where it is."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]
    index = lengths[:, None] - 1 - steps
    index = torch.where(index >= 0, index, steps)
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(2)))


def last_real(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B, T, F) -> each row's step ``lengths - 1`` (B, F)."""
    index = (lengths - 1).clamp(min=0)[:, None, None].expand(-1, 1, x.size(2))
    return x.gather(1, index).squeeze(1)


@contextmanager
def without_packing(model: nn.Module) -> Iterator[nn.Module]:
    """Every StackedRNN of ``model`` takes the masked path instead of packing (graph exporters
    cannot trace ``pack_padded_sequence``); the outputs are the same."""
    rnns = [m for m in model.modules() if isinstance(m, StackedRNN)]
    for rnn in rnns:
        rnn.packed = False
    try:
        yield model
    finally:
        for rnn in rnns:
            rnn.packed = True


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a carried state (truncated BPTT keeps the values, drops the history)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
