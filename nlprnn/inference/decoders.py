"""Decoding strategies for an encoder-decoder: each maps (model, bos, encoder state, length limits,
eos) to hypotheses, so a Translator (and the ``decoding`` config node, by ``_target_``) picks one.

    BeamSearch(beam_size, alpha, n_best)   batched beam search with the GNMT length penalty
    Greedy()                               the most likely token at each step
    Sampling(temperature, seed)            a token drawn from the softmax at each step
"""

from __future__ import annotations

import torch

from nlprnn.errors import UserError
from nlprnn.modules.beam_search import beam_search
from nlprnn.modules.decoding import greedy, sample

Hypotheses = list[list[list[int]]]  # per sentence, its hypotheses (target ids without eos), best first


class BeamSearch:
    method = "beam"

    def __init__(self, beam_size: int = 5, alpha: float = 0.6, n_best: int = 1) -> None:
        if beam_size < 1 or not 1 <= n_best <= beam_size:
            raise UserError(f"beam_size={beam_size}, n_best={n_best}: need 1 <= n_best <= beam_size")
        self.beam_size, self.alpha, self.n_best = beam_size, alpha, n_best

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        nbest = beam_search(
            model.step,
            bos,
            state,
            limits,
            self.beam_size,
            eos,
            model.reorder_state,
            self.alpha,
            self.n_best,
            select_sentences=model.select_sentences,
        )
        return [[ids for ids, _ in hyps] for hyps in nbest]


class Greedy:
    method = "greedy"

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        out = greedy(model.step, bos, state, int(limits.max()), eos)
        return [[_cut(row, eos, int(n))] for row, n in zip(out.tolist(), limits)]


class Sampling:
    method = "sample"

    def __init__(self, temperature: float = 1.0, seed: int = 0) -> None:
        self.temperature, self.seed, self.generator = temperature, seed, None

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        if self.generator is None or self.generator.device != bos.device:  # one stream per translator
            self.generator = torch.Generator(device=bos.device).manual_seed(self.seed)
        out = sample(
            model.step, bos, state, int(limits.max()), self.temperature, generator=self.generator, eos_id=eos
        )
        return [[_cut(row, eos, int(n))] for row, n in zip(out.tolist(), limits)]


STRATEGIES = {"beam": BeamSearch, "greedy": Greedy, "sample": Sampling}


def decoder_for(method: str = "beam", **options):
    """The Python API's keywords (method="greedy", beam_size=10, ...) -> a decoder."""
    if method not in STRATEGIES:
        raise UserError(f"decoding method must be beam, greedy or sample, got {method!r}")
    try:
        return STRATEGIES[method](**options)
    except TypeError:
        raise UserError(f"method={method!r} takes no option(s) {sorted(options)}") from None


def _cut(row: list[int], eos: int, limit: int) -> list[int]:
    """A greedy/sampled row up to its eos (or its own length limit)."""
    row = row[:limit]
    return row[: row.index(eos)] if eos in row else row
