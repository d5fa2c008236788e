"""Recipe sentiment: many-to-one classification (SST-2, IMDB) with a pooled (C)RNN.

Modes: train (default), evaluate (ckpt=... [split=test]), predict (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import time

import torch

from nlprnn.data.batching import IndexedBatches, make_batches, pad_batch
from nlprnn.data.sentiment import Example, ImdbReviews
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.tokenizers import tokenizer_to_dict
from nlprnn.errors import build
from nlprnn.inference.classifier import Classifier
from nlprnn.tasks.recipe import Recipe, modes_of
from nlprnn.training import distributed as dist
from nlprnn.training.metrics import classification_scores, format_confusion


class Sentiment(Recipe):
    """Cross-entropy on the pooled RNN output; validation accuracy picks checkpoints and stops early."""

    name, predictor, inference_mode = "sentiment", Classifier, "predict"
    metric, metric_mode = "val_acc", "max"
    try_input = "'text=\"a gripping , funny film .\"'"

    def build(self, splits: dict[str, list[Example]], out):
        cfg, start = self.cfg, time.perf_counter()
        texts = [text for text, _ in splits["train"]]
        # the training texts only; rank 0 builds it and the other ranks receive it (torchrun)
        tokenizer = dist.built_by_main(lambda: build(cfg.tokenizer, texts=texts))
        kind = "sentencepiece" if isinstance(tokenizer, SubwordTokenizer) else "word"
        model = build(
            cfg.model,
            vocab_size=tokenizer.vocab_size,
            num_classes=len(cfg.data.labels),
            pad_id=tokenizer.pad_id,
        )
        self.clf = Classifier(model, tokenizer, cfg.data.labels, cfg.max_len, cfg.truncate, self.device)
        self.train, self.val = (self.encode(splits[s]) for s in ("train", "val"))  # tokenize once
        self.lengths = [len(ids) for ids, _ in self.train]
        seconds = time.perf_counter() - start
        own_archive = cfg.data._target_.endswith(ImdbReviews.__name__)  # its test reviews stay unseen
        init = build(cfg.embeddings)
        vectors_log = init(model.embedding.weight, tokenizer, texts, cfg.data.dir, cfg.seed, own_archive)
        if dist.is_main():
            lengths = sorted(self.lengths)
            print(
                f"data: {cfg.data.name}: "
                + ", ".join(f"{k} {len(v):,}" for k, v in splits.items())
                + f"; {kind} vocabulary {tokenizer.vocab_size:,}; training tokens per text: "
                f"median {lengths[len(lengths) // 2]}, max {lengths[-1]} (after truncation); "
                f"tokenized in {seconds:.1f} s; {sum(p.numel() for p in model.parameters()):,} parameters\n"
                f"{vectors_log}"
            )
        vocab = {"tokenizer": tokenizer_to_dict(tokenizer), "labels": list(cfg.data.labels)}
        return model, {"vocab": vocab}

    def encode(self, examples: list[Example], clf: Classifier | None = None) -> list[tuple[list[int], int]]:
        clf = clf or self.clf
        return list(zip(clf.encode([text for text, _ in examples]), [label for _, label in examples]))

    def train_batches(self, epoch: int) -> IndexedBatches:
        b = self.cfg.batching
        batches = make_batches(self.lengths, b.max_tokens, b.batch_size, True, self.cfg.seed, epoch)
        return IndexedBatches(self.train, dist.shard(batches), self._collate)

    def _collate(self, rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, labels = zip(*rows)
        tokens, lengths = pad_batch(ids, self.clf.tokenizer.pad_id)
        return tokens, lengths, torch.tensor(labels)

    def train_loss(self, model, batch):
        tokens, lengths, labels = (t.to(self.device) for t in batch)
        return model(tokens, lengths, labels), int(lengths.sum()), len(labels)

    def evaluate(self, model) -> dict[str, float]:
        self.clf.model = model.eval()
        scores = self.scores_of(self.clf, self.val)
        return {"val_acc": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}

    @staticmethod
    def scores_of(clf: Classifier, encoded: list[tuple]) -> dict:
        predicted = clf.probabilities_of([ids for ids, _ in encoded]).argmax(-1).tolist()
        return classification_scores([label for _, label in encoded], predicted, clf.labels)

    def score(self, clf: Classifier, examples: list[Example]) -> dict:
        self.labels = clf.labels
        return {**self.scores_of(clf, self.encode(examples, clf)), "texts": len(examples)}

    def describe(self, split: str, scores: dict) -> str:
        return (
            f"{split}: accuracy {scores['accuracy']:.2f}  macro F1 {scores['macro_f1']:.2f}  "
            f"({scores['texts']:,} texts in {scores['seconds']:.1f} s)\n"
            + format_confusion(scores["confusion"], self.labels)
        )

    def format(self, text: str, result: tuple[str, float]) -> str:
        label, prob = result
        return f"{label}\t{prob:.4f}\t{text}"


RECIPE = Sentiment  # the class, for code that trains a recipe itself (course comparisons)
MODES = modes_of(Sentiment)
