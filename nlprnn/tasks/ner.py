"""Recipe ner: named-entity tagging (many-to-many, equal lengths), BiLSTM(-CRF), seqeval F1.

Modes: train (default), evaluate (ckpt=... split=test), tag (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from nlprnn.data.batching import IndexedBatches, make_batches
from nlprnn.data.conll import Sentence, read_conll, tagging
from nlprnn.data.hub import load_from_hub
from nlprnn.data.paths import data_file, missing_data
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures
from nlprnn.errors import UserError
from nlprnn.tagger import Tagger, collate, ner_scores, spans
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

TASK = "ner"
SPLITS = ("train", "val", "test")


# ---- data -------------------------------------------------------------------------------------
def load_sentences(data_cfg: DictConfig) -> dict[str, list[Sentence]]:
    """{train, val, test: [(tokens, IOB2 tags)]} from local CoNLL files, else from the hub."""
    paths = {split: data_file(data_cfg.dir, data_cfg.files[split]) for split in SPLITS}
    if all(paths.values()):
        splits = {s: read_conll(p, data_cfg.tag_column, data_cfg.scheme) for s, p in paths.items()}
    else:
        splits = _from_hub(data_cfg)
    if data_cfg.train_limit:
        splits["train"] = splits["train"][: data_cfg.train_limit]
    if data_cfg.eval_limit:
        splits = {k: v if k == "train" else v[: data_cfg.eval_limit] for k, v in splits.items()}
    return splits


def _from_hub(data_cfg: DictConfig) -> dict[str, list[Sentence]]:
    missing = missing_data(f"NER data {data_cfg.name!r}", data_cfg.dir, data_cfg.files.train)
    kwargs = {"name": data_cfg.hub.config} if data_cfg.hub.config else {}
    ds = load_from_hub(data_cfg.hub.name, missing, **kwargs)
    names = ds["train"].features["ner_tags"].feature.names
    hub_split = {"train": "train", "val": "validation", "test": "test"}
    return {
        split: [
            (ex["tokens"], [names[t] for t in ex["ner_tags"]]) for ex in ds[hub_split[split]] if ex["tokens"]
        ]
        for split in SPLITS
    }


def encode(sentences: list[Sentence], features: WordFeatures, tags: Vocab) -> list[tuple]:
    """Encode once: [(tokens, (word ids, casing ids), tag ids)]; the characters of each distinct word
    form are encoded once too (cached in ``features``) and gathered per batch."""
    return [(tokens, features.encode(tokens), tags.encode(labels)) for tokens, labels in sentences]


def word_dropout_probabilities(cfg: DictConfig, features: WordFeatures) -> torch.Tensor | None:
    """(V,) chance that a training word becomes <unk>: rare training words stand in for the unseen
    words of test time, so that <unk> (with the character features) learns something useful.
    word_dropout_alpha=a: a / (a + count) for every word (Kiperwasser and Goldberg 2016); otherwise
    ``word_dropout`` for words seen once, 0 for the rest."""
    if cfg.word_dropout_alpha:
        counts = features.frequencies()  # 0 for <pad> and <unk>: never dropped
        return torch.where(counts > 0, cfg.word_dropout_alpha / (cfg.word_dropout_alpha + counts), 0.0)
    if cfg.word_dropout:
        return features.singletons.float() * cfg.word_dropout
    return None


# ---- the task the trainer drives ----------------------------------------------------------------
class NERTask:
    """Per-token loss (CRF NLL or cross-entropy) with word dropout; validation F1 picks checkpoints."""

    metric, metric_mode = "val_f1", "max"

    def __init__(
        self, cfg: DictConfig, train, val: list[Sentence], features: WordFeatures, tags: Vocab, device
    ):
        self.cfg, self.train, self.val, self.device = cfg, train, val, device
        self.features, self.tags = features, tags
        self.drop_prob = word_dropout_probabilities(cfg, features).to(device)
        self.lengths = [len(tokens) for tokens, _, _ in train]

    def train_batches(self, epoch: int) -> IndexedBatches:
        b = self.cfg.batching
        batches = make_batches(self.lengths, b.max_tokens, b.batch_size, True, self.cfg.seed, epoch)
        return IndexedBatches(self.train, dist.shard(batches), self._collate)

    def _collate(self, rows) -> tuple:
        """Encoded sentences -> (words, casings, lengths, chars, char_lengths, char_index, tags)."""
        tokens, encoded, tags = zip(*rows)
        return collate(self.features, tokens, tags, encoded)

    def start_epoch(self, epoch: int) -> None:
        pass

    def train_loss(self, model, batch) -> tuple[torch.Tensor, int]:
        words, casings, lengths, chars, char_lengths, char_index, tags = (t.to(self.device) for t in batch)
        if self.drop_prob is not None:
            drop = torch.rand(words.shape, device=words.device) < self.drop_prob[words]
            words = words.masked_fill(drop, self.features.unk_id)
        emissions = model.emissions(words, casings, lengths, chars, char_lengths, char_index)
        mask = torch.arange(words.size(1), device=words.device)[None, :] < lengths[:, None]
        return model.loss(emissions, tags, mask), int(lengths.sum())

    def evaluate(self, model) -> dict[str, float]:
        tagger = Tagger(model, self.features, self.tags, device=self.device, scheme=self.cfg.tagging)
        scores = score_split(tagger, self.val)
        return {"val_f1": scores["f1"], "val_precision": scores["precision"], "val_recall": scores["recall"]}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def score_split(tagger: Tagger, sentences: list[Sentence], text_report: bool = False) -> dict:
    predicted = tagger.tag_tokens([tokens for tokens, _ in sentences])
    return ner_scores([tags for _, tags in sentences], predicted, text_report)


# ---- modes --------------------------------------------------------------------------------------
def train(cfg: DictConfig) -> dict:
    seed_everything(cfg.seed)
    device = setup_device(cfg)
    out = run_dir()
    resolved = save_config(cfg, out)
    data = load_sentences(cfg.data)
    features = WordFeatures.build([tokens for tokens, _ in data["train"]])
    from_iob2 = tagging(cfg.tagging)[0]
    training = [(tokens, from_iob2(labels)) for tokens, labels in data["train"]]
    tags = Vocab.build((t for _, labels in training for t in labels), specials=["O"])
    unknown = {t for split in ("val", "test") for _, labels in data[split] for t in from_iob2(labels)}
    unknown -= set(tags.itos)
    if unknown:
        raise UserError(f"tags {sorted(unknown)} occur in val/test but never in the training data")
    if dist.is_main():
        print(
            f"data: {cfg.data.name}: "
            + ", ".join(f"{k} {len(v):,} sentences" for k, v in data.items())
            + f"; {len(features.words):,} words, {len(features.chars)} chars, tags {' '.join(tags.itos)}"
        )
    model = instantiate(
        cfg.model,
        vocab_size=len(features.words),
        num_tags=len(tags),
        num_chars=len(features.chars),
        pad_id=features.pad_id,
    ).to(device)
    task = NERTask(cfg, encode(training, features, tags), data["val"], features, tags, device)
    extra = {
        "task": TASK,
        "config": resolved,
        "vocab": {"features": features.to_dict(), "tags": tags.to_dict()},
    }
    Trainer(cfg.trainer, cfg.optimizer, model, task, out, extra).fit()
    results = {}
    if dist.is_main():
        results = report(
            Tagger.from_checkpoint(out / "best.pt", device=str(device)), data, ["val", "test"], out
        )
    dist.cleanup()
    return results


def report(tagger: Tagger, data, splits: list[str], out: Path) -> dict:
    """Entity-level scores of each split, printed (with the per-type report) and saved to results.json."""
    results = {}
    for split in splits:
        start = time.perf_counter()
        scores = score_split(tagger, data[split], text_report=True)
        seconds = time.perf_counter() - start
        print(
            f"{split}: F1 {scores['f1']:.2f}  precision {scores['precision']:.2f}  "
            f"recall {scores['recall']:.2f}"
            f"  ({len(data[split])} sentences in {seconds:.1f} s)\n{scores.pop('report')}"
        )
        results[split] = {**scores, "tag_seconds": seconds, "sentences": len(data[split])}
    with open(out / "results.json", "w") as f:
        json.dump(results, f, indent=1)
    return results


def _tagger(cfg: DictConfig) -> Tagger:
    return Tagger.from_checkpoint(cfg.ckpt, device=str(setup_device(cfg)))


def evaluate(cfg: DictConfig) -> dict:
    tagger = _tagger(cfg)
    if cfg.split not in ("val", "test"):
        raise UserError(f"split={cfg.split!r}: choose val or test")
    data = load_sentences(trained_data_config(cfg, tagger.config))
    return report(tagger, data, [cfg.split], run_dir())


def tag(cfg: DictConfig) -> None:
    """Tag text="..." or each line of input=FILE (or stdin): tokens with tags, then the entity spans."""
    tagger = _tagger(cfg)
    with output_stream(cfg) as dst:
        for line in input_lines(cfg):
            tagged = tagger.tag(line)
            tokens, labels = [t for t, _ in tagged], [t for _, t in tagged]
            entities = "  ".join(f"[{kind} {text}]" for kind, _, _, text in spans(tokens, labels))
            dst.write(
                " ".join(f"{t}/{lab}" for t, lab in tagged) + "\n" + (entities or "(no entities)") + "\n"
            )
            dst.flush()


MODES = {"train": train, "evaluate": evaluate, "tag": tag}
