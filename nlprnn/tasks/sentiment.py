"""Recipe sentiment: many-to-one classification (SST-2, IMDB) with a pooled (C)RNN.

Modes: train (default), evaluate (ckpt=... split=test), predict (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import json
import random
import time
from itertools import islice
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig

from nlprnn.classifier import (
    Classifier,
    LowercasingSubwords,
    classification_scores,
    format_confusion,
    tokenizer_to_dict,
)
from nlprnn.data.batching import IndexedBatches, make_batches, pad_batch
from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, missing_data
from nlprnn.data.sentiment import Example, carve_validation, clean_review, read_imdb, read_labelled
from nlprnn.data.subword import SubwordTokenizer, train_sentencepiece
from nlprnn.data.word_tokenizer import WordTokenizer
from nlprnn.data.word_vectors import ppmi_svd_vectors
from nlprnn.errors import UserError
from nlprnn.tasks.common import (
    input_lines,
    output_stream,
    run_dir,
    save_config,
    seed_everything,
    setup_device,
    trained_data_config,
)
from nlprnn.training import distributed as dist
from nlprnn.training.trainer import Trainer

TASK = "sentiment"
SPLITS = ("train", "val", "test")


# ---- data -------------------------------------------------------------------------------------
def load_examples(data_cfg: DictConfig, seed: int) -> dict[str, list[Example]]:
    """{train, val, test: [(text, label id)]} from local files (GLUE/SST files or the IMDB archive),
    else from the hub; with train_limit / eval_limit a seeded sample of each split (tests)."""
    if data_cfg.format == "imdb":
        archive = data_file(data_cfg.dir, data_cfg.files.archive)
        splits = (
            _imdb(archive, data_cfg, seed) if archive else _from_hub(data_cfg, data_cfg.files.archive, seed)
        )
    elif data_cfg.format == "sst2":
        paths = {split: data_file(data_cfg.dir, data_cfg.files[split]) for split in SPLITS}
        if all(paths.values()):
            splits = {split: read_labelled(path) for split, path in paths.items()}
        else:
            splits = _from_hub(data_cfg, data_cfg.files.train, seed)
    else:
        raise UserError(f"data.format={data_cfg.format!r}: choose sst2 or imdb")
    limits = {"train": data_cfg.train_limit, "val": data_cfg.eval_limit, "test": data_cfg.eval_limit}
    return {split: _sample(examples, limits[split], seed) for split, examples in splits.items()}


def _imdb(archive: Path, data_cfg: DictConfig, seed: int) -> dict[str, list[Example]]:
    splits = read_imdb(archive)
    train, val = carve_validation(splits["train"], data_cfg.val_size, seed)
    return {"train": train, "val": val, "test": splits["test"]}


def _from_hub(data_cfg: DictConfig, rel: str, seed: int) -> dict[str, list[Example]]:
    hub = data_cfg.hub
    ds = load_from_hub(hub.name, missing_data(f"sentiment data {data_cfg.name!r}", data_cfg.dir, rel))
    rows = {s: [(clean_review(r[hub.text]), int(r[hub.label])) for r in ds[s]] for s in ds}
    if hub.val_split:
        return {"train": rows["train"], "val": rows[hub.val_split], "test": rows["test"]}
    train, val = carve_validation(rows["train"], data_cfg.val_size, seed)
    return {"train": train, "val": val, "test": rows["test"]}


def _sample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded random ``limit`` examples in their original order (files are often sorted by label)."""
    if not limit or limit >= len(examples):
        return examples
    keep = sorted(random.Random(f"limit:{seed}").sample(range(len(examples)), limit))
    return [examples[i] for i in keep]


def build_tokenizer(cfg: DictConfig, texts: list[str], out: Path):
    """Word vocabulary (frequency cut) or sentencepiece, learnt from the training texts only."""
    tok = cfg.tokenizer
    if tok.kind == "word":
        return WordTokenizer.build(texts, tok.min_freq, tok.max_size, tok.lowercase)
    if tok.kind == "sentencepiece":
        texts = [t.lower() for t in texts] if tok.lowercase else texts
        model = train_sentencepiece(texts, out / "spm", tok.vocab_size, num_threads=2, seed=cfg.seed)
        subwords = SubwordTokenizer.from_file(model)
        return LowercasingSubwords(subwords.sp) if tok.lowercase else subwords
    raise UserError(f"tokenizer.kind={tok.kind!r}: choose word or sentencepiece")


def corpus_texts(cfg: DictConfig, train_texts: list[str]) -> list[str]:
    """The unlabelled texts of ``embeddings.corpus``: "train" (this dataset's training texts), an
    aclImdb .tar.gz under data.dir (all 50k reviews, labels unused; ``ARCHIVE:train`` or ``:test`` for
    one half) or a text file (a text a line)."""
    texts = []
    for entry in cfg.embeddings.corpus:
        if entry == "train":
            texts += train_texts
            continue
        entry, _, half = entry.partition(":")
        if half not in ("", "train", "test"):
            raise UserError(
                f"embeddings.corpus: {entry}:{half}: only :train or :test select part of an archive"
            )
        path = data_file(cfg.data.dir, entry)
        if path is None:
            raise UserError(f"embeddings.corpus: {entry} not found under data.dir={cfg.data.dir}")
        if path.name.endswith(".tar.gz"):
            if cfg.data.format == "imdb":
                raise UserError(
                    f"embeddings.corpus: {entry} holds the IMDB test reviews; with data=imdb use [train]"
                )
            reviews = read_imdb(path)
            texts += [text for split in ([half] if half else reviews) for text, _ in reviews[split]]
        else:
            try:
                texts += path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError as exc:
                raise UserError(f"embeddings.corpus: {path} is not UTF-8 text ({exc.reason})") from None
    return texts


def init_embeddings(cfg: DictConfig, model, tokenizer, train_texts: list[str]) -> str:
    """embeddings.init=ppmi_svd: start the embedding table from count-based word vectors; returns
    a line for the log."""
    emb = cfg.embeddings
    if emb.init == "random":
        return "embeddings: random init"
    if emb.init != "ppmi_svd":
        raise UserError(f"embeddings.init={emb.init!r}: choose random or ppmi_svd")
    start = time.perf_counter()
    texts = corpus_texts(cfg, train_texts)
    table = model.embed.weight
    vectors = ppmi_svd_vectors(
        tokenizer.encode(texts), table.size(0), table.size(1), emb.window, seed=cfg.seed
    )
    found = vectors.abs().sum(1) > 0
    with torch.no_grad():
        table[found] = vectors[found].to(table.device)
    return (
        f"embeddings: PPMI-SVD vectors for {int(found.sum()):,} of {len(found):,} tokens from "
        f"{len(texts):,} unlabelled texts in {time.perf_counter() - start:.0f} s"
    )


# ---- the task the trainer drives ----------------------------------------------------------------
class SentimentTask:
    """Cross-entropy on the pooled RNN output; validation accuracy picks checkpoints and stops early."""

    metric, metric_mode = "val_acc", "max"

    def __init__(self, cfg: DictConfig, train: list[tuple], val: list[tuple], clf: Classifier, device):
        self.cfg, self.train, self.val, self.clf, self.device = cfg, train, val, clf, device
        self.lengths = [len(ids) for ids, _ in train]

    def train_batches(self, epoch: int) -> IndexedBatches:
        b = self.cfg.batching
        batches = make_batches(self.lengths, b.max_tokens, b.batch_size, True, self.cfg.seed, epoch)
        return IndexedBatches(self.train, dist.shard(batches), self._collate)

    def _collate(self, rows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, labels = zip(*rows)
        tokens, lengths = pad_batch(ids, self.clf.tokenizer.pad_id)
        return tokens, lengths, torch.tensor(labels)

    def start_epoch(self, epoch: int) -> None:
        pass

    def train_loss(self, model, batch) -> tuple[torch.Tensor, int]:
        tokens, lengths, labels = (t.to(self.device) for t in batch)
        return F.cross_entropy(model(tokens, lengths), labels), int(lengths.sum())

    def evaluate(self, model) -> dict[str, float]:
        self.clf.model = model.eval()
        scores = score(self.clf, self.val)
        return {"val_acc": scores["accuracy"], "val_macro_f1": scores["macro_f1"]}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def score(clf: Classifier, encoded: list[tuple]) -> dict:
    predicted = clf.probabilities_of([ids for ids, _ in encoded]).argmax(-1).tolist()
    return classification_scores([label for _, label in encoded], predicted, clf.labels)


def encode(clf: Classifier, examples: list[Example]) -> list[tuple[list[int], int]]:
    return list(zip(clf.encode([text for text, _ in examples]), [label for _, label in examples]))


# ---- modes --------------------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict:
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    out = run_dir()
    resolved = save_config(cfg, out)
    data = load_examples(cfg.data, cfg.seed)
    start = time.perf_counter()
    tokenizer = build_tokenizer(cfg, [text for text, _ in data["train"]], out)
    model = instantiate(
        cfg.model, vocab_size=tokenizer.vocab_size, num_classes=len(cfg.data.labels), pad_id=tokenizer.pad_id
    )
    clf = Classifier(model, tokenizer, cfg.data.labels, cfg.tokenizer.max_len, cfg.tokenizer.truncate, device)
    encoded = {split: encode(clf, examples) for split, examples in data.items()}  # tokenize once
    seconds = time.perf_counter() - start
    vectors_log = init_embeddings(cfg, model, tokenizer, [text for text, _ in data["train"]])
    model.to(device)
    if dist.is_main():
        lengths = sorted(len(ids) for ids, _ in encoded["train"])
        print(
            f"data: {cfg.data.name}: "
            + ", ".join(f"{k} {len(v):,}" for k, v in data.items())
            + f"; {cfg.tokenizer.kind} vocabulary {tokenizer.vocab_size:,}; training tokens per text: "
            f"median {lengths[len(lengths) // 2]}, max {lengths[-1]} (after truncation); "
            f"tokenized in {seconds:.1f} s; {sum(p.numel() for p in model.parameters()):,} parameters\n"
            f"{vectors_log}"
        )
    task = SentimentTask(cfg, encoded["train"], encoded["val"], clf, device)
    extra = {
        "task": TASK,
        "config": resolved,
        "vocab": {"tokenizer": tokenizer_to_dict(tokenizer), "labels": list(cfg.data.labels)},
    }
    Trainer(cfg.trainer, cfg.optimizer, model, task, out, extra).fit()
    results = {}
    if dist.is_main():
        best = Classifier.from_checkpoint(out / "best.pt", device=str(device))
        results = report(best, {s: data[s] for s in ("val", "test")}, out)
    dist.cleanup()
    return results


def report(clf: Classifier, data: dict[str, list[Example]], out: Path) -> dict:
    """Accuracy, macro F1 and confusion matrix of each split, printed and saved to results.json."""
    results = {}
    for split, examples in data.items():
        start = time.perf_counter()
        scores = score(clf, encode(clf, examples))
        seconds = time.perf_counter() - start
        print(
            f"{split}: accuracy {scores['accuracy']:.2f}  macro F1 {scores['macro_f1']:.2f}  "
            f"({len(examples):,} texts in {seconds:.1f} s)\n"
            + format_confusion(scores["confusion"], clf.labels)
        )
        results[split] = {**scores, "seconds": seconds, "texts": len(examples)}
    with open(out / "results.json", "w") as f:
        json.dump(results, f, indent=1)
    return results


def _classifier(cfg: DictConfig) -> Classifier:
    return Classifier.from_checkpoint(cfg.ckpt, device=str(setup_device(cfg)))


def evaluate(cfg: DictConfig) -> dict:
    clf = _classifier(cfg)
    if cfg.split not in ("val", "test"):
        raise UserError(f"split={cfg.split!r}: choose val or test")
    data = load_examples(trained_data_config(cfg, clf.config), clf.config["seed"])
    return report(clf, {cfg.split: data[cfg.split]}, run_dir())


def predict(cfg: DictConfig) -> None:
    """Classify text="..." or each line of input=FILE (or stdin): label, probability, text."""
    clf = _classifier(cfg)
    lines = input_lines(cfg)
    with output_stream(cfg) as dst:
        while chunk := list(islice(lines, 256)):  # batched, yet streaming
            for text, (label, prob) in zip(chunk, clf.predict(chunk)):
                dst.write(f"{label}\t{prob:.4f}\t{text}\n")
            dst.flush()


MODES = {"train": train, "evaluate": evaluate, "predict": predict}
