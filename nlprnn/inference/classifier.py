"""Classify raw texts with a trained sentiment checkpoint: the label, its probability, every label's.

from nlprnn import Classifier
clf = Classifier.from_checkpoint("runs/sentiment/RUN")
result = clf("a gripping , beautifully acted film .")
result.label            # -> 'positive'
result.score            # -> 0.97: the label's probability
result.probabilities    # -> {'negative': 0.03, 'positive': 0.97}
clf("a gripping film .", top_k=1).top            # -> [('positive', 0.97)]
clf(["a gripping film .", "a tedious mess ."])    # -> one Classification each
clf.explain("a gripping film .")                 # -> Explanation: tokens, attention weights, probabilities

Options (constructor, attribute or per call): top_k (how many (label, probability) pairs ``top`` holds,
best first; None: all), batch_size and max_tokens (texts and tokens per batch). A text with no tokens
gives Classification(label=None, score=None).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from nlprnn.allocator import tidy
from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.tokenizers import LowercasingSubwords, tokenizer_from_dict, tokenizer_to_dict, truncate
from nlprnn.data.word_tokenizer import split_words
from nlprnn.errors import UserError
from nlprnn.inference.predictor import (
    COUNT,
    COUNT_OR_NONE,
    Predictor,
    checked_id_lists,
    checked_text,
    checked_texts,
)
from nlprnn.inference.results import Classification, Result
from nlprnn.models.config import model_config
from nlprnn.training.checkpoint import model_from_checkpoint


def model_sizes(tokenizer, labels: Sequence[str]) -> dict:
    """The SequenceClassifier keywords that the tokenizer and labels give."""
    return {"vocab_size": tokenizer.vocab_size, "num_classes": len(labels), "pad_id": tokenizer.pad_id}


@dataclass(frozen=True)
class Explanation(Result):
    """What a Classifier read in one text (``Classifier.explain``): its ``tokens`` as the model saw
    them (the tokenizer's words or sentencepiece pieces, after truncation), ``weights``, the
    attention-pooling weight of each token (summing to 1; None when the model pools otherwise:
    ``pooling`` says how, or None where the runtime hides it, as ONNX Runtime does), the ``label``
    and every label's ``probabilities``."""

    tokens: list[str]
    weights: list[float] | None
    label: str
    probabilities: dict[str, float] = field(default_factory=dict)
    pooling: str | None = None


class Classifier(Predictor):
    """Batched prediction for raw texts with a SequenceClassifier.

    Load one with ``Classifier.from_checkpoint(path, device="auto", **options)`` (a checkpoint or a
    run directory of ``recipe=sentiment``) or ``Classifier.from_pretrained(folder_or_owner_name,
    device="auto", **options)``. Results are ``Classification`` objects: the label, its probability, every
    label's probability and the ``top_k`` best.

    Example::

        clf = Classifier.from_pretrained("my-sentiment", top_k=1)
        result = clf("a gripping , beautifully acted film .")
        result.label, result.score           # ('positive', 0.97)
        result.probabilities                 # {'negative': 0.03, 'positive': 0.97}
        clf.probabilities(["a tedious mess ."])   # a (1, C) tensor

    Options:
        top_k: how many (label, probability) pairs ``Classification.top`` holds, best first
            (default None: all).
        batch_size: texts per batch at most (default 512).
        max_tokens: tokens per batch at most (default 20000).

    Args:
        model: a SequenceClassifier.
        tokenizer: its WordTokenizer or SubwordTokenizer.
        labels: the class names, in the model's order.
        max_len: tokens kept per text, as in training (None: all).
        truncate: which end is kept when cutting: "tail" or "head", as in training.
        device: where the model runs.
        max_tokens: see Options.
        batch_size: see Options.
        top_k: see Options.
    """

    recipe = "sentiment"
    OPTIONS = {"top_k": COUNT_OR_NONE, "batch_size": COUNT, "max_tokens": COUNT}

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[str],
        max_len=None,
        truncate="tail",
        device="cpu",
        max_tokens: int = 20000,
        batch_size: int = 512,
        top_k: int | None = None,
    ):
        self.model, self.tokenizer, self.labels = model.eval(), tokenizer, list(labels)
        self.max_len, self.truncate = max_len, truncate
        self.device, self.max_tokens, self.batch_size, self.top_k = device, max_tokens, batch_size, top_k
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, **options) -> Classifier:
        tokenizer, labels = tokenizer_from_dict(ckpt["vocab"]["tokenizer"]), ckpt["vocab"]["labels"]
        model = model_from_checkpoint(ckpt, device)
        config = ckpt["config"]
        return cls(model, tokenizer, labels, config["max_len"], config["truncate"], device, **options)

    def _checkpoint_entries(self) -> dict:
        model = model_config(self.model, model_sizes(self.tokenizer, self.labels))
        config = {"model": model, "max_len": self.max_len, "truncate": self.truncate}
        vocab = {"tokenizer": tokenizer_to_dict(self.tokenizer), "labels": self.labels}
        return {"config": config, "vocab": vocab}

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Texts -> truncated id lists; a text with no tokens becomes one <unk> (as in training)."""
        texts = checked_texts(texts, "Classifier.encode", "a list of strings")
        return [
            truncate(ids, self.max_len, self.truncate) or [self.tokenizer.unk_id]
            for ids in self.tokenizer.encode(texts)
        ]

    def probabilities_of(self, encoded: Sequence[Sequence[int]]) -> torch.Tensor:
        """Encoded texts -> class probabilities (N, C), in input order; batched by length."""
        encoded = checked_id_lists(encoded, "Classifier.probabilities_of", self.tokenizer.vocab_size)
        return self._probabilities(encoded, self.batch_size, self.max_tokens)

    @torch.no_grad()
    def _probabilities(self, encoded: list, batch_size: int, max_tokens: int) -> torch.Tensor:
        probs = torch.empty(len(encoded), len(self.labels))
        for batch in make_batches([len(x) for x in encoded], max_tokens, batch_size, shuffle=False):
            tokens, lengths = pad_batch([encoded[i] for i in batch], self.tokenizer.pad_id)
            logits = self.model(tokens.to(self.device), lengths.to(self.device)).logits
            probs[batch] = torch.softmax(logits.float(), dim=-1).cpu()
            tidy()  # a no-op unless a training run asked for it (trainer.release_freed_memory)
        return probs

    def probabilities(self, texts: str | Iterable[str]) -> torch.Tensor:
        """A text -> class probabilities (C,); a list of texts -> (N, C)."""
        if isinstance(texts, str):
            return self.probabilities([texts])[0]
        return self.probabilities_of(self.encode(checked_texts(texts, "Classifier.probabilities")))

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text as the model reads them, truncated as ``encode`` truncates: one string
        per id (words for a word tokenizer, else sentencepiece pieces such as "▁film")."""
        text = checked_text(text, "Classifier.tokens")
        if isinstance(self.tokenizer, SubwordTokenizer):
            lowered = text.lower() if isinstance(self.tokenizer, LowercasingSubwords) else text
            pieces = self.tokenizer.sp.encode(lowered, out_type=str)
        else:
            pieces = split_words(text, self.tokenizer.lowercase)
        return truncate(pieces, self.max_len, self.truncate)

    @torch.no_grad()
    def explain(self, text: str) -> Explanation:
        """Why the model chose its label, as far as attention pooling tells: each token's pooling
        weight beside the label probabilities (what the demo page shades words by).

        With a convolution front end the pooling weighs windows of ``conv_pool`` tokens; each token
        then gets an equal share of its window's weight. A model pooling by last / max / mean has
        no such weights: ``weights`` is None.

        Raises:
            nlprnn.errors.UserError: ``text`` is not a string, or has no tokens.
        """
        tokens = self.tokens(checked_text(text, "Classifier.explain"))
        if not tokens:
            raise UserError("Classifier.explain: the text has no tokens to weigh")
        ids = truncate(self.tokenizer.encode([text])[0], self.max_len, self.truncate)
        logits = self.model(torch.tensor([ids], device=self.device), torch.tensor([len(ids)])).logits
        probs = torch.softmax(logits.float(), dim=-1)[0].tolist()
        pool = getattr(self.model, "pool", None)
        kind = getattr(pool, "kind", None)
        weights = pool.weights[0].float().cpu() if kind == "attention" and pool.weights is not None else None
        if weights is not None:
            stride = getattr(getattr(self.model, "front", None), "pool", 1)
            weights = token_weights(weights, len(ids), stride).tolist()
        label = max(zip(self.labels, probs), key=lambda pair: pair[1])[0]
        return Explanation(tokens, weights, label, dict(zip(self.labels, probs)), kind)

    def _predict(self, texts: list[str], settings: dict) -> list[Classification]:
        encoded = [truncate(ids, self.max_len, self.truncate) for ids in self.tokenizer.encode(texts)]
        live = [i for i, ids in enumerate(encoded) if ids]  # no tokens: the empty result
        probs = self._probabilities(
            [encoded[i] for i in live], settings["batch_size"], settings["max_tokens"]
        )
        out = [Classification(None) for _ in texts]
        for row, i in enumerate(live):
            out[i] = self._classification(probs[row].tolist(), settings["top_k"])
        return out

    def _classification(self, probs: list[float], top_k: int | None) -> Classification:
        ranked = sorted(zip(self.labels, probs), key=lambda pair: -pair[1])
        return Classification(ranked[0][0], ranked[0][1], dict(zip(self.labels, probs)), ranked[:top_k])


def token_weights(weights: torch.Tensor, num_tokens: int, stride: int = 1) -> torch.Tensor:
    """Pooling weights over positions spread over ``num_tokens`` tokens: one each when they agree,
    else (a front end pooling windows of ``stride`` tokens) an equal share of each window's."""
    if len(weights) == num_tokens:
        return weights
    position = torch.arange(num_tokens) // stride
    share = torch.bincount(position, minlength=len(weights)).clamp_min(1)
    return weights[position] / share[position]
