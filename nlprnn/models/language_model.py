"""Character (or word) language model: Embedding -> StackedRNN -> Linear over the vocabulary.

``forward`` returns a ``ModelOutput`` (loss, logits, state) like every model here (nlprnn/models/output.py);
the state is what truncated BPTT carries into the next window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.models.config import keeps_init_kwargs
from nlprnn.models.output import ModelOutput
from nlprnn.modules.decoding import sample
from nlprnn.modules.embedding import Embedding
from nlprnn.modules.rnn import StackedRNN, State


class LanguageModel(nn.Module):
    """Predicts token t+1 from tokens <= t.

    Args:
        vocab_size: V.
        emb_dim: E.
        hidden_size: H of each recurrent layer.
        num_layers: stacked recurrent layers.
        cell: "lstm" | "gru" | "rnn".
        dropout: on embeddings, between layers and before the output layer.
        tie_embeddings: share the (V, E) input embedding with the output layer (needs E == H,
            otherwise a projection H -> E is inserted).
        forget_bias: LSTM only: every forget gate's initial bias (see ``StackedRNN``); None: torch's.

    forward(tokens (B, T), state=..., targets=(B, T)) -> ModelOutput(loss, logits (B, T, V), state)
    step(tokens (B,), state) -> logits (B, V), state   (the decoding interface)
    generate(prompt_ids (B, P), length, temperature=..., top_k=..., top_p=...) -> ids (B, length)
    """

    @keeps_init_kwargs
    def __init__(
        self,
        vocab_size: int,
        emb_dim: int = 64,
        hidden_size: int = 512,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        self.embedding = Embedding(vocab_size, emb_dim, dropout=dropout)
        self.rnn = StackedRNN(
            emb_dim, hidden_size, num_layers, cell=cell, dropout=dropout, forget_bias=forget_bias
        )
        self.dropout = nn.Dropout(dropout)
        out_dim = emb_dim if tie_embeddings else hidden_size
        self.proj = nn.Linear(hidden_size, emb_dim) if tie_embeddings and emb_dim != hidden_size else None
        self.output = nn.Linear(out_dim, vocab_size)
        if tie_embeddings:
            self.output.weight = self.embedding.weight

    def forward(
        self, tokens: torch.Tensor, *, state: State | None = None, targets: torch.Tensor | None = None
    ) -> ModelOutput:
        """tokens (B, T) read from ``state`` (None: zeros) -> ModelOutput: logits (B, T, V) for each
        next token, the final state (to carry into the next window), and with ``targets`` (B, T) the
        mean cross-entropy as the loss (training, DDP-ready)."""
        hidden, state = self.rnn(self.embedding(tokens), state=state)  # (B, T, H)
        hidden = self.dropout(hidden)
        if self.proj is not None:
            hidden = self.proj(hidden)
        logits = self.output(hidden)  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return ModelOutput(loss, logits, state)

    def step(self, tokens: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """One decoding step: tokens (B,) -> logits (B, V), state."""
        out = self(tokens.unsqueeze(1), state=state)
        return out.logits.squeeze(1), out.state

    @torch.inference_mode()
    def generate(
        self,
        prompt_ids: torch.Tensor | list[int],
        length: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        eos_id: int | None = None,
    ) -> torch.Tensor:
        """Continue each prompt by ``length`` tokens sampled from ``step`` (``nlprnn.modules.decoding``).

        prompt_ids (B, P) long, or one prompt as a (P,) tensor or list, P >= 1 -> the new tokens
        (B, length) (fewer columns if every row has emitted ``eos_id``). temperature 0 is greedy;
        top_k / top_p restrict the distribution; a seeded ``generator`` makes it reproducible.
        Dropout follows the module's mode: call ``.eval()`` first.

        Example:
            >>> import torch
            >>> lm = LanguageModel(vocab_size=12, emb_dim=8, hidden_size=16, num_layers=1).eval()
            >>> lm.generate(torch.tensor([[1, 2, 3], [4, 5, 6]]), length=7, top_k=5).shape
            torch.Size([2, 7])
            >>> lm.generate([1, 2], length=4, temperature=0).shape   # one prompt, greedy
            torch.Size([1, 4])
            >>> a = lm.generate([1], 6, generator=torch.Generator().manual_seed(0))
            >>> b = lm.generate([1], 6, generator=torch.Generator().manual_seed(0))
            >>> torch.equal(a, b)
            True
        """
        prompt = torch.as_tensor(prompt_ids, dtype=torch.long, device=self.embedding.weight.device)
        prompt = prompt.unsqueeze(0) if prompt.dim() == 1 else prompt
        if prompt.size(1) < 1:
            raise ValueError("generate needs a prompt of at least one token")
        # read all but the last prompt token in one fused call; the last one starts the loop
        state = self(prompt[:, :-1], state=None).state if prompt.size(1) > 1 else None
        return sample(self.step, prompt[:, -1], state, length, temperature, top_k, top_p, generator, eos_id)
