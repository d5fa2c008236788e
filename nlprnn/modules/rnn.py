"""StackedRNN: the one recurrent encoder every recipe uses, on torch's fused kernels."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# (h_n,) for rnn/gru, (h_n, c_n) for lstm; each (L * D, B, H) like torch.
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_FUSED = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


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

    forward(x (B, T, I), lengths (B,) or None, state or None)
        -> outputs (B, T, D*H)  every step of the top layer  (Keras: return_sequences)
           state  (L*D, B, H), or a pair (h, c) for LSTM      (Keras: return_state)

    With ``lengths`` the batch is packed, so outputs at real positions and final states do not
    depend on the padding; padded output positions are zero. Without ``lengths`` every row is
    taken as full length (the fast path for equal-length batches such as truncated BPTT).
    Pass the returned state back in as ``state`` to run "stateful" across consecutive chunks.
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

    @property
    def output_size(self) -> int:
        return self.num_directions * self.hidden_size

    def forward(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: State | None = None,
    ) -> tuple[torch.Tensor, State]:
        if lengths is None:
            return self.rnn(x, state)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out, state


def detach_state(state: State | None) -> State | None:
    """Cut the graph behind a carried state (truncated BPTT keeps the values, drops the history)."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
