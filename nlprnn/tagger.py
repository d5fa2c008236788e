"""Tag raw text with a trained NER checkpoint; entity spans; seqeval scores.

from nlprnn.tagger import Tagger
tagger = Tagger.from_checkpoint("runs/ner/RUN/best.pt")
tagger.tag("Angela Merkel visited Paris.")
# -> [("Angela", "B-PER"), ("Merkel", "I-PER"), ("visited", "O"), ("Paris", "B-LOC"), (".", "O")]
tagger.entities("Angela Merkel visited Paris.")   # -> [("PER", "Angela Merkel"), ("LOC", "Paris")]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from nlprnn.data.batching import make_batches, pad_batch
from nlprnn.data.conll import tagging
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures
from nlprnn.errors import UserError
from nlprnn.training.checkpoint import load_checkpoint

# abbreviations such as "U.S.", numbers such as "3,5" or "1.000", words with inner hyphens or
# apostrophes, or one punctuation mark
_TOKEN = re.compile(r"(?:[^\W\d_]\.){2,}|\d+(?:[.,]\d+)+|\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Split raw text into CoNLL-style tokens: words and punctuation marks."""
    return _TOKEN.findall(text)


def collate(features: WordFeatures, sentences: Sequence[Sequence[str]], tags=None, encoded=None) -> tuple:
    """Token lists -> the model's batch: words, casings (B, L), lengths (B,), chars (U, C),
    char_lengths (U,), char_index (B, L), then tags (B, L) when ``tags`` (id tensors) are given.
    ``encoded``: the sentences' (word ids, casing ids) if already computed (training encodes once)."""
    encoded = encoded or [features.encode(s) for s in sentences]
    words, lengths = pad_batch([w for w, _ in encoded], features.pad_id)
    casings, _ = pad_batch([c for _, c in encoded], 0)
    chars, char_lengths, char_index = features.chars_of(sentences)
    batch = (words, casings, lengths, chars, char_lengths, char_index)
    return batch + (pad_batch(tags, 0)[0],) if tags is not None else batch


def spans(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """Entities of an IOB2 tagging as (type, first token, last token, text)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(kind, i, j, " ".join(tokens[i : j + 1])) for kind, i, j in get_entities(list(tags))]


def ner_scores(gold: list[list[str]], predicted: list[list[str]], text_report: bool = False) -> dict:
    """seqeval entity-level micro precision / recall / F1 (x100) and per-type scores; with
    ``text_report`` also seqeval's printable table under "report"."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    # plain floats: seqeval returns numpy scalars, which checkpoints (weights_only) refuse
    scores = {
        "precision": 100 * float(precision_score(gold, predicted, zero_division=0)),
        "recall": 100 * float(recall_score(gold, predicted, zero_division=0)),
        "f1": 100 * float(f1_score(gold, predicted, zero_division=0)),
        "per_type": {
            kind: {
                "precision": 100 * float(v["precision"]),
                "recall": 100 * float(v["recall"]),
                "f1": 100 * float(v["f1-score"]),
                "support": int(v["support"]),
            }
            for kind, v in report.items()
            if "avg" not in kind
        },
    }
    if text_report:
        scores["report"] = classification_report(gold, predicted, digits=4, zero_division=0)
    return scores


class Tagger:
    """Batched tagging of token lists or raw text with a SequenceTagger.

    Args:
        model: a SequenceTagger; features: its WordFeatures; tags: its tag Vocab.
        batch_size: sentences tagged together (sorted by length).
        scheme: the tagging the model predicts (iob2 | iobes); output is always IOB2.
    """

    def __init__(
        self, model, features: WordFeatures, tags: Vocab, batch_size: int = 256, device="cpu", scheme="iob2"
    ):
        self.model, self.features, self.tags = model.eval(), features, tags
        self.batch_size, self.device = batch_size, torch.device(device)
        self.to_iob2 = tagging(scheme)[1]
        self.config: dict = {}

    @classmethod
    def from_checkpoint(cls, path, device: str = "cpu", batch_size: int = 256) -> Tagger:
        from nlprnn.tasks.common import model_from_checkpoint

        ckpt = load_checkpoint(path, "ner")
        features, tags = (
            WordFeatures.from_dict(ckpt["vocab"]["features"]),
            Vocab.from_dict(ckpt["vocab"]["tags"]),
        )
        model = model_from_checkpoint(
            ckpt,
            torch.device(device),
            vocab_size=len(features.words),
            num_tags=len(tags),
            num_chars=len(features.chars),
            pad_id=features.pad_id,
        )
        tagger = cls(model, features, tags, batch_size, device, ckpt["config"].get("tagging", "iob2"))
        tagger.config = ckpt["config"]
        return tagger

    @torch.no_grad()
    def tag_tokens(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Token lists -> IOB2 tag lists, in the input order; an empty sentence gets no tags."""
        out: list[list[str]] = [[] for _ in sentences]
        live = [i for i, s in enumerate(sentences) if len(s)]
        for batch in make_batches(
            [len(sentences[i]) for i in live], batch_size=self.batch_size, shuffle=False
        ):
            rows = [live[j] for j in batch]
            inputs = [t.to(self.device) for t in collate(self.features, [sentences[i] for i in rows])]
            emissions = self.model.emissions(*inputs)
            mask = torch.arange(emissions.size(1), device=self.device)[None, :] < inputs[2][:, None]
            for i, ids, n in zip(rows, self.model.decode(emissions, mask).tolist(), inputs[2].tolist()):
                out[i] = self.to_iob2(self.tags.decode(ids[:n]))
        return out

    def tag(self, text: str | Sequence[str]) -> list[tuple[str, str]] | list[list[tuple[str, str]]]:
        """Raw text -> [(token, tag)]; a list of texts -> one such list each."""
        texts = [text] if isinstance(text, str) else list(text)
        if not all(isinstance(t, str) for t in texts):
            raise UserError("Tagger.tag takes a string or a list of strings (use tag_tokens for token lists)")
        tokens = [tokenize(t) for t in texts]
        tagged = [list(zip(toks, tags)) for toks, tags in zip(tokens, self.tag_tokens(tokens))]
        return tagged[0] if isinstance(text, str) else tagged

    def entities(self, text: str) -> list[tuple[str, str]]:
        """Raw text -> [(type, entity text)]."""
        tokens, tags = zip(*self.tag(text)) if text.strip() else ((), ())
        return [(kind, words) for kind, _, _, words in spans(tokens, tags)]
