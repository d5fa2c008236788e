"""Recipe ner: named-entity tagging (many-to-many, equal lengths), BiLSTM(-CRF), seqeval F1.

Modes: train (default), evaluate (ckpt=... [split=test]), tag (ckpt=... text="..." | input=FILE | stdin).
"""

from __future__ import annotations

import torch
from omegaconf import DictConfig

from nlprnn.data.conll import Sentence, tagging
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures, collate
from nlprnn.embeddings.word_vectors import unlabelled_texts
from nlprnn.errors import UserError
from nlprnn.factory import build
from nlprnn.inference.results import Tagging
from nlprnn.inference.tagger import Tagger, model_sizes
from nlprnn.modes import modes_of
from nlprnn.recipes.recipe import Recipe
from nlprnn.training import distributed as dist
from nlprnn.training.metrics import ner_scores


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


class NER(Recipe):
    """Per-token loss (CRF NLL or cross-entropy) with word dropout; validation F1 picks checkpoints."""

    name, predictor, inference_mode = "ner", Tagger, "tag"
    metric, metric_mode = "val_f1", "max"
    try_input = 'text="Angela Merkel visited Paris."'

    def build(self, splits: dict[str, list[Sentence]], out):
        cfg = self.cfg
        self.features = WordFeatures.build([tokens for tokens, _ in splits["train"]])
        train_texts = [" ".join(tokens) for tokens, _ in splits["train"]]
        held_out = [f for f in (cfg.data.get("files") or {}).values() if f]  # never vectors of val / test
        trained_words = len(self.features.words)
        if cfg.embeddings.get("corpus") and cfg.corpus_vocab_min_count:  # word vectors from texts
            corpus = unlabelled_texts(cfg.embeddings.corpus, cfg.data.dir, train_texts, held_out)
            self.features = self.features.extended(corpus, cfg.corpus_vocab_min_count)
        from_iob2 = tagging(cfg.tagging)[0]
        training = [(tokens, from_iob2(labels)) for tokens, labels in splits["train"]]
        self.tags = Vocab.build((t for _, labels in training for t in labels), specials=["O"])
        unknown = {t for s in splits if s != "train" for _, labels in splits[s] for t in from_iob2(labels)}
        if unknown - set(self.tags.itos):
            raise UserError(f"tags {sorted(unknown - set(self.tags.itos))} never occur in the training data")
        if dist.is_main():
            print(
                f"data: {cfg.data.name}: "
                + ", ".join(f"{k} {len(v):,} sentences" for k, v in splits.items())
                + f"; {trained_words:,} words (+{len(self.features.words) - trained_words:,} from the "
                f"vectors' corpus), {len(self.features.chars)} chars, "
                f"tags {' '.join(self.tags.itos)}"
            )
        # encode once: (tokens, (word ids, casing ids), tag ids); chars per distinct form, cached
        self.train = [(t, self.features.encode(t), self.tags.encode(labels)) for t, labels in training]
        self.lengths = [len(tokens) for tokens, _, _ in self.train]
        self.val = splits["val"]
        drop = word_dropout_probabilities(cfg, self.features)
        self.drop_prob = drop.to(self.device) if drop is not None else None
        model = build(cfg.model, **model_sizes(self.features, self.tags))
        init = build(cfg.embeddings)
        lookup = self.features.text_lookup()
        vectors_log = init(model.embedding.weight, lookup, train_texts, cfg.data.dir, cfg.seed, held_out)
        if len(self.features.words) > trained_words:  # the corpus' words keep their vectors: fixed rows
            model.embedding.fix_rows(trained_words)
        if dist.is_main():
            print(vectors_log)
        return model, {"vocab": {"features": self.features.to_dict(), "tags": self.tags.to_dict()}}

    def collate(self, rows) -> tuple:
        tokens, encoded, tags = zip(*rows)
        return collate(self.features, tokens, tags, encoded)

    def train_loss(self, model, batch):
        words, casings, lengths, chars, char_lengths, char_index, tags = (t.to(self.device) for t in batch)
        if self.drop_prob is not None:
            drop = torch.rand(words.shape, device=words.device) < self.drop_prob[words]
            words = words.masked_fill(drop, self.features.unk_id)
        out = model(
            words,
            lengths,
            casings=casings,
            chars=chars,
            char_lengths=char_lengths,
            char_index=char_index,
            targets=tags,
        )
        return out.loss, int(lengths.sum())

    def evaluate(self, model) -> dict[str, float]:
        tagger = Tagger(model, self.features, self.tags, device=self.device, scheme=self.cfg.tagging)
        scores = self.score(tagger, self.val)
        return {"val_f1": scores["f1"], "val_precision": scores["precision"], "val_recall": scores["recall"]}

    def score(self, tagger: Tagger, sentences: list[Sentence]) -> dict:
        """seqeval scores; entity types the model was never trained on are scored (recall 0) and
        listed under ``unknown_types``."""
        predicted = tagger.tag_tokens([tokens for tokens, _ in sentences])
        scores = {**ner_scores([tags for _, tags in sentences], predicted), "sentences": len(sentences)}
        known = {tag[2:] for tag in tagger.tags.itos if tag != "O"}
        unknown = sorted({tag[2:] for _, tags in sentences for tag in tags if tag != "O"} - known)
        return {**scores, "unknown_types": unknown} if unknown else scores

    def describe(self, split: str, scores: dict) -> str:
        per_type = "\n".join(
            f"  {kind:<8} P {s['precision']:6.2f}  R {s['recall']:6.2f}  F1 {s['f1']:6.2f}  "
            f"support {s['support']}"
            for kind, s in sorted(scores["per_type"].items())
        )
        return (
            f"{split}: F1 {scores['f1']:.2f}  precision {scores['precision']:.2f}  "
            f"recall {scores['recall']:.2f}  ({scores['sentences']} sentences in {scores['seconds']:.1f} s)"
            f"\n{per_type}"
            + (
                "\n  entity types the model does not know (never predicted): "
                + ", ".join(scores["unknown_types"])
                if scores.get("unknown_types")
                else ""
            )
        )

    def format(self, text: str, tagged: Tagging) -> str:
        """tokens with tags, then the entity spans: ``Peter/B-PER ...`` / ``[PER Peter]``."""
        entities = "  ".join(f"[{e.type} {e.text}]" for e in tagged.entities)
        written = tagging(self.cfg.output_scheme)[0](tagged.tags)  # IOB2 -> the scheme asked for
        tokens = [t.text for t in tagged.tokens]
        return (
            " ".join(f"{t}/{lab}" for t, lab in zip(tokens, written)) + "\n" + (entities or "(no entities)")
        )


RECIPE = NER  # the class, for code that trains a recipe itself (course comparisons)
MODES = modes_of(NER)
