"""Classify raw texts with a trained sentiment checkpoint: (label, probability) and probabilities.

from nlprnn import Classifier
clf = Classifier.from_checkpoint("runs/sentiment/RUN")
clf("a gripping , beautifully acted film .")        # -> ("positive", 0.99...)
clf(["a gripping film .", "a tedious mess ."])      # -> [("positive", ...), ("negative", ...)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.tokenizers import tokenizer_from_dict, truncate
from nlprnn.inference.predictor import Predictor, checked_id_lists, checked_texts
from nlprnn.training.checkpoint import model_from_checkpoint


class Classifier(Predictor):
    """Batched prediction for raw texts with a SequenceClassifier.

    Args:
        model: a SequenceClassifier; tokenizer: its WordTokenizer or SubwordTokenizer;
        labels: the class names; max_len, truncate: as in training (tokens at most; tail or head).
    """

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[str],
        max_len=None,
        truncate="tail",
        device="cpu",
        max_tokens: int = 20000,
    ):
        self.model, self.tokenizer, self.labels = model.eval(), tokenizer, list(labels)
        self.max_len, self.truncate = max_len, truncate
        self.device, self.max_tokens = torch.device(device), max_tokens
        self.config: dict = {}

    task = "sentiment"

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, max_tokens: int = 20000) -> Classifier:
        tokenizer, labels = tokenizer_from_dict(ckpt["vocab"]["tokenizer"]), ckpt["vocab"]["labels"]
        model = model_from_checkpoint(
            ckpt, device, vocab_size=tokenizer.vocab_size, num_classes=len(labels), pad_id=tokenizer.pad_id
        )
        config = ckpt["config"]
        return cls(model, tokenizer, labels, config["max_len"], config["truncate"], device, max_tokens)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Texts -> truncated id lists; a text with no tokens becomes one <unk>."""
        texts = checked_texts(texts, "Classifier.encode", "a list of strings")
        return [
            truncate(ids, self.max_len, self.truncate) or [self.tokenizer.unk_id]
            for ids in self.tokenizer.encode(texts)
        ]

    @torch.no_grad()
    def probabilities_of(self, encoded: Sequence[Sequence[int]]) -> torch.Tensor:
        """Encoded texts -> class probabilities (N, C), in input order; batched by length."""
        encoded = checked_id_lists(encoded, "Classifier.probabilities_of", self.tokenizer.vocab_size)
        probs = torch.empty(len(encoded), len(self.labels))
        for batch in make_batches([len(x) for x in encoded], self.max_tokens, 512, shuffle=False):
            tokens, lengths = pad_batch([encoded[i] for i in batch], self.tokenizer.pad_id)
            logits = self.model(tokens.to(self.device), lengths.to(self.device)).logits
            probs[batch] = torch.softmax(logits.float(), dim=-1).cpu()
        return probs

    def probabilities(self, texts: str | Iterable[str]) -> torch.Tensor:
        """A text -> class probabilities (C,); a list of texts -> (N, C)."""
        if isinstance(texts, str):
            return self.probabilities([texts])[0]
        return self.probabilities_of(self.encode(checked_texts(texts, "Classifier.probabilities")))

    def predict(self, texts: str | Iterable[str]) -> tuple[str, float] | list[tuple[str, float]]:
        """A text -> (label, probability of that label); a list of texts -> one pair each."""
        return self._answer(texts, "Classifier.predict")

    def predict_batch(self, texts: list[str]) -> list[tuple[str, float]]:
        texts = checked_texts(texts, "Classifier.predict_batch", "a list of strings")
        probs = self.probabilities_of(self.encode(texts))
        best = probs.argmax(-1)
        return [(self.labels[int(k)], float(probs[i, k])) for i, k in enumerate(best)]
