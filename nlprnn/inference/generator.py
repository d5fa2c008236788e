"""Generate text with a trained character language model: a prompt in, the prompt and its
continuation out.

from nlprnn import Generator
gen = Generator.from_checkpoint("runs/char_lm/RUN", length=200, temperature=0.8)
gen("ROMEO:")                      # -> Generation(text='ROMEO:\\n...', prompt='ROMEO:', score=-310.2)
gen("ROMEO:").text                 # -> 'ROMEO:\\n...': a new sample each call
gen("ROMEO:", seed=1)              # -> the same sample for the same seed
gen("ROMEO:", num_samples=3)       # -> [Generation(...), ...]: 3 different samples
gen(["ROMEO:", "JULIET:"], length=50, temperature=0.5)   # -> one Generation each
gen.stream_text("ROMEO:", seed=1)  # -> 'ROMEO:', '\\n', 'I', ...: the same sample, as it is drawn

Options (constructor, attribute or per call): length, temperature (0: greedy), top_k, top_p, seed (None:
fresh randomness each call; a number: reproducible), num_samples, batch_size (samples drawn together).
With a seed, the i-th prompt of a call (or of a stream) gets the same samples whatever else is asked
with it. ``score`` is the continuation's log-probability under the model. An empty prompt (or one whose
characters the model never saw) gives Generation(text='', score=None).
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator

import torch

from nlprnn.data.vocab import Vocab
from nlprnn.errors import UserError
from nlprnn.inference.predictor import (
    COUNT,
    COUNT_OR_NONE,
    LENGTH,
    PROBABILITY_OR_NONE,
    SEED,
    TEMPERATURE,
    Predictor,
    checked_text,
)
from nlprnn.inference.results import Generation
from nlprnn.models.config import model_config
from nlprnn.modules.decoding import filter_logits
from nlprnn.training.checkpoint import model_from_checkpoint


class Generator(Predictor):
    """Sampling from a LanguageModel over characters.

    Load one with ``Generator.from_checkpoint(path, device="auto", **options)`` (a checkpoint or a
    run directory of ``recipe=char_lm``) or ``Generator.from_pretrained(folder_or_owner_name,
    device="auto", **options)``; ``generate`` is ``predict``. Results are ``Generation`` objects: the
    prompt and its continuation, with the continuation's log-probability.

    Example::

        gen = Generator.from_pretrained("my-char-lm", length=200, temperature=0.8)
        gen("ROMEO:").text                   # 'ROMEO:\\n...': a new sample each call
        gen("ROMEO:", seed=1)                # the same sample for the same seed
        gen("ROMEO:", num_samples=3)         # 3 Generations

    Options:
        length: characters generated after each prompt (default 500).
        temperature: the sampling temperature (default 1.0; 0: greedy).
        top_k: sample among the k most likely characters only (default None: all).
        top_p: sample within the nucleus of this probability mass (default None: all).
        seed: None (default) for fresh randomness at each call, else reproducible samples.
        num_samples: samples per prompt (default 1; more than one: a list per prompt).
        batch_size: samples of one prompt drawn together (default 64).

    Args:
        model: a LanguageModel.
        vocab: its character Vocab (with <unk>, never generated).
        length: see Options.
        temperature: see Options.
        top_k: see Options.
        top_p: see Options.
        seed: see Options.
        device: where the model runs.
        num_samples: see Options.
        batch_size: see Options.
    """

    recipe = "char_lm"
    stream_batch = 1
    OPTIONS = {
        "length": LENGTH,
        "temperature": TEMPERATURE,
        "top_k": COUNT_OR_NONE,
        "top_p": PROBABILITY_OR_NONE,
        "seed": SEED,
        "num_samples": COUNT,
        "batch_size": COUNT,
    }

    def __init__(
        self,
        model,
        vocab: Vocab,
        length: int = 500,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        device: str | torch.device = "cpu",
        num_samples: int = 1,
        batch_size: int = 64,
    ) -> None:
        self.model, self.vocab = model.eval(), vocab
        self.length, self.temperature, self.top_k, self.top_p = length, temperature, top_k, top_p
        self.seed, self.num_samples, self.batch_size, self.device = seed, num_samples, batch_size, device
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, **sampling) -> Generator:
        vocab = Vocab.from_dict(ckpt["vocab"])
        model = model_from_checkpoint(ckpt, device)
        return cls(model, vocab, device=device, **sampling)

    def _checkpoint_entries(self) -> dict:
        model = model_config(self.model, {"vocab_size": len(self.vocab)})
        return {"config": {"model": model}, "vocab": self.vocab.to_dict()}

    def generate(self, prompts, **options):
        """``predict``: a prompt -> its Generation (a list of num_samples when more than one)."""
        return self._answer(prompts, "Generator.generate", options)

    def call_settings(self, options: dict, who: str) -> dict:
        """The call's settings, with the source of its samples' seeds: one per call (or stream)."""
        settings = super().call_settings(options, who)
        return {**settings, "seeds": SeedSource(settings["seed"])}

    def _predict(self, prompts: list[str], settings: dict) -> list:
        samples = [self._samples(prompt, settings) for prompt in prompts]
        return samples if settings["num_samples"] > 1 else [one[0] for one in samples]

    def _samples(self, prompt: str, settings: dict) -> list[Generation]:
        """``num_samples`` Generations of one prompt, drawn ``batch_size`` at a time."""
        seeds = settings["seeds"].take(settings["num_samples"])  # taken even for an empty prompt
        ids = self._encode(prompt)
        if not ids:
            return [Generation("", prompt)]
        size, start = settings["batch_size"], "".join(self.vocab.decode(ids))
        rows = [
            row
            for i in range(0, len(seeds), size)
            for row in self._sample_rows(ids, seeds[i : i + size], settings)
        ]
        return [Generation(start + "".join(self.vocab.decode(out)), prompt, score) for out, score in rows]

    @torch.inference_mode()
    def _sample_rows(self, ids: list[int], seeds: list[int], settings: dict) -> list[tuple[list[int], float]]:
        """One continuation of ``ids`` per seed, each drawn from its own random stream (so a sample does
        not depend on the others), with its log-probability."""
        picked, scores = [], torch.zeros(len(seeds), device=self.device)
        for tokens, log_probs in self._steps(ids, seeds, settings):
            picked.append(tokens)
            scores += log_probs
        out = torch.stack(picked, 1).tolist() if picked else [[] for _ in seeds]
        return list(zip(out, scores.tolist()))

    @torch.inference_mode()
    def _steps(self, ids: list[int], seeds: list[int], settings: dict):
        """The sampling loop, one step per ``next``: (the token drawn for each seed (B,), its
        log-probability (B,)). ``_sample_rows`` and ``stream_text`` both draw through it, so a streamed
        sample is the one ``predict`` gives."""
        prompt = torch.tensor([ids] * len(seeds), device=self.device)
        state = self.model(prompt[:, :-1]).state if len(ids) > 1 else None  # the prompt in one fused call
        streams = [torch.Generator(device=self.device).manual_seed(seed) for seed in seeds]
        unk = torch.tensor([self.vocab.unk_id], device=self.device)  # a stand-in, never generated
        tokens = prompt[:, -1]
        for _ in range(settings["length"]):
            logits, state = self.model.step(tokens, state)
            logits = logits.float().index_fill(-1, unk, -1e9)
            tokens = self._pick(logits, streams, settings)
            yield tokens, logits.log_softmax(-1).gather(1, tokens.unsqueeze(1)).squeeze(1)

    def stream_text(self, prompt: str, **options) -> Iterator[str]:
        """One sample of ``prompt``'s continuation as it is drawn: first the prompt (as the model
        reads it: unseen characters dropped), then one character per step; nothing for an empty
        prompt. The sample is drawn as ``predict`` draws it, so with a seed the chunks join into
        ``predict(prompt, **options).text``. What a server streams to a page, or a terminal prints::

            for chunk in gen.stream_text("ROMEO:", length=200, seed=1):
                print(chunk, end="", flush=True)

        Args:
            prompt: one text.
            **options: as ``predict``'s, for this call; ``num_samples`` must be 1.

        Raises:
            nlprnn.errors.UserError: at the call (not at the first chunk), for a bad prompt or option.
        """
        who = "Generator.stream_text"
        settings = self.call_settings(options, who)
        if settings["num_samples"] != 1:
            raise UserError(f"{who} streams one sample: num_samples={settings['num_samples']}, give 1")
        return self._stream(checked_text(prompt, who), settings)

    def _stream(self, prompt: str, settings: dict) -> Iterator[str]:
        seeds = settings["seeds"].take(1)  # as _samples takes them
        ids = self._encode(prompt)
        if not ids:
            return
        yield "".join(self.vocab.decode(ids))
        for tokens, _ in self._steps(ids, seeds, settings):
            yield "".join(self.vocab.decode(tokens.tolist()))

    def _pick(self, logits: torch.Tensor, streams: list[torch.Generator], settings: dict) -> torch.Tensor:
        """The next token of each row: argmax at temperature 0, else drawn by inverting the CDF with
        one uniform number from the row's own stream."""
        if settings["temperature"] <= 0:
            return logits.argmax(-1)
        kept = filter_logits(logits / settings["temperature"], settings["top_k"], settings["top_p"])
        cdf = kept.softmax(-1).cumsum(-1)
        uniform = torch.stack([torch.rand((), generator=g, device=self.device) for g in streams])
        # right=True: the first token whose cdf exceeds u, so never one of probability 0
        tokens = torch.searchsorted(cdf, (uniform * cdf[:, -1]).unsqueeze(1), right=True).squeeze(1)
        return tokens.clamp_max(cdf.size(1) - 1)

    def encode_prompt(self, prompt: str) -> list[int]:
        """Prompt -> ids. Characters the model never saw are dropped with a warning; an empty prompt
        (or one with nothing left) gives no ids."""
        return self._encode(checked_text(prompt, "Generator.encode_prompt"))

    def _encode(self, prompt: str) -> list[int]:
        unseen = sorted({c for c in prompt if c not in self.vocab})
        if unseen:
            warnings.warn(f"prompt characters not in the vocabulary were dropped: {unseen}", stacklevel=4)
            prompt = "".join(c for c in prompt if c in self.vocab)
        return self.vocab.encode(prompt).tolist() if prompt else []


class SeedSource:
    """The seeds of one call's samples, in order: from ``seed`` (reproducible) or from the system."""

    def __init__(self, seed: int | None) -> None:
        base = random.SystemRandom().getrandbits(63) if seed is None else seed
        self.generator = torch.Generator().manual_seed(base)

    def take(self, n: int) -> list[int]:
        return torch.randint(2**62, (n,), generator=self.generator).tolist()
