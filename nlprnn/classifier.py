"""Classify raw texts with a trained sentiment checkpoint; accuracy, macro F1, confusion matrix.

from nlprnn.classifier import Classifier
clf = Classifier.from_checkpoint("runs/sentiment/RUN/best.pt")
clf.predict(["a gripping , beautifully acted film .", "a tedious mess ."])
# -> [("positive", 0.99999...), ("negative", 0.99999...)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.errors import UserError
from nlprnn.training.checkpoint import load_checkpoint

TRUNCATE = ("head", "tail")


def truncate(ids: list[int], max_len: int | None, side: str = "tail") -> list[int]:
    """At most ``max_len`` ids: ``side="tail"`` cuts the end (keeps the opening), ``"head"`` cuts the
    beginning (keeps the ending, where reviews tend to sum up)."""
    if side not in TRUNCATE:
        raise UserError(f"truncate={side!r}: choose head (drop the beginning) or tail (drop the end)")
    if not max_len or len(ids) <= max_len:
        return ids
    return ids[:max_len] if side == "tail" else ids[-max_len:]


class LowercasingSubwords(SubwordTokenizer):
    """A sentencepiece model trained on lowercased text, fed lowercased text."""

    def encode(self, texts, add_bos: bool = False, add_eos: bool = False) -> list[list[int]]:
        return super().encode([t.lower() for t in texts], add_bos, add_eos)


def tokenizer_to_dict(tokenizer) -> dict:
    """A word or sentencepiece tokenizer as plain checkpoint data."""
    if isinstance(tokenizer, SubwordTokenizer):
        lowercase = isinstance(tokenizer, LowercasingSubwords)
        return {"kind": "sentencepiece", "model": tokenizer.to_tensor(), "lowercase": lowercase}
    return {"kind": "word", **tokenizer.to_dict()}


def tokenizer_from_dict(d: dict):
    if d["kind"] == "word":
        return WordTokenizer.from_dict(d)
    subwords = SubwordTokenizer.from_tensor(d["model"])
    return LowercasingSubwords(subwords.sp) if d["lowercase"] else subwords


def classification_scores(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict:
    """Accuracy and macro F1 (x100) and the confusion matrix (rows: gold label, columns: predicted)."""
    k = len(labels)
    gold_t, pred_t = torch.as_tensor(list(gold)), torch.as_tensor(list(predicted))
    confusion = torch.bincount(gold_t * k + pred_t, minlength=k * k).reshape(k, k)
    hits = confusion.diag().double()
    precision = hits / confusion.sum(0).clamp(min=1)
    recall = hits / confusion.sum(1).clamp(min=1)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "accuracy": 100 * float(hits.sum() / max(1, len(gold_t))),
        "macro_f1": 100 * float(f1.mean()),
        "confusion": confusion.tolist(),
    }


def format_confusion(confusion: list[list[int]], labels: Sequence[str]) -> str:
    width = max(8, *(len(label) for label in labels)) + 2
    lines = ["gold \\ predicted".ljust(width + 6) + "".join(label.rjust(width) for label in labels)]
    for label, row in zip(labels, confusion):
        lines.append(label.ljust(width + 6) + "".join(str(n).rjust(width) for n in row))
    return "\n".join(lines)


class Classifier:
    """Batched prediction for raw texts with a SequenceClassifier.

    Args:
        model: a SequenceClassifier; tokenizer: its WordTokenizer or SubwordTokenizer;
        labels: the class names; max_len, truncate_side: as in training.
    """

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[str],
        max_len=None,
        truncate_side="tail",
        device="cpu",
        max_tokens: int = 20000,
    ):
        self.model, self.tokenizer, self.labels = model.eval(), tokenizer, list(labels)
        self.max_len, self.truncate_side = max_len, truncate_side
        self.device, self.max_tokens = torch.device(device), max_tokens
        self.config: dict = {}

    @classmethod
    def from_checkpoint(cls, path, device: str = "cpu") -> Classifier:
        from nlprnn.tasks.common import model_from_checkpoint

        ckpt = load_checkpoint(path, "sentiment")
        tokenizer, labels = tokenizer_from_dict(ckpt["vocab"]["tokenizer"]), ckpt["vocab"]["labels"]
        model = model_from_checkpoint(
            ckpt,
            torch.device(device),
            vocab_size=tokenizer.vocab_size,
            num_classes=len(labels),
            pad_id=tokenizer.pad_id,
        )
        text_cfg = ckpt["config"]["tokenizer"]
        clf = cls(model, tokenizer, labels, text_cfg["max_len"], text_cfg["truncate"], device)
        clf.config = ckpt["config"]
        return clf

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Texts -> truncated id lists; a text with no tokens becomes one <unk>."""
        return [
            truncate(ids, self.max_len, self.truncate_side) or [self.tokenizer.unk_id]
            for ids in self.tokenizer.encode(list(texts))
        ]

    @torch.no_grad()
    def probabilities_of(self, encoded: Sequence[Sequence[int]]) -> torch.Tensor:
        """Encoded texts -> class probabilities (N, C), in input order; batched by length."""
        probs = torch.empty(len(encoded), len(self.labels))
        for batch in make_batches([len(x) for x in encoded], self.max_tokens, 512, shuffle=False):
            tokens, lengths = pad_batch([encoded[i] for i in batch], self.tokenizer.pad_id)
            logits = self.model(tokens.to(self.device), lengths.to(self.device))
            probs[batch] = torch.softmax(logits.float(), dim=-1).cpu()
        return probs

    def probabilities(self, texts: Sequence[str]) -> torch.Tensor:
        return self.probabilities_of(self.encode(texts))

    def predict(self, texts: str | Sequence[str]) -> list[tuple[str, float]] | tuple[str, float]:
        """Raw text(s) -> (label, probability of that label); one pair for a string, a list for a list."""
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        if not all(isinstance(t, str) for t in batch):
            raise UserError("Classifier.predict takes a string or a list of strings")
        if not batch:
            return []
        probs = self.probabilities(batch)
        best = probs.argmax(-1)
        out = [(self.labels[int(k)], float(probs[i, k])) for i, k in enumerate(best)]
        return out[0] if single else out
