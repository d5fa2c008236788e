"""What every model returns: one convention for the whole models layer.

``forward`` takes the model's required inputs positionally and everything optional as keywords with
defaults; ``targets=`` (always that name) asks for the training loss as well. It always returns a
``ModelOutput``::

    loss    the mean training loss (a scalar) with ``targets=``, else None
    logits  the scores the loss is computed from: next-token or class logits, a tagger's emission
            scores, a regression net's predictions
    state   the recurrent state to carry into the next call (the language model's truncated BPTT),
            None for models that carry nothing

The loss comes out of ``forward`` because DistributedDataParallel only synchronises what runs
through ``forward`` (see nlprnn/training/trainer.py). Being a NamedTuple with ``loss`` first,
``loss, logits, state = model(...)`` also works.

``lengths`` arguments take a (B,) tensor or a plain list of ints (``nlprnn.modules.rnn.as_lengths``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class ModelOutput(NamedTuple):
    """What every model's ``forward`` returns: ``loss`` (a scalar with ``targets=``, else None),
    ``logits`` and ``state`` (None for models that carry none).

    Example:
        >>> import torch
        >>> from nlprnn.models.language_model import LanguageModel
        >>> lm = LanguageModel(vocab_size=10, emb_dim=8, hidden_size=16, num_layers=1)
        >>> tokens = torch.randint(10, (2, 5))
        >>> out = lm(tokens, targets=tokens)
        >>> out.logits.shape, out.loss.dim()
        (torch.Size([2, 5, 10]), 0)
        >>> h, c = out.state        # an LSTM's state, to carry into the next window
        >>> h.shape
        torch.Size([1, 2, 16])
        >>> loss, logits, state = lm(tokens)   # a NamedTuple: unpacks too
        >>> loss is None
        True
    """

    loss: torch.Tensor | None
    logits: torch.Tensor
    state: Any = None


class Generated(NamedTuple):
    """``Seq2Seq.generate``'s hypotheses, best first: ``tokens`` (B, n_best, T) without bos or eos,
    padded with the pad id after each hypothesis's ``lengths`` (B, n_best); ``scores`` (B, n_best) the
    sum of token log-probabilities divided by the length penalty (-inf where a sentence has fewer
    than n_best hypotheses with a finite score)."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    scores: torch.Tensor
