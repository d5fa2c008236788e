"""Generate text with a trained character language model: a prompt in, the prompt and its
continuation out; the same seed gives the same text.

from nlprnn import Generator
gen = Generator.from_checkpoint("runs/char_lm/RUN", length=200, temperature=0.8)
gen("ROMEO:")                  # -> "ROMEO:\\n..."
gen(["ROMEO:", "JULIET:"])     # -> one text each (each as if generated alone)
"""

from __future__ import annotations

import warnings

import torch

from nlprnn.data.vocab import Vocab
from nlprnn.errors import UserError
from nlprnn.inference.predictor import Predictor, checked_text, checked_texts
from nlprnn.modules.decoding import sample
from nlprnn.training.checkpoint import model_from_checkpoint


class Generator(Predictor):
    """Sampling from a LanguageModel over characters.

    Args:
        model: a LanguageModel; vocab: its character Vocab (with <unk>, never generated).
        length: characters generated after each prompt.
        temperature, top_k, top_p: the sampling distribution (see ``nlprnn.modules.decoding``).
        seed: each prompt's sampling starts from this seed.
    """

    task = "char_lm"
    stream_batch = 1

    def __init__(
        self,
        model,
        vocab: Vocab,
        length: int = 500,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        check_sampling(length, temperature, top_k, top_p)
        self.model, self.vocab = model.eval(), vocab
        self.length, self.temperature, self.top_k, self.top_p = length, temperature, top_k, top_p
        self.seed, self.device = seed, torch.device(device)
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, **sampling) -> Generator:
        vocab = Vocab.from_dict(ckpt["vocab"])
        model = model_from_checkpoint(ckpt, device, vocab_size=len(vocab))
        return cls(model, vocab, device=device, **sampling)

    def generate(self, prompts):
        """A prompt -> the prompt and ``length`` sampled characters; a list -> one text each."""
        return self._answer(prompts, "Generator.generate")

    def predict_batch(self, prompts: list[str]) -> list[str]:
        prompts = checked_texts(prompts, "Generator.predict_batch", "a list of strings")
        return [self._generate_one(prompt) for prompt in prompts]

    @torch.inference_mode()
    def _generate_one(self, prompt: str) -> str:
        ids = self.encode_prompt(prompt)
        state = None
        if len(ids) > 1:  # read the prompt in one fused call, then continue step by step
            state = self.model(torch.tensor([ids[:-1]], device=self.device)).state
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        last = torch.tensor([ids[-1]], device=self.device)
        out = sample(
            self._never_unk, last, state, self.length, self.temperature, self.top_k, self.top_p, generator=gen
        )
        return "".join(self.vocab.decode(ids)) + "".join(self.vocab.decode(out[0].tolist()))

    def encode_prompt(self, prompt: str) -> list[int]:
        """Prompt -> ids. Characters the model never saw are dropped with a warning; an empty
        prompt (or one with nothing left) starts from a newline, as if at a paragraph break."""
        prompt, vocab = checked_text(prompt, "Generator.encode_prompt"), self.vocab
        unseen = sorted({c for c in prompt if c not in vocab})
        if unseen:
            warnings.warn(f"prompt characters not in the vocabulary were dropped: {unseen}", stacklevel=2)
            prompt = "".join(c for c in prompt if c in vocab)
        start = prompt or ("\n" if "\n" in vocab else vocab.itos[-1])
        return vocab.encode(start).tolist()

    def _never_unk(self, tokens, state):
        """The model's step with <unk> (a stand-in, not a character) never sampled."""
        logits, state = self.model.step(tokens, state)
        return logits.index_fill(-1, torch.tensor([self.vocab.unk_id], device=logits.device), -1e9), state


def check_sampling(length: int, temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Sampling settings that would otherwise fail deep inside, or silently do something else."""
    if not isinstance(length, int) or length < 0:
        raise UserError(f"length={length!r}: give a number of characters >= 0")
    if not temperature >= 0:
        raise UserError(f"temperature={temperature!r}: must be >= 0 (0: greedy)")
    if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
        raise UserError(f"top_k={top_k!r}: must be a whole number >= 1 (or null for no cut)")
    if top_p is not None and not 0 < top_p <= 1:
        raise UserError(f"top_p={top_p!r}: must lie in (0, 1] (or null for no cut)")
