"""Decoding strategies for an encoder-decoder: each maps (model, bos, encoder state, length limits,
eos) to scored hypotheses, so a Translator (and the ``decoding`` config node, by ``_target_``) picks one.

    BeamSearch(beam_size, alpha, n_best)   batched beam search with the GNMT length penalty
    Greedy()                               the most likely token at each step
    Sampling(temperature, seed)            a token drawn from the softmax at each step

A hypothesis is (target ids without eos, score): beam search's score is the sum of token
log-probabilities (eos included) divided by the length penalty; greedy's and sampling's the plain sum.
"""

from __future__ import annotations

import torch

from nlprnn.errors import UserError
from nlprnn.modules.beam_search import beam_search
from nlprnn.modules.decoding import greedy, sample

Hypotheses = list[list[tuple[list[int], float]]]  # per sentence, its (ids, score) hypotheses, best first


def _whole(name: str, value, minimum: int) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        raise UserError(f"{name}={value!r}: give a whole number >= {minimum}")
    return value


def _number(name: str, value, minimum: float | None = None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if not ok or (minimum is not None and value < minimum):
        raise UserError(
            f"{name}={value!r}: give a number" + (f" >= {minimum}" if minimum is not None else "")
        )
    return value


class BeamSearch:
    """Batched beam search (``nlprnn.modules.beam_search``) with the GNMT length penalty.

    Args:
        beam_size: beams per sentence.
        alpha: the length penalty's exponent (0: rank by the plain sum of log-probabilities).
        n_best: hypotheses returned per sentence, best first (at most ``beam_size``).
    """

    method = "beam"

    def __init__(self, beam_size: int = 5, alpha: float = 0.6, n_best: int = 1) -> None:
        _whole("beam_size", beam_size, 1), _whole("n_best", n_best, 1), _number("alpha", alpha)
        if n_best > beam_size:
            raise UserError(f"beam_size={beam_size}, n_best={n_best}: need 1 <= n_best <= beam_size")
        self.beam_size, self.alpha, self.n_best = beam_size, alpha, n_best

    def settings(self) -> dict:
        return {"beam_size": self.beam_size, "alpha": self.alpha, "n_best": self.n_best}

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        return beam_search(
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


class Greedy:
    """The most likely token at each step; one hypothesis per sentence."""

    method = "greedy"

    def settings(self) -> dict:
        return {}

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        step = ScoredStep(model.step)
        out = greedy(step, bos, state, int(limits.max()), eos)
        return _scored_rows(out, step.log_probs(out), eos, limits)


class Sampling:
    """A token drawn from softmax(logits / temperature) at each step; one hypothesis per sentence.

    Args:
        temperature: the sampling temperature (0: greedy).
        seed: the seed of the decoder's random stream (None: fresh randomness).
    """

    method = "sample"

    def __init__(self, temperature: float = 1.0, seed: int | None = 0) -> None:
        _number("temperature", temperature, 0)
        if seed is not None and not (isinstance(seed, int) and not isinstance(seed, bool)):
            raise UserError(f"seed={seed!r}: give a whole number, or None (fresh randomness)")
        self.temperature, self.seed, self.generator = temperature, seed, None

    def settings(self) -> dict:
        return {"temperature": self.temperature, "seed": self.seed}

    def __call__(self, model, bos, state, limits: torch.Tensor, eos: int) -> Hypotheses:
        if self.generator is None or self.generator.device != bos.device:  # one stream per translator
            self.generator = torch.Generator(device=bos.device)
            if self.seed is None:
                self.generator.seed()  # fresh randomness
            else:
                self.generator.manual_seed(self.seed)
        step = ScoredStep(model.step)
        out = sample(
            step, bos, state, int(limits.max()), self.temperature, generator=self.generator, eos_id=eos
        )
        return _scored_rows(out, step.log_probs(out), eos, limits)


STRATEGIES = {"beam": BeamSearch, "greedy": Greedy, "sample": Sampling}
DECODING_KEYS = ("method", "beam_size", "alpha", "n_best", "temperature", "seed")


def decoder_for(method: str = "beam", **options):
    """The Python API's keywords (method="greedy", beam_size=10, ...) -> a decoder."""
    if method not in STRATEGIES:
        raise UserError(f"method={method!r}: decoding method must be one of {', '.join(STRATEGIES)}")
    unknown = sorted(set(options) - set(STRATEGIES[method]().settings()))
    if unknown:
        raise UserError(f"method={method!r} takes no option(s) {', '.join(unknown)}")
    return STRATEGIES[method](**options)


def decoder_with(decoder, **options):
    """``decoder`` with some settings changed (``method=`` another: that method's defaults, then
    ``options``); the decoder itself when nothing changes."""
    method = options.pop("method", decoder.method)
    same = method == decoder.method
    if same and all(decoder.settings().get(k) == v for k, v in options.items()):
        return decoder
    return decoder_for(method, **{**(decoder.settings() if same else {}), **options})


class ScoredStep:
    """A model's ``step`` that remembers the log-probability of each token fed back into it, so a
    greedy or sampled row gets its score without a second pass."""

    def __init__(self, step) -> None:
        self.step, self.last, self.picked = step, None, []

    def __call__(self, tokens: torch.Tensor, state):
        self._take(tokens)
        logits, state = self.step(tokens, state)
        self.last = logits.float().log_softmax(-1)
        return logits, state

    def _take(self, tokens: torch.Tensor) -> None:
        if self.last is not None:
            self.picked.append(self.last.gather(1, tokens.unsqueeze(1)).squeeze(1))

    def log_probs(self, out: torch.Tensor) -> torch.Tensor:
        """(B, T) log-probabilities of the generated tokens ``out``."""
        if out.size(1):
            self._take(out[:, -1])
        return torch.stack(self.picked, 1) if self.picked else out.new_zeros(out.shape, dtype=torch.float)


def _scored_rows(out: torch.Tensor, log_probs: torch.Tensor, eos: int, limits: torch.Tensor) -> Hypotheses:
    """Each row up to its eos (or its own length limit), scored by its tokens' log-probabilities
    (the eos's included, as beam search counts it)."""
    hyps = []
    for row, scores, limit in zip(out.tolist(), log_probs.tolist(), limits.tolist()):
        row = row[:limit]
        ids = row[: row.index(eos)] if eos in row else row
        hyps.append([(ids, float(sum(scores[: len(ids) + (eos in row)])))])
    return hyps
