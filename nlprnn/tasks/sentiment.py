"""Recipe sentiment: many-to-one classification (SST-2, IMDB) with a pooled (C)RNN.

Modes: train (default), evaluate (ckpt=... [split=test]), predict (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import time

import torch
from hydra.utils import instantiate

from nlprnn.data.batching import IndexedBatches, make_batches, pad_batch
from nlprnn.data.sentiment import Example, ImdbReviews
from nlprnn.data.tokenizers import subword_tokenizer, tokenizer_to_dict, train_subwords
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.data.word_vectors import ppmi_svd_vectors, unlabelled_texts
from nlprnn.errors import UserError
from nlprnn.inference.classifier import Classifier
from nlprnn.tasks.recipe import Recipe, modes_of
from nlprnn.training import distributed as dist
from nlprnn.training.metrics import classification_scores, format_confusion


class Sentiment(Recipe):
    """Cross-entropy on the pooled RNN output; validation accuracy picks checkpoints and stops early."""

    name, predictor, inference_mode = "sentiment", Classifier, "predict"
    metric, metric_mode = "val_acc", "max"
    try_input = 'text="a gripping , funny film ."'

    def build(self, splits: dict[str, list[Example]], out):
        cfg, start = self.cfg, time.perf_counter()
        texts = [text for text, _ in splits["train"]]
        tokenizer = self.tokenizer(texts, out)
        model = instantiate(
            cfg.model,
            vocab_size=tokenizer.vocab_size,
            num_classes=len(cfg.data.labels),
            pad_id=tokenizer.pad_id,
        )
        tok = cfg.tokenizer
        self.clf = Classifier(model, tokenizer, cfg.data.labels, tok.max_len, tok.truncate, self.device)
        self.train, self.val = (self.encode(splits[s]) for s in ("train", "val"))  # tokenize once
        self.lengths = [len(ids) for ids, _ in self.train]
        seconds = time.perf_counter() - start
        vectors_log = self.init_embeddings(model, tokenizer, texts)
        if dist.is_main():
            lengths = sorted(self.lengths)
            print(
                f"data: {cfg.data.name}: "
                + ", ".join(f"{k} {len(v):,}" for k, v in splits.items())
                + f"; {tok.kind} vocabulary {tokenizer.vocab_size:,}; training tokens per text: "
                f"median {lengths[len(lengths) // 2]}, max {lengths[-1]} (after truncation); "
                f"tokenized in {seconds:.1f} s; {sum(p.numel() for p in model.parameters()):,} parameters\n"
                f"{vectors_log}"
            )
        vocab = {"tokenizer": tokenizer_to_dict(tokenizer), "labels": list(cfg.data.labels)}
        return model, {"vocab": vocab}

    def tokenizer(self, texts: list[str], out):
        """Word vocabulary (frequency cut) or sentencepiece (rank 0 trains, all read), training texts only."""
        tok = self.cfg.tokenizer
        if tok.kind == "word":
            return WordTokenizer.build(texts, tok.min_freq, tok.max_size, tok.lowercase)
        if tok.kind == "sentencepiece":
            path = dist.written_by_main(
                lambda: train_subwords(texts, out / "spm", tok.vocab_size, tok.lowercase, self.cfg.seed)
            )
            return subword_tokenizer(path, tok.lowercase)
        raise UserError(f"tokenizer.kind={tok.kind!r}: choose word or sentencepiece")

    def init_embeddings(self, model, tokenizer, train_texts: list[str]) -> str:
        """embeddings.init=ppmi_svd: start the embedding table from count-based word vectors."""
        emb = self.cfg.embeddings
        if emb.init == "random":
            return "embeddings: random init"
        if emb.init != "ppmi_svd":
            raise UserError(f"embeddings.init={emb.init!r}: choose random or ppmi_svd")
        start = time.perf_counter()
        own_archive = self.cfg.data._target_.endswith(ImdbReviews.__name__)
        texts = unlabelled_texts(emb.corpus, self.cfg.data.dir, train_texts, own_archive)
        table = model.embedding.weight
        vectors = ppmi_svd_vectors(
            tokenizer.encode(texts), table.size(0), table.size(1), emb.window, seed=self.cfg.seed
        )
        found = vectors.abs().sum(1) > 0
        with torch.no_grad():
            table[found] = vectors[found].to(table.device)
        return (
            f"embeddings: PPMI-SVD vectors for {int(found.sum()):,} of {len(found):,} tokens from "
            f"{len(texts):,} unlabelled texts in {time.perf_counter() - start:.0f} s"
        )

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


MODES = modes_of(Sentiment)
