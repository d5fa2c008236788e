"""BiRNN sequence tagger with optional character features and a CRF or softmax output (Lample et al. 2016).

``forward`` returns a ``ModelOutput`` (loss, emission scores as logits, state=None) like every model here
(nlprnn/models/output.py); the casing and character inputs are keywords, needed only by a tagger built
with those features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nlprnn.data.word_features import CASINGS
from nlprnn.models.config import keeps_init_kwargs
from nlprnn.models.output import ModelOutput
from nlprnn.modules.char_features import char_encoder
from nlprnn.modules.crf import CRF
from nlprnn.modules.embedding import Embedding
from nlprnn.modules.rnn import StackedRNN, as_lengths


class SequenceTagger(nn.Module):
    """One tag per token: many-to-many with equal lengths::

        word vector = [word embedding; casing embedding; char features of the surface form]
        -> dropout -> bidirectional StackedRNN -> dropout -> linear -> emission scores (B, L, T)
        -> output="softmax": each token's tag independently (cross-entropy, argmax), or
           output="crf": a linear-chain CRF over the whole sentence (NLL, Viterbi).

    Args:
        vocab_size, num_tags, num_chars: sizes of the word, tag and character vocabularies.
        emb_dim, case_dim: word embedding and casing embedding sizes (case_dim 0: no casing feature).
        char_features: "lstm" | "cnn" | "none"; char_dim, char_size: char embedding size and
            the char encoder's size (per direction for lstm, filters for cnn).
        hidden_size, num_layers, cell: the word-level bidirectional StackedRNN.
        bidirectional: False reads left to right only (course/depth: what the right context buys).
        dropout: on the word vectors and on the RNN outputs.
        output: "crf" | "softmax".

    forward(words (B, L), lengths (B,), casings=, chars=, char_lengths=, char_index=, targets=(B, L))
        -> ModelOutput(loss, emissions (B, L, T)). casings (B, L) are needed when case_dim > 0; chars
        (U, C), char_lengths (U,) and char_index (B, L) (each token's row of chars) when char_features
        is not "none" (``nlprnn.data.word_features.collate`` builds them all).

    Example:
        >>> import torch
        >>> tagger = SequenceTagger(vocab_size=30, num_tags=5, num_chars=1, emb_dim=8, case_dim=0,
        ...                         char_features="none", hidden_size=8).eval()
        >>> words = torch.randint(1, 30, (2, 4))
        >>> emissions = tagger(words, [4, 2]).logits
        >>> emissions.shape
        torch.Size([2, 4, 5])
        >>> mask = torch.tensor([[True] * 4, [True, True, False, False]])
        >>> tagger.decode(emissions, mask)[1, 2:].tolist()    # 0 at padding
        [0, 0]
    """

    @keeps_init_kwargs
    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        num_chars: int,
        emb_dim: int = 100,
        case_dim: int = 8,
        char_features: str = "lstm",
        char_dim: int = 30,
        char_size: int = 25,
        hidden_size: int = 200,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.5,
        output: str = "crf",
        pad_id: int = 0,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        if output not in ("crf", "softmax"):
            raise ValueError(f"output must be crf or softmax, got {output!r}")
        self.embedding = Embedding(vocab_size, emb_dim, pad_id)
        self.casings = nn.Embedding(len(CASINGS), case_dim, padding_idx=0) if case_dim else None
        self.chars = char_encoder(char_features, num_chars, char_dim, char_size)
        in_size = emb_dim + case_dim + (self.chars.output_size if self.chars else 0)
        self.dropout = nn.Dropout(dropout)
        self.rnn = StackedRNN(
            in_size, hidden_size, num_layers, cell, bidirectional=bidirectional, dropout=dropout
        )
        self.output = nn.Linear(self.rnn.output_size, num_tags)
        self.crf = CRF(num_tags) if output == "crf" else None

    def emissions(
        self,
        words: torch.Tensor,
        lengths: torch.Tensor | list[int],
        *,
        casings: torch.Tensor | None = None,
        chars: torch.Tensor | None = None,
        char_lengths: torch.Tensor | list[int] | None = None,
        char_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-token tag scores (B, L, T); the inputs as in ``forward``."""
        parts = [self.embedding(words)]
        if self.casings is not None:
            if casings is None:
                raise ValueError("this tagger has a casing feature (case_dim > 0): pass casings=")
            parts.append(self.casings(casings))
        if self.chars is not None:
            if chars is None or char_lengths is None or char_index is None:
                raise ValueError("this tagger has char features: pass chars=, char_lengths=, char_index=")
            char_lengths = as_lengths(char_lengths, chars.device)
            parts.append(self.chars(chars, char_lengths)[char_index])  # each distinct form computed once
        hidden, _ = self.rnn(self.dropout(torch.cat(parts, dim=-1)), as_lengths(lengths, words.device))
        return self.output(self.dropout(hidden))

    def forward(
        self,
        words: torch.Tensor,
        lengths: torch.Tensor | list[int],
        *,
        targets: torch.Tensor | None = None,
        **features: torch.Tensor | list[int] | None,
    ) -> ModelOutput:
        """words (B, L) word ids, lengths (B,) -> ModelOutput: emission scores (B, L, T) as logits, and
        with ``targets`` (B, L) tag ids the training loss (mean per real token), computed here so that
        DistributedDataParallel (which wraps ``forward``) sees the whole training computation.
        features: casings, chars, char_lengths, char_index, as ``emissions`` takes them (see the class
        docstring)."""
        lengths = as_lengths(lengths, words.device)
        emissions = self.emissions(words, lengths, **features)
        if targets is None:
            return ModelOutput(None, emissions)
        mask = torch.arange(words.size(1), device=words.device)[None, :] < lengths[:, None]
        return ModelOutput(self.loss(emissions, targets, mask), emissions)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean per real token: CRF negative log-likelihood (summed over sentences) or cross-entropy."""
        if self.crf is None:
            return F.cross_entropy(emissions[mask], tags[mask])
        return self.crf(emissions, tags, mask).sum() / mask.sum()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Best tags (B, L): Viterbi with a CRF, per-token argmax otherwise (0 at padding)."""
        if self.crf is None:
            return emissions.argmax(-1).masked_fill(~mask, 0)
        return self.crf.decode(emissions, mask)[0]
