"""Tag raw text with a trained NER checkpoint: tokens with IOB2 tags and confidences, and entities
with character offsets.

from nlprnn import Tagger
tagger = Tagger.from_checkpoint("runs/ner/RUN")
tagged = tagger("Angela Merkel visited Paris.")
tagged.tags        # -> ['B-PER', 'I-PER', 'O', 'B-LOC', 'O']
tagged.tokens[0]   # -> Token(text='Angela', tag='B-PER', start=0, end=6, confidence=0.97)
tagged.entities    # -> [Entity(type='PER', text='Angela Merkel', start=0, end=13, score=0.96), ...]
tagged.score       # -> the probability of the whole tag sequence
tagger.entities("Angela Merkel visited Paris.")   # -> the entities only

A token's confidence is p(its tag | sentence): the CRF's marginal (forward-backward), or the softmax
probability; an entity's score is the mean confidence of its tokens. Options (constructor, attribute
or per call): batch_size. A text with no tokens gives Tagging(tokens=[], entities=[], score=None).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from nlprnn.data.batching import make_batches
from nlprnn.data.conll import spans, tagging, token_offsets
from nlprnn.data.vocab import Vocab
from nlprnn.data.word_features import WordFeatures, collate
from nlprnn.errors import UserError
from nlprnn.inference.predictor import COUNT, Predictor, checked_items, checked_texts
from nlprnn.inference.results import Entity, Tagging, Token
from nlprnn.models.config import model_config
from nlprnn.training.checkpoint import model_from_checkpoint


class Tagger(Predictor):
    """Batched tagging of token lists or raw text with a SequenceTagger.

    Load one with ``Tagger.from_checkpoint(path, device="auto", **options)`` (a checkpoint or a run
    directory of ``recipe=ner``) or ``Tagger.from_pretrained(folder_or_owner_name, device="auto",
    **options)``; ``tag`` is ``predict``. Results are ``Tagging`` objects: tokens with character offsets,
    IOB2 tags and confidences (CRF marginals, or softmax probabilities), and entities.

    Example::

        tagger = Tagger.from_pretrained("my-ner")
        tagged = tagger("Angela Merkel visited Paris.")
        tagged.tags                          # ['B-PER', 'I-PER', 'O', 'B-LOC', 'O']
        tagged.entities[0].text              # 'Angela Merkel'
        tagger.tag_tokens(["Angela", "Merkel"])   # tags of a tokenized sentence

    Options:
        batch_size: sentences tagged together, sorted by length (default 256).

    Args:
        model: a SequenceTagger.
        features: its WordFeatures (word and character vocabularies).
        tags: its tag Vocab.
        batch_size: see Options.
        device: where the model runs.
        scheme: the tagging the model predicts (iob2 | iobes); output is always IOB2.
    """

    recipe = "ner"
    OPTIONS = {"batch_size": COUNT}

    def __init__(
        self, model, features: WordFeatures, tags: Vocab, batch_size: int = 256, device="cpu", scheme="iob2"
    ):
        self.model, self.features, self.tags = model.eval(), features, tags
        self.batch_size, self.device = batch_size, device
        self.scheme, self.to_iob2 = scheme, tagging(scheme)[1]
        self.config: dict = {}

    @classmethod
    def from_ckpt(cls, ckpt: dict, device: torch.device, batch_size: int = 256) -> Tagger:
        features = WordFeatures.from_dict(ckpt["vocab"]["features"])
        tags = Vocab.from_dict(ckpt["vocab"]["tags"])
        model = model_from_checkpoint(ckpt, device)
        return cls(model, features, tags, batch_size, device, ckpt["config"].get("tagging", "iob2"))

    def _checkpoint_entries(self) -> dict:
        sizes = model_sizes(self.features, self.tags)
        config = {"model": model_config(self.model, sizes), "tagging": self.scheme}
        vocab = {"features": self.features.to_dict(), "tags": self.tags.to_dict()}
        return {"config": config, "vocab": vocab}

    def tag_tokens(self, sentences: Sequence[str] | Iterable[Sequence[str]]) -> list[str] | list[list[str]]:
        """One token list -> its IOB2 tags; a list of token lists -> one tag list each, in order.
        An empty sentence gets no tags."""
        who = "Tagger.tag_tokens"
        if isinstance(sentences, str):
            raise UserError(f"{who} takes token lists; use tagger(text) for raw text")
        items = checked_items(sentences, who, "a token list or a list of token lists")
        if items and isinstance(items[0], str):  # one sentence
            return self._tag_token_lists([checked_texts(items, who, what="token")])[0]
        return self._tag_token_lists([token_list(tokens, i, who) for i, tokens in enumerate(items)])

    def _tag_token_lists(self, sentences: list[list[str]]) -> list[list[str]]:
        return [tags for tags, _, _ in self._tag(sentences, self.batch_size, scored=False)]

    @torch.no_grad()
    def _tag(self, sentences: list[list[str]], batch_size: int, scored: bool = True) -> list[tuple]:
        """(IOB2 tags, per-token confidences, sequence probability) of each sentence; confidences and
        probability only when ``scored`` (the recipe's scoring needs the tags alone)."""
        out: list[tuple] = [([], [], None) for _ in sentences]
        live = [i for i, s in enumerate(sentences) if len(s)]
        for batch in make_batches([len(sentences[i]) for i in live], batch_size=batch_size, shuffle=False):
            rows = [live[j] for j in batch]
            batch = collate(self.features, [sentences[i] for i in rows])
            words, casings, lengths, chars, char_lengths, char_index = (t.to(self.device) for t in batch)
            emissions = self.model(
                words, lengths, casings=casings, chars=chars, char_lengths=char_lengths, char_index=char_index
            ).logits
            mask = torch.arange(emissions.size(1), device=self.device)[None, :] < lengths[:, None]
            best = self.model.decode(emissions, mask)
            confidence, probability = (
                self._confidences(emissions.float(), mask, best) if scored else (None, None)
            )
            for k, (i, n) in enumerate(zip(rows, lengths.tolist())):
                tags = self.to_iob2(self.tags.decode(best[k, :n].tolist()))
                out[i] = (
                    (tags, confidence[k, :n].tolist(), float(probability[k])) if scored else (tags, [], None)
                )
        return out

    def _confidences(self, emissions: torch.Tensor, mask: torch.Tensor, best: torch.Tensor):
        """p(best tag | sentence) per token (B, L), and p(best tag sequence | sentence) (B,)."""
        crf = getattr(self.model, "crf", None)
        if crf is None:  # softmax output: independent tokens
            confidence = emissions.softmax(-1).gather(2, best.unsqueeze(2)).squeeze(2)
            return confidence, confidence.masked_fill(~mask, 1.0).prod(1)
        confidence = crf.marginals(emissions, mask).gather(2, best.unsqueeze(2)).squeeze(2)
        return confidence, (crf.score(emissions, best, mask) - crf.log_partition(emissions, mask)).exp()

    def tag(self, text: str | Iterable[str], **options):
        """``predict``: raw text -> its Tagging; a list of texts -> one each."""
        return self._answer(text, "Tagger.tag", options)

    def _predict(self, texts: list[str], settings: dict) -> list[Tagging]:
        offsets = [token_offsets(text) for text in texts]
        tagged = self._tag([[token for token, _, _ in found] for found in offsets], settings["batch_size"])
        return [tagging_of(text, found, *scored) for text, found, scored in zip(texts, offsets, tagged)]

    def entities(self, text: str | Iterable[str], **options) -> list[Entity] | list[list[Entity]]:
        """Raw text -> its entities; a list of texts -> one such list each."""
        tagged = self._answer(text, "Tagger.entities", options)
        return tagged.entities if isinstance(text, str) else [t.entities for t in tagged]


def model_sizes(features: WordFeatures, tags: Vocab) -> dict:
    """The SequenceTagger keywords that the vocabularies give."""
    return {
        "vocab_size": len(features.words),
        "num_tags": len(tags),
        "num_chars": len(features.chars),
        "pad_id": features.pad_id,
    }


def tagging_of(text: str, offsets: list, tags: list[str], confidence: list[float], score) -> Tagging:
    """The Tagging of ``text`` from its tokens' (token, start, end), tags and confidences."""
    tokens = [
        Token(tok, tag, start, end, conf) for (tok, start, end), tag, conf in zip(offsets, tags, confidence)
    ]
    entities = [
        Entity(
            kind,
            text[tokens[i].start : tokens[j].end],
            tokens[i].start,
            tokens[j].end,
            mean_confidence(tokens[i : j + 1]),
        )
        for kind, i, j, _ in spans([t.text for t in tokens], tags)
    ]
    return Tagging(tokens, entities, score)


def mean_confidence(tokens: list[Token]) -> float:
    return sum(t.confidence for t in tokens) / len(tokens)


def token_list(tokens, position: int, who: str) -> list[str]:
    """Sentence ``position`` of ``who``'s list of token lists: a list (any non-string iterable) of
    strings; else a clear error."""
    if isinstance(tokens, (str, bytes, bytearray)) or not isinstance(tokens, Iterable):
        raise UserError(f"{who}: sentence #{position} is {type(tokens).__name__}, not a token list")
    return checked_texts(tokens, f"{who}: sentence #{position}", what="token")
