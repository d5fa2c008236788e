"""Recipe sentiment: many-to-one classification (SST-2, IMDB) with a pooled (C)RNN.

Modes: train (default), evaluate (ckpt=... [split=test]), predict (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import time
from collections import Counter

import torch

from nlprnn.data.batching import pad_batch
from nlprnn.data.reader import StreamedSplit
from nlprnn.data.subword import SubwordTokenizer
from nlprnn.data.table import Labelled
from nlprnn.data.token_store import TokenStore, file_identity, in_chunks
from nlprnn.data.tokenizers import tokenizer_to_dict
from nlprnn.embeddings.word_vectors import tokenizer_fingerprint
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.inference.classifier import Classifier, model_sizes
from nlprnn.inference.results import Classification
from nlprnn.modes import modes_of
from nlprnn.recipes.recipe import Recipe
from nlprnn.training import distributed as dist
from nlprnn.training.metrics import classification_scores, format_confusion


def label_order(given: list[str] | None, train: list[str]) -> list[str]:
    """The class names in a stable order: ``data.labels`` when set (it must cover train), else the
    training labels sorted (as numbers when they all are: "1" < "2" < "10")."""
    seen = set(train)
    if given:
        missing = sorted(seen - {str(g) for g in given})
        if missing:
            raise UserError(f"data.labels={list(given)} lacks the training labels {missing}")
        return [str(g) for g in given]
    numeric = all(label.lstrip("-").isdigit() for label in seen)
    return sorted(seen, key=int if numeric else str)


class LabelledRows:
    """A token store's rows as the (token ids, label id) pairs ``collate`` takes."""

    def __init__(self, store: TokenStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> tuple:
        ids, label = self.store[i]
        return ids, int(label[0])


class Sentiment(Recipe):
    """Cross-entropy on the pooled RNN output; validation accuracy picks checkpoints and stops early."""

    name, predictor, inference_mode = "sentiment", Classifier, "predict"
    metric, metric_mode = "val_acc", "max"
    try_input = "'text=\"a gripping , funny film .\"'"

    def build(self, splits: dict[str, list[Labelled]], out):
        cfg, start = self.cfg, time.perf_counter()
        streamed = isinstance(splits["train"], StreamedSplit)  # data.stream=true: a memory-mapped token store
        if streamed and "PpmiSvd" in str(cfg.embeddings.get("_target_")):
            raise UserError(
                "embeddings=ppmi_svd counts the training texts in memory: with data.stream=true "
                "use embeddings=random or embeddings=file"
            )
        texts = (text for text, _ in splits["train"]) if streamed else [text for text, _ in splits["train"]]
        # the training texts only; rank 0 builds it and the other ranks receive it (torchrun)
        tokenizer = dist.built_by_main(lambda: build(cfg.tokenizer, texts=texts))
        kind = "sentencepiece" if isinstance(tokenizer, SubwordTokenizer) else "word"
        train_labels = {label for _, label in splits["train"]}  # one more pass over a stream
        labels = label_order(cfg.data.get("labels"), list(train_labels))
        for split in ("val", "test"):
            unknown = {label for _, label in splits.get(split, [])} - set(labels)
            if unknown:
                raise UserError(f"{split} labels {sorted(unknown)} never occur in the training data")
        if len(labels) < 2:
            raise UserError(f"the training data holds one label only ({labels[0]!r}): nothing to classify")
        model = build(cfg.model, **model_sizes(tokenizer, labels))
        self.clf = Classifier(model, tokenizer, labels, cfg.max_len, cfg.truncate, self.device)
        if streamed:
            self.train = LabelledRows(self.stored_train(splits["train"]))
            self.lengths, texts = self.train.store.lengths("text"), []
        else:
            self.train = self.encode(splits["train"])  # tokenize once
            self.lengths = [len(ids) for ids, _ in self.train]
        self.val = self.encode(splits["val"])
        seconds = time.perf_counter() - start
        own_files = [
            cfg.data.get("archive"),
            *(cfg.data.get("files") or {}).values(),
        ]  # test texts stay unseen
        init = build(cfg.embeddings)
        held_out = [f for f in own_files if f]
        vectors_log = init(model.embedding.weight, tokenizer, texts, cfg.data.dir, cfg.seed, held_out)
        if dist.is_main():
            lengths = sorted(self.lengths)
            print(
                f"data: {cfg.data.name}: "
                + ", ".join(f"{k} {len(self.train if k == 'train' else v):,}" for k, v in splits.items())
                + f"; labels {', '.join(labels)}"
                + f"; {kind} vocabulary {tokenizer.vocab_size:,}; training tokens per text: "
                f"median {lengths[len(lengths) // 2]}, max {lengths[-1]} (after truncation); "
                f"tokenized in {seconds:.1f} s; {sum(p.numel() for p in model.parameters()):,} parameters\n"
                f"{vectors_log}"
            )
        vocab = {"tokenizer": tokenizer_to_dict(tokenizer), "labels": labels}
        return model, {"vocab": vocab}

    def encode(self, examples: list[Labelled], clf: Classifier | None = None) -> list[tuple[list[int], int]]:
        """(token ids, label id) of each example whose label the classifier knows."""
        clf = clf or self.clf
        index = {label: i for i, label in enumerate(clf.labels)}
        known = [(text, index[label]) for text, label in examples if label in index]
        return list(zip(clf.encode([text for text, _ in known]), [label for _, label in known]))

    def stored_train(self, train: StreamedSplit) -> TokenStore:
        """The training texts' ids and labels tokenized once into a token store, keyed by the
        file, the tokenizer, the labels and the truncation."""
        settings = [str(self.clf.labels), str(self.cfg.max_len), str(self.cfg.truncate)]
        key = [*file_identity(train.files), *tokenizer_fingerprint(self.clf.tokenizer), *settings]

        def write(writer) -> dict:
            texts = 0
            for chunk in in_chunks(train, 20_000):
                writer.append([(ids, [label]) for ids, label in self.encode(chunk)])
                texts += len(chunk)
            return {"texts": texts}

        vocab = max(self.clf.tokenizer.vocab_size, len(self.clf.labels))
        return self.open_token_store("sentiment", key, ("text", "label"), vocab, write)

    def collate(self, rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, labels = zip(*rows)
        tokens, lengths = pad_batch(ids, self.clf.tokenizer.pad_id)
        return tokens, lengths, torch.tensor(labels)

    def train_loss(self, model, batch):
        tokens, lengths, labels = (t.to(self.device) for t in batch)
        return model(tokens, lengths, targets=labels).loss, int(lengths.sum()), len(labels)

    def evaluate(self, model) -> dict[str, float]:
        self.clf.model = model.eval()
        scores = self.scores_of(self.clf, self.val)
        return {"val_acc": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}

    @staticmethod
    def scores_of(clf: Classifier, encoded: list[tuple]) -> dict:
        predicted = clf.probabilities_of([ids for ids, _ in encoded]).argmax(-1).tolist()
        return classification_scores([label for _, label in encoded], predicted, clf.labels)

    def score(self, clf: Classifier, examples: list[Labelled]) -> dict:
        """Scores over the examples whose gold label the model knows; the others are counted by label
        (a new file may hold classes the model was never trained on)."""
        unknown = Counter(label for _, label in examples if label not in set(clf.labels))
        encoded = self.encode(examples, clf)
        if not encoded:
            raise UserError(
                f"none of the {len(examples)} texts has a label the model knows ({', '.join(clf.labels)})"
            )
        scores = {**self.scores_of(clf, encoded), "texts": len(encoded), "labels": clf.labels}
        return {**scores, "unknown_labels": dict(unknown)} if unknown else scores

    def describe(self, split: str, scores: dict) -> str:
        per_class = "\n".join(
            f"  {label:<12} P {s['precision']:6.2f}  R {s['recall']:6.2f}  F1 {s['f1']:6.2f}  "
            f"support {s['support']}"
            for label, s in scores["per_class"].items()
        )
        unknown = scores.get("unknown_labels")
        n_unknown = sum(unknown.values()) if unknown else 0
        skipped = (
            f"\n  not scored: {n_unknown:,} text{'s' if n_unknown != 1 else ''} with labels the model "
            "does not know: " + ", ".join(f"{label!r} x{n}" for label, n in sorted(unknown.items()))
            if unknown
            else ""
        )
        return (
            f"{split}: accuracy {scores['accuracy']:.2f}  macro F1 {scores['macro_f1']:.2f}  "
            f"({scores['texts']:,} texts in {scores['seconds']:.1f} s){skipped}\n{per_class}\n"
            + format_confusion(scores["confusion"], scores["labels"])
        )

    def format(self, text: str, result: Classification) -> str:
        """label, its probability, the text; a text with no tokens: empty label and probability."""
        if result.label is None:
            return f"\t\t{text}"
        return f"{result.label}\t{result.score:.4f}\t{text}"


RECIPE = Sentiment  # the class, for code that trains a recipe itself (course comparisons)
MODES = modes_of(Sentiment)
